"""The read model: the snapshots the desktop shows, projected from the components' state and the
in-memory history. Queries only: no I/O and no side effects (what to keep current, such as the
position views, is a command: :meth:`PositionBook.watch_views`).
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from decimal import Decimal
from typing import Any

from tastydesk.engine.approvals.desk import ApprovalDesk
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock, MarketCalendar
from tastydesk.engine.domain.enums import Mode
from tastydesk.engine.domain.events import GreeksReceived, QuoteReceived
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.money import ZERO
from tastydesk.engine.domain.order_fsm import OPEN_ORDER
from tastydesk.engine.domain.records import (
    AuditRecord,
    DecisionRecord,
    ErrorRecord,
    JournalRecord,
    RuleActionRecord,
    TransitionRecord,
)
from tastydesk.engine.domain.views import (
    AnalyticsView,
    FillQualityStats,
    HealthView,
    OrderView,
    PendingView,
    PortfolioView,
    PositionView,
    StrategyStats,
    WorkflowView,
)
from tastydesk.engine.execution_pricing import fill_quality
from tastydesk.engine.orders.manager import OrderManager
from tastydesk.engine.ports import BrokerPort
from tastydesk.engine.positions.book import PositionBook
from tastydesk.engine.readiness import Readiness
from tastydesk.engine.readmodel.history import History
from tastydesk.engine.risk.portfolio import PortfolioRisk
from tastydesk.engine.settings import Settings
from tastydesk.engine.workflow.book import WorkflowBook


def _quality_rows(groups: dict[str, fill_quality.FillQuality]) -> tuple[FillQualityStats, ...]:
    return tuple(FillQualityStats(name, q.fills, q.avg_vs_mid, q.spread_share_conceded)
                 for name, q in sorted(groups.items()))


class EventRate:
    """Market events per second over the last whole second (counted as they arrive)."""

    def __init__(self) -> None:
        self._second = int(time.monotonic())
        self._count = 0
        self._last_rate = 0.0
        self.last_quote: Any = None

    def tick(self) -> None:
        second = int(time.monotonic())
        if second != self._second:
            self._last_rate = self._count / (second - self._second)
            self._second, self._count = second, 0
        self._count += 1

    @property
    def per_second(self) -> float:
        return self._last_rate if int(time.monotonic()) - self._second <= 1 else 0.0


class ReadModel:
    def __init__(self, *, book: WorkflowBook, desk: ApprovalDesk, positions: PositionBook,
                 orders: OrderManager, risk: PortfolioRisk, history: History, settings: Settings,
                 readiness: Readiness, broker: BrokerPort, bus: EventBus, clock: Clock,
                 calendar: MarketCalendar, mode: Mode) -> None:
        self._book = book
        self._desk = desk
        self._positions = positions
        self._orders = orders
        self._risk = risk
        self.history = history
        self._settings = settings
        self._readiness = readiness
        self._broker = broker
        self._bus = bus
        self._clock = clock
        self._calendar = calendar
        self._mode = mode
        self._rate = EventRate()
        self._quote_time: Any = None

    def subscribe(self) -> list[Any]:
        return [self._bus.subscribe(QuoteReceived, self._on_quote),
                self._bus.subscribe(GreeksReceived, lambda _e: self._rate.tick())]

    def _on_quote(self, event: QuoteReceived) -> None:
        self._rate.tick()
        self._quote_time = event.quote.time

    # ---- live state
    def workflows(self) -> list[WorkflowView]:
        out = []
        for wf in self._book.all():
            pending = self._desk.get(wf.id)
            out.append(WorkflowView(
                workflow_id=wf.id, symbol=wf.symbol, strategy_name=wf.strategy_name,
                state=wf.state, created_at=wf.created_at, updated_at=wf.updated_at,
                last_reason=self._book.last_reason(wf.id), proposal_id=wf.proposal_id,
                bias=pending.proposal.bias if pending else None,
                cooldown_until=wf.cooldown_until))
        return sorted(out, key=lambda w: w.workflow_id)

    def pending(self) -> list[PendingView]:
        return self._desk.views()

    def positions(self) -> list[PositionView]:
        return self._positions.views(self._clock.today())

    def orders(self, open_only: bool = False) -> list[OrderView]:
        out = []
        for rec in self._orders.records():
            if open_only and rec.status not in OPEN_ORDER:
                continue
            working = self._orders.working(rec.external_id)
            out.append(OrderView(rec.external_id, rec.workflow_id, rec.underlying,
                                 rec.purpose.value, rec.status, working.price if working
                                 else rec.price, rec.quantity, rec.filled_quantity,
                                 working.attempt + 1 if working else rec.attempt,
                                 rec.updated_at))
        return sorted(out, key=lambda o: o.updated_at, reverse=True)

    def portfolio(self) -> PortfolioView:
        return self._risk.current()

    def health(self) -> HealthView:
        now = self._clock.now()
        return HealthView(
            mode=self._mode, automation_armed=self._settings.armed,
            reconciled=self._readiness.reconciled, reconcile_detail=self._readiness.detail,
            streams=self._broker.health(),
            quote_age_s=(now - self._quote_time).total_seconds() if self._quote_time else None,
            events_per_s=self._rate.per_second, clock_speed=self._clock.speed, clock_now=now,
            market_open=self._calendar.is_open(now),
            errors_by_category=self.history.errors_by_category(),
            pending_count=len(self._desk), open_positions=len(self._positions),
            login_required=self._readiness.login_required)

    # ---- history
    def transitions(self, workflow_id: WorkflowId | None = None,
                    limit: int = 500) -> list[TransitionRecord]:
        records = (self.history.transitions if workflow_id is None
                   else self.history.workflow_transitions(workflow_id))
        return list(records[-limit:]) if limit else list(records)

    def decisions(self, limit: int = 500) -> list[DecisionRecord]:
        return list(self.history.decisions[-limit:])

    def rule_actions(self, workflow_id: WorkflowId | None = None) -> list[RuleActionRecord]:
        return [r for r in self.history.rule_actions
                if workflow_id is None or r.workflow_id == workflow_id]

    def journal(self) -> list[JournalRecord]:
        return list(self.history.journal)

    def audit_log(self, limit: int = 500) -> list[AuditRecord]:
        return list(self.history.audit[-limit:])

    def errors(self, limit: int = 500) -> list[ErrorRecord]:
        return list(self.history.errors[-limit:])

    def analytics(self) -> AnalyticsView:
        stats: dict[str, list[Decimal]] = defaultdict(list)
        curve = []
        equity = 0.0
        for j in sorted(self.history.journal, key=lambda j: j.closed_at):
            stats[j.strategy].append(j.realised_pnl)
            equity += float(j.realised_pnl)
            curve.append((j.closed_at, equity))
        by_strategy = tuple(StrategyStats(name, len(v), sum(1 for x in v if x > 0),
                                          sum(v, ZERO)) for name, v in sorted(stats.items()))
        history = self.history
        samples = [dataclasses.replace(f, strategy=self._strategy_of(wid))
                   for wid, f in history.fills()]
        overall = fill_quality.summarise(samples)
        return AnalyticsView(orders_sent=history.orders_sent, orders_filled=history.orders_filled,
                             price_improvement_steps=history.price_steps,
                             avg_fill_vs_mid=overall.avg_vs_mid,
                             spread_share_conceded=overall.spread_share_conceded,
                             fill_quality_by_symbol=_quality_rows(fill_quality.by_symbol(samples)),
                             fill_quality_by_strategy=_quality_rows(
                                 fill_quality.by_strategy(samples)),
                             time_in_state_s=dict(history.time_in_state),
                             by_strategy=by_strategy, equity_curve=tuple(curve))

    def _strategy_of(self, workflow_id: WorkflowId) -> str:
        wf = self._book.find(workflow_id)
        return (wf.strategy_name if wf is not None else None) or "—"
