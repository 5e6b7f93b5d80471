"""After an assignment: what the strategy does with a position that now holds shares.

``after_assignment`` chooses: ``close`` takes the shares and the remaining options off (one
order when the broker's dry run accepts shares and options together, as tastytrade recommends;
otherwise the options first, then the shares), ``keep`` keeps the shares and goes on monitoring,
``wheel`` keeps long shares to sell a covered call against them. The proposal and its rationale
are recorded as the workflow's rule action; an order is sent only when automation is armed and
the trader lets proposals run unattended (auto-approve), otherwise it waits for the trader.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock, MarketCalendar
from tastydesk.engine.domain.enums import (
    Actor,
    AfterAssignment,
    AlertCategory,
    AlertLevel,
    OptionType,
    OrderAction,
    OrderPurpose,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import Alert, RuleActionRecorded, WorkflowChanged
from tastydesk.engine.domain.money import CENT
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest
from tastydesk.engine.orders.manager import OrderManager
from tastydesk.engine.ports import BrokerPort
from tastydesk.engine.positions.book import PositionBook
from tastydesk.engine.positions.monitored import MonitoredLeg, MonitoredPosition
from tastydesk.engine.settings import Settings
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.strategies.library import StrategyLibrary
from tastydesk.engine.workflow.book import WorkflowBook

RULE = "after_assignment"
CALL_MIN_DTE, CALL_MAX_DTE = 21, 60  # the wheel's covered call: the first expiration in range
CALL_DELTA = 0.30
OPEN_DELAY = timedelta(minutes=5)
AWAITING = "awaiting the trader's approval"
ACTING = "acting automatically"
WAITING = "waiting for the market to open"
CLOSING_RULE = "assigned"


def closing_leg(leg: MonitoredLeg) -> OrderLeg:
    action = OrderAction.BUY_TO_CLOSE if leg.quantity < 0 else OrderAction.SELL_TO_CLOSE
    return OrderLeg(leg.symbol, action, abs(leg.quantity))


def leg_price(leg: MonitoredLeg, natural: bool, spot: Decimal | None = None) -> Decimal | None:
    """Signed price per unit of closing ``leg`` alone (credit +): mid, or the crossed side
    (shares without a quote yet: the underlying's last price)."""
    selling = leg.quantity > 0
    if leg.bid is None or leg.ask is None:
        if not leg.is_shares or spot is None:
            return None
        return (spot if selling else -spot).quantize(CENT)
    price = (leg.bid if selling else leg.ask) if natural else (leg.bid + leg.ask) / 2
    return (price if selling else -price).quantize(CENT)


class AssignmentFollowUps:
    """Proposes (and, when allowed unattended, sends) what comes after an assignment."""

    def __init__(self, *, book: WorkflowBook, positions: PositionBook, orders: OrderManager,
                 broker: BrokerPort, store: AsyncStore, strategies: StrategyLibrary,
                 settings: Settings, calendar: MarketCalendar, bus: EventBus, clock: Clock,
                 spawn: Callable[[Any, str], Any], counters: Counter[str]) -> None:
        self._book = book
        self._positions = positions
        self._orders = orders
        self._broker = broker
        self._store = store
        self._strategies = strategies
        self._settings = settings
        self._calendar = calendar
        self._bus = bus
        self._clock = clock
        self._spawn = spawn
        self._counters = counters
        self._sequences: set[int] = set()  # workflows closing in steps (options, then shares)
        self._deferred: set[int] = set()  # proposals waiting for the next session

    def subscribe(self) -> list[Any]:
        return [self._bus.subscribe(WorkflowChanged, self._on_workflow)]

    def _on_workflow(self, event: WorkflowChanged) -> None:
        if event.state is not WorkflowState.MONITORING \
                or event.previous is not WorkflowState.CLOSING:
            return
        mon = self._positions.get(event.workflow_id)
        if mon is None or not mon.holds_shares:
            self._sequences.discard(event.workflow_id)
            return
        if event.workflow_id in self._sequences and all(leg.is_shares for leg in mon.legs):
            self._sequences.discard(event.workflow_id)  # the options are closed: now the shares
            self._spawn(self._propose(event.workflow_id, "options closed"),
                        f"after-assignment-{event.workflow_id}")
            return
        # A step that did not fill is tried again at the next session's open, never at once.
        self._sequences.discard(event.workflow_id)
        self._retry_at_open(event.workflow_id, f"the last step did not fill ({event.reason})")

    def _retry_at_open(self, workflow_id: int, reason: str) -> None:
        if workflow_id in self._deferred:
            return
        self._deferred.add(workflow_id)
        now = self._clock.now()

        def again() -> None:
            self._deferred.discard(workflow_id)
            self._spawn(self._propose(workflow_id, reason), f"after-assignment-{workflow_id}")

        after = self._calendar.next_close(now) if self._calendar.is_open(now) else now
        opening = self._calendar.next_open(after + timedelta(minutes=1))
        self._clock.call_at(opening + OPEN_DELAY, again)

    async def shares_left(self, workflow_id: int, reason: str) -> None:
        """Called under the workflow's lock: the proposal runs as its own task."""
        self._spawn(self._propose(workflow_id, reason), f"after-assignment-{workflow_id}")

    async def resume(self) -> None:
        """At start-up: positions still holding shares get their follow-up proposed again."""
        for mon in self._positions:
            if any(leg.is_shares for leg in mon.legs):
                await self._propose(mon.workflow_id, "holding shares after a restart")

    def _after_open(self, workflow_id: int, reason: str) -> bool:
        """Outside the session nothing can trade: propose again a few minutes after the open
        (fresh quotes by then). True when deferred."""
        if self._calendar.is_open(self._clock.now()):
            return False
        self._retry_at_open(workflow_id, reason)
        return True

    async def _propose(self, workflow_id: int, reason: str) -> None:
        async with self._book.lock(workflow_id):
            mon = self._positions.get(workflow_id)
            if mon is None or self._book.state(workflow_id) is not WorkflowState.MONITORING \
                    or mon.acting:
                return
            shares = [leg for leg in mon.legs if leg.is_shares]
            if not shares:
                return
            strategy = self._strategies.get(mon.strategy_name)
            choice = strategy.after_assignment if strategy else AfterAssignment.CLOSE
            if choice is AfterAssignment.WHEEL and any(leg.quantity < 0 for leg in shares):
                choice = AfterAssignment.CLOSE  # short shares cannot back a covered call
            held = ", ".join(_describe(leg) for leg in mon.legs)
            why = (f"{reason}; holding {held}; {mon.strategy_name or 'the strategy'} "
                   f"chooses '{choice.value}' after an assignment")
            if choice is not AfterAssignment.KEEP and self._after_open(workflow_id, reason):
                await self._record(mon, choice.value, f"{why}: proposed at the next open",
                                   WAITING)
                return
            if choice is AfterAssignment.KEEP:
                await self._record(mon, choice.value, f"{why}: keep the shares and continue",
                                   "proposed")
                return
            if choice is AfterAssignment.WHEEL:
                if not any(leg.option_type is OptionType.CALL and leg.quantity < 0
                           for leg in mon.legs):
                    await self._covered_call(mon, why)
                return
            await self._close(mon, why)

    async def _close(self, mon: MonitoredPosition, reason: str) -> None:
        options = [leg for leg in mon.legs if not leg.is_shares]
        shares = [leg for leg in mon.legs if leg.is_shares]
        steps = [mon.legs]
        if options and not await self._accepted_together(mon):
            steps = [options, shares]  # the broker takes shares in an order of their own
        legs = steps[0]
        rationale = (f"{reason}: close {' and '.join(_describe(leg) for leg in legs)}"
                     + (" first, then the shares" if len(steps) > 1 else ""))
        if not (self._settings.armed and self._settings.config.auto_approve):
            await self._record(mon, "close", rationale, AWAITING)
            return
        if any(leg.bid is None for leg in legs):
            await self._positions.refresh_quotes(mon)
        spot = None
        if any(leg.is_shares and leg.bid is None for leg in legs):
            info = (await self._broker.market_metrics([mon.symbol])).get(mon.symbol)
            spot = None if info is None else info.price
        prices = [leg_price(leg, natural=False, spot=spot) for leg in legs]
        naturals = [leg_price(leg, natural=True, spot=spot) for leg in legs]
        if any(p is None for p in prices) or any(p is None for p in naturals):
            await self._record(mon, "close", f"{rationale}; no quotes to price it", AWAITING)
            return
        order_legs = tuple(closing_leg(leg) for leg in legs)
        units = _units(order_legs)
        scale = Decimal(units)
        price = sum(p * abs(leg.quantity) for p, leg in zip(prices, legs, strict=True)) / scale
        natural = sum(p * abs(leg.quantity) for p, leg in zip(naturals, legs, strict=True)) / scale
        whole = len(legs) == len(mon.legs)
        purpose = OrderPurpose.CLOSE if whole else OrderPurpose.PARTIAL_CLOSE
        if not whole:
            self._sequences.add(mon.workflow_id)
        await self._record(mon, "close", rationale, ACTING)
        mon.acting = True
        # The reason is what the journal names as the closing rule: the cycle ends by assignment.
        await self._book.transition(mon.workflow_id, Trigger.CLOSE, Actor.ENGINE, CLOSING_RULE,
                                    payload={"rule": RULE, "rationale": rationale})
        await self._orders.submit(mon.workflow_id, purpose, mon.symbol, order_legs, units,
                                  mid=price.quantize(CENT), natural=natural.quantize(CENT),
                                  strategy=self._strategies.get(mon.strategy_name), rule_type=RULE)

    async def _covered_call(self, mon: MonitoredPosition, why: str) -> None:
        """Sell one call per 100 shares held, 0.30 delta or nearest, the first expiration at
        least :data:`CALL_MIN_DTE` days out, struck at or above the spot."""
        shares = sum(leg.quantity for leg in mon.legs if leg.is_shares)
        contracts = shares // 100
        if contracts < 1:
            return
        chain = await self._broker.option_chain(mon.symbol, CALL_MIN_DTE, CALL_MAX_DTE)
        spot = chain.underlying.price
        picks = [s.call for e in chain.expirations[:1] for s in e.strikes
                 if s.price >= spot and s.call.quote is not None and s.call.quote.bid > 0]
        if not picks:
            await self._record(mon, "wheel", f"{why}: no call to sell against the shares",
                               AWAITING)
            return
        call = min(picks, key=lambda c: abs((c.greeks.delta if c.greeks else 0.5) - CALL_DELTA))
        assert call.quote is not None
        rationale = (f"{why}: sell {contracts} covered call(s) {call.strike.normalize()} "
                     f"{call.expiry.isoformat()} against {shares} shares (wheel)")
        if not (self._settings.armed and self._settings.config.auto_approve):
            await self._record(mon, "wheel", rationale, AWAITING)
            return
        await self._record(mon, "wheel", rationale, ACTING)
        mon.acting = True
        await self._book.transition(mon.workflow_id, Trigger.CLOSE, Actor.ENGINE,
                                    f"{CLOSING_RULE}: wheel", payload={"rule": RULE,
                                                                       "rationale": rationale})
        legs = (OrderLeg(call.symbol, OrderAction.SELL_TO_OPEN, contracts),)
        mid = ((call.quote.bid + call.quote.ask) / 2).quantize(CENT)
        await self._orders.submit(mon.workflow_id, OrderPurpose.ROLL, mon.symbol, legs, contracts,
                                  mid=mid, natural=call.quote.bid,
                                  strategy=self._strategies.get(mon.strategy_name), rule_type=RULE)

    async def _accepted_together(self, mon: MonitoredPosition) -> bool:
        legs = tuple(closing_leg(leg) for leg in mon.legs)
        request = OrderRequest(mon.symbol, legs, Decimal("0.01"), f"td-{mon.workflow_id}-check")
        return (await self._broker.dry_run(request)).ok

    async def _record(self, mon: MonitoredPosition, action: str, detail: str,
                      status: str) -> None:
        now = self._clock.now()
        self._counters[f"after_assignment:{action}"] += 1
        record = await self._store.add_rule_action(mon.workflow_id, RULE, action, detail, status,
                                                   now)
        self._bus.publish(RuleActionRecorded(record))
        self._bus.publish(Alert(AlertLevel.WARNING, AlertCategory.PENDING,
                                f"{mon.symbol}: after assignment", f"{detail} -> {status}", now,
                                mon.workflow_id))


def _describe(leg: MonitoredLeg) -> str:
    if leg.is_shares:
        return f"{leg.quantity:+d} {leg.symbol} shares"
    assert leg.option_type is not None and leg.expiry is not None
    return (f"{leg.quantity:+d} {leg.strike.normalize()} {leg.option_type.value} "
            f"{leg.expiry.isoformat()}")


def _units(legs: tuple[OrderLeg, ...]) -> int:
    from math import gcd

    units = 0
    for leg in legs:
        units = gcd(units, leg.quantity)
    return max(units, 1)
