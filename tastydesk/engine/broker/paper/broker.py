"""The paper broker: a :class:`BrokerPort` that trades against the in-process paper market.

It keeps a paper account (cash, signed positions per OCC symbol, realised P&L), matches day limit
orders on every market step with the fill model of :mod:`.fills`, measures buying power with
:mod:`.margin` and settles expirations at the close.

Behaviour that mirrors tastytrade, because the engine relies on it:

* ``place`` never deduplicates: two orders with the same external id are two orders; the engine
  prevents duplicates and resolves ambiguous outcomes with :meth:`PaperBroker.find_order`.
* ``replace`` cancels the old order (status REPLACED, ``replacing_order_id`` set) and creates a new
  order id for the unfilled remainder; replacing a finished order is rejected and changes nothing.
* Working orders hold buying power: a new order must fit in what open positions and the unfilled
  part of working orders leave (the balance itself reports NLV - requirement of positions).
* Day orders still working at the session close expire.
* Commission is charged per contract on opening legs only, capped at ten contracts' worth per leg
  and order; closing trades and expirations are free.

Durability: with a :class:`~tastydesk.engine.broker.paper.state.PaperState` the account is saved
inside ``place``/``replace``/``cancel`` before they return and after every step that booked
fills, expirations or settlements, so an order the broker accepted survives a killed process;
construction restores the last saved account.

Expiration: out-of-the-money options expire worthless; in-the-money options are cash-settled at
intrinsic value against the market's settlement price. Equity options are physically settled at a
real broker; the paper broker books that as assignment/exercise followed by an immediate
liquidation of the shares at the settlement price, which nets to the same cash as cash settlement.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import reduce
from typing import Any

from tastydesk.engine.broker.paper.fills import (
    LegMarket,
    aggressiveness,
    displayed_units,
    fill_probability,
    is_marketable,
    split_price,
)
from tastydesk.engine.broker.paper.margin import Holding, opening_commission, requirement
from tastydesk.engine.broker.paper.market import PaperMarket
from tastydesk.engine.broker.paper.state import PaperState
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import NEW_YORK, Clock
from tastydesk.engine.domain.account import AccountInfo, Balance, BrokerPosition
from tastydesk.engine.domain.chain import Expiration, OptionChain, OptionContract, UnderlyingInfo, parse_occ
from tastydesk.engine.domain.enums import (
    CommandOutcome,
    Mode,
    OptionType,
    OrderAction,
    OrderStatus,
    StreamHealth,
)
from tastydesk.engine.domain.events import (
    BalanceUpdated,
    ConnectionChanged,
    FillReceived,
    OrderUpdated,
    PositionUpdated,
)
from tastydesk.engine.domain.money import CENT, MULTIPLIER, ZERO
from tastydesk.engine.domain.orders import (
    CommandResult,
    DryRunResult,
    Fill,
    OrderLeg,
    OrderRequest,
    OrderSnapshot,
)
from tastydesk.engine.ports import BrokerPort

_OPENING = frozenset({OrderAction.BUY_TO_OPEN, OrderAction.SELL_TO_OPEN})
_SELLING = frozenset({OrderAction.SELL_TO_OPEN, OrderAction.SELL_TO_CLOSE})
_PRICE_PLACES = Decimal("0.0001")
MARKET_CLOSED = "market closed"
BALANCE_EVERY = timedelta(minutes=15)  # balance stream cadence while nothing changes
_STATE_FORMAT = 1


@dataclass(slots=True)
class _Order:
    order_id: str
    request: OrderRequest
    units: int
    ratios: tuple[int, ...]
    status: OrderStatus
    placed_at: datetime
    updated_at: datetime
    last_evaluated: datetime
    filled_units: int = 0
    fills: list[Fill] = field(default_factory=list)
    commission_by_leg: list[Decimal] = field(default_factory=list)
    reject_reason: str | None = None
    replaces_order_id: str | None = None
    replacing_order_id: str | None = None

    @property
    def remaining(self) -> int:
        return self.units - self.filled_units

    def snapshot(self) -> OrderSnapshot:
        return OrderSnapshot(
            order_id=self.order_id,
            external_id=self.request.external_id,
            underlying=self.request.underlying,
            legs=self.request.legs,
            price=self.request.price,
            status=self.status,
            filled_quantity=self.filled_units,
            quantity=self.units,
            fills=tuple(self.fills),
            reject_reason=self.reject_reason,
            replaces_order_id=self.replaces_order_id,
            updated_at=self.updated_at,
            source=self.request.source,
            replacing_order_id=self.replacing_order_id,
        )


@dataclass(slots=True)
class _Position:
    symbol: str
    underlying: str
    option_type: OptionType
    strike: Decimal
    expiry: date
    quantity: int = 0
    average_open_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class _Checked:
    """Outcome of validating an order against the market and the account."""

    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    buying_power_effect: Decimal
    fees: Decimal


class PaperBroker(BrokerPort):
    """In-process broker over :class:`PaperMarket`; deterministic for a seed and a step sequence."""

    mode = Mode.PAPER

    def __init__(
        self,
        market: PaperMarket,
        bus: EventBus,
        clock: Clock,
        *,
        seed: int = 1,
        starting_cash: Decimal = Decimal("100000"),
        account_number: str = "PAPER-1",
        fees_per_contract: Decimal = Decimal("1.00"),
        state: PaperState | None = None,
    ) -> None:
        if starting_cash < 0:
            raise ValueError(f"starting_cash: must not be negative, got {starting_cash}")
        if fees_per_contract < 0:
            raise ValueError(f"fees_per_contract: must not be negative, got {fees_per_contract}")
        self._market = market
        self._bus = bus
        self._clock = clock
        self._rng = random.Random(seed)
        self.account_number = account_number
        self._fees_per_contract = fees_per_contract
        self._cash = starting_cash
        self._fees_paid = ZERO
        self._orders: dict[str, _Order] = {}
        self._positions: dict[str, _Position] = {}  # open positions only
        self._realized_closed = ZERO  # realised P&L of positions since closed out
        self._marks: dict[str, Decimal] = {}  # last known mark per open position
        self._live: dict[str, _Order] = {}  # working and partially filled orders
        self._touched: dict[str, _Order] = {}  # orders updated on ``_touched_day``
        self._touched_day: date | None = None
        self._next_order_id = 1
        self._next_fill_id = 1
        self._mark_cache: dict[str, Decimal] = {}
        self._mark_version = -1
        self._requirement_cache: tuple[int, int, Decimal] | None = None
        self._positions_rev = 0
        self._balance_sent_at: datetime | None = None
        self._state = state
        self._unsaved = False  # booked in memory, not yet in the state file
        saved = state.load_broker() if state is not None else None
        if saved is not None:
            self.restore(saved)
        self._health = {"market": StreamHealth.DISCONNECTED, "account": StreamHealth.DISCONNECTED}
        self._connected = False
        self._listening = False
        self._last_step: datetime = clock.now()

    # -- connection ------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._connected:
            return
        if not self._listening:
            self._market.add_step_listener(self._on_step)
            self._listening = True
        self._connected = True
        self._last_step = self._clock.now()
        self._set_health(StreamHealth.CONNECTED, "paper market")

    async def close(self) -> None:
        if not self._connected:
            return
        self._connected = False
        self._set_health(StreamHealth.DISCONNECTED, "closed")

    def health(self) -> dict[str, StreamHealth]:
        return dict(self._health)

    def _set_health(self, health: StreamHealth, detail: str) -> None:
        now = self._clock.now()
        for stream in self._health:
            self._health[stream] = health
            self._bus.publish(ConnectionChanged(stream, health, detail, now))

    # -- account ---------------------------------------------------------------------------

    async def accounts(self) -> list[AccountInfo]:
        return [AccountInfo(self.account_number, nickname="Paper", margin=True)]

    async def balance(self) -> Balance:
        return self.current_balance()

    async def positions(self) -> list[BrokerPosition]:
        return [self._broker_position(p) for p in self._positions.values() if p.quantity != 0]

    def current_balance(self) -> Balance:
        """Balance marked at the current quotes (synchronous, for simulations and reports)."""
        req = self._positions_requirement()
        nlv = self._cash + self._position_value()
        return Balance(
            account_number=self.account_number,
            net_liquidating_value=nlv,
            cash=self._cash,
            buying_power=nlv - req,
            maintenance_requirement=req,
            updated_at=self._clock.now(),
        )

    @property
    def realized_pnl(self) -> Decimal:
        """Realised P&L of closed quantity, before fees."""
        return self._realized_closed + sum(
            (p.realized_pnl for p in self._positions.values()), ZERO)

    @property
    def fees_paid(self) -> Decimal:
        return self._fees_paid

    def unrealized_pnl(self) -> Decimal:
        """Open positions marked at mid against their average open price."""
        total = ZERO
        for p in self._positions.values():
            if p.quantity != 0:
                total += (self._mark(p.symbol) - p.average_open_price) * MULTIPLIER * p.quantity
        return total

    # -- durable state ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The paper account as JSON-serialisable data: cash, fees, open positions, the orders
        still working plus today's orders (so :meth:`find_order` answers after a restart), the
        id counters and the fill model's random state."""
        # The latest day's orders (today's; during a step that crosses midnight, the new day's
        # may already be there) and every order still working.
        kept = {**self._touched, **self._live}
        orders = [_order_state(r) for r in sorted(kept.values(), key=lambda r: int(r.order_id))]
        version, internal, gauss = self._rng.getstate()
        return {
            "format": _STATE_FORMAT,
            "account_number": self.account_number,
            "cash": str(self._cash),
            "fees_paid": str(self._fees_paid),
            "realized_closed": str(self._realized_closed),
            "positions": [_position_state(p) for p in self._positions.values()],
            "marks": {s: str(m) for s, m in self._marks.items() if s in self._positions},
            "orders": orders,
            "next_order_id": self._next_order_id,
            "next_fill_id": self._next_fill_id,
            "rng": [version, list(internal), gauss],
            "last_step": self._last_step.isoformat(),
            "balance_sent_at": (None if self._balance_sent_at is None
                                else self._balance_sent_at.isoformat()),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`snapshot` (replaces the whole account).

        Raises ValueError naming the field when the snapshot is malformed.
        """
        try:
            if state.get("format") != _STATE_FORMAT:
                raise ValueError(f"state.format: {state.get('format')!r} is not {_STATE_FORMAT}")
            cash = Decimal(state["cash"])
            fees_paid = Decimal(state["fees_paid"])
            realized_closed = Decimal(state["realized_closed"])
            positions = [_position_from(body) for body in state["positions"]]
            marks = {s: Decimal(m) for s, m in state["marks"].items()}
            orders = [_order_from(body) for body in state["orders"]]
            next_order_id = int(state["next_order_id"])
            next_fill_id = int(state["next_fill_id"])
            version, internal, gauss = state["rng"]
            rng_state = (int(version), tuple(int(x) for x in internal), gauss)
            last_step = datetime.fromisoformat(state["last_step"])
            sent = state["balance_sent_at"]
            balance_sent_at = None if sent is None else datetime.fromisoformat(sent)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise ValueError(f"state: malformed paper broker snapshot ({exc})") from exc
        rng = random.Random()
        try:
            rng.setstate(rng_state)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"state.rng: not a random generator state ({exc})") from exc
        self._rng = rng
        self._cash = cash
        self._fees_paid = fees_paid
        self._realized_closed = realized_closed
        self._positions = {p.symbol: p for p in positions if p.quantity != 0}
        self._marks = {s: m for s, m in marks.items() if s in self._positions}
        self._orders = {r.order_id: r for r in orders}
        self._live = {r.order_id: r for r in orders if not r.status.is_terminal}
        self._touched, self._touched_day = {}, None
        for record in sorted(orders, key=lambda r: (r.updated_at, int(r.order_id))):
            self._touch(record)
        self._next_order_id = next_order_id
        self._next_fill_id = next_fill_id
        self._last_step = last_step
        self._balance_sent_at = balance_sent_at
        self._positions_rev += 1
        self._requirement_cache = None
        self._mark_cache.clear()
        self._mark_version = -1

    def save_state(self) -> None:
        """Write the account to the state file now (commands and fills save on their own)."""
        self._save()

    # -- market data -----------------------------------------------------------------------

    async def option_chain(self, symbol: str, min_dte: int = 0, max_dte: int = 400) -> OptionChain:
        return self._market.chain(symbol, min_dte, max_dte)

    async def expirations(self, symbol: str) -> list[Expiration]:
        return self._market.expirations(symbol)

    async def market_metrics(self, symbols: Iterable[str]) -> dict[str, UnderlyingInfo]:
        return {s: self._market.underlying(s) for s in symbols}

    async def subscribe(self, symbols: Iterable[str]) -> None:
        self._market.subscribe(list(symbols))

    async def unsubscribe(self, symbols: Iterable[str]) -> None:
        self._market.unsubscribe(list(symbols))

    # -- orders ----------------------------------------------------------------------------

    async def dry_run(self, order: OrderRequest) -> DryRunResult:
        checked = self._check(order, self._clock.now())
        return DryRunResult(
            buying_power_effect=checked.buying_power_effect,
            fees=checked.fees,
            warnings=checked.warnings,
            errors=checked.errors,
        )

    async def place(self, order: OrderRequest) -> CommandResult:
        if not self._connected:
            return CommandResult(CommandOutcome.REJECTED, None, "broker not connected")
        now = self._clock.now()
        checked = self._check(order, now)
        reasons = list(checked.errors)
        if MARKET_CLOSED in checked.warnings:
            reasons.append(MARKET_CLOSED)
        units, ratios = _units(order.legs) if not _bad_quantities(order.legs) else (0, ())
        record = _Order(
            order_id=self._new_order_id(),
            request=order,
            units=units,
            ratios=ratios,
            status=OrderStatus.WORKING,
            placed_at=now,
            updated_at=now,
            last_evaluated=now,
            commission_by_leg=[ZERO] * len(order.legs),
        )
        self._orders[record.order_id] = record
        self._touch(record)
        if reasons:
            record.status = OrderStatus.REJECTED
            record.reject_reason = "; ".join(reasons)
            self._save()
            self._publish_order(record)
            return CommandResult(CommandOutcome.REJECTED, record.snapshot(), record.reject_reason)
        self._live[record.order_id] = record
        self._save()
        self._publish_order(record)
        return CommandResult(CommandOutcome.ACCEPTED, record.snapshot())

    async def replace(self, order_id: str, price: Decimal) -> CommandResult:
        if not self._connected:
            return CommandResult(CommandOutcome.REJECTED, None, "broker not connected")
        old = self._orders.get(order_id)
        if old is None:
            return _unknown_order(order_id)
        if old.status.is_terminal:
            return CommandResult(
                CommandOutcome.REJECTED,
                old.snapshot(),
                f"order {order_id} is {old.status.value}; only working orders can be replaced",
            )
        now = self._clock.now()
        legs = tuple(
            OrderLeg(leg.symbol, leg.action, old.remaining * ratio)
            for leg, ratio in zip(old.request.legs, old.ratios, strict=True)
        )
        request = OrderRequest(
            underlying=old.request.underlying,
            legs=legs,
            price=price,
            external_id=old.request.external_id,
            source=old.request.source,
        )
        checked = self._check(request, now, replacing=old.order_id)
        reasons = list(checked.errors)
        if MARKET_CLOSED in checked.warnings:
            reasons.append(MARKET_CLOSED)
        if reasons:
            return CommandResult(CommandOutcome.REJECTED, old.snapshot(), "; ".join(reasons))
        new = _Order(
            order_id=self._new_order_id(),
            request=request,
            units=old.remaining,
            ratios=old.ratios,
            status=OrderStatus.WORKING,
            placed_at=now,
            updated_at=now,
            last_evaluated=now,
            commission_by_leg=[ZERO] * len(legs),
            replaces_order_id=old.order_id,
        )
        self._orders[new.order_id] = new
        self._live[new.order_id] = new
        self._live.pop(old.order_id, None)
        old.status = OrderStatus.REPLACED
        old.replacing_order_id = new.order_id
        old.updated_at = now
        self._touch(old)
        self._touch(new)
        self._save()
        self._publish_order(old)
        self._publish_order(new)
        return CommandResult(CommandOutcome.ACCEPTED, new.snapshot())

    async def cancel(self, order_id: str) -> CommandResult:
        if not self._connected:
            return CommandResult(CommandOutcome.REJECTED, None, "broker not connected")
        record = self._orders.get(order_id)
        if record is None:
            return _unknown_order(order_id)
        if record.status.is_terminal:
            return CommandResult(
                CommandOutcome.REJECTED,
                record.snapshot(),
                f"order {order_id} is {record.status.value}; only working orders can be cancelled",
            )
        record.status = OrderStatus.CANCELLED
        record.updated_at = self._clock.now()
        self._touch(record)
        self._live.pop(order_id, None)
        self._save()
        self._publish_order(record)
        return CommandResult(CommandOutcome.ACCEPTED, record.snapshot())

    async def get_order(self, order_id: str) -> OrderSnapshot | None:
        record = self._orders.get(order_id)
        return None if record is None else record.snapshot()

    async def find_order(self, external_id: str) -> OrderSnapshot | None:
        """The most recent of today's orders with this external id (a replacement carries it on)."""
        for record in reversed(self._orders_of_today()):
            if record.request.external_id == external_id:
                return record.snapshot()
        return None

    async def live_orders(self) -> list[OrderSnapshot]:
        return [r.snapshot() for r in self._orders_of_today()]

    def _orders_of_today(self) -> list[_Order]:
        """Orders updated today (placed today implies that), oldest first; reads an index, not
        the whole order history."""
        if self._touched_day != self._clock.today():
            return []
        return sorted(self._touched.values(), key=lambda r: int(r.order_id))

    def _touch(self, record: _Order) -> None:
        day = _ny_date(record.updated_at)
        if day != self._touched_day:
            self._touched = {}
            self._touched_day = day
        self._touched[record.order_id] = record

    # -- validation ------------------------------------------------------------------------

    def _check(self, order: OrderRequest, now: datetime, replacing: str | None = None) -> _Checked:
        errors: list[str] = []
        warnings: list[str] = []
        if not self._market.calendar.is_open(now):
            warnings.append(MARKET_CLOSED)
        if not order.legs:
            errors.append("legs: an order needs at least one leg")
        bad_quantity = _bad_quantities(order.legs)
        errors.extend(bad_quantity)
        seen: set[str] = set()
        contracts: list[OptionContract | None] = []
        for i, leg in enumerate(order.legs):
            contract = self._market.contract(leg.symbol)
            contracts.append(contract)
            if leg.symbol in seen:
                errors.append(f"legs[{i}].symbol: {leg.symbol!r} appears in more than one leg")
            seen.add(leg.symbol)
            if contract is None:
                errors.append(f"legs[{i}].symbol: unknown option symbol {leg.symbol!r}")
                continue
            if contract.underlying != order.underlying:
                errors.append(
                    f"legs[{i}].symbol: {leg.symbol!r} is an option on {contract.underlying}, "
                    f"not {order.underlying}"
                )
            if contract.quote is None:
                errors.append(f"legs[{i}].symbol: no quote for {leg.symbol!r}")
            if leg.action not in _OPENING and leg.quantity > 0:
                held = self._positions.get(leg.symbol)
                held_qty = 0 if held is None else held.quantity
                closable = -held_qty if leg.action is OrderAction.BUY_TO_CLOSE else held_qty
                if leg.quantity > max(closable, 0):
                    side = "short" if leg.action is OrderAction.BUY_TO_CLOSE else "long"
                    errors.append(
                        f"legs[{i}].action: {leg.action.value} {leg.quantity} exceeds the "
                        f"{side} position of {max(closable, 0)} in {leg.symbol!r}"
                    )
        errors.extend(_price_errors(order))
        if errors:
            return _Checked(tuple(errors), tuple(warnings), ZERO, ZERO)
        fees = sum(
            (
                opening_commission(leg.quantity, self._fees_per_contract, ZERO)
                for leg in order.legs
                if leg.action in _OPENING
            ),
            ZERO,
        )
        effect = self._buying_power_effect(order, [c for c in contracts if c is not None])
        available = self.current_balance().buying_power - self._reserved(exclude=replacing)
        if effect < 0 and available + effect - fees < 0:
            errors.append(
                f"buying power: order needs ${-effect + fees:,.2f}, "
                f"only ${max(available, ZERO):,.2f} available after working orders"
            )
        return _Checked(tuple(errors), tuple(warnings), effect, fees)

    def _reserved(self, exclude: str | None) -> Decimal:
        """Buying power held by working orders (their unfilled part), as tastytrade holds it."""
        total = ZERO
        for record in self._live.values():
            if record.order_id == exclude:
                continue
            contracts = [self._market.contract(leg.symbol) for leg in record.request.legs]
            if any(c is None or c.quote is None for c in contracts):
                continue
            remaining = OrderRequest(
                record.request.underlying,
                tuple(OrderLeg(leg.symbol, leg.action, record.remaining * ratio)
                      for leg, ratio in zip(record.request.legs, record.ratios, strict=True)),
                record.request.price,
                record.request.external_id,
            )
            effect = self._buying_power_effect(remaining, [c for c in contracts if c is not None])
            total += max(ZERO, -effect)
        return total

    def _buying_power_effect(self, order: OrderRequest, contracts: list[OptionContract]) -> Decimal:
        """Change of NLV - requirement if the order filled now at its limit (fees excluded)."""
        before = self._holdings()
        by_symbol = {h.symbol: h for h in before}
        value_change = ZERO
        for leg, contract in zip(order.legs, contracts, strict=True):
            delta = -leg.quantity if leg.action in _SELLING else leg.quantity
            mark = _mid(contract)
            value_change += mark * MULTIPLIER * delta
            held = by_symbol.get(leg.symbol)
            quantity = delta + (0 if held is None else held.quantity)
            by_symbol[leg.symbol] = Holding(
                contract.symbol, contract.underlying, contract.option_type, contract.strike,
                contract.expiry, quantity, mark,
            )
        units, _ = _units(order.legs)
        cash_change = order.price * units * MULTIPLIER
        nlv_change = cash_change + value_change
        req_change = self._requirement(list(by_symbol.values())) - self._positions_requirement()
        return (nlv_change - req_change).quantize(CENT)

    # -- holdings and marks ----------------------------------------------------------------

    def _holdings(self) -> list[Holding]:
        return [
            Holding(p.symbol, p.underlying, p.option_type, p.strike, p.expiry, p.quantity,
                    self._mark(p.symbol))
            for p in self._positions.values()
        ]

    def _requirement(self, holdings: list[Holding]) -> Decimal:
        spots = {h.underlying: self._market.spot(h.underlying) for h in holdings if h.quantity}
        return requirement(holdings, spots).quantize(CENT)

    def _positions_requirement(self) -> Decimal:
        """Requirement of the open positions; kept until the marks or the positions change."""
        version, rev = self._market.version, self._positions_rev
        cached = self._requirement_cache
        if cached is not None and cached[0] == version and cached[1] == rev:
            return cached[2]
        req = self._requirement(self._holdings())
        self._requirement_cache = (version, rev, req)
        return req

    def _position_value(self) -> Decimal:
        return sum(
            (self._mark(p.symbol) * MULTIPLIER * p.quantity for p in self._positions.values()),
            ZERO,
        )

    def _mark(self, symbol: str) -> Decimal:
        """Mid at the last step; marks only move when the market does, so they are kept per
        market version (a step asks for the same legs from balances, margin and positions)."""
        version = self._market.version
        if version != self._mark_version:
            self._mark_cache.clear()
            self._mark_version = version
        mark = self._mark_cache.get(symbol)
        if mark is not None:
            return mark
        mark = self._market.mid(symbol)
        held = self._positions.get(symbol)
        if mark is not None:
            if held is not None:
                self._marks[symbol] = mark
        elif symbol in self._marks:
            mark = self._marks[symbol]
        else:
            return ZERO if held is None else held.average_open_price
        self._mark_cache[symbol] = mark
        return mark

    def _broker_position(self, p: _Position) -> BrokerPosition:
        return BrokerPosition(
            symbol=p.symbol,
            underlying=p.underlying,
            quantity=p.quantity,
            average_open_price=p.average_open_price,
            mark=self._mark(p.symbol) if p.quantity else None,
            multiplier=int(MULTIPLIER),
            updated_at=self._clock.now(),
        )

    # -- matching --------------------------------------------------------------------------

    def _on_step(self, now: datetime) -> None:
        if not self._connected:
            return
        changed = False
        try:
            if self._live and self._market.calendar.is_open(now):
                for record in list(self._live.values()):
                    changed |= self._match(record, now)
            if self._live:
                changed |= self._expire_day_orders(now)
            due = set(self._market.expired(self._last_step, now))
            # Positions whose expiration passed while disconnected settle at the first step back.
            if self._positions:
                today = _ny_date(now)
                closed_today = now >= self._market.calendar.session_close(today)
                due.update(p.expiry for p in self._positions.values()
                           if p.expiry < today or (p.expiry == today and closed_today))
            for expiry in sorted(due):
                changed |= self._settle(expiry, now)
            self._last_step = max(self._last_step, now)
        finally:
            # Whatever was booked is saved before anyone acts on the events, even when a later
            # part of the step failed.
            if changed or self._unsaved:
                self._save()
        sent = self._balance_sent_at
        if changed or (self._positions and (sent is None or now - sent >= BALANCE_EVERY)):
            self._balance_sent_at = now
            self._bus.publish(BalanceUpdated(self.current_balance()))

    def _match(self, record: _Order, now: datetime) -> bool:
        legs = self._leg_markets(record)
        elapsed = (now - record.last_evaluated).total_seconds()
        record.last_evaluated = now
        if legs is None:
            return False
        price = record.request.price
        if is_marketable(price, legs):
            units = record.remaining
            shown = displayed_units(legs)
            if shown is not None:
                units = min(units, max(1, shown))
        else:
            age = (now - record.placed_at).total_seconds()
            probability = fill_probability(aggressiveness(price, legs), age, elapsed)
            if probability <= 0 or self._rng.random() >= probability:
                return False
            most = max(1, math.ceil(record.units / 2))
            units = self._rng.randint(1, min(record.remaining, most))
        self._fill(record, units, legs, now)
        return True

    def _leg_markets(self, record: _Order) -> list[LegMarket] | None:
        legs = []
        for leg, ratio in zip(record.request.legs, record.ratios, strict=True):
            contract = self._market.contract(leg.symbol)
            if contract is None or contract.quote is None:
                return None
            q = contract.quote
            sign = 1 if leg.action in _SELLING else -1
            legs.append(LegMarket(sign, ratio, q.bid, q.ask, q.bid_size, q.ask_size))
        return legs

    def _fill(self, record: _Order, units: int, legs: list[LegMarket], now: datetime) -> None:
        prices = split_price(record.request.price, legs)
        fees = ZERO
        touched: list[_Position] = []
        for i, (leg, ratio, price) in enumerate(
            zip(record.request.legs, record.ratios, prices, strict=True)
        ):
            contracts = units * ratio
            if leg.action in _OPENING:
                fee = opening_commission(contracts, self._fees_per_contract,
                                         record.commission_by_leg[i])
                record.commission_by_leg[i] += fee
                fees += fee
            fill = Fill(self._new_fill_id("F"), record.order_id, leg.symbol, leg.action,
                        contracts, price, now)
            record.fills.append(fill)
            delta = -contracts if leg.action in _SELLING else contracts
            touched.append(self._apply(leg.symbol, delta, price))
            self._bus.publish(FillReceived(fill))
        self._cash += record.request.price * units * MULTIPLIER - fees
        self._fees_paid += fees
        record.filled_units += units
        record.status = (
            OrderStatus.FILLED if record.remaining == 0 else OrderStatus.PARTIALLY_FILLED
        )
        if record.status is OrderStatus.FILLED:
            self._live.pop(record.order_id, None)
        record.updated_at = now
        self._touch(record)
        for position in touched:
            self._bus.publish(PositionUpdated(self._broker_position(position)))
        self._publish_order(record)

    def _apply(self, symbol: str, delta: int, price: Decimal) -> _Position:
        """Book ``delta`` contracts at ``price``: average in when adding, realise when reducing."""
        position = self._positions.get(symbol)
        if position is None:
            root, expiry, option_type, strike = parse_occ(symbol)
            contract = self._market.contract(symbol)
            underlying = root if contract is None else contract.underlying
            position = _Position(symbol, underlying, option_type, strike, expiry)
            self._positions[symbol] = position
        old = position.quantity
        new = old + delta
        if old == 0 or (old > 0) == (delta > 0):
            total = abs(old) * position.average_open_price + abs(delta) * price
            position.average_open_price = (total / abs(new)).quantize(_PRICE_PLACES)
        else:
            closed = min(abs(old), abs(delta))
            direction = 1 if old > 0 else -1
            position.realized_pnl += (
                (price - position.average_open_price) * MULTIPLIER * closed * direction
            )
            if new == 0:
                position.average_open_price = ZERO
            elif (new > 0) != (old > 0):
                position.average_open_price = price
        position.quantity = new
        self._positions_rev += 1
        self._unsaved = True
        if new == 0:
            # Closed out: only its realised P&L lives on (keeps per-step scans and snapshots to
            # what is open).
            del self._positions[symbol]
            self._realized_closed += position.realized_pnl
            self._marks.pop(symbol, None)
        return position

    def _expire_day_orders(self, now: datetime) -> bool:
        changed = False
        for record in list(self._live.values()):
            close = self._market.calendar.session_close(_ny_date(record.placed_at))
            if now >= close:
                del self._live[record.order_id]
                self._unsaved = True
                record.status = OrderStatus.EXPIRED
                record.updated_at = now
                self._touch(record)
                self._publish_order(record)
                changed = True
        return changed

    def _settle(self, expiry: date, now: datetime) -> bool:
        changed = False
        for position in list(self._positions.values()):
            if position.expiry != expiry or position.quantity == 0:
                continue
            settlement = self._market.settlement_price(position.underlying, expiry)
            if position.option_type is OptionType.CALL:
                intrinsic = max(ZERO, settlement - position.strike)
            else:
                intrinsic = max(ZERO, position.strike - settlement)
            quantity = position.quantity
            action = OrderAction.SELL_TO_CLOSE if quantity > 0 else OrderAction.BUY_TO_CLOSE
            fill = Fill(
                self._new_fill_id("X"),
                f"EXPIRATION-{position.underlying}-{expiry:%Y%m%d}",
                position.symbol,
                action,
                abs(quantity),
                intrinsic,
                now,
            )
            self._apply(position.symbol, -quantity, intrinsic)
            self._cash += intrinsic * MULTIPLIER * quantity
            self._bus.publish(FillReceived(fill))
            self._bus.publish(PositionUpdated(self._broker_position(position)))
            changed = True
        return changed

    def _new_order_id(self) -> str:
        order_id = str(self._next_order_id)
        self._next_order_id += 1
        return order_id

    def _new_fill_id(self, prefix: str) -> str:
        fill_id = f"{prefix}{self._next_fill_id}"
        self._next_fill_id += 1
        return fill_id

    def _save(self) -> None:
        if self._state is not None:
            self._state.save_broker(self.snapshot())
        self._unsaved = False

    def _publish_order(self, record: _Order) -> None:
        self._bus.publish(OrderUpdated(record.snapshot()))


def _unknown_order(order_id: str) -> CommandResult:
    return CommandResult(CommandOutcome.REJECTED, None, f"order_id: unknown order {order_id!r}")


def _ny_date(at: datetime) -> date:
    return at.astimezone(NEW_YORK).date()


def _mid(contract: OptionContract) -> Decimal:
    if contract.quote is None:
        raise ValueError(f"symbol: no quote for {contract.symbol!r}")
    return contract.quote.mid


def _bad_quantities(legs: tuple[OrderLeg, ...]) -> list[str]:
    return [
        f"legs[{i}].quantity: must be a positive number of contracts, got {leg.quantity}"
        for i, leg in enumerate(legs)
        if leg.quantity <= 0
    ]


def _units(legs: tuple[OrderLeg, ...]) -> tuple[int, tuple[int, ...]]:
    """Spread units and per-leg ratios: the legs divided by their greatest common quantity."""
    if not legs:
        return 0, ()
    units = reduce(math.gcd, (leg.quantity for leg in legs))
    return units, tuple(leg.quantity // units for leg in legs)


def _price_errors(order: OrderRequest) -> list[str]:
    errors: list[str] = []
    price = order.price
    if price != price.quantize(CENT):
        errors.append(f"price: {price} is not a whole number of cents")
    if not order.legs or _bad_quantities(order.legs):
        return errors
    sides = {leg.action in _SELLING for leg in order.legs}
    if sides == {True} and price <= 0:
        errors.append(f"price: an order that only sells must be a credit (> 0), got {price}")
    if sides == {False} and price >= 0:
        errors.append(f"price: an order that only buys must be a debit (< 0), got {price}")
    _, ratios = _units(order.legs)
    if 1 not in ratios:
        errors.append(
            "legs: ratios " + ":".join(map(str, ratios)) + " have no single-contract leg; "
            "the paper broker needs one to split the price across legs"
        )
    return errors


# -- snapshot encoding ---------------------------------------------------------------------


def _position_state(p: _Position) -> dict[str, Any]:
    return {"symbol": p.symbol, "underlying": p.underlying, "quantity": p.quantity,
            "average_open_price": str(p.average_open_price),
            "realized_pnl": str(p.realized_pnl)}


def _position_from(body: dict[str, Any]) -> _Position:
    _, expiry, option_type, strike = parse_occ(body["symbol"])
    return _Position(body["symbol"], body["underlying"], option_type, strike, expiry,
                     int(body["quantity"]), Decimal(body["average_open_price"]),
                     Decimal(body["realized_pnl"]))


def _fill_state(f: Fill) -> list[Any]:
    return [f.fill_id, f.order_id, f.symbol, f.action.value, f.quantity, str(f.price),
            f.time.isoformat()]


def _fill_from(row: list[Any]) -> Fill:
    fill_id, order_id, symbol, action, quantity, price, at = row
    return Fill(fill_id, order_id, symbol, OrderAction(action), int(quantity), Decimal(price),
                datetime.fromisoformat(at))


def _order_state(r: _Order) -> dict[str, Any]:
    req = r.request
    return {
        "order_id": r.order_id,
        "underlying": req.underlying,
        "legs": [[leg.symbol, leg.action.value, leg.quantity] for leg in req.legs],
        "price": str(req.price),
        "external_id": req.external_id,
        "source": req.source,
        "units": r.units,
        "ratios": list(r.ratios),
        "status": r.status.value,
        "placed_at": r.placed_at.isoformat(),
        "updated_at": r.updated_at.isoformat(),
        "last_evaluated": r.last_evaluated.isoformat(),
        "filled_units": r.filled_units,
        "fills": [_fill_state(f) for f in r.fills],
        "commission_by_leg": [str(c) for c in r.commission_by_leg],
        "reject_reason": r.reject_reason,
        "replaces_order_id": r.replaces_order_id,
        "replacing_order_id": r.replacing_order_id,
    }


def _order_from(body: dict[str, Any]) -> _Order:
    legs = tuple(OrderLeg(symbol, OrderAction(action), int(qty))
                 for symbol, action, qty in body["legs"])
    request = OrderRequest(body["underlying"], legs, Decimal(body["price"]),
                           body["external_id"], body["source"])
    return _Order(
        order_id=body["order_id"],
        request=request,
        units=int(body["units"]),
        ratios=tuple(int(x) for x in body["ratios"]),
        status=OrderStatus(body["status"]),
        placed_at=datetime.fromisoformat(body["placed_at"]),
        updated_at=datetime.fromisoformat(body["updated_at"]),
        last_evaluated=datetime.fromisoformat(body["last_evaluated"]),
        filled_units=int(body["filled_units"]),
        fills=[_fill_from(row) for row in body["fills"]],
        commission_by_leg=[Decimal(c) for c in body["commission_by_leg"]],
        reject_reason=body["reject_reason"],
        replaces_order_id=body["replaces_order_id"],
        replacing_order_id=body["replacing_order_id"],
    )
