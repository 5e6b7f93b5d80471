"""The workflow engine: scan, evaluate, approve, execute with smart pricing, monitor, close, restart.

Everything runs on one asyncio loop. Market and account events arrive on the bus (synchronously);
handlers do the cheap part inline (rule evaluation on every leg quote/greeks) and hand anything
that touches the broker or the store to supervised tasks, serialised per workflow by a lock.
Order safety: the intent with its external identifier is committed before sending; a dry run
precedes every order; an unknown outcome is looked up, never re-sent; on start-up every open order
and every EXECUTING/CLOSING workflow is reconciled with the broker before automation is armed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock, MarketCalendar, TimerHandle
from tastydesk.engine.config import ConfigChange, EngineConfig
from tastydesk.engine.domain.account import Balance
from tastydesk.engine.domain.chain import OptionChain
from tastydesk.engine.domain.enums import (
    Actor,
    Mode,
    OrderPurpose,
    OrderStatus,
    Side,
    StreamHealth,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import (
    Alert,
    BalanceUpdated,
    ConnectionChanged,
    FillReceived,
    GreeksReceived,
    OrderUpdated,
    PortfolioRiskChanged,
    QuoteReceived,
    RuleTriggered,
    StreamGap,
    WorkflowChanged,
)
from tastydesk.engine.domain.money import CENT, ZERO
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.records import (
    OrderRecord,
    WorkflowRecord,
)
from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.domain.views import (
    PendingView,
    PortfolioView,
)
from tastydesk.engine.errors import EngineError
from tastydesk.engine.facade import EngineFacade
from tastydesk.engine.ports import BrokerPort
from tastydesk.engine.proposals.builder import build_proposal
from tastydesk.engine.selection import SelectionError, chain_window, dte_span
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.tasks import TaskSupervisor
from tastydesk.engine.workflow.common import (
    ENDED,
    HOLDING,
    OPEN_ORDER,
    SEARCHING,
)
from tastydesk.engine.workflow.execution import ExecutionMixin, WorkingOrder
from tastydesk.engine.workflow.management import ManagementMixin
from tastydesk.engine.workflow.monitor import MonitoredPosition
from tastydesk.engine.workflow.pricing_walk import initial_price
from tastydesk.engine.workflow.scanner import assess_bias, candidate_strategies, filter_failures
from tastydesk.engine.workflow.views import QueriesMixin

log = logging.getLogger(__name__)

__all__ = ["Engine", "EngineError", "WorkingOrder"]


class Engine(ExecutionMixin, ManagementMixin, QueriesMixin, EngineFacade):
    def __init__(self, *, broker: BrokerPort, store: AsyncStore, bus: EventBus, clock: Clock,
                 calendar: MarketCalendar, config: EngineConfig, user: str = "trader") -> None:
        self.broker = broker
        self.store = store
        self.bus = bus
        self.clock = clock
        self.calendar = calendar
        self.mode: Mode = broker.mode
        self.user = user
        self._config = config
        self.tasks = TaskSupervisor(on_error=self._task_failed)
        # The library is there before start(): the desktop builds its docks first.
        self._strategies: dict[str, Strategy] = {s.name: s for s in store.store.list_strategies()}
        self._workflows: dict[int, WorkflowRecord] = {}
        self._last_reason: dict[int, str] = {}
        self._pending: dict[int, PendingView] = {}
        self._monitored: dict[int, MonitoredPosition] = {}
        self._by_symbol: dict[str, list[MonitoredPosition]] = defaultdict(list)
        self._working: dict[str, WorkingOrder] = {}
        self._by_broker_id: dict[str, str] = {}
        self._orders: dict[str, OrderRecord] = {}
        self._locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._in_flight: set[int] = set()
        self._timers: dict[tuple[str, int], TimerHandle] = {}
        self._spots: dict[str, float] = {}
        self._quote_time: datetime | None = None
        self._balance: Balance | None = None
        self._day_start_nlv: Decimal | None = None
        self._armed = True
        self._reconciled = False
        self._reconcile_detail = "not yet reconciled"
        self._login_required = False
        self._portfolio = PortfolioView()
        self._breach_alerted = False
        self._event_count = 0
        self._event_window = (time.monotonic(), 0)
        self._events_per_s = 0.0
        self._subscriptions: list[Any] = []
        self._scan_timer: TimerHandle | None = None
        self._portfolio_dirty = False
        self._started = False
        self._dirty: dict[int, MonitoredPosition] = {}
        self._flush_scheduled = False
        self._seen_fills: set[str] = set()
        self._views_wanted = False  # set once a reader asks for position views
        self._pending_quotes: dict[str, Any] = {}  # streamer symbol -> latest Quote, pending legs
        self._proposals: dict[int, TradeProposal] = {}  # proposal id -> proposal (read-mostly)
        self.counters: Counter[str] = Counter()
        self.driver: Any = None  # paper-time driver with start()/stop(), paper mode only
        self._fee_per_contract = Decimal("1.00")

    # ------------------------------------------------------------------ lifecycle
    async def start(self, start_driver: bool = True) -> None:
        await self.broker.connect()
        self._strategies = {s.name: s for s in await self.store.list_strategies()}
        stored = await self.store.get_config("engine", None)
        if stored:
            self._config = EngineConfig.from_dict(stored)
        self._armed = bool(await self.store.get_config("automation_armed", True))
        for wf in await self.store.list_workflows():
            self._workflows[wf.id] = wf
        for kind, handler in (
            (QuoteReceived, self._on_quote), (GreeksReceived, self._on_greeks),
            (OrderUpdated, self._on_order_updated), (FillReceived, self._on_fill),
            (BalanceUpdated, self._on_balance), (StreamGap, self._on_gap),
            (ConnectionChanged, self._on_connection),
        ):
            self._subscriptions.append(self.bus.subscribe(kind, handler))
        await self._reconcile()
        await self.broker.subscribe(sorted({*self._config.watchlist, "SPY"}))
        self._schedule_scan(first=True)
        self._schedule_portfolio()
        self._started = True
        if self.driver is not None and start_driver:
            self.driver.start()

    async def stop(self) -> None:
        if self.driver is not None:
            await self.driver.stop()
        for sub in self._subscriptions:
            sub.dispose()
        self._subscriptions.clear()
        for handle in self._timers.values():
            handle.cancel()
        for order in self._working.values():
            if order.timer:
                order.timer.cancel()
        if self._scan_timer:
            self._scan_timer.cancel()
        await self.tasks.cancel_all()
        await self.broker.close()
        await self.store.close()

    def _task_failed(self, name: str, exc: BaseException) -> None:
        self.spawn(self.store.log_error("task", f"{name}: {exc}", self.clock.now()), "log-error")
        self._alert("error", "error", "Engine error", f"{name}: {exc}")

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        return self.tasks.spawn(coro, name)

    # ------------------------------------------------------------------ reconciliation
    async def _reconcile(self) -> None:
        """Match the store's open orders and positions with the broker before anything runs."""
        now = self.clock.now()
        try:
            self._balance = await self.broker.balance()
            self._day_start_nlv = self._balance.net_liquidating_value
            for order in await self.store.orders(open_only=True):
                self._orders[order.external_id] = order
                snap = await self.broker.find_order(order.external_id)
                if snap is None and order.broker_order_id:
                    snap = await self.broker.get_order(order.broker_order_id)
                if snap is None:
                    detail = ("not found at the broker after restart: it never reached the broker"
                              if order.status in (OrderStatus.PENDING_SUBMIT, OrderStatus.UNKNOWN)
                              else "no longer live at the broker (day order ended)")
                    rec = await self.store.update_order(order.external_id, OrderStatus.CANCELLED,
                                                        now, detail=detail)
                    self._orders[rec.external_id] = rec
                    await self.store.audit(Actor.ENGINE, "reconcile", f"{order.external_id}: {detail}",
                                           now, order.workflow_id)
                    continue
                self._track(order, snap)
                await self._apply_snapshot(order.external_id, snap, reconciling=True)
            for wf in list(self._workflows.values()):
                await self._restore_workflow(wf)
            broker_positions = {p.symbol: p.quantity for p in await self.broker.positions()}
            # Every leg the store holds, not only monitored positions': an entry order that
            # part-filled keeps its workflow EXECUTING, yet its contracts are already held.
            held: Counter[str] = Counter()
            for pos in await self.store.positions(open_only=True):
                held[pos.symbol] += pos.quantity
            for symbol, qty in held.items():
                if broker_positions.get(symbol, 0) != qty:
                    msg = f"{symbol}: store {qty}, broker {broker_positions.get(symbol, 0)}"
                    await self.store.log_error("reconcile", "position mismatch", now, detail=msg)
                    self._alert("warning", "error", "Position mismatch", msg)
            self._reconciled = True
            self._reconcile_detail = f"reconciled at {now:%Y-%m-%d %H:%M:%S}"
            await self.store.audit(Actor.ENGINE, "reconcile", self._reconcile_detail, now)
        except Exception as exc:
            self._reconciled = False
            self._reconcile_detail = f"reconciliation failed: {exc}"
            log.exception("reconciliation failed")
            await self.store.log_error("reconcile", str(exc), now)
            self._alert("error", "error", "Reconciliation failed",
                        f"{exc}. Automation stays paused until it succeeds.")
            self._set_timer(("reconcile", 0), 30.0, lambda: self.spawn(self._reconcile(), "reconcile"))

    async def _restore_workflow(self, wf: WorkflowRecord) -> None:
        now = self.clock.now()
        state = wf.state
        has_open = any(o.workflow_id == wf.id and o.status in OPEN_ORDER
                       for o in self._orders.values())
        if state is WorkflowState.EVALUATING:
            await self._transition(wf.id, Trigger.NO_CANDIDATE, Actor.ENGINE,
                                   "evaluation interrupted by a restart")
        elif state is WorkflowState.PENDING_APPROVAL and wf.proposal_id is not None:
            rec = await self.store.get_proposal(wf.proposal_id)
            self._pending[wf.id] = PendingView(wf.id, rec.id, rec.proposal, rec.created_at,
                                               rec.expires_at)
            if rec.expires_at is not None:
                self._set_timer(("expire", wf.id), max(0.0, (rec.expires_at - now).total_seconds()),
                                lambda wid=wf.id: self.spawn(self._expire(wid), "expire"))
        elif state is WorkflowState.EXECUTING and not has_open:
            await self._transition(wf.id, Trigger.EXEC_FAILED, Actor.ENGINE,
                                   "entry order ended while the app was closed",
                                   cooldown_until=now)
        elif state in HOLDING:
            await self._load_monitored(wf.id)
            if state is WorkflowState.CLOSING and not has_open:
                if wf.id in self._monitored:
                    await self._transition(wf.id, Trigger.CLOSE_FAILED, Actor.ENGINE,
                                           "closing order ended while the app was closed")
                else:
                    await self._finish_closed(wf.id, "position flat after restart")
        elif state in (WorkflowState.COMPLETED, WorkflowState.REJECTED):
            self._schedule_restart(wf.id, wf.cooldown_until or now)

    # ------------------------------------------------------------------ transitions
    async def _transition(self, workflow_id: int, trigger: Trigger, actor: Actor, reason: str,
                          payload: dict[str, Any] | None = None, **updates: Any) -> WorkflowRecord:
        previous = self._workflows.get(workflow_id)
        rec = await self.store.transition(workflow_id, trigger, actor, reason, self.clock.now(),
                                          payload=payload, **updates)
        self._workflows[workflow_id] = rec
        self._last_reason[workflow_id] = reason
        self.counters[f"transition:{trigger.value}"] += 1
        if rec.state is not WorkflowState.PENDING_APPROVAL:
            gone = self._pending.pop(workflow_id, None)
            if gone is not None:
                self._release_pending_quotes(gone.proposal)
        self.bus.publish(WorkflowChanged(workflow_id, rec.symbol, rec.state,
                                         previous.state if previous else None, reason,
                                         self.clock.now()))
        return rec

    def _release_pending_quotes(self, proposal: TradeProposal) -> None:
        still = {leg.streamer_symbol for p in self._pending.values() for leg in p.proposal.legs}
        drop = [leg.streamer_symbol for leg in proposal.legs if leg.streamer_symbol not in still]
        for sym in drop:
            self._pending_quotes.pop(sym, None)
        if drop:
            self.spawn(self._unsubscribe_idle(drop), "unsubscribe-pending")

    def _alert(self, level: str, category: str, title: str, message: str,
               workflow_id: int | None = None) -> None:
        self.bus.publish(Alert(level, category, title, message, self.clock.now(), workflow_id))

    def _set_timer(self, key: tuple[str, int], seconds: float, callback: Any) -> None:
        old = self._timers.pop(key, None)
        if old:
            old.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            callback()

        self._timers[key] = self.clock.call_later(seconds, fire)

    # ------------------------------------------------------------------ scanning
    def _schedule_scan(self, first: bool = False) -> None:
        now = self.clock.now()
        interval = timedelta(minutes=self._config.scan_interval_minutes)
        at = now + (timedelta(seconds=1) if first else interval)
        if not self.calendar.is_open(at):
            at = self.calendar.next_open(at) + timedelta(minutes=5)

        def fire() -> None:
            if self._armed and self._reconciled:
                self.spawn(self.scan_now(), "scheduled-scan")
            self._schedule_scan()

        if self._scan_timer:
            self._scan_timer.cancel()
        self._scan_timer = self.clock.call_at(at, fire)

    def _slots(self, symbol: str | None = None) -> list[WorkflowRecord]:
        return [w for w in self._workflows.values()
                if w.state not in ENDED and (symbol is None or w.symbol == symbol)]

    async def scan_now(self, symbols: Sequence[str] | None = None) -> None:
        if not self._reconciled:
            raise EngineError("the broker is not reconciled yet; scanning waits for it")
        now = self.clock.now()
        watch = [s.upper() for s in (symbols or self._config.watchlist)]
        self.counters["scans"] += 1
        for symbol in watch:
            slots = self._slots(symbol)
            searching = [w for w in slots if w.state in SEARCHING]
            if (not searching and len(slots) < self._config.max_workflows_per_symbol
                    and len(self._slots()) < self._config.max_workflows_total):
                rec = await self.store.create_workflow(symbol, Actor.ENGINE, "watchlist scan", now)
                self._workflows[rec.id] = rec
                self.bus.publish(WorkflowChanged(rec.id, symbol, rec.state, None, "created", now))
        for wf in list(self._workflows.values()):
            if (wf.symbol in watch and wf.state is WorkflowState.SCANNING
                    and (wf.cooldown_until is None or wf.cooldown_until <= now)):
                self.spawn(self._evaluate(wf.id), f"evaluate-{wf.id}")

    async def _evaluate(self, workflow_id: int) -> None:
        async with self._locks[workflow_id]:
            wf = self._workflows[workflow_id]
            if wf.state is not WorkflowState.SCANNING:
                return
            await self._transition(workflow_id, Trigger.SCAN, Actor.ENGINE, "scan picked the symbol")
            try:
                outcome = await self._build_candidate(wf.symbol, workflow_id)
            except Exception as exc:
                log.exception("evaluation of %s failed", wf.symbol)
                await self.store.log_error("evaluate", str(exc), self.clock.now(),
                                           workflow_id=workflow_id)
                outcome = f"evaluation failed: {exc}"
            if isinstance(outcome, str):
                cooldown = self.clock.now() + timedelta(minutes=self._config.scan_interval_minutes)
                await self._transition(workflow_id, Trigger.NO_CANDIDATE, Actor.ENGINE, outcome,
                                       cooldown_until=cooldown)
                return
            proposal, strategy = outcome
            await self._propose(workflow_id, proposal, strategy)

    async def _build_candidate(self, symbol: str, workflow_id: int | None,
                               only: Strategy | None = None) -> tuple[TradeProposal, Strategy] | str:
        """A proposal that passed every check, or the reason there is none."""
        now = self.clock.now()
        today = self.clock.today()
        if self._portfolio.breached and only is None:
            return f"portfolio limit breached: {self._portfolio.breach_reason}"
        info = (await self.broker.market_metrics([symbol]))[symbol]
        symbol_bwd = self._symbol_bwd(symbol)
        assessment = assess_bias(info, symbol_bwd, self._config, today)
        if only is None and assessment.confidence < self._config.min_confidence:
            return f"confidence {assessment.confidence:.2f} below {self._config.min_confidence:.2f}"
        candidates = [only] if only else candidate_strategies(list(self._strategies.values()),
                                                              assessment.bias)
        if not candidates:
            return f"no enabled strategy serves a {assessment.bias.value} bias"
        reasons: list[str] = []
        for strategy in candidates:
            failures = filter_failures(strategy, info, today)
            if failures and only is None:
                reasons.append(f"{strategy.name}: " + "; ".join(failures))
                continue
            chain = await self._strategy_chain(symbol, strategy)
            try:
                proposal = build_proposal(
                    strategy, chain, now, bias=assessment.bias, confidence=assessment.confidence,
                    rationale=assessment.reasons, max_quote_age_s=self._config.max_quote_age_seconds,
                    enforce_min_credit=True)
            except SelectionError as exc:
                reasons.append(f"{strategy.name}: {exc}")
                continue
            problem = await self._check_proposal(proposal, strategy)
            if problem:
                reasons.append(f"{strategy.name}: {problem}")
                continue
            return proposal, strategy
        return "; ".join(reasons) or "no candidate"

    async def _strategy_chain(self, symbol: str, strategy: Strategy) -> OptionChain:
        """The part of the chain the strategy's legs can use: its chosen expirations only.

        A DTE range spans several weeklies but a trade uses one or two of them; building (and,
        live, streaming) just those makes a scan several times cheaper. When no expiration
        qualifies, the whole range is fetched so selection reports why in its own words.
        """
        try:
            low, high = chain_window(await self.broker.expirations(symbol), strategy)
        except SelectionError:
            low, high = dte_span(strategy)
        return await self.broker.option_chain(symbol, low, max(low, high))

    async def _check_proposal(self, proposal: TradeProposal, strategy: Strategy) -> str | None:
        conflict = self._netting_conflict(proposal)
        if conflict:
            return conflict
        if strategy.filters.min_credit > 0 and proposal.mid_price < strategy.filters.min_credit:
            return f"credit {proposal.mid_price} below minimum {strategy.filters.min_credit}"
        if proposal.buying_power > strategy.sizing.max_buying_power:
            return (f"buying power {proposal.buying_power} above the per-trade maximum "
                    f"{strategy.sizing.max_buying_power}")
        limit = self._bp_limit()
        if limit > 0 and self._portfolio.buying_power_used + proposal.buying_power > limit:
            return (f"allocation: {self._portfolio.buying_power_used} used + "
                    f"{proposal.buying_power} exceeds {limit}")
        if proposal.quote_time is not None:
            age = (self.clock.now() - proposal.quote_time).total_seconds()
            if age > self._config.max_quote_age_seconds:
                return f"quotes are {age:.0f} s old"
        dry = await self.broker.dry_run(self._order_request(proposal, proposal.mid_price, "dry"))
        if dry.errors:
            return "dry run: " + "; ".join(dry.errors)
        return None

    def _netting_conflict(self, proposal: TradeProposal) -> str | None:
        """Brokers net positions per contract: a leg opposite to another workflow's would cancel
        it out at the broker and leave both workflows unable to close, so it is refused."""
        held: dict[str, tuple[int, int]] = {}
        for mon in self._monitored.values():
            for leg in mon.legs:
                held[leg.symbol] = (leg.quantity, mon.workflow_id)
        for leg in proposal.legs:
            other = held.get(leg.symbol)
            if other is None:
                continue
            sign = -1 if leg.side is Side.SELL else 1
            if other[0] * sign < 0:
                return (f"{leg.symbol.split()[0]} {leg.strike} {leg.option_type.value} would net "
                        f"against workflow {other[1]}'s position")
        return None

    async def _propose(self, workflow_id: int, proposal: TradeProposal, strategy: Strategy) -> None:
        now = self.clock.now()
        expires = now + timedelta(minutes=self._config.approval_expiry_minutes)
        proposal_id = await self.store.save_proposal(workflow_id, proposal, expires)
        self._proposals[proposal_id] = proposal
        await self._transition(workflow_id, Trigger.PROPOSE, Actor.ENGINE,
                               f"{strategy.name}: {proposal.bias.value}, credit "
                               f"{proposal.mid_price}, POP {proposal.pop:.0%}",
                               payload={"proposal_id": proposal_id},
                               proposal_id=proposal_id, strategy_name=strategy.name)
        self._pending[workflow_id] = PendingView(workflow_id, proposal_id, proposal, now, expires)
        self.counters["proposals"] += 1
        for leg in proposal.legs:  # stream the legs so approval re-checks against live quotes
            self._pending_quotes.setdefault(leg.streamer_symbol, None)
        self.spawn(self.broker.subscribe([leg.streamer_symbol for leg in proposal.legs]),
                   "subscribe-pending")
        self._set_timer(("expire", workflow_id), (expires - now).total_seconds(),
                        lambda: self.spawn(self._expire(workflow_id), "expire"))
        self._alert("info", "pending", f"New trade: {proposal.underlying}",
                    f"{strategy.name} for {proposal.mid_price} credit, max loss "
                    f"{proposal.max_loss}", workflow_id)
        if self._config.auto_approve:
            self.spawn(self.approve(workflow_id, "auto-approve policy"), f"auto-approve-{workflow_id}")

    async def _expire(self, workflow_id: int) -> None:
        async with self._locks[workflow_id]:
            if self._workflows[workflow_id].state is WorkflowState.PENDING_APPROVAL:
                await self._transition(workflow_id, Trigger.EXPIRE, Actor.ENGINE,
                                       "approval window expired")

    # ------------------------------------------------------------------ approval
    async def approve(self, workflow_id: int, user: str, price: Decimal | None = None,
                      quantity: int | None = None) -> str:
        if quantity is not None and quantity < 1:
            raise EngineError("quantity: must be at least 1")
        if price is not None and price == 0:
            raise EngineError("price: must not be zero (credit positive, debit negative)")
        if workflow_id in self._in_flight:
            return "already in progress"
        self._in_flight.add(workflow_id)
        try:
            async with self._locks[workflow_id]:
                return await self._approve_locked(workflow_id, user, price, quantity)
        finally:
            self._in_flight.discard(workflow_id)

    async def _approve_locked(self, workflow_id: int, user: str, price: Decimal | None,
                              quantity: int | None) -> str:
        wf = self._workflows.get(workflow_id)
        pending = self._pending.get(workflow_id)
        if wf is None or wf.state is not WorkflowState.PENDING_APPROVAL or pending is None:
            return "not pending"
        if not self._reconciled:
            raise EngineError("the broker is not reconciled; approvals wait for it")
        proposal = pending.proposal
        strategy = self._strategies.get(proposal.strategy_name)
        if strategy is None:
            raise EngineError(f"strategy {proposal.strategy_name!r} no longer exists")
        # Re-check against current quotes: a moved or stale market is re-priced, not sent.
        fresh = await self._current_prices(proposal)
        moved = None
        if fresh is None:
            moved = "quotes for the legs are missing or stale"
        elif abs(fresh[0] - proposal.mid_price) > self._config.reprice_tolerance:
            moved = f"mid moved from {proposal.mid_price} to {fresh[0]}"
        if moved:
            await self._transition(workflow_id, Trigger.REPRICE, Actor.ENGINE,
                                   f"re-pricing before sending: {moved}")
            outcome = await self._build_candidate(proposal.underlying, workflow_id, only=strategy)
            if isinstance(outcome, str):
                await self._transition(workflow_id, Trigger.NO_CANDIDATE, Actor.ENGINE, outcome,
                                       cooldown_until=self.clock.now())
                return f"withdrawn: {outcome}"
            await self._propose(workflow_id, outcome[0], strategy)
            return f"repriced: {moved}"
        if self._portfolio.breached:
            raise EngineError(f"portfolio limit breached: {self._portfolio.breach_reason}")
        units = quantity or proposal.quantity
        now = self.clock.now()
        decision = "modify" if (price is not None or quantity is not None) else "approve"
        await self.store.record_decision(pending.proposal_id, decision, user,
                                         "approved" if decision == "approve" else
                                         f"approved with price {price} quantity {units}",
                                         now, price=price, quantity=units)
        await self.store.set_proposal_status(pending.proposal_id, "approved")
        await self._transition(workflow_id, Trigger.APPROVE, Actor.USER,
                               f"approved by {user}", payload={"price": str(price or ""),
                                                               "quantity": units})
        self.counters["approvals"] += 1
        mid, natural = fresh  # type: ignore[misc]
        legs = self._open_legs(proposal, units)
        limit = price if price is not None else strategy.pricing.limit_price
        start = price if price is not None else initial_price(
            mid, natural, strategy.pricing.start_offset, strategy.pricing.limit_price)
        await self._submit(workflow_id, OrderPurpose.OPEN, proposal.underlying, legs, units, start,
                           natural, strategy, limit, proposal_id=pending.proposal_id)
        return "sent"

    async def reject(self, workflow_id: int, user: str, reason: str) -> None:
        if not reason or not reason.strip():
            raise EngineError("a reason is required to reject a trade")
        async with self._locks[workflow_id]:
            pending = self._pending.get(workflow_id)
            wf = self._workflows.get(workflow_id)
            if wf is None or wf.state is not WorkflowState.PENDING_APPROVAL or pending is None:
                raise EngineError("that trade is no longer pending")
            now = self.clock.now()
            await self.store.record_decision(pending.proposal_id, "reject", user, reason.strip(), now)
            await self.store.set_proposal_status(pending.proposal_id, "rejected")
            cooldown = now + timedelta(minutes=self._config.reject_cooldown_minutes)
            await self._transition(workflow_id, Trigger.REJECT, Actor.USER,
                                   f"rejected by {user}: {reason.strip()}", cooldown_until=cooldown)
            self._schedule_restart(workflow_id, cooldown)

    def _schedule_restart(self, workflow_id: int, at: datetime) -> None:
        seconds = max(0.0, (at - self.clock.now()).total_seconds())
        self._set_timer(("restart", workflow_id), seconds,
                        lambda: self.spawn(self._restart(workflow_id), f"restart-{workflow_id}"))

    async def _restart(self, workflow_id: int) -> None:
        async with self._locks[workflow_id]:
            wf = self._workflows[workflow_id]
            if wf.state in (WorkflowState.COMPLETED, WorkflowState.REJECTED):
                await self._transition(workflow_id, Trigger.RESTART, Actor.ENGINE,
                                       "cool-down over: scanning again", cooldown_until=None)

    async def _current_prices(self, proposal: TradeProposal) -> tuple[Decimal, Decimal] | None:
        """Mid and natural per spread from the latest quotes for the proposal's legs.

        Streamed quotes are used when every leg has a fresh one; otherwise the chain is fetched.
        """
        now = self.clock.now()
        streamed = [self._pending_quotes.get(leg.streamer_symbol) for leg in proposal.legs]
        if all(q is not None and (now - q.time).total_seconds() <= self._config.max_quote_age_seconds
               for q in streamed):
            return self._price_legs(proposal, streamed)
        max_dte = (max(leg.expiry for leg in proposal.legs) - self.clock.today()).days
        min_dte = (min(leg.expiry for leg in proposal.legs) - self.clock.today()).days
        chain = await self.broker.option_chain(proposal.underlying, max(0, min_dte), max_dte)
        quotes = []
        for leg in proposal.legs:
            contract = chain.contract(leg.symbol)
            if contract is None or contract.quote is None:
                return None
            if (now - contract.quote.time).total_seconds() > self._config.max_quote_age_seconds:
                return None
            quotes.append(contract.quote)
        return self._price_legs(proposal, quotes)

    @staticmethod
    def _price_legs(proposal: TradeProposal, quotes: Sequence[Any]) -> tuple[Decimal, Decimal]:
        mid = natural = ZERO
        unit = proposal.quantity
        for leg, q in zip(proposal.legs, quotes, strict=True):
            ratio = Decimal(leg.quantity // unit)
            sign = 1 if leg.side is Side.SELL else -1
            mid += sign * q.mid * ratio
            natural += (q.bid if sign > 0 else -q.ask) * ratio
        return mid.quantize(CENT), natural.quantize(CENT)

    # ------------------------------------------------------------------ account events
    def _on_balance(self, event: BalanceUpdated) -> None:
        self._balance = event.balance
        if self._day_start_nlv is None:
            self._day_start_nlv = event.balance.net_liquidating_value
        self._portfolio_dirty = True

    def _on_gap(self, event: StreamGap) -> None:
        """After a stream gap, re-read every open order: fills may have happened meanwhile."""
        if event.stream == "account":
            for ext, working in list(self._working.items()):
                if working.broker_order_id:
                    self.spawn(self._confirm_fill(ext, working.broker_order_id), "resync")

    def _on_connection(self, event: ConnectionChanged) -> None:
        if event.stream == "rest" and event.health is StreamHealth.DISCONNECTED and \
                "login" in event.detail:
            self._login_required = True
            if self._armed:
                self.set_automation(False, "engine")
            self._alert("error", "connection", "Login required", event.detail)

    # ------------------------------------------------------------------ portfolio
    def _schedule_portfolio(self) -> None:
        """Refresh the portfolio figures once a minute while the market is open (greeks and
        marks move only then); the first refresh of a session also re-checks time rules, since
        DTE changes overnight."""
        now = self.clock.now()
        at = now + timedelta(seconds=60)
        if not self.calendar.is_open(at):
            at = self.calendar.next_open(at)

        def fire() -> None:
            if self._portfolio_dirty:
                self._refresh_portfolio()
            today = self.clock.today()
            for mon in list(self._monitored.values()):
                if mon.today != today:
                    mon.today = today
                    self._check(mon)
            self._schedule_portfolio()

        self._timers.pop(("portfolio", 0), None)
        self._timers[("portfolio", 0)] = self.clock.call_at(at, fire)

    def _symbol_bwd(self, symbol: str) -> float:
        spy = self._spots.get("SPY") or 1.0
        total = 0.0
        for mon in self._monitored.values():
            if mon.symbol == symbol:
                delta, _, _ = mon.greeks()
                total += delta * mon.beta * (self._spots.get(symbol, spy) / spy)
        return total

    def _bp_limit(self) -> Decimal:
        if self._balance is None:
            return ZERO
        return (self._balance.net_liquidating_value * self._config.max_allocation_pct / 100
                ).quantize(CENT)

    def _refresh_portfolio(self) -> None:
        self._portfolio_dirty = False
        spy = self._spots.get("SPY") or 1.0
        bwd = theta = vega = 0.0
        used = ZERO
        for mon in self._monitored.values():
            delta, t, v = mon.greeks()
            bwd += delta * mon.beta * (self._spots.get(mon.symbol, spy) / spy)
            theta += t
            vega += v
            used += mon.buying_power_per_unit * mon.units
        limit = self._bp_limit()
        nlv = self._balance.net_liquidating_value if self._balance else ZERO
        reasons = []
        if abs(bwd) > float(self._config.max_portfolio_bwd):
            reasons.append(f"beta-weighted delta {bwd:+.0f} beyond ±{self._config.max_portfolio_bwd}")
        if limit > 0 and used > limit:
            reasons.append(f"buying power used {used} above {limit}")
        breached = bool(reasons)
        self._portfolio = PortfolioView(
            beta_weighted_delta=bwd, theta=theta, vega=vega, buying_power_used=used,
            buying_power_limit=limit, net_liquidating_value=nlv,
            pnl_today=(nlv - self._day_start_nlv) if self._day_start_nlv is not None else ZERO,
            open_positions=len(self._monitored), breached=breached,
            breach_reason="; ".join(reasons))
        if breached and not self._breach_alerted:
            self._alert("error", "risk", "Portfolio limit breached",
                        "; ".join(reasons) + ". New proposals are blocked.")
        self._breach_alerted = breached
        now = self.clock.now()
        self.bus.publish(PortfolioRiskChanged(bwd, theta, vega, used, limit,
                                              self._portfolio.pnl_today, breached, now))

    # ------------------------------------------------------------------ settings commands
    async def preview(self, strategy: Strategy, symbol: str) -> TradeProposal:
        symbol = symbol.upper()
        chain = await self._strategy_chain(symbol, strategy)
        info = chain.underlying
        assessment = assess_bias(info, self._symbol_bwd(symbol), self._config, self.clock.today())
        return build_proposal(strategy, chain, self.clock.now(), bias=assessment.bias,
                              confidence=assessment.confidence, rationale=assessment.reasons,
                              max_quote_age_s=self._config.max_quote_age_seconds)

    def set_rules_paused(self, workflow_id: int, paused: bool, user: str) -> None:
        mon = self._monitored.get(workflow_id)
        if mon is not None:
            mon.paused = paused
            mon.cached_view = None
        self._workflows[workflow_id] = self.store.store.update_workflow(workflow_id,
                                                                        rules_paused=paused)
        self.store.store.audit(user, "rules_paused" if paused else "rules_resumed", "",
                               self.clock.now(), workflow_id)
        self.bus.publish(RuleTriggered(workflow_id, "all", "paused" if paused else "resumed",
                                       f"rules {'paused' if paused else 'resumed'} by {user}",
                                       self.clock.now()))

    def set_rule_threshold(self, workflow_id: int, rule_index: int, threshold: Decimal,
                           user: str) -> None:
        mon = self._monitored.get(workflow_id)
        wf = self._workflows[workflow_id]
        strategy = self._strategies.get(wf.strategy_name or "")
        if strategy is None or not 0 <= rule_index < len(strategy.rules):
            raise EngineError(f"rules[{rule_index}]: no such rule")
        if threshold <= 0:
            raise EngineError(f"rules[{rule_index}].threshold: must be positive")
        overrides = dict(wf.rule_overrides or {})
        overrides[str(rule_index)] = str(threshold)
        self._workflows[workflow_id] = self.store.store.update_workflow(
            workflow_id, rule_overrides=overrides)
        if mon is not None:
            mon.rules = self._effective_rules(self._workflows[workflow_id], strategy)
            mon.awaiting.discard(rule_index)
            mon.cached_view = None
        self.store.store.audit(user, "rule_threshold", f"rules[{rule_index}] = {threshold}",
                               self.clock.now(), workflow_id)

    def set_automation(self, armed: bool, user: str) -> None:
        self._armed = armed
        self.store.store.set_config("automation_armed", armed)
        self.store.store.audit(user, "automation", "armed" if armed else "paused (kill switch)",
                               self.clock.now())
        self._alert("warning" if not armed else "info", "risk",
                    "Automation " + ("armed" if armed else "paused"),
                    f"by {user}")

    def update_config(self, config: EngineConfig, user: str) -> None:
        config.validate()
        old = self._config
        changed = tuple(k for k, v in config.to_dict().items() if old.to_dict().get(k) != v)
        self._config = config
        self.store.store.set_config("engine", config.to_dict())
        self.store.store.audit(user, "settings", ", ".join(changed) or "no change", self.clock.now())
        if "scan_interval_minutes" in changed:
            self._schedule_scan()
        if hasattr(self.clock, "set_speed") and "paper_speed" in changed and \
                self.mode is Mode.PAPER:
            self.clock.set_speed(config.paper_speed)
        if "watchlist" in changed and self._started:
            self.spawn(self.broker.subscribe(sorted({*config.watchlist, "SPY"})), "subscribe")
        self.bus.publish(ConfigChange(config, changed))

    def remember_account(self, env: str, account_number: str, user: str) -> None:
        if env not in ("live", "sandbox"):
            raise EngineError(f"env: must be live or sandbox, got {env!r}")
        if not account_number.strip():
            raise EngineError("account_number: required")
        self.store.store.set_config(f"account:{env}", account_number.strip())
        self.store.store.audit(user, "account", f"{env} account {account_number.strip()}",
                               self.clock.now())

    def save_strategy(self, strategy: Strategy, user: str) -> None:
        self.store.store.save_strategy(strategy)
        self._strategies[strategy.name] = strategy
        self.store.store.audit(user, "strategy_saved", strategy.name, self.clock.now())

    def delete_strategy(self, name: str, user: str) -> None:
        self.store.store.delete_strategy(name)
        self._strategies.pop(name, None)
        self.store.store.audit(user, "strategy_deleted", name, self.clock.now())

    def restore_default_strategies(self, user: str) -> None:
        self.store.store.restore_default_strategies()
        self._strategies = {s.name: s for s in self.store.store.list_strategies()}
        self.store.store.audit(user, "strategies_restored", "defaults restored", self.clock.now())
