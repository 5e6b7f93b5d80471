"""Greying out what would write or send while the account is open read-only.

The engine refuses every command of an account opened read-only ("read-only: <reason>"); the
window says so before the trader tries. The one query is the facade's ``read_only`` (the reason,
or None for a working engine). Each dock and dialog passes its writing controls here in the one
place it decides what is enabled, so a selection change never turns them back on.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget


class ReadOnlyState(Protocol):
    read_only: str | None


def read_only_tip(reason: str) -> str:
    """The tooltip of a control greyed out by a read-only account."""
    return f"Read-only: {reason}. Nothing is written and no order is sent."


def lock_writes(engine: ReadOnlyState, *controls: QWidget | QAction) -> bool:
    """Grey out ``controls`` when ``engine`` is read-only, its reason as their tooltip.

    Call it after everything else that enables them. Returns True when the engine is read-only.
    """
    reason = engine.read_only
    if reason is None:
        return False
    tip = read_only_tip(reason)
    for control in controls:
        control.setEnabled(False)
        control.setToolTip(tip)
    return True
