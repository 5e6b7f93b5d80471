"""Pure translation between the tastytrade SDK's models and tastydesk's domain types.

Functions take SDK objects (pydantic models) and return frozen domain dataclasses. Anything that
does not fit the domain (a missing id, an unknown status, a non-integer quantity) raises
:class:`BrokerPayloadError` naming the field, so a bad payload is reported and skipped instead of
taking a stream down. Building SDK orders imports the SDK lazily.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tastydesk.engine.broker.tastytrade.errors import BrokerPayloadError
from tastydesk.engine.domain.account import AccountInfo, Balance, BrokerPosition
from tastydesk.engine.domain.chain import (
    Expiration,
    Greeks,
    OptionChain,
    OptionContract,
    Quote,
    Strike,
    UnderlyingInfo,
)
from tastydesk.engine.domain.enums import OptionType, OrderAction, OrderStatus
from tastydesk.engine.domain.ids import BrokerOrderId, ExternalOrderId
from tastydesk.engine.domain.instruments import TickBand, TickTable, TimeInForce
from tastydesk.engine.domain.orders import DryRunResult, Fill, OrderLeg, OrderRequest, OrderSnapshot

WORKING_STATUSES = frozenset({"Received", "Routed", "In Flight", "Live", "Contingent",
                              "Cancel Requested", "Replace Requested"})
_TERMINAL_STATUSES = {
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "Rejected": OrderStatus.REJECTED,
    "Expired": OrderStatus.EXPIRED,
    "Removed": OrderStatus.CANCELLED,
    "Partially Removed": OrderStatus.CANCELLED,
}


def _get(obj: Any, name: str, what: str) -> Any:
    value = getattr(obj, name, None)
    if value is None:
        raise BrokerPayloadError(what, name.replace("_", "-"), "missing")
    return value


def _int(value: Any, what: str, field: str) -> int:
    try:
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise BrokerPayloadError(what, field, f"not a number: {value!r}") from exc
    if number != number.to_integral_value():
        raise BrokerPayloadError(what, field, f"not a whole number: {value}")
    return int(number)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _status_text(raw: Any) -> str:
    return str(getattr(raw, "value", raw))


def account_info(account: Any) -> AccountInfo:
    margin = str(getattr(account, "margin_or_cash", "Margin")).lower() == "margin"
    return AccountInfo(account_number=_get(account, "account_number", "account"),
                       nickname=str(getattr(account, "nickname", "") or ""), margin=margin)


def order_legs(order: Any, what: str = "order") -> tuple[OrderLeg, ...]:
    legs = []
    for i, leg in enumerate(_get(order, "legs", what)):
        action_text = _status_text(_get(leg, "action", what))
        try:
            action = OrderAction(action_text)
        except ValueError as exc:
            raise BrokerPayloadError(what, f"legs[{i}].action",
                                     f"unsupported action {action_text!r}") from exc
        legs.append(OrderLeg(symbol=_get(leg, "symbol", what), action=action,
                             quantity=_int(_get(leg, "quantity", what), what,
                                           f"legs[{i}].quantity")))
    if not legs:
        raise BrokerPayloadError(what, "legs", "empty")
    return tuple(legs)


def order_fills(order: Any, order_id: BrokerOrderId) -> tuple[Fill, ...]:
    fills = []
    for i, leg in enumerate(order.legs or ()):
        action = OrderAction(_status_text(leg.action))
        for j, info in enumerate(leg.fills or ()):
            fills.append(Fill(
                fill_id=str(_get(info, "fill_id", "fill")), order_id=order_id, symbol=leg.symbol,
                action=action,
                quantity=_int(info.quantity, "fill", f"legs[{i}].fills[{j}].quantity"),
                price=abs(Decimal(info.fill_price)),
                time=_utc(info.filled_at) or datetime.now(UTC)))
    return tuple(fills)


def filled_units(order: Any, legs: tuple[OrderLeg, ...], size: int) -> int:
    """Spread units filled: the least filled leg, divided by its ratio."""
    units = None
    for i, (leg, raw) in enumerate(zip(legs, order.legs, strict=True)):
        ratio = max(1, leg.quantity // size)
        remaining = raw.remaining_quantity
        if remaining is not None:
            filled = leg.quantity - _int(remaining, "order", f"legs[{i}].remaining-quantity")
        else:
            filled = sum(_int(f.quantity, "order", f"legs[{i}].fills.quantity")
                         for f in raw.fills or ())
        leg_units = filled // ratio
        units = leg_units if units is None else min(units, leg_units)
    return units or 0


def _external_id(value: Any) -> ExternalOrderId | None:
    """The external identifier an order carries: ours on orders this app sent, any text (or
    none) on orders placed elsewhere."""
    return None if value is None else ExternalOrderId(value)


def order_snapshot(order: Any) -> OrderSnapshot:
    """A placed SDK order (REST or account stream) as an :class:`OrderSnapshot`."""
    order_id = BrokerOrderId(str(_get(order, "id", "order")))
    what = f"order {order_id}"
    legs = order_legs(order, what)
    size = _int(order.size, what, "size") if getattr(order, "size", None) else \
        math.gcd(*(leg.quantity for leg in legs))
    if size <= 0:
        raise BrokerPayloadError(what, "size", f"must be positive, got {size}")
    status_text = _status_text(_get(order, "status", what))
    filled = filled_units(order, legs, size)
    if status_text in WORKING_STATUSES:
        status = OrderStatus.PARTIALLY_FILLED if 0 < filled < size else OrderStatus.WORKING
        if filled >= size:
            status = OrderStatus.FILLED
    elif status_text in _TERMINAL_STATUSES:
        status = _TERMINAL_STATUSES[status_text]
        if status is OrderStatus.CANCELLED and getattr(order, "replacing_order_id", None):
            status = OrderStatus.REPLACED
    else:
        raise BrokerPayloadError(what, "status", f"unknown status {status_text!r}")
    price = getattr(order, "price", None)
    replaces = getattr(order, "replaces_order_id", None)
    return OrderSnapshot(
        order_id=order_id, external_id=_external_id(getattr(order, "external_identifier", None)),
        underlying=_get(order, "underlying_symbol", what), legs=legs,
        price=Decimal(price) if price is not None else Decimal("0"), status=status,
        filled_quantity=filled, quantity=size, fills=order_fills(order, order_id),
        reject_reason=getattr(order, "reject_reason", None),
        replaces_order_id=BrokerOrderId(str(replaces)) if replaces is not None else None,
        updated_at=_utc(getattr(order, "updated_at", None)),
        source=getattr(order, "source", None))


def dry_run_result(response: Any) -> DryRunResult:
    bpe = _get(response, "buying_power_effect", "dry run")
    fees = getattr(response, "fee_calculation", None)
    return DryRunResult(
        buying_power_effect=Decimal(_get(bpe, "change_in_buying_power", "dry run")),
        fees=abs(Decimal(fees.total_fees)) if fees is not None else Decimal("0"),
        warnings=tuple(str(w) for w in response.warnings or ()),
        errors=tuple(str(e) for e in response.errors or ()))


def position(raw: Any) -> BrokerPosition:
    symbol = _get(raw, "symbol", "position")
    what = f"position {symbol}"
    qty = _int(_get(raw, "quantity", what), what, "quantity")
    direction = str(getattr(raw, "quantity_direction", "Long"))
    if direction == "Short":
        qty = -abs(qty)
    elif direction == "Zero":
        qty = 0
    elif direction != "Long":
        raise BrokerPayloadError(what, "quantity-direction", f"unknown value {direction!r}")
    mark = getattr(raw, "mark_price", None) or getattr(raw, "mark", None) or \
        getattr(raw, "close_price", None)
    return BrokerPosition(
        symbol=symbol, underlying=_get(raw, "underlying_symbol", what), quantity=qty,
        average_open_price=abs(Decimal(_get(raw, "average_open_price", what))),
        mark=Decimal(mark) if mark is not None else None,
        multiplier=_int(getattr(raw, "multiplier", 100) or 100, what, "multiplier"),
        updated_at=_utc(getattr(raw, "updated_at", None)))


def balance(raw: Any) -> Balance:
    what = "balance"
    return Balance(
        account_number=_get(raw, "account_number", what),
        net_liquidating_value=Decimal(_get(raw, "net_liquidating_value", what)),
        cash=Decimal(_get(raw, "cash_balance", what)),
        buying_power=Decimal(_get(raw, "derivative_buying_power", what)),
        maintenance_requirement=Decimal(getattr(raw, "maintenance_requirement", 0) or 0),
        updated_at=_utc(getattr(raw, "updated_at", None)))


def _ms(value: int | None, fallback: datetime) -> datetime:
    if not value:
        return fallback
    return datetime.fromtimestamp(value / 1000, UTC)


def quote(event: Any, now: datetime) -> Quote:
    bid_time = getattr(event, "bid_time", 0) or 0
    ask_time = getattr(event, "ask_time", 0) or 0
    return Quote(symbol=event.event_symbol, bid=Decimal(event.bid_price),
                 ask=Decimal(event.ask_price), time=_ms(max(bid_time, ask_time), now),
                 bid_size=int(event.bid_size or 0), ask_size=int(event.ask_size or 0))


def greeks(event: Any, now: datetime) -> Greeks:
    return Greeks(symbol=event.event_symbol, price=float(event.price),
                  iv=float(event.volatility), delta=float(event.delta),
                  gamma=float(event.gamma), theta=float(event.theta), vega=float(event.vega),
                  rho=float(event.rho), time=_ms(getattr(event, "time", 0), now))


def market_price(data: Any) -> Decimal | None:
    """Best price from a REST market-data item: mark, else mid, else last."""
    for name in ("mark", "mid", "last", "close"):
        value = getattr(data, name, None)
        if value is not None and Decimal(value) > 0:
            return Decimal(value)
    bid, ask = getattr(data, "bid", None), getattr(data, "ask", None)
    if bid is not None and ask is not None:
        return (Decimal(bid) + Decimal(ask)) / 2
    return None


def _rank(raw: Any) -> Decimal:
    for name in ("tw_implied_volatility_index_rank", "implied_volatility_index_rank",
                 "tos_implied_volatility_index_rank"):
        value = getattr(raw, name, None)
        if value in (None, ""):
            continue
        try:
            rank = Decimal(str(value))
        except InvalidOperation as exc:
            raise BrokerPayloadError(f"market metrics {raw.symbol}", name.replace("_", "-"),
                                     f"not a number: {value!r}") from exc
        # tastytrade sends ranks as fractions of 1; the domain uses 0..100
        return min(Decimal("100"), max(Decimal("0"), rank * 100 if rank <= 1 else rank))
    return Decimal("0")


def _next_ex_date(metric: Any, today: date) -> date | None:
    """The coming ex-dividend date: tastytrade's ``dividend-ex-date`` is the latest announced
    one (it stays on the last past date until the next is announced), ``dividend-next-date``
    an estimate; the earliest of them not in the past."""
    dates = [d for d in (getattr(metric, "dividend_ex_date", None),
                         getattr(metric, "dividend_next_date", None))
             if d is not None and d >= today]
    return min(dates) if dates else None


def underlying_info(metric: Any, price: Decimal, today: date, trend: float = 0.0) -> UnderlyingInfo:
    """Market metrics as :class:`UnderlyingInfo`; ``trend`` comes from the daily candles."""
    earnings = getattr(metric, "earnings", None)
    liquidity = getattr(metric, "liquidity_rating", None)
    rate = getattr(metric, "dividend_rate_per_share", None)
    return UnderlyingInfo(
        symbol=metric.symbol, price=price, iv_rank=_rank(metric),
        iv=float(metric.implied_volatility_index or 0),
        beta=float(metric.beta) if metric.beta is not None else 1.0,
        liquidity=min(4, max(0, int(liquidity))) if liquidity is not None else 3,
        earnings=getattr(earnings, "expected_report_date", None) if earnings else None,
        dividend_yield=float(getattr(metric, "dividend_yield", None) or 0),
        trend=trend, ex_dividend_date=_next_ex_date(metric, today),
        dividend_amount=abs(Decimal(rate)) if rate is not None else Decimal("0"))


def trend_vol(metric: Any) -> float:
    """The volatility a trend is measured against: the IV index (the paper market uses its
    long-run implied volatility), else 30-day historical volatility."""
    for name in ("implied_volatility_index", "historical_volatility_30_day"):
        value = getattr(metric, name, None)
        if value is not None and value > 0:
            return float(value)
    return 0.0


def tick_table(sizes: Iterable[Any] | None) -> TickTable | None:
    """tastytrade's tick sizes (``value``, optional ``threshold``) as a :class:`TickTable`.

    An entry with a threshold applies to prices below it; the entry without one to prices at
    or above the last threshold. None when the instrument publishes no table.
    """
    entries = list(sizes or ())
    if not entries:
        return None
    bounded = sorted((e for e in entries if e.threshold is not None), key=lambda e: e.threshold)
    open_ended = [e for e in entries if e.threshold is None]
    if len(open_ended) > 1:
        raise BrokerPayloadError("tick sizes", "threshold", "more than one entry without one")
    bands = []
    for entry in [*bounded, *open_ended]:
        value = Decimal(entry.value)
        if value <= 0:
            raise BrokerPayloadError("tick sizes", "value", f"must be positive, got {value}")
        below = Decimal(entry.threshold) if entry.threshold is not None else None
        bands.append(TickBand(value.normalize(), None if below is None else below.normalize()))
    return TickTable(tuple(bands))


def standard_chain(nested: Iterable[Any], symbol: str) -> Any:
    items = list(nested)
    if not items:
        raise BrokerPayloadError(f"option chain {symbol}", "items", "empty")
    return next((c for c in items if c.root_symbol == symbol
                 and str(c.option_chain_type) == "Standard"), items[0])


def expirations(nested: Iterable[Any], symbol: str, today: date) -> list[Expiration]:
    """The listed expirations of the SDK's nested chain, ascending, without strikes."""
    chain = standard_chain(nested, symbol)
    return sorted((Expiration(date=exp.expiration_date, dte=(exp.expiration_date - today).days,
                              monthly=str(exp.expiration_type) == "Regular",
                              settlement=str(exp.settlement_type or "PM"))
                   for exp in chain.expirations), key=lambda e: e.date)


def option_chain(nested: Iterable[Any], underlying: UnderlyingInfo, today: date,
                 min_dte: int, max_dte: int, quotes: Mapping[str, Quote],
                 greeks_by_symbol: Mapping[str, Greeks], as_of: datetime,
                 open_interest: Mapping[str, int]) -> OptionChain:
    """Build an :class:`OptionChain` from the SDK's nested chain, with the streamed quotes,
    greeks and open interest known so far (keyed by streamer symbol)."""
    chain = standard_chain(nested, underlying.symbol)
    expirations = []
    for exp in chain.expirations:
        dte = (exp.expiration_date - today).days
        if not min_dte <= dte <= max_dte:
            continue
        strikes = []
        for raw in sorted(exp.strikes, key=lambda s: s.strike_price):
            price = Decimal(raw.strike_price).normalize()
            contracts = {}
            sides = ((OptionType.CALL, raw.call, raw.call_streamer_symbol),
                     (OptionType.PUT, raw.put, raw.put_streamer_symbol))
            for kind, occ_name, stream_name in sides:
                contracts[kind] = OptionContract(
                    symbol=occ_name, streamer_symbol=stream_name, underlying=underlying.symbol,
                    expiry=exp.expiration_date, strike=price, option_type=kind,
                    quote=quotes.get(stream_name), greeks=greeks_by_symbol.get(stream_name),
                    open_interest=open_interest.get(stream_name, 0))
            strikes.append(Strike(price=price, call=contracts[OptionType.CALL],
                                  put=contracts[OptionType.PUT]))
        expirations.append(Expiration(
            date=exp.expiration_date, dte=dte, monthly=str(exp.expiration_type) == "Regular",
            settlement=str(exp.settlement_type or "PM"), strikes=tuple(strikes)))
    expirations.sort(key=lambda e: e.date)
    return OptionChain(underlying=underlying, expirations=tuple(expirations), as_of=as_of)


def _leg(leg: OrderLeg) -> Any:
    from tastytrade.order import InstrumentType
    from tastytrade.order import Leg as SdkLeg
    from tastytrade.order import OrderAction as SdkAction

    if leg.quantity <= 0:
        raise ValueError(f"leg {leg.symbol}: quantity must be positive, got {leg.quantity}")
    kind = InstrumentType.EQUITY_OPTION if len(leg.symbol) == 21 else InstrumentType.EQUITY
    return SdkLeg(instrument_type=kind, symbol=leg.symbol, action=SdkAction(leg.action.value),
                  quantity=leg.quantity)


def limit_order(legs: Iterable[OrderLeg], price: Decimal, external_id: ExternalOrderId | None,
                source: str, time_in_force: TimeInForce = TimeInForce.DAY) -> Any:
    """A limit order in the SDK's model; ``price`` signed (credit +, debit -)."""
    from tastytrade.order import LimitOrder, OrderTimeInForce

    sdk_legs = [_leg(leg) for leg in legs]
    if not sdk_legs:
        raise ValueError("order: legs must not be empty")
    if price == 0:
        raise ValueError("order: price must not be zero (credit positive, debit negative)")
    return LimitOrder(time_in_force=OrderTimeInForce(time_in_force.value), legs=sdk_legs,
                      price=price, external_identifier=external_id, source=source)


def time_in_force(order: Any) -> TimeInForce:
    """A placed order's time in force; tastytrade's extended-hours variants of Day and GTC map
    to the plain ones (options trade in the regular session only)."""
    text = _status_text(getattr(order, "time_in_force", None) or "Day")
    return TimeInForce.GTC if text.startswith("GTC") else TimeInForce.DAY


def request_order(request: OrderRequest) -> Any:
    if not request.external_id:
        raise ValueError("order: external_id is required (it is how an order is found again)")
    return limit_order(request.legs, request.price, request.external_id, request.source,
                       request.time_in_force)
