"""Portfolio risk: the account balance, the portfolio's greeks and buying power, and whether a
limit is breached (which blocks new proposals). Refreshed at most once a minute while the market
is open, or on demand when something changed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol

from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock, MarketCalendar, TimerHandle
from tastydesk.engine.domain.account import Balance
from tastydesk.engine.domain.enums import AlertCategory, AlertLevel
from tastydesk.engine.domain.events import (
    Alert,
    BalanceUpdated,
    PortfolioRiskChanged,
    QuoteReceived,
)
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.money import ZERO
from tastydesk.engine.domain.views import PortfolioView
from tastydesk.engine.risk.checks import (
    Commitment,
    breach_reasons,
    buying_power_limit,
    committed,
    opening_problem,
    position_count_problem,
)
from tastydesk.engine.settings import Settings


class Exposure(Protocol):
    """What risk reads from a monitored position."""

    workflow_id: WorkflowId
    symbol: str
    beta: float
    units: int
    buying_power_per_unit: Decimal

    def greeks(self) -> tuple[float, float, float]: ...


class PortfolioRisk:
    def __init__(self, *, exposures: Iterable[Exposure], settings: Settings, bus: EventBus,
                 clock: Clock, calendar: MarketCalendar) -> None:
        self._exposures = exposures
        self._settings = settings
        self._bus = bus
        self._clock = clock
        self._calendar = calendar
        self._balance: Balance | None = None
        self._day_start_nlv: Decimal | None = None
        self._spots: dict[str, float] = {}
        self._view = PortfolioView()
        self._dirty = False
        self._breach_alerted = False
        self._timer: TimerHandle | None = None
        self._commitments: list[Callable[[], Iterable[Commitment]]] = []

    # ---- inputs
    def subscribe(self) -> list[Any]:
        return [self._bus.subscribe(BalanceUpdated, self._on_balance),
                self._bus.subscribe(QuoteReceived, self._on_quote)]

    def set_balance(self, balance: Balance) -> None:
        """The balance read at start-up: today's P&L counts from it."""
        self._balance = balance
        self._day_start_nlv = balance.net_liquidating_value

    def add_commitments(self, source: Callable[[], Iterable[Commitment]]) -> None:
        """A component whose not-yet-filled trades use buying power (pending approvals,
        working opening orders); read on every pre-trade check."""
        self._commitments.append(source)

    def mark_dirty(self) -> None:
        self._dirty = True

    def _on_balance(self, event: BalanceUpdated) -> None:
        self._balance = event.balance
        if self._day_start_nlv is None:
            self._day_start_nlv = event.balance.net_liquidating_value
        self._dirty = True

    def _on_quote(self, event: QuoteReceived) -> None:
        q = event.quote
        if not q.symbol.startswith("."):  # underlyings; option legs stream as .SYMBOL
            self._spots[q.symbol] = float(q.mid)

    # ---- figures
    @property
    def view(self) -> PortfolioView:
        """The last computed figures (see :meth:`refresh_if_dirty`)."""
        return self._view

    @property
    def stale(self) -> bool:
        return self._dirty

    def bp_limit(self) -> Decimal:
        return buying_power_limit(
            self._balance.net_liquidating_value if self._balance else None, self._settings.config)

    def commitments(self) -> list[Commitment]:
        return [c for source in self._commitments for c in source()]

    def used_or_committed(self, exclude_workflow: int | None = None) -> Decimal:
        """Buying power of filled positions plus other workflows' pending approvals and working
        opening orders."""
        return self.current().buying_power_used + committed(self.commitments(), exclude_workflow)

    def positions_by_symbol(self, exclude_workflow: int | None = None) -> Counter[str]:
        """Workflows per symbol holding a position, working an opening order or waiting for
        approval (each counted once; ``exclude_workflow`` is the one being checked)."""
        held: dict[int, str] = {mon.workflow_id: mon.symbol for mon in self._exposures}
        held.update((c.workflow_id, c.symbol) for c in self.commitments())
        if exclude_workflow is not None:
            held.pop(exclude_workflow, None)
        return Counter(held.values())

    def opening_problem(self, workflow_id: WorkflowId | None, buying_power: Decimal,
                        max_per_trade: Decimal, symbol: str) -> str | None:
        """The pre-trade checks every path that sends an opening order runs (proposal,
        approval, modify, bulk, re-price): the portfolio's limits, the per-symbol and total
        position limits, per-trade buying power, and the allocation counting what is pending
        and working."""
        view = self.current()
        if view.breached:
            return f"portfolio limit breached: {view.breach_reason}"
        problem = position_count_problem(symbol, self.positions_by_symbol(workflow_id),
                                         self._settings.config)
        return problem or opening_problem(buying_power, max_per_trade,
                                          used=self.used_or_committed(workflow_id),
                                          limit=self.bp_limit())

    def roll_problem(self, workflow_id: WorkflowId, buying_power: Decimal, released: Decimal,
                     max_per_trade: Decimal) -> str | None:
        """The pre-trade checks on a roll's opening side. The new position's ``buying_power``
        meets the per-trade maximum; the allocation counts every other position, pending
        approval and working order, with the ``released`` buying power of the legs the roll
        closes taken off. A breached portfolio refuses a roll that needs more than it frees."""
        view = self.current()
        if view.breached and buying_power > released:
            return f"portfolio limit breached: {view.breach_reason}"
        return opening_problem(buying_power, max_per_trade,
                               used=self.used_or_committed(workflow_id) - released,
                               limit=self.bp_limit())

    def _weighted(self, symbol: str, delta: float, beta: float) -> float:
        spy = self._spots.get("SPY") or 1.0
        return delta * beta * (self._spots.get(symbol, spy) / spy)

    def symbol_bwd(self, symbol: str) -> float:
        total = 0.0
        for mon in self._exposures:
            if mon.symbol == symbol:
                delta, _, _ = mon.greeks()
                total += self._weighted(symbol, delta, mon.beta)
        return total

    def current(self) -> PortfolioView:
        """Figures as of now, without storing or announcing them (a query for the views)."""
        return self._compute() if self._dirty else self._view

    def _compute(self) -> PortfolioView:
        config = self._settings.config
        bwd = theta = vega = 0.0
        used = ZERO
        count = 0
        for mon in self._exposures:
            delta, t, v = mon.greeks()
            bwd += self._weighted(mon.symbol, delta, mon.beta)
            theta += t
            vega += v
            used += mon.buying_power_per_unit * mon.units
            count += 1
        limit = self.bp_limit()
        nlv = self._balance.net_liquidating_value if self._balance else ZERO
        reasons = breach_reasons(bwd, used, limit, config)
        return PortfolioView(
            beta_weighted_delta=bwd, theta=theta, vega=vega, buying_power_used=used,
            buying_power_limit=limit, net_liquidating_value=nlv,
            pnl_today=(nlv - self._day_start_nlv) if self._day_start_nlv is not None else ZERO,
            open_positions=count, breached=bool(reasons), breach_reason="; ".join(reasons))

    def refresh(self) -> None:
        """Recompute, keep and announce the figures; alert once when a limit is first breached."""
        self._dirty = False
        view = self._view = self._compute()
        now = self._clock.now()
        if view.breached and not self._breach_alerted:
            self._bus.publish(Alert(AlertLevel.ERROR, AlertCategory.RISK,
                                    "Portfolio limit breached",
                                    view.breach_reason + ". New proposals are blocked.", now))
        self._breach_alerted = view.breached
        self._bus.publish(PortfolioRiskChanged(
            view.beta_weighted_delta, view.theta, view.vega, view.buying_power_used,
            view.buying_power_limit, view.pnl_today, view.breached, now))

    # ---- schedule
    def schedule(self, on_tick: Any) -> None:
        """Refresh once a minute while the market is open (greeks and marks move only then);
        ``on_tick`` runs with each refresh (the position book re-checks time rules on a new
        session, since DTE changes overnight)."""
        at = self._clock.now() + timedelta(seconds=60)
        if not self._calendar.is_open(at):
            at = self._calendar.next_open(at)

        def fire() -> None:
            if self._dirty:
                self.refresh()
            on_tick()
            self.schedule(on_tick)

        self._timer = self._clock.call_at(at, fire)

    def stop(self) -> None:
        if self._timer:
            self._timer.cancel()
