"""Fault injection on the fake: ambiguous outcomes, stream drops, silence, auth loss."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tastydesk.engine.broker.tastytrade import LoginRequired
from tastydesk.engine.domain.enums import CommandOutcome, OrderStatus, StreamHealth
from tastydesk.engine.domain.events import (
    ConnectionChanged,
    FillReceived,
    OrderUpdated,
    PositionUpdated,
    QuoteReceived,
    StreamGap,
)


async def test_timeout_after_accept_is_unknown_and_resolved_by_lookup(tt_harness):
    h = tt_harness
    request = h.spread()
    h.fake.inject("place", "timeout_after_accept")
    result = await h.broker.place(request)
    assert result.outcome is CommandOutcome.UNKNOWN
    assert "no response" in result.reason
    found = await h.broker.find_order(request.external_id)
    assert found is not None and found.status is OrderStatus.WORKING
    mine = [o for o in h.fake.orders.values()
            if o.get("external-identifier") == request.external_id]
    assert len(mine) == 1
    assert h.fake.count("POST", "/orders") == 1  # never re-sent


async def test_disconnect_after_accept_is_unknown(tt_harness):
    h = tt_harness
    request = h.spread()
    h.fake.inject("place", "disconnect_after_accept")
    result = await h.broker.place(request)
    assert result.outcome is CommandOutcome.UNKNOWN
    assert (await h.broker.find_order(request.external_id)) is not None
    assert h.fake.count("POST", "/orders") == 1


@pytest.mark.parametrize("fault", ["429", "500", "bad_json"])
async def test_429_5xx_and_garbage_on_place_are_unknown_never_resent(tt_harness, fault):
    h = tt_harness
    request = h.spread()
    h.fake.inject("place", fault)
    result = await h.broker.place(request)
    assert result.outcome is CommandOutcome.UNKNOWN, result
    assert h.fake.count("POST", "/orders") == 1
    assert await h.broker.find_order(request.external_id) is None  # proven absent
    assert not h.fake.orders or all(o.get("external-identifier") != request.external_id
                                    for o in h.fake.orders.values())


async def test_api_error_on_place_is_rejected_with_reason(tt_harness):
    h = tt_harness
    h.fake.reject_next("place", "Order price is outside the allowed band")
    result = await h.broker.place(h.spread())
    assert result.outcome is CommandOutcome.REJECTED
    assert "preflight_check_failure" in result.reason and "allowed band" in result.reason


async def test_reads_retry_through_429_and_5xx(tt_harness):
    h = tt_harness
    h.fake.inject("live_orders", "429", "500")
    assert await h.broker.live_orders() == []
    assert h.fake.count("GET", "/orders/live") >= 3


async def test_reads_give_up_after_their_retries(tt_factory):
    from tastydesk.engine.broker.tastytrade import BrokerUnavailable

    h = tt_factory(read_retries=1)
    await h.broker.connect()
    try:
        h.fake.inject("positions", "500", "500")
        with pytest.raises(BrokerUnavailable, match="positions"):
            await h.broker.positions()
    finally:
        await h.broker.close()


async def test_rejected_replace_leaves_original_working_at_old_price(tt_harness):
    h = tt_harness
    placed = await h.broker.place(h.spread())
    order_id = placed.order.order_id
    h.fake.reject_next("replace", "Replacement price not allowed")
    result = await h.broker.replace(order_id, Decimal("8.50"))
    assert result.outcome is CommandOutcome.REJECTED
    assert "not allowed" in result.reason
    current = await h.broker.get_order(order_id)
    assert current.status is OrderStatus.WORKING and current.price == Decimal("9.00")
    assert len(h.fake.orders) == 1


async def test_replace_after_partial_fill_is_rejected_and_original_kept(tt_harness):
    h = tt_harness
    placed = await h.broker.place(h.spread(quantity=2))
    await h.make_fill(placed.order.order_id, 1)
    result = await h.broker.replace(placed.order.order_id, Decimal("8.00"))
    assert result.outcome is CommandOutcome.REJECTED
    current = await h.broker.get_order(placed.order.order_id)
    assert current.status is OrderStatus.PARTIALLY_FILLED and current.price == Decimal("9.00")


async def test_fill_during_account_stream_outage_recovered_by_resync(tt_harness):
    h = tt_harness
    placed = await h.broker.place(h.spread())
    order_id = placed.order.order_id
    h.fake.drop_stream("account", refuse=True)
    await h.recorder.wait_for(lambda: h.broker.health()["account"] is not StreamHealth.CONNECTED)
    h.fake.fill(int(order_id))
    await h.settle()
    assert not h.recorder.of(FillReceived)  # the notification went nowhere
    h.fake.restore_stream("account")
    await h.recorder.wait_for(lambda: h.recorder.of(FillReceived))
    assert any(g.stream == "account" for g in h.recorder.of(StreamGap))
    fills = h.recorder.of(FillReceived)
    assert {f.fill.order_id for f in fills} == {order_id} and len(fills) == 2  # one per leg
    assert h.recorder.of(OrderUpdated)[-1].order.status is OrderStatus.FILLED
    assert {p.position.symbol for p in h.recorder.of(PositionUpdated)} == \
        {leg.symbol for leg in placed.order.legs}
    assert h.broker.health()["account"] is StreamHealth.CONNECTED


async def test_account_stream_drop_reconnects_without_duplicate_fills(tt_harness):
    h = tt_harness
    placed = await h.broker.place(h.spread())
    await h.make_fill(placed.order.order_id)
    fills = len(h.recorder.of(FillReceived))
    h.fake.drop_stream("account")
    await h.recorder.wait_for(lambda: any(g.stream == "account"
                                          for g in h.recorder.of(StreamGap)))
    await h.settle()
    assert len(h.recorder.of(FillReceived)) == fills  # re-sync dedupes by fill id


async def test_staleness_watchdog_reconnects_silent_dxlink(tt_harness):
    h = tt_harness
    await h.broker.subscribe(["SPY"])
    await h.recorder.wait_for(lambda: h.recorder.of(QuoteReceived))
    connects = h.fake.connects["dxlink"]
    h.fake.silence_stream("dxlink")
    await h.recorder.wait_for(
        lambda: any(e.stream == "market" and e.health is StreamHealth.STALE
                    for e in h.recorder.of(ConnectionChanged)), timeout=4)
    await h.recorder.wait_for(lambda: h.fake.connects["dxlink"] > connects
                              and h.broker.health()["market"] is StreamHealth.CONNECTED)
    before = len(h.recorder.of(QuoteReceived))
    h.fake.push_quote("SPY", Decimal("601.00"), Decimal("601.02"))
    await h.recorder.wait_for(lambda: any(q.quote.bid == Decimal("601.00")
                                          for q in h.recorder.of(QuoteReceived)[before:]))
    assert any(g.stream == "market" for g in h.recorder.of(StreamGap))


async def test_dxlink_drop_resubscribes(tt_harness):
    h = tt_harness
    await h.broker.subscribe(["AAPL"])
    await h.recorder.wait_for(lambda: h.recorder.of(QuoteReceived))
    h.fake.drop_stream("dxlink", code=1012)
    await h.recorder.wait_for(lambda: any(g.stream == "market"
                                          for g in h.recorder.of(StreamGap)))
    h.fake.push_quote("AAPL", Decimal("231.00"), Decimal("231.05"))
    await h.recorder.wait_for(lambda: any(q.quote.bid == Decimal("231.00")
                                          for q in h.recorder.of(QuoteReceived)))


async def test_account_heartbeat_is_sent_and_acked(tt_harness):
    h = tt_harness
    await h.recorder.wait_for(lambda: h.fake.heartbeats() >= 2, timeout=2)


async def test_silent_account_stream_is_reconnected(tt_harness):
    h = tt_harness
    connects = h.fake.connects["account"]
    h.fake.silence_stream("account")
    await h.recorder.wait_for(lambda: h.fake.connects["account"] > connects
                              and h.broker.health()["account"] is StreamHealth.CONNECTED,
                              timeout=5)


async def test_expired_access_token_is_refreshed_transparently(tt_harness):
    h = tt_harness
    h.fake.expire_access_tokens()
    placed = await h.broker.place(h.spread())
    assert placed.outcome is CommandOutcome.ACCEPTED
    assert h.fake.count("POST", "/orders") == 2  # the 401 attempt and the accepted one
    assert len(h.fake.orders) == 1


async def test_revoked_token_raises_login_required_and_reports_health(tt_harness):
    h = tt_harness
    h.fake.revoke_refresh_token()
    with pytest.raises(LoginRequired, match="invalid_grant"):
        await h.broker.live_orders()
    events = [e for e in h.recorder.of(ConnectionChanged) if e.stream == "rest"]
    assert events[-1].health is StreamHealth.DISCONNECTED
    assert events[-1].detail.startswith("login required: ")
    with pytest.raises(LoginRequired):
        await h.broker.place(h.spread())
    assert h.fake.count("POST", "/orders") == 0
    token_calls = h.fake.count("POST", "/oauth/token")
    await h.settle()
    assert h.fake.count("POST", "/oauth/token") == token_calls  # no login loop


async def test_connect_with_revoked_token_fails_cleanly(tt_factory):
    h = tt_factory()
    h.fake.revoke_refresh_token()
    with pytest.raises(LoginRequired):
        await h.broker.connect()
    assert h.broker.health() == {"market": StreamHealth.DISCONNECTED,
                                 "account": StreamHealth.DISCONNECTED}


async def test_invalid_notification_is_skipped_not_fatal(tt_harness, caplog):
    h = tt_harness
    placed = await h.broker.place(h.spread())
    bad = dict(h.fake.orders[int(placed.order.order_id)])
    del bad["underlying-symbol"]
    h.fake._notify("Order", bad)
    await h.make_fill(placed.order.order_id)
    assert "underlying_symbol" in caplog.text or "underlying-symbol" in caplog.text
    assert h.broker.health()["account"] is StreamHealth.CONNECTED
