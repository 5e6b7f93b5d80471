"""The approval desk: proposals waiting for the trader, and the decisions on them.

Expiry is timed by ``wall``, the trader's (real) clock, whatever the paper speed: a decision
takes the same real minutes at x1 and at x60. Headless simulations pass their stepped clock as
``wall``, so an unattended run behaves as before.

A proposal's legs stream while it waits, so approval re-checks it against live quotes. The
approval carries the trader's limit; while the market stays within it the order is sent, worked
from the current mid and never past the limit. A move beyond it, or a stale market, returns the
trade re-priced (a fresh candidate) with the reason on its row and in a notification. Approving
is idempotent per workflow: a second approval while the first is in flight, or after it was sent,
sends nothing.

Follow-ups after an assignment (``TradeProposal.follow_up``) wait here too, with the same window,
limit and decisions, while their workflow keeps MONITORING the shares: approving one hands it to
the follow-up component (``send_follow_up``), which checks the trader's limit and sends it; one
rejected or expired stays off the queue (an expired one is proposed again at the next open).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tastydesk.engine.approvals.entry_guard import EntryGuard
from tastydesk.engine.approvals.prices import current_spread_price
from tastydesk.engine.approvals.prices import net_price as _net
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock, TimerHandle
from tastydesk.engine.domain.chain import Quote
from tastydesk.engine.domain.enums import (
    ActionOutcome,
    Actor,
    AfterAssignment,
    AlertCategory,
    AlertLevel,
    CommitmentKind,
    Decision,
    OrderPurpose,
    ProposalStatus,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import Alert, DecisionRecorded, QuoteReceived, WorkflowChanged
from tastydesk.engine.domain.ids import ProposalId, WorkflowId
from tastydesk.engine.domain.money import CENT
from tastydesk.engine.domain.pricer import SpreadPrice
from tastydesk.engine.domain.proposal import TradeProposal, approval_limit
from tastydesk.engine.domain.records import ProposalRecord
from tastydesk.engine.domain.results import SENT, ActionResult
from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.domain.views import PendingView
from tastydesk.engine.errors import EngineError
from tastydesk.engine.execution_pricing.anomaly import DESCRIPTIONS, QuoteAnomaly
from tastydesk.engine.orders.manager import OrderManager
from tastydesk.engine.ports import BrokerPort
from tastydesk.engine.readiness import Readiness
from tastydesk.engine.risk.checks import Commitment
from tastydesk.engine.risk.portfolio import PortfolioRisk
from tastydesk.engine.scanning.candidates import CandidateBuilder, open_legs
from tastydesk.engine.settings import Settings
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.strategies.library import StrategyLibrary
from tastydesk.engine.subscriptions import StreamClaims
from tastydesk.engine.workflow.book import WorkflowBook

CLAIM = "pending"
IN_PROGRESS = ActionResult(ActionOutcome.IN_PROGRESS)
# A workflow in one of these states holds its symbol and strategy: no second one is proposed.
NOT_PENDING = ActionResult(ActionOutcome.NOT_PENDING)
#: Sends an approved follow-up: (workflow, proposal id, proposal, trader's limit, user).
SendFollowUp = Callable[[WorkflowId, ProposalId, TradeProposal, Decimal, str],
                        Awaitable[ActionResult]]
#: A follow-up left the queue unsent: (workflow, why, returned) -> propose again (returned: at
#: once with fresh prices; else at the next open).
FollowUpEnded = Callable[[WorkflowId, str, bool], None]


class ApprovalDesk:
    def __init__(self, *, book: WorkflowBook, candidates: CandidateBuilder, orders: OrderManager,
                 risk: PortfolioRisk, broker: BrokerPort, store: AsyncStore,
                 streams: StreamClaims, settings: Settings, strategies: StrategyLibrary,
                 readiness: Readiness, bus: EventBus, clock: Clock, wall: Clock,
                 spawn: Callable[[Any, str], Any], counters: Counter[str],
                 send_follow_up: SendFollowUp, follow_up_ended: FollowUpEnded) -> None:
        self._book = book
        self._candidates = candidates
        self._orders = orders
        self._risk = risk
        self._broker = broker
        self._store = store
        self._streams = streams
        self._settings = settings
        self._strategies = strategies
        self._readiness = readiness
        self._bus = bus
        self._clock = clock
        self._wall = wall
        self._spawn = spawn
        self._counters = counters
        self._send_follow_up = send_follow_up
        self._follow_up_ended = follow_up_ended
        self._pending: dict[int, PendingView] = {}
        self._in_flight: set[int] = set()
        self._returned: dict[WorkflowId, str] = {}  # workflow id -> why its last approval came back
        self._expiry: dict[WorkflowId, TimerHandle] = {}  # workflow id -> its wall-clock expiry timer
        self._quotes: dict[str, Quote | None] = {}  # streamer symbol -> latest quote
        self._guard = EntryGuard(book, settings, clock)

    # ---- queries
    def views(self) -> list[PendingView]:
        return [dataclasses.replace(p, in_flight=p.workflow_id in self._in_flight,
                                    returned=self._returned.get(p.workflow_id, ""))
                for p in sorted(self._pending.values(), key=lambda p: p.created_at)]

    def get(self, workflow_id: WorkflowId) -> PendingView | None:
        return self._pending.get(workflow_id)

    def __len__(self) -> int:
        return len(self._pending)

    # ---- wiring
    def subscribe(self) -> list[Any]:
        return [self._bus.subscribe(QuoteReceived, self._on_quote),
                self._bus.subscribe(WorkflowChanged, self._on_workflow_changed)]

    def _on_quote(self, event: QuoteReceived) -> None:
        if event.quote.symbol in self._quotes:
            self._quotes[event.quote.symbol] = event.quote

    def _on_workflow_changed(self, event: WorkflowChanged) -> None:
        if event.state is WorkflowState.MONITORING and event.previous is WorkflowState.EXECUTING:
            self._guard.filled(event.symbol, event.time)
        if event.state is WorkflowState.PENDING_APPROVAL:
            return
        pending = self._pending.get(event.workflow_id)
        if pending is not None and pending.proposal.follow_up is not None:
            if event.state is WorkflowState.MONITORING:
                return  # a follow-up waits while its workflow monitors the shares
            if event.workflow_id not in self._in_flight:  # left monitoring undecided: it ends
                self._spawn(self._store.set_proposal_status(
                    pending.proposal_id, ProposalStatus.WITHDRAWN), "withdraw-follow-up")
        self._drop(event.workflow_id)

    def _drop(self, workflow_id: WorkflowId) -> None:
        """Take a workflow's proposal off the queue: its expiry timer and its legs' stream."""
        gone = self._pending.pop(workflow_id, None)
        if gone is None:
            return
        self._returned.pop(workflow_id, None)
        timer = self._expiry.pop(workflow_id, None)
        if timer is not None:
            timer.cancel()
        symbols = [leg.streamer_symbol for leg in gone.proposal.legs]
        still = {leg.streamer_symbol for p in self._pending.values() for leg in p.proposal.legs}
        for sym in symbols:
            if sym not in still:
                self._quotes.pop(sym, None)
        self._streams.release(CLAIM, workflow_id, symbols, "unsubscribe-pending")

    def commitments(self) -> list[Commitment]:
        """Buying power the proposals waiting for approval would use (pre-trade checks count
        it)."""
        return [Commitment(p.workflow_id, p.proposal.underlying, p.proposal.buying_power,
                           CommitmentKind.PENDING_APPROVAL) for p in self._pending.values()]

    def hold_back(self, workflow_id: WorkflowId, symbol: str,
                  strategy_name: str) -> tuple[str, datetime] | None:
        """See :meth:`EntryGuard.hold_back`."""
        return self._guard.hold_back(workflow_id, symbol, strategy_name)

    def taken_strategies(self, workflow_id: WorkflowId, symbol: str) -> dict[str, str]:
        """See :meth:`EntryGuard.taken_strategies`."""
        return self._guard.taken_strategies(workflow_id, symbol)

    def cooling_down(self, symbol: str) -> tuple[str, datetime] | None:
        """See :meth:`EntryGuard.cooling_down`."""
        return self._guard.cooling_down(symbol)

    # ---- proposing
    async def propose(self, workflow_id: WorkflowId, proposal: TradeProposal, strategy: Strategy) -> None:
        """Queue ``proposal``. The caller checked :meth:`hold_back` with no await since; the
        trade is reserved here before the first await, so a second workflow on the symbol that
        checks while this one is being saved sees it as pending."""
        self._guard.reserve(workflow_id, proposal.underlying, strategy.name)
        try:
            await self._propose(workflow_id, proposal, strategy)
        finally:
            self._guard.release(workflow_id)

    async def _propose(self, workflow_id: WorkflowId, proposal: TradeProposal,
                       strategy: Strategy) -> None:
        config = self._settings.config
        now = self._clock.now()
        expires = self._wall.now() + timedelta(minutes=config.approval_expiry_minutes)
        proposal_id = await self._store.save_proposal(workflow_id, proposal, expires)
        await self._book.transition(workflow_id, Trigger.PROPOSE, Actor.ENGINE,
                                    f"{strategy.name}: {proposal.bias.value}, credit "
                                    f"{proposal.mid_price}, POP {proposal.pop:.0%}",
                                    payload={"proposal_id": proposal_id},
                                    proposal_id=proposal_id, strategy_name=strategy.name)
        self._enqueue(PendingView(workflow_id, proposal_id, proposal, now, expires))
        self._counters["proposals"] += 1
        self._bus.publish(Alert(AlertLevel.INFO, AlertCategory.PENDING,
                                f"New trade: {proposal.underlying}",
                                f"{strategy.name} for {proposal.mid_price} credit, max loss "
                                f"{proposal.max_loss}", now, workflow_id))
        if config.auto_approve:
            self._spawn(self.approve(workflow_id, "auto-approve policy"),
                        f"auto-approve-{workflow_id}")

    async def propose_follow_up(self, workflow_id: WorkflowId, proposal: TradeProposal,
                                unattended: bool, returned: str = "") -> ProposalId:
        """Queue what follows an assignment (its workflow stays MONITORING, its timeline shows the
        rationale); ``unattended``: approved at once, the same way. Returns the proposal id."""
        assert proposal.follow_up is not None
        now = self._clock.now()
        expires = self._wall.now() + timedelta(
            minutes=self._settings.config.approval_expiry_minutes)
        proposal_id = await self._store.save_proposal(workflow_id, proposal, expires)
        await self._book.transition(workflow_id, Trigger.FOLLOW_UP, Actor.ENGINE,
                                    f"follow-up proposed: {'; '.join(proposal.rationale)}",
                                    payload={"proposal_id": proposal_id,
                                             "follow_up": proposal.follow_up.value})
        self._enqueue(PendingView(workflow_id, proposal_id, proposal, now, expires))
        if returned:
            self._returned[workflow_id] = returned
        self._counters["follow_ups"] += 1
        self._bus.publish(Alert(AlertLevel.WARNING, AlertCategory.PENDING, f"After assignment: "
                                f"{proposal.underlying}", proposal.rationale[-1], now, workflow_id))
        if unattended:
            self._spawn(self.approve(workflow_id, "unattended (strategy policy)"),
                        f"auto-approve-{workflow_id}")
        return proposal_id

    def _enqueue(self, view: PendingView) -> None:
        """On the queue: its legs stream (approval re-checks them against live quotes) and its
        window closes on the trader's clock."""
        self._pending[view.workflow_id] = view
        symbols = [leg.streamer_symbol for leg in view.proposal.legs]
        for sym in symbols:
            self._quotes.setdefault(sym, None)
        self._streams.claim(CLAIM, view.workflow_id, symbols)
        self._spawn(self._broker.subscribe(symbols), "subscribe-pending")
        assert view.expires_at is not None
        self._arm_expiry(view.workflow_id, view.expires_at)

    def restore(self, record: ProposalRecord) -> None:
        """A proposal still pending after a restart (its legs stream again on the next one)."""
        wid = record.workflow_id
        self._pending[wid] = PendingView(wid, record.id, record.proposal, record.created_at,
                                         record.expires_at)
        self._streams.claim(CLAIM, wid, [leg.streamer_symbol for leg in record.proposal.legs])
        if record.expires_at is not None:
            self._arm_expiry(wid, record.expires_at)

    def _arm_expiry(self, workflow_id: WorkflowId, at: datetime) -> None:
        """One expiry timer per pending workflow, on the wall clock (a new proposal replaces
        the previous timer)."""
        old = self._expiry.pop(workflow_id, None)
        if old is not None:
            old.cancel()

        def fire() -> None:
            self._expiry.pop(workflow_id, None)
            self._spawn(self._expire(workflow_id), "expire")

        self._expiry[workflow_id] = self._wall.call_at(at, fire)

    async def _expire(self, workflow_id: WorkflowId) -> None:
        async with self._book.lock(workflow_id):
            pending = self._pending.get(workflow_id)
            if pending is not None and pending.proposal.follow_up is not None:
                await self._store.set_proposal_status(pending.proposal_id, ProposalStatus.EXPIRED)
                await self._book.transition(workflow_id, Trigger.FOLLOW_UP, Actor.ENGINE,
                                            "follow-up not decided within its approval window: "
                                            "proposed again at the next open")
                self._drop(workflow_id)
                self._follow_up_ended(workflow_id, "the last proposal expired", False)
                return
            if self._book.state(workflow_id) is WorkflowState.PENDING_APPROVAL:
                await self._book.transition(workflow_id, Trigger.EXPIRE, Actor.ENGINE,
                                            "approval window expired")

    # ---- decisions
    async def approve(self, workflow_id: WorkflowId, user: str, price: Decimal | None = None,
                      quantity: int | None = None) -> ActionResult:
        """Approve (optionally modify price/quantity) and send; see the module docstring."""
        if quantity is not None and quantity < 1:
            raise EngineError("quantity: must be at least 1")
        if price is not None and price == 0:
            raise EngineError("price: must not be zero (credit positive, debit negative)")
        if workflow_id in self._in_flight:
            return IN_PROGRESS
        self._in_flight.add(workflow_id)
        try:
            async with self._book.lock(workflow_id):
                return await self._approve_locked(workflow_id, user, price, quantity)
        finally:
            self._in_flight.discard(workflow_id)

    async def _approve_locked(self, workflow_id: WorkflowId, user: str, price: Decimal | None,
                              quantity: int | None) -> ActionResult:
        wf = self._book.find(workflow_id)
        pending = self._pending.get(workflow_id)
        if wf is not None and pending is not None and pending.proposal.follow_up is not None:
            return await self._approve_follow_up(pending, user, price)
        if wf is None or wf.state is not WorkflowState.PENDING_APPROVAL or pending is None:
            return NOT_PENDING
        if not self._readiness.reconciled:
            raise EngineError("the broker is not reconciled; approvals wait for it")
        proposal = pending.proposal
        strategy = self._strategies.get(proposal.strategy_name)
        if strategy is None:
            raise EngineError(f"strategy {proposal.strategy_name!r} no longer exists")
        # Two prices travel with the approval. The anchor, the price the trader looked at
        # (the modified one, or the proposal's mid): a mid that moved against it by more than
        # the tolerance returns the trade instead of sending it. The limit the order is worked
        # toward from the current mid and never passes: the modified price, or the proposal's
        # natural (the confirmation says so; with the mid as the limit an entry sat at mid for
        # its whole walk and one in five went unfilled).
        anchor = price if price is not None else proposal.mid_price
        limit = price if price is not None else approval_limit(proposal)
        fresh = await self.current_prices(proposal)
        if isinstance(fresh, QuoteAnomaly):  # held: the proposal stays pending, nothing sent
            why = f"quotes ignored: {DESCRIPTIONS[fresh]} ({fresh.value})"
            self._bus.publish(Alert(AlertLevel.WARNING, AlertCategory.PENDING,
                                    f"Held: {proposal.underlying}", why, self._clock.now(),
                                    workflow_id))
            return ActionResult(ActionOutcome.NOT_SENT, why)
        beyond = None
        if fresh is None:
            beyond = "quotes for the legs are missing or stale"
        elif fresh.mid < min(anchor, proposal.mid_price) - self._settings.config.reprice_tolerance:
            beyond = (f"mid moved from {_net(proposal.mid_price)} to {_net(fresh.mid)}, past "
                      f"the limit {_net(anchor)}")
        if beyond or fresh is None:
            return await self._return(workflow_id, proposal, strategy, user, anchor, beyond or "")
        portfolio = self._risk.view
        if portfolio.breached:
            raise EngineError(f"portfolio limit breached: {portfolio.breach_reason}")
        units = quantity or proposal.quantity
        per_unit = proposal.buying_power / proposal.quantity
        problem = self._risk.opening_problem(workflow_id, (per_unit * units).quantize(CENT),
                                             strategy.sizing.max_buying_power,
                                             proposal.underlying)
        if problem:  # refused before anything is recorded: the proposal stays pending
            why = f"{units} lot{'s' if units > 1 else ''}: {problem}"
            self._bus.publish(Alert(AlertLevel.WARNING, AlertCategory.RISK,
                                    f"Not sent: {proposal.underlying}", why, self._clock.now(),
                                    workflow_id))
            return ActionResult(ActionOutcome.NOT_SENT, why)
        decision = Decision.MODIFY if (price is not None or quantity is not None) \
            else Decision.APPROVE
        await self._decide(pending, decision, user, f"approved at limit {_net(limit)}"
                           if decision is Decision.APPROVE
                           else f"approved with limit {_net(limit)} quantity {units}",
                           ProposalStatus.APPROVED, price, units)
        await self._book.transition(workflow_id, Trigger.APPROVE, Actor.USER,
                                    f"approved by {user} at limit {_net(limit)}; sent with the "
                                    f"mid at {_net(fresh.mid)}",
                                    payload={"price": str(price or ""), "quantity": units,
                                             "limit": str(limit)})
        self._counters["approvals"] += 1
        # The walk never goes past the trader's limit (nor the strategy's own limit price).
        floor = limit if strategy.pricing.limit_price is None \
            else max(limit, strategy.pricing.limit_price)
        await self._orders.submit(workflow_id, OrderPurpose.OPEN, proposal.underlying,
                                  open_legs(proposal, units), units, mid=fresh.mid,
                                  natural=fresh.natural, strategy=strategy, limit=floor,
                                  proposal_id=pending.proposal_id, buying_power_per_unit=per_unit)
        return SENT

    async def _return(self, workflow_id: WorkflowId, proposal: TradeProposal, strategy: Strategy,
                      user: str, limit: Decimal, beyond: str) -> ActionResult:
        """The market moved beyond the trader's limit: re-price the trade and bring it back to
        the queue with the reason on its row, or withdraw it when nothing qualifies now."""
        await self._book.transition(workflow_id, Trigger.REPRICE, Actor.ENGINE,
                                    f"approved by {user} at limit {_net(limit)}, not sent: "
                                    f"{beyond}; re-pricing")
        outcome = await self._candidates.build(proposal.underlying, only=strategy,
                                               workflow_id=workflow_id)
        now = self._clock.now()
        title = f"Trade returned: {proposal.underlying} {strategy.name}"
        if isinstance(outcome, str):
            await self._book.transition(workflow_id, Trigger.NO_CANDIDATE, Actor.ENGINE, outcome,
                                        cooldown_until=now)
            self._bus.publish(Alert(AlertLevel.WARNING, AlertCategory.PENDING, title,
                                    f"{beyond}; withdrawn: {outcome}", now, workflow_id))
            return ActionResult(ActionOutcome.WITHDRAWN, outcome)
        fresh = outcome[0]
        await self.propose(workflow_id, fresh, strategy)
        note = f"{beyond}; new price {_net(fresh.mid_price)}"
        self._returned[workflow_id] = note
        self._bus.publish(Alert(AlertLevel.WARNING, AlertCategory.PENDING, title, note, now,
                                workflow_id))
        return ActionResult(ActionOutcome.REPRICED, note)

    async def _approve_follow_up(self, pending: PendingView, user: str,
                                 price: Decimal | None) -> ActionResult:
        """Pre-trade checks for an opening order (the covered call), the decision, then the
        follow-up component sends it within the limit or it comes back re-priced."""
        workflow_id, proposal = pending.workflow_id, pending.proposal
        if self._book.state(workflow_id) is not WorkflowState.MONITORING:
            return NOT_PENDING
        if not self._readiness.reconciled:
            raise EngineError("the broker is not reconciled; approvals wait for it")
        limit = price if price is not None else proposal.mid_price
        strategy = self._strategies.get(proposal.strategy_name)
        if proposal.follow_up is AfterAssignment.WHEEL and strategy is not None:
            problem = self._risk.opening_problem(workflow_id, proposal.buying_power,
                                                 strategy.sizing.max_buying_power,
                                                 proposal.underlying)
            if problem:
                self._bus.publish(Alert(AlertLevel.WARNING, AlertCategory.RISK,
                                        f"Not sent: {proposal.underlying}", problem,
                                        self._clock.now(), workflow_id))
                return ActionResult(ActionOutcome.NOT_SENT, problem)
        await self._decide(pending, Decision.APPROVE if price is None else Decision.MODIFY, user,
                           f"follow-up approved at limit {_net(limit)}", ProposalStatus.APPROVED,
                           price, proposal.quantity)
        self._counters["approvals"] += 1
        outcome = await self._send_follow_up(workflow_id, pending.proposal_id, proposal, limit,
                                             user)
        if not outcome.sent and self._book.state(workflow_id) is WorkflowState.MONITORING:
            await self._book.transition(workflow_id, Trigger.FOLLOW_UP, Actor.ENGINE,
                                        f"approved by {user} at limit {_net(limit)}, not sent: "
                                        f"{outcome.detail}; proposed again")
            self._drop(workflow_id)
            self._follow_up_ended(workflow_id, outcome.detail, True)
            return ActionResult(ActionOutcome.REPRICED, outcome.detail)
        return outcome

    async def _decide(self, pending: PendingView, decision: Decision, user: str, reason: str,
                      status: ProposalStatus, price: Decimal | None = None,
                      quantity: int | None = None) -> None:
        """A decision on a proposal, recorded and announced, and the proposal's new status."""
        record = await self._store.record_decision(pending.proposal_id, decision, user, reason,
                                                   self._clock.now(), price=price,
                                                   quantity=quantity)
        self._bus.publish(DecisionRecorded(record))
        await self._store.set_proposal_status(pending.proposal_id, status)

    async def _reject_follow_up(self, pending: PendingView, user: str, reason: str) -> None:
        await self._decide(pending, Decision.REJECT, user, reason, ProposalStatus.REJECTED)
        await self._book.transition(pending.workflow_id, Trigger.FOLLOW_UP, Actor.USER,
                                    f"follow-up rejected by {user}: {reason}; the shares stay "
                                    f"until the trader closes them")
        self._drop(pending.workflow_id)

    async def reject(self, workflow_id: WorkflowId, user: str, reason: str) -> None:
        if not reason or not reason.strip():
            raise EngineError("a reason is required to reject a trade")
        async with self._book.lock(workflow_id):
            pending = self._pending.get(workflow_id)
            if pending is not None and pending.proposal.follow_up is not None \
                    and self._book.state(workflow_id) is WorkflowState.MONITORING:
                await self._reject_follow_up(pending, user, reason.strip())
                return
            wf = self._book.find(workflow_id)
            if wf is None or wf.state is not WorkflowState.PENDING_APPROVAL or pending is None:
                raise EngineError("that trade is no longer pending")
            now = self._clock.now()
            await self._decide(pending, Decision.REJECT, user, reason.strip(),
                               ProposalStatus.REJECTED)
            cooldown = now + timedelta(minutes=self._settings.config.reject_cooldown_minutes)
            await self._book.transition(workflow_id, Trigger.REJECT, Actor.USER,
                                        f"rejected by {user}: {reason.strip()}",
                                        cooldown_until=cooldown)
            self._book.schedule_restart(workflow_id, cooldown, self._spawn)

    async def current_prices(self, proposal: TradeProposal) -> SpreadPrice | QuoteAnomaly | None:
        """Mid and natural per spread from the latest quotes for the proposal's legs (see
        :func:`current_spread_price`)."""
        return await current_spread_price(proposal, self._quotes, self._broker, self._clock,
                                          self._settings.config.max_quote_age_seconds)
