"""After an assignment: the follow-up of a position an assignment left holding shares, proposed
into the approval queue with its rationale.

``after_assignment`` chooses:

* ``close``: the shares and the remaining options in one order (a covered-stock order with an
  Equity leg, tastytrade's recommended way). An order has at most four legs, so with more than
  three options left they close first; a broker whose dry run refuses the mix gets the options
  first, then the shares (each step its own proposal).
* ``keep``: keep the shares and go on; a note on the timeline, no proposal.
* ``wheel``: sell one covered call per 100 long shares, strike and expiry by the strategy's own
  short-call leg when it has one, else 0.30 delta 21 to 60 days out, on the live chain.

The proposal waits in the approval desk like any trade: a window in real time, the trader's
limit, pre-trade checks, the dry run. It is approved unattended only while automation is armed
and the strategy allows it (``after_assignment_auto``) or the unattended policy (``auto_approve``)
is on. Approval hands it back to :meth:`AssignmentFollowUps.send`: re-priced on the current
quotes, within the limit the order goes out through the order manager, beyond it it returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tastydesk.engine.approvals.desk import ApprovalDesk
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock, MarketCalendar, TimerHandle
from tastydesk.engine.domain.enums import (
    ActionOutcome,
    Actor,
    AfterAssignment,
    AlertCategory,
    AlertLevel,
    OptionType,
    OrderAction,
    OrderPurpose,
    ProposalStatus,
    SelectionMethod,
    Side,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import Alert, RuleActionRecorded, WorkflowChanged
from tastydesk.engine.domain.ids import ExternalOrderId, ProposalId, WorkflowId
from tastydesk.engine.domain.instruments import MAX_OPTION_LEGS
from tastydesk.engine.domain.money import CENT
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.results import SENT, ActionResult
from tastydesk.engine.domain.strategy import DteRange, Strategy, StrategyLeg, StrikeSelection
from tastydesk.engine.execution_pricing.anomaly import (
    DESCRIPTIONS,
    LegQuote,
    QuoteAnomaly,
    quote_anomaly,
)
from tastydesk.engine.lifecycle.proposals import (
    call_proposal,
    close_proposal,
    describe,
    realised_by_closing,
    strike_text,
)
from tastydesk.engine.orders.manager import OrderManager
from tastydesk.engine.orders.resting import RestingExits
from tastydesk.engine.ports import BrokerPort
from tastydesk.engine.positions.actions import order_prices
from tastydesk.engine.positions.book import PositionBook
from tastydesk.engine.positions.monitored import MonitoredLeg, MonitoredPosition, close_legs
from tastydesk.engine.selection import SelectionError, select_expiration, select_strike
from tastydesk.engine.settings import Settings
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.strategies.library import StrategyLibrary
from tastydesk.engine.workflow.book import WorkflowBook

RULE = "after_assignment"
#: The wheel's covered call when the strategy has no short-call leg of its own.
DEFAULT_CALL = StrategyLeg(OptionType.CALL, Side.SELL,
                           StrikeSelection(SelectionMethod.DELTA, Decimal("0.30")))
DEFAULT_CALL_DTE = DteRange(21, 30, 60, prefer_monthly=False)
OPEN_DELAY = timedelta(minutes=5)
#: A follow-up that could not be built (no quote for a leg yet) is tried again this much later
#: in the session, else at the next open: shares left after an assignment are never forgotten.
RETRY_DELAY = timedelta(minutes=5)
PROPOSED = "proposed to the approval queue"
KEPT = "kept"
WAITING = "waiting for the market to open"
NOT_PROPOSED = "not proposed"
SELLING = OrderAction.SELL_TO_OPEN


class AssignmentFollowUps:
    """Proposes what comes after an assignment, and sends it once approved."""

    def __init__(self, *, book: WorkflowBook, positions: PositionBook, orders: OrderManager,
                 desk: ApprovalDesk, broker: BrokerPort, store: AsyncStore,
                 strategies: StrategyLibrary, settings: Settings, calendar: MarketCalendar,
                 bus: EventBus, clock: Clock, spawn: Callable[[Any, str], Any],
                 counters: Counter[str], resting: RestingExits) -> None:
        self._book = book
        self._resting = resting
        self._positions = positions
        self._orders = orders
        self._desk = desk
        self._broker = broker
        self._store = store
        self._strategies = strategies
        self._settings = settings
        self._calendar = calendar
        self._bus = bus
        self._clock = clock
        self._spawn = spawn
        self._counters = counters
        # follow-ups waiting for a retry: when, and the timer to cancel for an earlier one
        self._deferred: dict[WorkflowId, tuple[datetime, TimerHandle]] = {}
        self._kept: set[WorkflowId] = set()  # workflows whose 'keep' is noted on the timeline

    def subscribe(self) -> list[Any]:
        return [self._bus.subscribe(WorkflowChanged, self._on_workflow)]

    def _on_workflow(self, event: WorkflowChanged) -> None:
        """A follow-up step ended (filled in part, or not at all) and shares are still held:
        what is left is proposed again, at once after a fill, else at the next open."""
        if event.state is not WorkflowState.MONITORING \
                or event.previous is not WorkflowState.CLOSING:
            return
        mon = self._positions.get(event.workflow_id)
        if mon is None or not mon.holds_shares:
            return
        if event.reason.startswith(("partially closed", "rolled")):
            self._spawn(self._propose(event.workflow_id, "the previous step filled"),
                        f"after-assignment-{event.workflow_id}")
            return
        self._retry_at_open(event.workflow_id, f"the last step did not fill ({event.reason})")

    def _retry_at_open(self, workflow_id: WorkflowId, reason: str) -> None:
        now = self._clock.now()
        after = self._calendar.next_close(now) if self._calendar.is_open(now) else now
        self._retry_at(workflow_id, reason,
                       self._calendar.next_open(after + timedelta(minutes=1)) + OPEN_DELAY)

    def _retry_soon(self, workflow_id: WorkflowId, reason: str) -> None:
        """Try again ``RETRY_DELAY`` later while the session lasts, else at the next open."""
        now = self._clock.now()
        at = now + RETRY_DELAY
        if self._calendar.is_open(now) and at < self._calendar.next_close(now):
            self._retry_at(workflow_id, reason, at)
        else:
            self._retry_at_open(workflow_id, reason)

    def _retry_at(self, workflow_id: WorkflowId, reason: str, at: datetime) -> None:
        """One retry per workflow, the earliest asked for."""
        waiting = self._deferred.get(workflow_id)
        if waiting is not None:
            if waiting[0] <= at:
                return
            waiting[1].cancel()

        def again() -> None:
            self._deferred.pop(workflow_id, None)
            self._spawn(self._propose(workflow_id, reason), f"after-assignment-{workflow_id}")

        self._deferred[workflow_id] = (at, self._clock.call_at(at, again))

    async def shares_left(self, workflow_id: WorkflowId, reason: str) -> None:
        """Called under the workflow's lock: the proposal runs as its own task."""
        self._spawn(self._propose(workflow_id, reason), f"after-assignment-{workflow_id}")

    def ended(self, workflow_id: WorkflowId, reason: str, returned: bool) -> None:
        """The desk took a follow-up off the queue unsent: propose it again, at once with fresh
        prices when the market moved past the trader's limit, else at the next open."""
        if returned:
            self._spawn(self._propose(workflow_id, reason, returned=reason),
                        f"after-assignment-{workflow_id}")
        else:
            self._retry_at_open(workflow_id, reason)

    async def resume(self) -> None:
        """At start-up: positions still holding shares get back the follow-up that was pending
        when the app stopped (its id and window; the desk expires it if the window closed),
        else a fresh one."""
        for mon in self._positions:
            if mon.holds_shares and not await self._restore(mon):
                await self._propose(mon.workflow_id, "holding shares after a restart")

    async def _restore(self, mon: MonitoredPosition) -> bool:
        """Whether the latest follow-up proposal of ``mon`` was still pending and is back on
        the queue; one for legs the position no longer holds is withdrawn instead."""
        latest = next((t.payload["proposal_id"] for t in reversed(
            await self._store.transitions(mon.workflow_id)) if t.trigger is Trigger.FOLLOW_UP
            and "proposal_id" in t.payload), None)
        if latest is None:
            return False
        record = await self._store.get_proposal(ProposalId(int(latest)))
        if record.status != ProposalStatus.PENDING:
            return False
        held = {leg.symbol for leg in mon.legs}
        wanted = {s.symbol for s in record.proposal.shares}
        if record.proposal.follow_up is not AfterAssignment.WHEEL:
            wanted |= {leg.symbol for leg in record.proposal.legs}
        if not wanted <= held:
            await self._store.set_proposal_status(record.id, ProposalStatus.WITHDRAWN)
            return False
        self._desk.restore(record)
        return True

    def _after_open(self, workflow_id: WorkflowId, reason: str) -> bool:
        """Outside the session nothing can trade: propose a few minutes after the open (fresh
        quotes by then). True when deferred."""
        if self._calendar.is_open(self._clock.now()):
            return False
        self._retry_at_open(workflow_id, reason)
        return True

    def _choice(self, mon: MonitoredPosition) -> tuple[AfterAssignment, Strategy | None]:
        strategy = self._strategies.get(mon.strategy_name)
        choice = strategy.after_assignment if strategy else AfterAssignment.CLOSE
        if choice is AfterAssignment.WHEEL and any(leg.is_shares and leg.quantity < 0
                                                   for leg in mon.legs):
            choice = AfterAssignment.CLOSE  # short shares cannot back a covered call
        return choice, strategy

    def _unattended(self, strategy: Strategy | None) -> bool:
        allowed = strategy is not None and strategy.after_assignment_auto
        return self._settings.armed and (allowed or self._settings.config.auto_approve)

    async def _propose(self, workflow_id: WorkflowId, reason: str, returned: str = "") -> None:
        async with self._book.lock(workflow_id):
            mon = self._positions.get(workflow_id)
            if mon is None or self._book.state(workflow_id) is not WorkflowState.MONITORING \
                    or mon.acting or not mon.holds_shares or self._desk.get(workflow_id):
                return
            choice, strategy = self._choice(mon)
            held = ", ".join(describe(leg) for leg in mon.legs)
            why = (f"{reason}; holding {held}; {mon.strategy_name or 'the strategy'} chooses "
                   f"'{choice.value}' after an assignment")
            if choice is AfterAssignment.KEEP:
                if workflow_id not in self._kept:
                    self._kept.add(workflow_id)
                    note = f"{why}: keep the shares and continue"
                    await self._book.transition(workflow_id, Trigger.FOLLOW_UP, Actor.ENGINE,
                                                note, payload={"follow_up": choice.value})
                    await self._record(mon, choice.value, note, KEPT)
                return
            if choice is AfterAssignment.WHEEL and any(
                    leg.option_type is OptionType.CALL and leg.quantity < 0 for leg in mon.legs):
                return  # the covered call is already written
            if self._after_open(workflow_id, reason):
                await self._record(mon, choice.value, f"{why}: proposed at the next open",
                                   WAITING)
                return
            built = await (self._covered_call(mon, strategy, why)
                           if choice is AfterAssignment.WHEEL else self._close(mon, why))
            if isinstance(built, str):
                await self._record(mon, choice.value, f"{why}: {built}; tried again shortly",
                                   NOT_PROPOSED)
                self._retry_soon(workflow_id, reason)
                return
            await self._record(mon, choice.value, ": ".join(built.rationale), PROPOSED)
            await self._desk.propose_follow_up(workflow_id, built, self._unattended(strategy),
                                               returned=returned)

    # ---- building the proposal
    def _close_step(self, mon: MonitoredPosition, together: bool) -> list[MonitoredLeg]:
        """The legs this step closes: all of them when they fit one order (and the broker takes
        shares with options), else the options first."""
        options = [leg for leg in mon.legs if not leg.is_shares]
        if together and len(mon.legs) <= MAX_OPTION_LEGS:
            return list(mon.legs)
        return options[:MAX_OPTION_LEGS] if options else list(mon.legs)

    async def _close(self, mon: MonitoredPosition, why: str) -> TradeProposal | str:
        together = any(not leg.is_shares for leg in mon.legs) and await self._together(mon)
        legs = self._close_step(mon, together or not any(not leg.is_shares for leg in mon.legs))
        priced = await self._close_prices(mon, legs)
        if priced is None:
            return "no quotes to price the close"
        order_legs, units, mid, natural, quotes = priced
        step = "" if len(legs) == len(mon.legs) else " first, then the shares"
        realised = realised_by_closing(legs, quotes)
        rationale = (why, f"close {' and '.join(describe(leg) for leg in legs)}"
                          f"{' in one order' if len(legs) > 1 else ''}{step} at "
                          f"{mid:.2f} (natural {natural:.2f}) x {units}, realising "
                          f"{'-' if realised < 0 else '+'}${abs(realised):,.2f} against the "
                          f"open prices")
        return close_proposal(mon, legs, quotes, order_legs, units, mid, natural, rationale,
                              self._clock.now())

    async def _close_prices(self, mon: MonitoredPosition, legs: list[MonitoredLeg]
                            ) -> tuple[tuple[OrderLeg, ...], int, Decimal, Decimal,
                                       dict[str, tuple[Decimal, Decimal]]] | None:
        """The closing order of ``legs``, its mid and natural per order unit (credit +) and
        the (bid, ask) per leg they were priced on."""
        if any(leg.bid is None or leg.ask is None for leg in legs):
            await self._positions.refresh_quotes(mon)
        spot = None
        if any(leg.is_shares and (leg.bid is None or leg.ask is None) for leg in legs):
            info = (await self._broker.market_metrics([mon.symbol])).get(mon.symbol)
            spot = None if info is None else info.price
        mid = natural = Decimal(0)
        quotes: dict[str, tuple[Decimal, Decimal]] = {}
        for leg in legs:
            selling = leg.quantity > 0
            if leg.bid is None or leg.ask is None:
                if not leg.is_shares or spot is None:
                    return None
                bid = ask = spot  # shares not streamed yet: the last price
            else:
                bid, ask = leg.bid, leg.ask
            quotes[leg.symbol] = (bid, ask)
            sign = 1 if selling else -1
            mid += sign * leg.units * (bid + ask) / 2
            natural += sign * leg.units * (bid if selling else ask)
        wanted = {leg.symbol for leg in legs}
        order_legs = tuple(o for o in close_legs(mon, mon.units) if o.symbol in wanted)
        units, mid, natural = order_prices(order_legs, mon.units, mid.quantize(CENT),
                                           natural.quantize(CENT))
        return order_legs, units, mid, natural, quotes

    async def _covered_call(self, mon: MonitoredPosition, strategy: Strategy | None,
                            why: str) -> TradeProposal | str:
        shares = sum(leg.quantity for leg in mon.legs if leg.is_shares)
        contracts = shares // 100
        if contracts < 1:
            return f"{shares} shares are fewer than one covered call needs"
        own = next((leg for leg in (strategy.legs if strategy else ())
                    if leg.option_type is OptionType.CALL and leg.side is Side.SELL), None)
        dte = strategy.dte if own is not None and strategy is not None else DEFAULT_CALL_DTE
        chain = await self._broker.option_chain(mon.symbol, dte.min, dte.max)
        now = self._clock.now()
        try:
            expiration = select_expiration(chain, dte)
            call, how = select_strike(expiration, own or DEFAULT_CALL, chain.underlying.price, (),
                                      now, self._settings.config.max_quote_age_seconds)
        except SelectionError as exc:
            return f"no call to sell against the shares ({exc})"
        assert call.quote is not None
        rule = "the strategy's short call" if own is not None else "0.30 delta, 21-60 days"
        rationale = (why, f"sell {contracts} covered call(s) {strike_text(call.strike)} "
                          f"{call.expiry.isoformat()} against {shares} shares (wheel; {rule}: "
                          f"{how})")
        dry = await self._broker.dry_run(OrderRequest(
            mon.symbol, (OrderLeg(call.symbol, SELLING, contracts),), call.quote.bid,
            ExternalOrderId(f"td-{mon.workflow_id}-check")))
        buying_power = max(Decimal(0), -dry.buying_power_effect)
        return call_proposal(mon, call, contracts, buying_power, rationale, now)

    async def _together(self, mon: MonitoredPosition) -> bool:
        """Whether the broker takes shares and options in one order (its dry run says so)."""
        legs = close_legs(mon, mon.units)
        request = OrderRequest(mon.symbol, legs, Decimal("0.01"),
                               ExternalOrderId(f"td-{mon.workflow_id}-check"))
        dry = await self._broker.dry_run(request)
        return not any("shares" in e or "Equity" in e for e in dry.errors)

    # ---- sending an approved follow-up
    async def send(self, workflow_id: WorkflowId, proposal_id: ProposalId, proposal: TradeProposal,
                   limit: Decimal, user: str) -> ActionResult:
        """The desk approved ``proposal`` (its lock is held): re-price it on the current quotes
        and send it within the trader's limit, or say why not (the desk brings it back)."""
        mon = self._positions.get(workflow_id)
        if mon is None or mon.acting:
            return ActionResult(ActionOutcome.NOT_SENT, "the position is busy or gone")
        strategy = self._strategies.get(mon.strategy_name)
        if proposal.follow_up is AfterAssignment.WHEEL:
            leg = proposal.legs[0]
            legs: tuple[OrderLeg, ...] = (OrderLeg(leg.symbol, SELLING, proposal.quantity),)
            dte = max(0, (leg.expiry - self._clock.today()).days)
            quote = (await self._broker.option_chain(mon.symbol, dte, dte)).contract(leg.symbol)
            if quote is None or quote.quote is None:
                return ActionResult(ActionOutcome.NOT_SENT, "no quote for the call")
            mid, natural = quote.quote.mid, quote.quote.bid
            units, purpose, what = proposal.quantity, OrderPurpose.PARTIAL_CLOSE, "wheel"
            quoted = [LegQuote(1, 1, quote.quote.bid, quote.quote.ask, leg.option_type,
                               leg.strike, leg.expiry)]
        else:
            wanted = {leg.symbol for leg in proposal.legs} | {s.symbol for s in proposal.shares}
            step = [leg for leg in mon.legs if leg.symbol in wanted]
            if {leg.symbol for leg in step} != wanted:
                return ActionResult(ActionOutcome.NOT_SENT, "the position changed")
            priced = await self._close_prices(mon, step)
            if priced is None:
                return ActionResult(ActionOutcome.NOT_SENT, "no quotes to price the close")
            legs, units, mid, natural, quotes = priced
            quoted = [LegQuote(1 if leg.quantity > 0 else -1, max(1, abs(leg.ratio)),
                               *quotes[leg.symbol], leg.option_type, leg.strike, leg.expiry)
                      for leg in step]
            whole = len(step) == len(mon.legs)
            purpose = OrderPurpose.CLOSE if whole else OrderPurpose.PARTIAL_CLOSE
            what = "close"
        anomaly = quote_anomaly(quoted)
        if anomaly is not None and anomaly is not QuoteAnomaly.NO_QUOTE:  # the failsafe
            return ActionResult(ActionOutcome.NOT_SENT, f"quotes ignored: "
                                f"{DESCRIPTIONS[anomaly]} ({anomaly.value})")
        tolerance = self._settings.config.reprice_tolerance
        if mid < min(limit, proposal.mid_price) - tolerance:
            return ActionResult(ActionOutcome.NOT_SENT,
                                f"mid moved from {proposal.mid_price} to {mid}, past the limit "
                                f"{limit}")
        # Like every exit of the app's own: a resting order still over these contracts is
        # withdrawn first, and the close waits until the broker confirms it ended.
        waiting = await self._resting.withdraw(workflow_id, f"after assignment: {what}")
        if waiting:
            return ActionResult(ActionOutcome.NOT_SENT, waiting)
        mon.acting = True
        await self._book.transition(
            workflow_id, Trigger.CLOSE, Actor.ENGINE if "unattended" in user else Actor.USER,
            f"after assignment, approved by {user}: {proposal.rationale[-1]}",
            payload={"rule": RULE, "follow_up": what, "proposal_id": proposal_id,
                     "limit": str(limit)})
        await self._orders.submit(workflow_id, purpose, mon.symbol, legs, units, mid=mid,
                                  natural=natural, strategy=strategy, limit=limit,
                                  proposal_id=proposal_id, rule_type=RULE)
        return SENT

    async def _record(self, mon: MonitoredPosition, action: str, detail: str,
                      status: str) -> None:
        now = self._clock.now()
        self._counters[f"after_assignment:{action}"] += 1
        record = await self._store.add_rule_action(mon.workflow_id, RULE, action, detail, status,
                                                   now)
        self._bus.publish(RuleActionRecorded(record))
        if status is not PROPOSED:  # a proposal announces itself from the queue
            self._bus.publish(Alert(AlertLevel.INFO, AlertCategory.PENDING,
                                    f"{mon.symbol}: after assignment", f"{detail} -> {status}",
                                    now, mon.workflow_id))

