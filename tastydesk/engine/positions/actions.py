"""Acting on positions: rule-driven and manual closes, partial closes and rolls, adoption of
positions opened elsewhere, and cancelling a workflow.

Every action takes the workflow's lock and runs one at a time per position (``acting``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from tastydesk.engine.audit import AuditTrail
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock, MarketCalendar
from tastydesk.engine.domain.account import BrokerPosition
from tastydesk.engine.domain.chain import parse_occ
from tastydesk.engine.domain.enums import (
    ActionOutcome,
    Actor,
    AlertCategory,
    AlertLevel,
    OrderPurpose,
    RuleAction,
    RuleType,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import Alert, RuleTriggered
from tastydesk.engine.domain.money import CENT
from tastydesk.engine.domain.results import SENT, ActionResult
from tastydesk.engine.domain.rolls import RollEdits, RollPreview
from tastydesk.engine.domain.strategy import ManagementRule
from tastydesk.engine.errors import EngineError
from tastydesk.engine.execution_pricing.anomaly import DESCRIPTIONS
from tastydesk.engine.orders.manager import OrderManager
from tastydesk.engine.orders.resting import RestingExits
from tastydesk.engine.ports import BrokerPort
from tastydesk.engine.positions.book import ACTING, ONE_UNIT, PositionBook
from tastydesk.engine.positions.monitored import MonitoredPosition, close_legs
from tastydesk.engine.positions.payoff import payoff_extremes
from tastydesk.engine.positions.roller import NO_EDITS, ROLL_REFUSED, ROLL_STOPPED, Roller
from tastydesk.engine.positions.rolls import RollPiece, close_pieces, order_prices
from tastydesk.engine.positions.rules import close_quantity
from tastydesk.engine.positions.session_gate import queued_message, queued_until
from tastydesk.engine.positions.settlement import CONTINUATION
from tastydesk.engine.readiness import Readiness
from tastydesk.engine.risk.portfolio import PortfolioRisk
from tastydesk.engine.scanning.candidates import CandidateBuilder
from tastydesk.engine.settings import Settings
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.strategies.library import StrategyLibrary
from tastydesk.engine.workflow.book import WorkflowBook
from tastydesk.engine.workflow.common import HOLDING

BUSY = ActionResult(ActionOutcome.BUSY)


def describe_edits(edits: RollEdits) -> str:
    """The trader's Roll ticket edits, for the audit trail."""
    parts = []
    if edits.expiry is not None:
        parts.append(f"expiry {edits.expiry.isoformat()}")
    if edits.strikes is not None:
        parts.append("strikes " + "/".join(f"{s.normalize():f}" for s in edits.strikes))
    if edits.quantity is not None:
        parts.append(f"quantity {edits.quantity}")
    if edits.limit is not None:
        parts.append(f"limit {edits.limit}")
    return ", ".join(parts)
CLOSE_PCTS = (25, 50, 75, 100)


class PositionActions:
    def __init__(self, *, book: WorkflowBook, positions: PositionBook, orders: OrderManager,
                 candidates: CandidateBuilder, broker: BrokerPort, store: AsyncStore,
                 audit: AuditTrail, strategies: StrategyLibrary, settings: Settings,
                 risk: PortfolioRisk, readiness: Readiness, bus: EventBus, clock: Clock,
                 calendar: MarketCalendar,
                 spawn: Callable[[Any, str], Any], counters: Counter[str],
                 resting: RestingExits | None = None) -> None:
        self._book = book
        self._resting = resting
        self._positions = positions
        self._orders = orders
        self._candidates = candidates
        self._broker = broker
        self._store = store
        self._audit = audit
        self._strategies = strategies
        self._settings = settings
        self._readiness = readiness
        self._bus = bus
        self._clock = clock
        self._calendar = calendar
        self._spawn = spawn
        self._counters = counters
        self._roller = Roller(book=book, positions=positions, orders=orders,
                              candidates=candidates, broker=broker, store=store, audit=audit,
                              strategies=strategies, settings=settings, risk=risk, bus=bus,
                              clock=clock, spawn=spawn)

    # ---- rules
    def rule_due(self, mon: MonitoredPosition, rule_index: int) -> None:
        """A rule holds and wants an action: run it as a task (the book already marked it)."""
        self._spawn(self._act(mon.workflow_id, rule_index), f"rule-{mon.workflow_id}")

    def _may_act_unattended(self, rule: ManagementRule) -> bool:
        config = self._settings.config
        return self._settings.armed and (rule.auto or rule.rule_type in config.auto_manage
                                         or config.auto_approve)

    async def _act(self, workflow_id: int, rule_index: int) -> None:
        mon = self._positions.get(workflow_id)
        if mon is None:
            return
        rule = mon.rules[rule_index]
        try:
            async with self._book.lock(workflow_id):
                if (self._book.state(workflow_id) is not WorkflowState.MONITORING
                        or not self._readiness.reconciled):  # the reconcile gate holds
                    mon.acting = False
                    return
                units = close_quantity(rule, mon.units)
                if units == 0:  # a partial close of a single unit: nothing to take off
                    mon.spent.add(rule_index)
                    mon.acting = False
                    self._positions.rule_fired(mon, rule, "alert", ONE_UNIT)
                    return
                if not self._may_act_unattended(rule):
                    mon.awaiting.add(rule_index)
                    mon.acting = False
                    self._positions.rule_fired(mon, rule, rule.action.value,
                                               "awaiting the trader's approval")
                    return
                opening = queued_until(self._calendar, self._clock.now())
                if opening is not None:  # acting stays set: nothing else acts before the open
                    what = rule.rule_type.value.replace("_", " ")
                    self._positions.rule_fired(mon, rule, rule.action.value, queued_message(
                        what, self._calendar, self._clock.now(), opening))
                    self._book.set_timer_at(("queued", workflow_id), opening, lambda: self._spawn(
                        self._act(workflow_id, rule_index), f"queued-{workflow_id}"))
                    return
                self._positions.rule_fired(mon, rule, rule.action.value, ACTING)
                if rule.action is RuleAction.ROLL or rule.rule_type is RuleType.ROLL:
                    outcome = await self._roll(mon, f"rule {rule.rule_type.value}",
                                               rule.rule_type.value)
                else:
                    if rule.rule_type is RuleType.PARTIAL_CLOSE:
                        mon.spent.add(rule_index)
                    outcome = await self._close(mon, units, f"rule {rule.rule_type.value}",
                                                rule.rule_type.value)
                if not outcome.sent:
                    mon.acting = False
                    if rule.rule_type is RuleType.ROLL and \
                            outcome.detail.startswith((ROLL_STOPPED, ROLL_REFUSED)):
                        mon.spent.add(rule_index)  # the trader decides; other rules still act
        except Exception:
            mon.acting = False
            raise

    async def _close(self, mon: MonitoredPosition, units: int, reason: str,
                     rule: str) -> ActionResult:
        if mon.natural_close() is None:
            await self._positions.refresh_quotes(mon)
        natural = mon.natural_close()
        mark = mon.mark()
        if natural is None or mark is None:
            return ActionResult(ActionOutcome.NOT_SENT,
                                "no quotes for every leg: cannot price the closing order")
        anomaly = mon.quote_anomaly()
        if anomaly is not None:
            why = f"quotes ignored: {DESCRIPTIONS[anomaly]} ({anomaly.value})"
            self._bus.publish(Alert(AlertLevel.WARNING, AlertCategory.RULE,
                                    f"{mon.symbol}: closing order not priced", why,
                                    self._clock.now(), mon.workflow_id))
            return ActionResult(ActionOutcome.NOT_SENT, why)
        waiting = await self._withdraw_resting(mon, reason)
        if waiting:
            return ActionResult(ActionOutcome.NOT_SENT, waiting)
        units = max(1, min(units, mon.units))
        purpose = OrderPurpose.CLOSE if units == mon.units else OrderPurpose.PARTIAL_CLOSE
        mid = (-mark).quantize(CENT)
        legs = close_legs(mon, units)
        pieces = close_pieces(mon.legs)
        split = ""
        if len(pieces) > 1:  # more than four legs: one legal order now, the rest after its fill
            piece = RollPiece(pieces[0][0], pieces[0][1], (), 1)
            prices = piece.prices()
            assert prices is not None  # every leg is quoted (natural_close above)
            mid, natural = prices
            legs = piece.order_legs(units, held_units=mon.units)
            split = f" ({piece.label}: order 1 of {len(pieces)} of at most 4 legs)"
        await self._book.transition(mon.workflow_id, Trigger.CLOSE,
                                    Actor.ENGINE if rule else Actor.USER,
                                    f"{reason}: {purpose.value} {units} of {mon.units}{split}",
                                    payload={"rule": rule, "units": units})
        order_units, mid, natural = order_prices(legs, units, mid, natural)
        await self._orders.submit(mon.workflow_id, purpose, mon.symbol, legs, order_units,
                                  mid=mid, natural=natural,
                                  strategy=self._strategies.get(mon.strategy_name),
                                  rule_type=rule)
        return SENT

    async def _roll(self, mon: MonitoredPosition, reason: str, rule: str,
                    edits: RollEdits = NO_EDITS) -> ActionResult:
        waiting = await self._withdraw_resting(mon, reason)
        if waiting:
            return ActionResult(ActionOutcome.NOT_SENT, waiting)
        return await self._roller.roll(mon, reason, rule, edits)

    async def _withdraw_resting(self, mon: MonitoredPosition, reason: str) -> str:
        """Before the app's own exit: cancel the resting profit-target order and wait for the
        broker to confirm, so two closing orders never cover the same contracts. "" when the
        exit may go out, else why it waits (the resting order filled first, or its cancel is
        not confirmed yet)."""
        if self._resting is None:
            return ""
        waiting = await self._resting.withdraw(mon.workflow_id, reason)
        if waiting:
            self._bus.publish(Alert(AlertLevel.INFO, AlertCategory.RULE,
                                    f"{mon.symbol}: exit not sent", waiting, self._clock.now(),
                                    mon.workflow_id))
        return waiting

    async def continue_exit(self, workflow_id: int, purpose: OrderPurpose) -> bool:
        """A piece of a roll or of a close too wide for one order filled (the workflow's lock
        is held): send the next piece, if any. True when an order went out."""
        if purpose is OrderPurpose.ROLL:
            return await self._roller.continue_after_fill(workflow_id)
        mon = self._positions.get(workflow_id)
        if purpose is not OrderPurpose.CLOSE or mon is None or \
                self._book.state(workflow_id) is not WorkflowState.MONITORING:
            return False
        mon.acting = True
        if (await self._close(mon, mon.units, "close continues", CONTINUATION)).sent:
            return True
        mon.acting = False
        return False

    async def resume_rolls(self) -> None:
        """After start-up reconciliation: finish rolls a restart stopped between two pieces."""
        await self._roller.resume_after_restart()

    # ---- trader commands
    async def close_position(self, workflow_id: int, user: str, pct: int = 100) -> ActionResult:
        if pct not in CLOSE_PCTS:
            raise EngineError("close percentage must be 25, 50, 75 or 100")
        mon = self._positions.get(workflow_id)
        if mon is None:
            raise EngineError("no open position for that workflow")
        if not self._readiness.reconciled:
            raise EngineError("the broker is not reconciled yet")
        if pct != 100 and mon.units < 2:
            raise EngineError("one unit is open: a partial close would close all of it; "
                              "close 100% instead")
        async with self._book.lock(workflow_id):
            if self._book.state(workflow_id) is not WorkflowState.MONITORING or mon.acting:
                return BUSY
            mon.acting = True
            units = mon.units if pct == 100 else min(mon.units - 1,
                                                     max(1, mon.units * pct // 100))
            await self._audit.audit(user, "close", f"{pct}% ({units} units)", workflow_id)
            queued = self._queue_manual(mon, "close", lambda: self._close(
                mon, min(units, mon.units), f"closed by {user}", ""))
            if queued is not None:
                return queued
            outcome = await self._close(mon, units, f"closed by {user}", "")
            if not outcome.sent:
                mon.acting = False
            else:
                mon.awaiting.clear()
            return outcome

    async def preview_roll(self, workflow_id: int, edits: RollEdits = NO_EDITS) -> RollPreview:
        """The roll the trader would send with ``edits``: new legs, net price, risk after it
        (a query: nothing is saved or sent)."""
        mon = self._positions.get(workflow_id)
        if mon is None:
            raise EngineError(f"workflow: no open position for workflow #{workflow_id}")
        return await self._roller.preview(mon, edits)

    async def roll_position(self, workflow_id: int, user: str,
                            edits: RollEdits = NO_EDITS) -> ActionResult:
        mon = self._positions.get(workflow_id)
        if mon is None:
            raise EngineError("no open position for that workflow")
        async with self._book.lock(workflow_id):
            if self._book.state(workflow_id) is not WorkflowState.MONITORING or mon.acting:
                return BUSY
            mon.acting = True
            await self._audit.audit(user, "roll", "manual roll" if edits == NO_EDITS
                                    else f"manual roll, {describe_edits(edits)}", workflow_id)
            queued = self._queue_manual(mon, "roll", lambda: self._roll(
                mon, f"rolled by {user}", "", edits))
            if queued is not None:
                return queued
            outcome = await self._roll(mon, f"rolled by {user}", "", edits)
            if not outcome.sent:
                mon.acting = False
            else:
                mon.awaiting.clear()
            return outcome

    def _queue_manual(self, mon: MonitoredPosition, what: str,
                      action: Callable[[], Awaitable[ActionResult]]) -> ActionResult | None:
        """Outside the session the trader's close or roll waits for the open (None: send now)."""
        now = self._clock.now()
        opening = queued_until(self._calendar, now)
        if opening is None:
            return None
        message = queued_message(what, self._calendar, now, opening)
        wid = mon.workflow_id
        self._bus.publish(Alert(AlertLevel.INFO, AlertCategory.RULE, f"{mon.symbol}: {what}",
                                message, now, wid))

        async def at_open() -> None:
            async with self._book.lock(wid):
                if self._book.state(wid) is not WorkflowState.MONITORING or \
                        self._positions.get(wid) is not mon:
                    return
                if not (await action()).sent:
                    mon.acting = False

        self._book.set_timer_at(("queued", wid), opening,
                                lambda: self._spawn(at_open(), f"queued-{wid}"))
        return ActionResult(ActionOutcome.QUEUED, message)

    def requeue_exit(self, workflow_id: int, purpose: OrderPurpose, units: int, rule: str,
                     at: datetime) -> None:
        """A DAY exit expired at the close: send it again at ``at`` (the next open). Rules stay
        quiet meanwhile; at the open the same exit goes out for what is still held."""
        mon = self._positions.get(workflow_id)
        if mon is None:
            return
        mon.acting = True
        reason = "re-sent at the open after the day order expired"
        if rule:
            reason = f"rule {rule} ({reason})"

        async def at_open() -> None:
            async with self._book.lock(workflow_id):
                if self._book.state(workflow_id) is not WorkflowState.MONITORING or \
                        self._positions.get(workflow_id) is not mon:
                    return
                if purpose is OrderPurpose.ROLL:
                    outcome = await self._roll(mon, reason, rule,
                                               await self._roller.last_edits(workflow_id))
                else:
                    outcome = await self._close(mon, min(units, mon.units), reason, rule)
                if not outcome.sent:
                    mon.acting = False

        self._book.set_timer_at(("queued", workflow_id), at,
                                lambda: self._spawn(at_open(), f"requeued-{workflow_id}"))

    async def set_rules_paused(self, workflow_id: int, paused: bool, user: str) -> None:
        await self._positions.set_rules_paused(workflow_id, paused)
        await self._audit.audit(user, "rules_paused" if paused else "rules_resumed", "",
                                workflow_id)
        self._bus.publish(RuleTriggered(workflow_id, "all", "paused" if paused else "resumed",
                                        f"rules {'paused' if paused else 'resumed'} by {user}",
                                        self._clock.now()))

    async def set_rule_threshold(self, workflow_id: int, rule_index: int, threshold: Decimal,
                                 user: str) -> None:
        wf = self._book.find(workflow_id)
        if wf is None:
            raise EngineError(f"workflow: no workflow #{workflow_id}")
        strategy = self._strategies.get(wf.strategy_name)
        if strategy is None or not 0 <= rule_index < len(strategy.rules):
            raise EngineError(f"rules[{rule_index}]: no such rule")
        if threshold <= 0:
            raise EngineError(f"rules[{rule_index}].threshold: must be positive")
        overrides = {str(k): str(v) for k, v in (wf.rule_overrides or {}).items()}
        overrides[str(rule_index)] = str(threshold)
        await self._positions.set_rule_threshold(workflow_id, rule_index, overrides, strategy)
        await self._audit.audit(user, "rule_threshold", f"rules[{rule_index}] = {threshold}",
                                workflow_id)

    async def external_positions(self) -> list[BrokerPosition]:
        """Broker positions no workflow manages: candidates for adoption."""
        held: Counter[str] = Counter()
        for mon in self._positions:
            for leg in mon.legs:
                held[leg.symbol] += leg.quantity
        out = []
        for pos in await self._broker.positions():
            rest = pos.quantity - held.get(pos.symbol, 0)
            if rest != 0 and len(pos.symbol) == 21:
                out.append(dataclasses.replace(pos, quantity=rest))
        return out

    async def adopt_position(self, symbols: Sequence[str], strategy_name: str, user: str) -> int:
        """Take option legs opened outside the app into monitoring under a strategy's rules.

        The legs keep the broker's quantities and average open prices; max profit and loss come
        from the structure's payoff at expiry.
        """
        if self._strategies.get(strategy_name) is None:
            raise EngineError(f"strategy: no strategy named {strategy_name!r}")
        if not symbols:
            raise EngineError("symbols: choose at least one leg to adopt")
        available = {p.symbol: p for p in await self.external_positions()}
        legs = []
        for sym in symbols:
            if sym not in available:
                raise EngineError(f"symbols: {sym.strip()} is not an unmanaged broker position")
            legs.append(available[sym])
        roots = {parse_occ(p.symbol)[0] for p in legs}
        if len(roots) != 1:
            raise EngineError("symbols: adopted legs must share one underlying")
        now = self._clock.now()
        rec = await self._book.create(roots.pop(), Actor.USER, f"adopted by {user}",
                                      strategy_name=strategy_name, announce=False)
        for p in legs:
            await self._store.apply_position_fill(rec.id, p.symbol, p.quantity,
                                                  p.average_open_price, now)
        profit, loss = payoff_extremes(legs)
        await self._book.transition(rec.id, Trigger.ADOPT, Actor.USER,
                                    f"adopted {len(legs)} legs under {strategy_name} by {user}",
                                    payload={"symbols": list(symbols), "max_profit": str(profit),
                                             "max_loss": str(loss)})
        await self._audit.audit(user, "adopt", ", ".join(s.strip() for s in symbols), rec.id)
        await self._positions.load(rec.id)
        mon = self._positions.get(rec.id)
        if mon is not None and mon.units:
            mon.max_profit_per_unit = profit / mon.units
            mon.max_loss_per_unit = loss / mon.units
            mon.buying_power_per_unit = loss / mon.units
        return rec.id

    async def cancel_workflow(self, workflow_id: int, user: str, reason: str) -> None:
        if not reason.strip():
            raise EngineError("a reason is required to cancel a workflow")
        async with self._book.lock(workflow_id):
            wf = self._book.get(workflow_id)
            if wf.state in HOLDING or wf.state is WorkflowState.EXECUTING:
                raise EngineError("close the position (or let the order end) before cancelling")
            await self._book.transition(workflow_id, Trigger.CANCEL, Actor.USER,
                                        f"cancelled by {user}: {reason}")
            self._book.cancel_timers(workflow_id)
