"""Pure mapping and classification, on SDK models built from the fake's wire payloads."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from tastytrade.account import AccountBalance, CurrentPosition
from tastytrade.order import PlacedOrder
from tastytrade.utils import TastytradeError

from tastydesk.engine.broker.tastytrade import BrokerPayloadError, mapping
from tastydesk.engine.broker.tastytrade.errors import FailureKind, classify
from tastydesk.engine.broker.tastytrade.ratelimit import Backoff, RateLimiter
from tastydesk.engine.domain.enums import OrderAction, OrderStatus
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest
from tests.fake_tastytrade import payloads as p
from tests.fake_tastytrade.server import FakeTastytrade

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SHORT, LONG = "SPY   260320C00610000", "SPY   260320C00620000"


def _order(status: str = "Live", **extra) -> dict:
    fake = FakeTastytrade(today=date(2026, 3, 2), now=lambda: NOW)
    legs = [{"symbol": SHORT, "action": "Sell to Open", "quantity": 2},
            {"symbol": LONG, "action": "Buy to Open", "quantity": 2}]
    body = fake._create_order(legs, Decimal("-1.25"), "ext-1", "tastydesk", status=status)
    body.update(extra)
    return copy.deepcopy(body)


@pytest.mark.parametrize(("status", "expected"), [
    ("Received", OrderStatus.WORKING), ("Routed", OrderStatus.WORKING),
    ("In Flight", OrderStatus.WORKING), ("Live", OrderStatus.WORKING),
    ("Contingent", OrderStatus.WORKING), ("Cancel Requested", OrderStatus.WORKING),
    ("Replace Requested", OrderStatus.WORKING), ("Filled", OrderStatus.FILLED),
    ("Cancelled", OrderStatus.CANCELLED), ("Rejected", OrderStatus.REJECTED),
    ("Expired", OrderStatus.EXPIRED), ("Removed", OrderStatus.CANCELLED),
])
def test_status_mapping(status, expected):
    snap = mapping.order_snapshot(PlacedOrder(**_order(status)))
    assert snap.status is expected


def test_order_fields_and_debit_sign():
    snap = mapping.order_snapshot(PlacedOrder(**_order()))
    assert snap.price == Decimal("-1.25")  # debit negative
    assert snap.quantity == 2 and snap.filled_quantity == 0
    assert snap.external_id == "ext-1" and snap.source == "tastydesk"
    assert snap.legs == (OrderLeg(SHORT, OrderAction.SELL_TO_OPEN, 2),
                         OrderLeg(LONG, OrderAction.BUY_TO_OPEN, 2))


def test_replaced_order_and_partial_fill():
    raw = _order("Cancelled", **{"replacing-order-id": 77})
    assert mapping.order_snapshot(PlacedOrder(**raw)).status is OrderStatus.REPLACED
    raw = _order("Live")
    for leg in raw["legs"]:
        leg["remaining-quantity"] = "1"
        leg["fills"] = [{"fill-id": f"F-{leg['symbol'][-5:]}", "quantity": "1",
                         "fill-price": "3.10", "filled-at": p.iso(NOW)}]
    snap = mapping.order_snapshot(PlacedOrder(**raw))
    assert snap.status is OrderStatus.PARTIALLY_FILLED and snap.filled_quantity == 1
    assert len(snap.fills) == 2 and snap.fills[0].price == Decimal("3.10")
    assert snap.fills[0].time == NOW


def test_bad_order_payload_names_the_field():
    raw = PlacedOrder(**_order())
    raw.legs[0].quantity = Decimal("1.5")
    with pytest.raises(BrokerPayloadError, match=r"legs\[0\]\.quantity"):
        mapping.order_snapshot(raw)


def test_position_sign_and_balance():
    short = CurrentPosition(**p.position("A", SHORT, "SPY", -3, Decimal("2.5"),
                                         Decimal("2.1"), NOW))
    pos = mapping.position(short)
    assert pos.quantity == -3 and pos.average_open_price == Decimal("2.500")
    assert pos.mark == Decimal("2.100") and pos.multiplier == 100
    assert mapping.position(CurrentPosition(**p.position("A", LONG, "SPY", 2, Decimal("1"),
                                                         Decimal("1"), NOW))).quantity == 2
    bal = mapping.balance(AccountBalance(**p.balance("A", Decimal("100"), Decimal("150"),
                                                     Decimal("90"), Decimal("10"), NOW)))
    assert (bal.cash, bal.net_liquidating_value, bal.buying_power,
            bal.maintenance_requirement) == (Decimal("100"), Decimal("150"), Decimal("90"),
                                             Decimal("10"))


def test_unknown_quantity_direction_is_a_named_error():
    raw = CurrentPosition(**p.position("A", SHORT, "SPY", 1, Decimal("1"), Decimal("1"), NOW))
    raw.quantity_direction = "Sideways"
    with pytest.raises(BrokerPayloadError, match="quantity-direction"):
        mapping.position(raw)


def test_limit_order_builder_validates_and_signs():
    request = OrderRequest("SPY", (OrderLeg(SHORT, OrderAction.SELL_TO_OPEN, 1),),
                           Decimal("-0.75"), "ext-9")
    body = mapping.request_order(request).model_dump(mode="json", by_alias=True,
                                                     exclude_none=True)
    assert body["price"] == "0.75" and body["price-effect"] == "Debit"
    assert body["external-identifier"] == "ext-9" and body["source"] == "tastydesk"
    assert body["legs"][0]["instrument-type"] == "Equity Option"
    with pytest.raises(ValueError, match="external_id"):
        mapping.request_order(OrderRequest("SPY", request.legs, Decimal("1"), ""))
    with pytest.raises(ValueError, match="price"):
        mapping.request_order(OrderRequest("SPY", request.legs, Decimal("0"), "x"))
    with pytest.raises(ValueError, match="quantity"):
        mapping.request_order(OrderRequest(
            "SPY", (OrderLeg(SHORT, OrderAction.SELL_TO_OPEN, 0),), Decimal("1"), "x"))


@pytest.mark.parametrize(("exc", "status", "path", "kind"), [
    (TastytradeError("invalid_symbol: bad\n"), 400, "/accounts/A/orders", FailureKind.REJECTED),
    (TastytradeError("preflight_check_failure: no\n"), 422, "/x", FailureKind.REJECTED),
    (TastytradeError("Couldn't parse response: "), 429, "/x", FailureKind.UNKNOWN),
    (TastytradeError("Couldn't parse response: <html>"), 502, "/x", FailureKind.UNKNOWN),
    (TastytradeError("Couldn't parse response: <html>"), 403, "/x", FailureKind.UNKNOWN),
    (TimeoutError(), None, None, FailureKind.UNKNOWN),
    (KeyError("data"), 200, "/x", FailureKind.UNKNOWN),
    (TastytradeError("token_invalid: expired\n"), 401, "/x", FailureKind.AUTH),
    (TastytradeError("Couldn't parse response: {'error_code': 'invalid_grant'}"), 400,
     "/oauth/token", FailureKind.LOGIN),
    (TastytradeError("Couldn't parse response: x"), 503, "/oauth/token", FailureKind.UNKNOWN),
])
def test_classification(exc, status, path, kind):
    assert classify(exc, status, path).kind is kind


def test_backoff_grows_with_jitter_and_cap():
    import random

    backoff = Backoff(0.1, 1.0, random.Random(3))
    delays = [backoff.delay(n) for n in range(8)]
    assert all(0.05 <= d <= 1.0 for d in delays)
    assert delays[3] > delays[0] and max(delays) <= 1.0
    with pytest.raises(ValueError):
        Backoff(0, 1)


async def test_rate_limiter_paces_bursts():
    import time

    limiter = RateLimiter(rate=50, burst=2)
    start = time.monotonic()
    for _ in range(7):
        await limiter.acquire()
    assert time.monotonic() - start >= 0.09  # 5 tokens beyond the burst at 50/s
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(rate=0)


def test_importing_the_adapter_does_not_import_the_sdk():
    import subprocess
    import sys

    code = ("import sys, tastydesk.engine.broker.tastytrade.adapter, "
            "tastydesk.engine.broker.tastytrade.credentials; "
            "sys.exit(1 if 'tastytrade' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_time_in_force_travels_both_ways():
    from tastydesk.engine.domain.instruments import TimeInForce

    request = OrderRequest("SPY", (OrderLeg(SHORT, OrderAction.SELL_TO_OPEN, 1),),
                           Decimal("1.05"), "ext-3", time_in_force=TimeInForce.GTC)
    body = mapping.request_order(request).model_dump(mode="json", by_alias=True,
                                                     exclude_none=True)
    assert body["time-in-force"] == "GTC"
    default = OrderRequest("SPY", request.legs, Decimal("1.05"), "ext-4")
    assert mapping.request_order(default).time_in_force.value == "Day"
    for wire, expected in (("GTC", TimeInForce.GTC), ("GTC Ext", TimeInForce.GTC),
                           ("Day", TimeInForce.DAY), ("Ext", TimeInForce.DAY)):
        order = PlacedOrder(**_order(**{"time-in-force": wire}))
        assert mapping.time_in_force(order) is expected


def test_tick_table_from_unordered_entries_and_bad_tables():
    from tastytrade.instruments import TickSize

    from tastydesk.engine.domain.instruments import TickBand

    table = mapping.tick_table([TickSize(value=Decimal("0.10")),
                                TickSize(value=Decimal("0.05"), threshold=Decimal("3.00"))])
    assert table is not None
    assert table.bands == (TickBand(Decimal("0.05"), Decimal("3")), TickBand(Decimal("0.1")))
    assert table.tick_for(Decimal("-2.95")) == Decimal("0.05")  # signed prices: magnitude
    assert mapping.tick_table(None) is None and mapping.tick_table([]) is None
    with pytest.raises(BrokerPayloadError, match="value"):
        mapping.tick_table([TickSize(value=Decimal("0"))])
    with pytest.raises(BrokerPayloadError, match="threshold"):
        mapping.tick_table([TickSize(value=Decimal("0.01")), TickSize(value=Decimal("0.05"))])


def test_underlying_info_takes_the_coming_ex_date():
    from tastytrade.metrics import MarketMetricInfo

    today = date(2026, 3, 2)
    raw = p.market_metric("SPY", 0.16, NOW, None, "-0.31", {
        "dividend-rate-per-share": "1.76", "dividend-ex-date": "2026-01-20",
        "dividend-next-date": "2026-03-20"})
    info = mapping.underlying_info(MarketMetricInfo(**raw), Decimal("600"), today, 0.4)
    assert info.beta == -0.31 and info.trend == 0.4
    assert info.ex_dividend_date == date(2026, 3, 20)
    assert info.dividend_amount == Decimal("1.76")
    announced = dict(raw, **{"dividend-ex-date": "2026-03-10"})
    assert mapping.underlying_info(MarketMetricInfo(**announced), Decimal("600"),
                                   today).ex_dividend_date == date(2026, 3, 10)
    bare = p.market_metric("TSLA", 0.5, NOW, None, "2.05")
    info = mapping.underlying_info(MarketMetricInfo(**bare), Decimal("350"), today)
    assert info.ex_dividend_date is None and info.dividend_amount == 0 and info.trend == 0.0
