"""What keeps a candidate off the approval queue for now: the same strategy on the symbol already
pending, being proposed or open in another workflow (no duplicate trades), or the symbol's
cool-down after its latest entry fill (no new trade a minute after a fill)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tastydesk.engine.clock import NEW_YORK, Clock
from tastydesk.engine.domain.enums import WorkflowState
from tastydesk.engine.settings import Settings
from tastydesk.engine.workflow.book import WorkflowBook

#: States in which a workflow holds its strategy on its symbol.
_DUPLICATE_STATES = frozenset({WorkflowState.PENDING_APPROVAL, WorkflowState.EXECUTING,
                               WorkflowState.MONITORING, WorkflowState.CLOSING})


class EntryGuard:
    """Owned by the approval desk, which tells it of fills and of proposals being saved."""

    def __init__(self, book: WorkflowBook, settings: Settings, clock: Clock) -> None:
        self._book = book
        self._settings = settings
        self._clock = clock
        self._filled_at: dict[str, datetime] = {}  # symbol -> its latest entry fill
        # workflow id -> (symbol, strategy) being proposed: reserved before the proposal's
        # first await, so two workflows never queue the same trade
        self._proposing: dict[int, tuple[str, str]] = {}

    def filled(self, symbol: str, at: datetime) -> None:
        """An entry on ``symbol`` filled at ``at``: its cool-down starts."""
        self._filled_at[symbol] = at

    def reserve(self, workflow_id: int, symbol: str, strategy_name: str) -> None:
        self._proposing[workflow_id] = (symbol, strategy_name)

    def release(self, workflow_id: int) -> None:
        self._proposing.pop(workflow_id, None)

    def hold_back(self, workflow_id: int, symbol: str,
                  strategy_name: str) -> tuple[str, datetime] | None:
        """Why a candidate must not reach the queue now, and until when: the same strategy on
        the symbol already pending or open in another workflow, or the symbol's cool-down after
        its latest entry fill (``restart_cooldown_minutes``)."""
        taken = self.taken_strategies(workflow_id, symbol).get(strategy_name)
        if taken is not None:
            minutes = self._settings.config.scan_interval_minutes
            return taken, self._clock.now() + timedelta(minutes=minutes)
        return self.cooling_down(symbol)

    def taken_strategies(self, workflow_id: int, symbol: str) -> dict[str, str]:
        """Strategies another workflow already holds pending or open on ``symbol``, each with
        the reason a second one is not proposed. A scan leaves them out before building
        anything, so a symbol's other workflow slot looks for a different trade."""
        out: dict[str, str] = {}
        for other, (sym, name) in self._proposing.items():
            if other != workflow_id and sym == symbol:
                out[name] = f"{name} on {symbol} is already pending (workflow #{other})"
        for wf in self._book.active(symbol):
            if (wf.id == workflow_id or wf.strategy_name is None
                    or wf.strategy_name in out or wf.state not in _DUPLICATE_STATES):
                continue
            what = "pending" if wf.state is WorkflowState.PENDING_APPROVAL else "open"
            out[wf.strategy_name] = (f"{wf.strategy_name} on {symbol} is already {what} "
                                     f"(workflow #{wf.id})")
        return out

    def cooling_down(self, symbol: str) -> tuple[str, datetime] | None:
        """The symbol's cool-down after its latest entry fill and when it ends, or None."""
        filled = self._filled_at.get(symbol)
        if filled is None:
            return None
        until = filled + timedelta(minutes=self._settings.config.restart_cooldown_minutes)
        if self._clock.now() < until:
            local = filled.astimezone(NEW_YORK)
            return (f"{symbol} cools down after its fill at {local:%H:%M} "
                    f"{local.tzname()} until {until.astimezone(NEW_YORK):%H:%M}"), until
        return None
