"""Rolls as sequences of legal orders, and their continuation after each piece and a restart.

A roll's target is its roll proposal (saved, and made the workflow's proposal by the CLOSE
transition, before any order is sent). Each piece is an ordinary order (intent committed, dry run,
sent); when it fills, the workflow records the piece (``partial``) and the next piece starts
(``close``), so the timeline shows the progress. What is left is always recomputed from the legs
held against the target (:func:`plan_roll`), so a restart between two pieces carries on where it
stopped, or explains why it cannot.

The target is chosen by the strategy's selection on a later expiry, or pinned by the trader on
the Roll ticket (:class:`RollEdits`); :meth:`Roller.preview` shows it without sending anything.
The opening side passes the portfolio's pre-trade checks before the roll starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tastydesk.engine.audit import AuditTrail
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.enums import (
    ActionOutcome,
    Actor,
    AlertCategory,
    AlertLevel,
    OrderPurpose,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import Alert
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.results import SENT, ActionResult
from tastydesk.engine.domain.rolls import RollEdits, RollPreview
from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.errors import EngineError
from tastydesk.engine.execution_pricing.anomaly import DESCRIPTIONS, QuoteAnomaly, quote_anomaly
from tastydesk.engine.orders.manager import OrderManager
from tastydesk.engine.ports import BrokerPort
from tastydesk.engine.positions.book import PositionBook
from tastydesk.engine.positions.monitored import MonitoredPosition
from tastydesk.engine.positions.roll_preview import (
    MAX_ROLL_DTE,
    build_preview,
    check_edits,
    listed_strikes,
    pin_strikes,
    roll_strategy,
)
from tastydesk.engine.positions.rolls import RollPiece, is_clean, plan_roll
from tastydesk.engine.proposals.builder import build_proposal
from tastydesk.engine.risk.portfolio import PortfolioRisk
from tastydesk.engine.scanning.candidates import CandidateBuilder
from tastydesk.engine.selection import SelectionError
from tastydesk.engine.settings import Settings
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.strategies.library import StrategyLibrary
from tastydesk.engine.workflow.book import WorkflowBook

#: How a roll that cannot carry on (a piece filled in part) answers.
ROLL_STOPPED = "cannot continue the roll"
#: How a roll the pre-trade checks refuse answers.
ROLL_REFUSED = "roll refused by the pre-trade checks"
NO_EDITS = RollEdits()


@dataclasses.dataclass(frozen=True, slots=True)
class RollTarget:
    """A planned roll: the strategy, the target proposal and the orders still to send."""

    strategy: Strategy
    proposal: TradeProposal
    pieces: list[RollPiece]
    strikes: tuple[Decimal, ...]  # listed at the target's expiry


class Roller:
    def __init__(self, *, book: WorkflowBook, positions: PositionBook, orders: OrderManager,
                 candidates: CandidateBuilder, broker: BrokerPort, store: AsyncStore,
                 audit: AuditTrail, strategies: StrategyLibrary, settings: Settings,
                 risk: PortfolioRisk, bus: EventBus, clock: Clock,
                 spawn: Callable[[Any, str], Any]) -> None:
        self._book = book
        self._positions = positions
        self._orders = orders
        self._candidates = candidates
        self._broker = broker
        self._store = store
        self._audit = audit
        self._strategies = strategies
        self._settings = settings
        self._risk = risk
        self._bus = bus
        self._clock = clock
        self._spawn = spawn

    def _alert(self, level: AlertLevel, title: str, message: str, workflow_id: int) -> None:
        self._bus.publish(Alert(level, AlertCategory.RULE, title, message, self._clock.now(),
                                workflow_id))

    async def pending(self, mon: MonitoredPosition) -> tuple[TradeProposal, list[RollPiece]] | None:
        """The roll under way for this position (its target and the pieces left), if any: the
        workflow's proposal is partly held and partly not."""
        wf = self._book.find(mon.workflow_id)
        proposal_id = wf.proposal_id if wf is not None else None
        if proposal_id is None:
            return None
        target = await self._positions.proposal(proposal_id)
        held = {leg.symbol for leg in mon.legs}
        if not any(leg.symbol in held for leg in target.legs):
            return None
        pieces = plan_roll(mon.legs, target)
        return (target, pieces) if pieces else None

    # ---- the target
    async def plan(self, mon: MonitoredPosition, edits: RollEdits = NO_EDITS) -> RollTarget:
        """The roll's target now: the strategy's selection on a later expiry, or the trader's
        expiry, strikes and quantity; refused (``EngineError`` naming the field) when it cannot
        be built."""
        strategy = self._strategies.get(mon.strategy_name)
        if mon.natural_close() is None:
            await self._positions.refresh_quotes(mon)
        if strategy is None or mon.natural_close() is None or mon.mark() is None:
            raise EngineError("strategy or quotes missing")
        check_edits(edits, len(strategy.legs))
        today = self._clock.today()
        rolled = roll_strategy(strategy, mon.dte(today), today, mon.units, edits)
        chain = await self._candidates.strategy_chain(mon.symbol, rolled)
        if edits.strikes is not None:
            rolled = pin_strikes(rolled, chain, edits.strikes)
        try:
            proposal = build_proposal(rolled, chain, self._clock.now(),
                                      max_quote_age_s=self._settings.config.max_quote_age_seconds)
        except SelectionError as exc:
            field = "expiry: " if edits.expiry is not None and "expiration" in str(exc) else ""
            raise EngineError(f"{field}{exc}") from exc
        pieces = plan_roll(mon.legs, proposal)
        if not pieces:
            raise EngineError("nothing to roll: the position already holds these legs")
        if len(pieces) > 1 and proposal.quantity != mon.units:
            raise EngineError(f"quantity: a roll sent as {len(pieces)} orders keeps the "
                              f"position's {mon.units} units")
        if len(pieces) > 1 and edits.limit is not None:
            raise EngineError(f"limit: a roll sent as {len(pieces)} orders is priced order by "
                              "order; leave the limit at the mid")
        return RollTarget(strategy, proposal, pieces,
                          listed_strikes(chain, proposal.expiry))

    def pre_trade_problem(self, mon: MonitoredPosition, target: RollTarget) -> str | None:
        """The portfolio's pre-trade checks on the roll's opening side: the new position's
        buying power against the per-trade maximum and the allocation (counting pending and
        working orders), with what the closed legs hold now released."""
        return self._risk.roll_problem(mon.workflow_id, target.proposal.buying_power,
                                       mon.buying_power_per_unit * mon.units,
                                       target.strategy.sizing.max_buying_power)

    async def preview(self, mon: MonitoredPosition, edits: RollEdits = NO_EDITS) -> RollPreview:
        """What rolling with ``edits`` would send now and the position after it (a query:
        nothing is saved or sent)."""
        target = await self.plan(mon, edits)
        today = self._clock.today()
        listed = [e.date for e in await self._broker.expirations(mon.symbol)
                  if 1 <= (e.date - today).days <= MAX_ROLL_DTE]
        return build_preview(mon, target.proposal, target.pieces, edits, expirations=listed,
                             strikes=target.strikes,
                             problem=self.pre_trade_problem(mon, target))

    # ---- starting a roll
    async def roll(self, mon: MonitoredPosition, reason: str, rule: str,
                   edits: RollEdits = NO_EDITS) -> ActionResult:
        """Roll the position to a later expiry (or carry on with a roll under way)."""
        under_way = await self.pending(mon)
        if under_way is not None:
            return await self._next_piece(mon, under_way[0], reason, rule,
                                          Actor.ENGINE if rule else Actor.USER)
        try:
            target = await self.plan(mon, edits)
        except EngineError as exc:
            return ActionResult(ActionOutcome.NOT_SENT, f"cannot roll: {exc}")
        proposal, pieces = target.proposal, target.pieces
        if pieces[0].prices() is None:
            return ActionResult(ActionOutcome.NOT_SENT, "cannot roll: quotes missing")
        refused = self._anomalous(mon, pieces[0])
        if refused is not None:
            return refused
        problem = self.pre_trade_problem(mon, target)
        if problem:  # refused before anything is recorded: the position stays as it is
            self._bus.publish(Alert(AlertLevel.WARNING, AlertCategory.RISK,
                                    f"Roll not sent: {mon.symbol}", problem, self._clock.now(),
                                    mon.workflow_id))
            return ActionResult(ActionOutcome.NOT_SENT, f"{ROLL_REFUSED}: {problem}")
        proposal_id = await self._store.save_proposal(mon.workflow_id, proposal, None)
        self._positions.remember_proposal(proposal_id, proposal)
        plan = (f"{len(pieces)} orders of at most 4 legs: "
                + ", then ".join(p.label for p in pieces)) if len(pieces) > 1 else "one order"
        await self._book.transition(
            mon.workflow_id, Trigger.CLOSE, Actor.ENGINE if rule else Actor.USER,
            f"{reason}: roll to {proposal.expiry.isoformat()} as {plan}",
            payload={"rule": rule, "roll_proposal": proposal_id,
                     "roll_pieces": [p.label for p in pieces],
                     **({"roll_edits": edits.to_payload()} if edits != NO_EDITS else {})},
            proposal_id=proposal_id)
        await self._submit(mon, pieces[0], proposal_id, rule, open_units=proposal.quantity,
                           limit=edits.limit)
        return SENT

    async def _submit(self, mon: MonitoredPosition, piece: RollPiece, proposal_id: int,
                      rule: str, *, open_units: int | None = None,
                      limit: Decimal | None = None) -> None:
        order = piece.order(mon.units, open_units)
        assert order is not None
        legs, units, mid, natural = order
        # Each piece is an attempt of the roll proposal: after a restart the order manager knows
        # only open orders, so it learns the roll's earlier pieces before numbering this one.
        for record in await self._store.orders(mon.workflow_id):
            if record.proposal_id == proposal_id and record.status.is_terminal:
                self._orders.adopt_record(record)
        await self._orders.submit(mon.workflow_id, OrderPurpose.ROLL, mon.symbol, legs, units,
                                  mid=mid, natural=natural,
                                  strategy=self._strategies.get(mon.strategy_name),
                                  limit=limit, proposal_id=proposal_id, rule_type=rule)

    def _anomalous(self, mon: MonitoredPosition, piece: RollPiece) -> ActionResult | None:
        """The failsafe: a piece whose quotes look wrong is not priced (the roll waits)."""
        found = quote_anomaly(piece.quotes())
        if found is None or found is QuoteAnomaly.NO_QUOTE:
            return None
        why = f"quotes ignored: {DESCRIPTIONS[found]} ({found.value})"
        self._alert(AlertLevel.WARNING, f"{mon.symbol}: {piece.label} not priced", why,
                    mon.workflow_id)
        return ActionResult(ActionOutcome.NOT_SENT, f"cannot roll: {why}")

    async def last_edits(self, workflow_id: int) -> RollEdits:
        """The trader's Roll-ticket edits of the workflow's latest roll (none when the strategy
        chose it): a roll sent again at the open keeps them."""
        for t in reversed(await self._store.transitions(workflow_id)):
            if t.trigger is Trigger.CLOSE and "roll_pieces" in t.payload:
                return RollEdits.from_payload(t.payload.get("roll_edits", {}))
        return NO_EDITS

    # ---- carrying on
    async def _fresh(self, mon: MonitoredPosition, target: TradeProposal,
                     piece: RollPiece) -> RollPiece:
        """The piece with current quotes for the legs it opens (the target's are from when the
        roll started)."""
        if mon.natural_close() is None:
            await self._positions.refresh_quotes(mon)
        if not piece.open:
            return piece
        today = self._clock.today()
        dtes = [(leg.expiry - today).days for leg in piece.open]
        chain = await self._broker.option_chain(mon.symbol, max(0, min(dtes)), max(0, max(dtes)))
        legs = []
        for leg in piece.open:
            contract = chain.contract(leg.symbol)
            quote = contract.quote if contract is not None else None
            legs.append(leg if quote is None else dataclasses.replace(
                leg, bid=quote.bid, ask=quote.ask, mid=(quote.bid + quote.ask) / 2))
        return dataclasses.replace(piece, open=tuple(legs))

    async def _next_piece(self, mon: MonitoredPosition, target: TradeProposal, reason: str,
                          rule: str, actor: Actor) -> ActionResult:
        """Send the next piece of the roll under way (the workflow is MONITORING, locked)."""
        if not is_clean(mon.legs, target):
            why = ("a piece of the roll filled only in part; the position is monitored as it is "
                   "and can be closed or rolled again")
            self._alert(AlertLevel.WARNING, f"Roll incomplete: {mon.symbol}", why,
                        mon.workflow_id)
            return ActionResult(ActionOutcome.NOT_SENT, f"{ROLL_STOPPED}: {why}")
        pieces = plan_roll(mon.legs, target)
        piece = await self._fresh(mon, target, pieces[0])
        if piece.prices() is None:
            why = f"no quotes to price the {piece.label}"
            self._alert(AlertLevel.WARNING, f"Roll incomplete: {mon.symbol}",
                        f"{why}; it will be retried when the rule next acts or by the trader",
                        mon.workflow_id)
            return ActionResult(ActionOutcome.NOT_SENT, f"cannot continue the roll: {why}")
        refused = self._anomalous(mon, piece)
        if refused is not None:
            return refused
        proposal_id = self._book.get(mon.workflow_id).proposal_id
        assert proposal_id is not None
        left = len(pieces)
        await self._book.transition(
            mon.workflow_id, Trigger.CLOSE, actor,
            f"{reason}: {piece.label} to {target.expiry.isoformat()}"
            + (f" ({left - 1} more order{'s' if left > 2 else ''} after this)" if left > 1
               else " (last order of the roll)"),
            payload={"rule": rule, "roll_proposal": proposal_id, "roll_piece": piece.label})
        mon.acting = True
        await self._submit(mon, piece, proposal_id, rule)
        return SENT

    async def continue_after_fill(self, workflow_id: int) -> bool:
        """A roll piece filled and the workflow is MONITORING again (the caller holds the lock):
        send the next piece, if the roll has one. True when an order went out."""
        mon = self._positions.get(workflow_id)
        if mon is None or self._book.state(workflow_id) is not WorkflowState.MONITORING:
            return False
        under_way = await self.pending(mon)
        if under_way is None:
            return False
        outcome = await self._next_piece(mon, under_way[0], "roll continues", "roll",
                                         Actor.ENGINE)
        return outcome.sent

    async def resume_after_restart(self) -> None:
        """Rolls stopped between two pieces by a restart: carry on when automation is armed,
        else say what is left so the trader can finish it."""
        for mon in list(self._positions):
            wid = mon.workflow_id
            under_way = await self.pending(mon)
            if under_way is None:
                continue
            target, pieces = under_way
            left = ", ".join(p.label for p in pieces)
            if not self._settings.armed:
                self._alert(AlertLevel.WARNING, f"Roll incomplete: {mon.symbol}",
                            f"stopped by a restart; still to roll: {left}. Automation is paused: "
                            "roll the position to finish it.", wid)
                continue
            async with self._book.lock(wid):
                if self._book.state(wid) is not WorkflowState.MONITORING or mon.acting:
                    continue
                await self._audit.audit(Actor.ENGINE, "roll", f"resuming after a restart: {left}",
                                        wid)
                outcome = await self._next_piece(mon, target, "roll resumed after a restart",
                                                 "roll", Actor.ENGINE)
                if not outcome.sent:
                    mon.acting = False
