"""Typed results of engine commands: an outcome from a closed set plus the detail behind it."""

from __future__ import annotations

from dataclasses import dataclass

from tastydesk.engine.domain.enums import ActionOutcome


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What a command did. ``str()`` gives the trader's one-line text ("repriced: mid moved...")."""

    outcome: ActionOutcome
    detail: str = ""

    @property
    def sent(self) -> bool:
        return self.outcome is ActionOutcome.SENT

    def __str__(self) -> str:
        return f"{self.outcome.value}: {self.detail}" if self.detail else self.outcome.value


SENT = ActionResult(ActionOutcome.SENT)
