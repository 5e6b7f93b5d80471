"""Whether the engine may act: reconciled with the broker, logged in."""

from __future__ import annotations


class Readiness:
    """Set by the reconciler and the connection watcher; read before anything sends orders."""

    def __init__(self) -> None:
        self.reconciled = False
        self.detail = "not yet reconciled"
        self.login_required = False

    def mark_reconciled(self, detail: str) -> None:
        self.reconciled = True
        self.detail = detail

    def mark_failed(self, detail: str) -> None:
        self.reconciled = False
        self.detail = detail
