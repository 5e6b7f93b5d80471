"""Read-only queries of the engine facade: snapshots the desktop shows.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter, defaultdict
from decimal import Decimal

from tastydesk.engine.config import EngineConfig
from tastydesk.engine.domain.enums import (
    OrderStatus,
)
from tastydesk.engine.domain.money import ZERO
from tastydesk.engine.domain.records import (
    AuditRecord,
    DecisionRecord,
    ErrorRecord,
    JournalRecord,
    RuleActionRecord,
    TransitionRecord,
)
from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.domain.views import (
    AnalyticsView,
    HealthView,
    OrderView,
    PendingView,
    PortfolioView,
    PositionView,
    StrategyStats,
    WorkflowView,
)
from tastydesk.engine.workflow.common import (
    OPEN_ORDER,
)

log = logging.getLogger(__name__)



class QueriesMixin:
    """Part of :class:`tastydesk.engine.engine.Engine`; see its docstring. Relies on the
    engine's state (orders, monitored positions, store, broker, clock, bus)."""

    # ------------------------------------------------------------------ queries
    def config(self) -> EngineConfig:
        return self._config

    def strategies(self) -> list[Strategy]:
        return sorted(self._strategies.values(), key=lambda s: (s.priority, s.name))

    def workflows(self) -> list[WorkflowView]:
        out = []
        for wf in self._workflows.values():
            pending = self._pending.get(wf.id)
            out.append(WorkflowView(
                workflow_id=wf.id, symbol=wf.symbol, strategy_name=wf.strategy_name,
                state=wf.state, created_at=wf.created_at, updated_at=wf.updated_at,
                last_reason=self._last_reason.get(wf.id, ""), proposal_id=wf.proposal_id,
                bias=pending.proposal.bias if pending else None,
                cooldown_until=wf.cooldown_until))
        return sorted(out, key=lambda w: w.workflow_id)

    def pending(self) -> list[PendingView]:
        return [dataclasses.replace(p, in_flight=p.workflow_id in self._in_flight)
                for p in sorted(self._pending.values(), key=lambda p: p.created_at)]

    def positions(self) -> list[PositionView]:
        """Views of the monitored positions; from the first call on, the engine keeps them
        current incrementally as market events are checked."""
        self._views_wanted = True
        today = self.clock.today()
        out = []
        for wid, mon in sorted(self._monitored.items()):
            state = self._workflows[wid].state
            view = mon.cached_view
            if view is None or view.state is not state or view.dte != mon.dte(today):
                view = mon.view(state, today)
                mon.cached_view = view
            out.append(view)
        return out

    def orders(self, open_only: bool = False) -> list[OrderView]:
        out = []
        for rec in self._orders.values():
            if open_only and rec.status not in OPEN_ORDER:
                continue
            working = self._working.get(rec.external_id)
            out.append(OrderView(rec.external_id, rec.workflow_id, rec.underlying,
                                 rec.purpose.value, rec.status, working.price if working
                                 else rec.price, rec.quantity, rec.filled_quantity,
                                 working.attempts if working else rec.attempt, rec.updated_at))
        return sorted(out, key=lambda o: o.updated_at, reverse=True)

    def transitions(self, workflow_id: int | None = None, limit: int = 500) -> list[TransitionRecord]:
        return self.store.store.transitions(workflow_id, limit=limit)

    def decisions(self, limit: int = 500) -> list[DecisionRecord]:
        return self.store.store.decisions(limit=limit)

    def rule_actions(self, workflow_id: int | None = None) -> list[RuleActionRecord]:
        return self.store.store.rule_actions(workflow_id)

    def journal(self) -> list[JournalRecord]:
        return self.store.store.journal()

    def audit_log(self, limit: int = 500) -> list[AuditRecord]:
        return self.store.store.audit_log(limit=limit)

    def errors(self, limit: int = 500) -> list[ErrorRecord]:
        return self.store.store.errors(limit=limit)

    def portfolio(self) -> PortfolioView:
        if self._portfolio_dirty:
            self._refresh_portfolio()
        return self._portfolio

    def health(self) -> HealthView:
        now_wall = time.monotonic()
        start, count = self._event_window
        if now_wall - start >= 1.0:
            self._events_per_s = (self._event_count - count) / (now_wall - start)
            self._event_window = (now_wall, self._event_count)
        now = self.clock.now()
        cached = getattr(self, "_error_counts", None)
        if cached is None or now_wall - cached[0] > 5.0:  # a database read: at most every 5 s
            cached = (now_wall, Counter(e.category for e in self.store.store.errors(limit=1000)))
            self._error_counts = cached
        errors: Counter[str] = cached[1]
        return HealthView(
            mode=self.mode, automation_armed=self._armed, reconciled=self._reconciled,
            reconcile_detail=self._reconcile_detail, streams=self.broker.health(),
            quote_age_s=(now - self._quote_time).total_seconds() if self._quote_time else None,
            events_per_s=self._events_per_s, clock_speed=self.clock.speed, clock_now=now,
            market_open=self.calendar.is_open(now), errors_by_category=dict(errors),
            pending_count=len(self._pending), open_positions=len(self._monitored),
            login_required=self._login_required)

    def analytics(self) -> AnalyticsView:
        """Figures over the whole history; several database reads, so reused for 5 s."""
        cached = getattr(self, "_analytics", None)
        if cached is not None and time.monotonic() - cached[0] < 5.0:
            return cached[1]
        view = self._compute_analytics()
        self._analytics = (time.monotonic(), view)
        return view

    def _compute_analytics(self) -> AnalyticsView:
        store = self.store.store
        orders = store.orders()
        sent = [o for o in orders if o.broker_order_id]
        filled = [o for o in sent if o.status is OrderStatus.FILLED]
        steps = 0
        for o in sent:
            steps += sum(1 for e in store.order_events(o.external_id)
                         if e.detail.startswith("price step"))
        time_in: dict[str, float] = defaultdict(float)
        last: dict[int, TransitionRecord] = {}
        for t in sorted(store.transitions(None), key=lambda t: (t.workflow_id, t.seq)):
            prev = last.get(t.workflow_id)
            if prev is not None:
                time_in[prev.to_state.value] += (t.time - prev.time).total_seconds()
            last[t.workflow_id] = t
        stats: dict[str, list[Decimal]] = defaultdict(list)
        curve = []
        equity = 0.0
        for j in sorted(store.journal(), key=lambda j: j.closed_at):
            stats[j.strategy].append(j.realised_pnl)
            equity += float(j.realised_pnl)
            curve.append((j.closed_at, equity))
        by_strategy = tuple(StrategyStats(name, len(v), sum(1 for x in v if x > 0),
                                          sum(v, ZERO)) for name, v in sorted(stats.items()))
        return AnalyticsView(orders_sent=len(sent), orders_filled=len(filled),
                             price_improvement_steps=steps, time_in_state_s=dict(time_in),
                             by_strategy=by_strategy, equity_curve=tuple(curve))
