"""Expiration, assignment, exercise and dividends read from tastytrade's transaction history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tastydesk.engine.broker.tastytrade.lifecycle import lifecycle_event
from tastydesk.engine.domain.events import PositionUpdated
from tastydesk.engine.domain.lifecycle import LifecycleKind, LifecycleOccurred
from tests.fake_tastytrade.market import occ

D = Decimal


def _option(fake, root: str, cp: str, index: int, min_dte: int = 7) -> str:
    market = fake.market
    expiry = next(e for e in market.expirations(root) if (e - market.today).days >= min_dte)
    return occ(root, expiry, cp, market.strikes(root)[index])


async def test_what_happened_while_closed_is_found_at_start_up(tt_factory):
    h = tt_factory()
    fake = h.fake
    put = _option(fake, "SPY", "P", 14)  # in the money: assigned
    call = _option(fake, "SPY", "C", 20)  # far out of the money: expired
    fake.add_position(put, -2, D("3.10"))
    fake.add_position(call, -1, D("0.40"))
    yesterday = datetime.now(UTC) - timedelta(days=1)
    fake.assign(put, at=yesterday)
    fake.expire(call, at=yesterday)
    fake.pay_dividend("SPY", D("1.76"), at=yesterday + timedelta(hours=1))
    await h.broker.connect()
    try:
        events = await h.broker.lifecycle_events(None)
        kinds = [e.kind for e in events]
        assert kinds == [LifecycleKind.ASSIGNED, LifecycleKind.SHARES_DELIVERED,
                         LifecycleKind.EXPIRED, LifecycleKind.DIVIDEND]
        assigned, shares, expired, dividend = events
        strike = fake.market.listing(put).strike
        assert (assigned.symbol, assigned.quantity, assigned.value) == (put, 2, 0)
        assert assigned.early and assigned.underlying == "SPY"
        assert "assignment" in assigned.description
        assert (shares.symbol, shares.quantity, shares.price) == ("SPY", 200, strike)
        assert shares.value == -strike * 200  # cash paid for the shares, to the cent
        assert (expired.symbol, expired.quantity, expired.value) == (call, 1, 0)
        assert (dividend.symbol, dividend.quantity, dividend.price) == ("SPY", 0, D("1.76"))
        assert dividend.value == D("1.76") * 200
        assert {p.symbol: p.quantity for p in await h.broker.positions()} == {"SPY": 200}
        later = await h.broker.lifecycle_events(expired.time)
        assert [e.kind for e in later] == [LifecycleKind.DIVIDEND]
        assert all(e.kind is not LifecycleKind.SHARES_DELIVERED or e.symbol == "SPY"
                   for e in events)  # the trade rows of the history are not lifecycle events
        assert not h.recorder.of(LifecycleOccurred)  # start-up reads them; nothing is re-sent
    finally:
        await h.broker.close()


async def test_an_assignment_during_the_session_is_published_with_the_position_change(
        tt_harness):
    h = tt_harness
    seen: list[LifecycleOccurred] = []
    h.bus.subscribe(LifecycleOccurred, seen.append)
    call = _option(h.fake, "AAPL", "C", 6)  # deep in the money
    h.fake.add_position(call, -1, D("12.00"))
    await h.recorder.wait_for(lambda: any(p.position.symbol == call
                                          for p in h.recorder.of(PositionUpdated)))
    h.fake.assign(call)
    await h.recorder.wait_for(lambda: len(seen) == 2)
    removal, delivery = (e.event for e in seen)
    assert removal.kind is LifecycleKind.ASSIGNED and removal.quantity == 1 and removal.early
    assert delivery.kind is LifecycleKind.SHARES_DELIVERED and delivery.quantity == -100
    assert delivery.value == h.fake.market.listing(call).strike * 100
    assert any(p.position.symbol == call and p.position.quantity == 0
               for p in h.recorder.of(PositionUpdated))
    h.fake.expire(_expiring(h))
    await h.recorder.wait_for(lambda: len(seen) == 3)
    assert seen[-1].event.kind is LifecycleKind.EXPIRED
    await h.settle()
    assert len(seen) == 3  # each transaction published once


def _expiring(h) -> str:
    put = _option(h.fake, "QQQ", "P", 0)
    h.fake.add_position(put, 1, D("0.05"))
    return put


async def test_a_failed_transaction_read_is_retried_by_the_next_position_update(tt_harness):
    h = tt_harness
    seen: list[LifecycleOccurred] = []
    h.bus.subscribe(LifecycleOccurred, seen.append)
    put = _option(h.fake, "SPY", "P", 20)
    reads = lambda: h.fake.count("GET", "/transactions")  # noqa: E731
    h.fake.add_position(put, -1, D("30.00"))
    await h.recorder.wait_for(lambda: reads() == 2)  # at connect, then after the update
    h.fake.inject("transactions", "500", "500", "500", "500")  # outlasts the read retries
    h.fake.assign(put)
    await h.recorder.wait_for(lambda: reads() == 6)
    await h.settle()
    assert not seen
    h.fake.add_position("SPY", 100, D("600"))  # the next position update
    await h.recorder.wait_for(lambda: len(seen) == 2)
    assert {e.event.kind for e in seen} == {LifecycleKind.ASSIGNED,
                                           LifecycleKind.SHARES_DELIVERED}


def _tx(**fields):
    from tastytrade.account import Transaction

    base = {"id": 7, "account-number": "5WT00001", "description": "", "is-estimated-fee": False,
            "executed-at": "2026-06-19T21:00:00Z", "transaction-date": "2026-06-19",
            "value": "0.0", "value-effect": "None", "net-value": "0.0",
            "net-value-effect": "None"}
    return Transaction(**(base | fields))


def test_mapping_of_sub_types_without_actions_and_cash_settlement():
    option = "SPX   260619P05000000"
    assignment = lifecycle_event(_tx(**{
        "transaction-type": "Receive Deliver", "transaction-sub-type": "Assignment",
        "symbol": option, "quantity": "1", "underlying-symbol": "SPX"}))
    assert assignment is not None and assignment.quantity == 1 and not assignment.early
    cash = lifecycle_event(_tx(**{
        "transaction-type": "Receive Deliver", "transaction-sub-type": "Cash Settled Assignment",
        "symbol": option, "quantity": "1", "action": "Buy to Close", "value": "2500.0",
        "value-effect": "Debit"}))
    assert cash is not None and cash.kind is LifecycleKind.CASH_SETTLED
    assert cash.value == D("-2500.0") and cash.quantity == 1
    trade = lifecycle_event(_tx(**{"transaction-type": "Trade",
                                   "transaction-sub-type": "Sell to Open", "symbol": option,
                                   "quantity": "1", "action": "Sell to Open"}))
    deposit = lifecycle_event(_tx(**{"transaction-type": "Money Movement",
                                     "transaction-sub-type": "Deposit", "value": "100.0",
                                     "value-effect": "Credit"}))
    assert trade is None and deposit is None


async def test_a_dividend_during_the_session_is_published_after_the_cash_change(tt_harness):
    h = tt_harness
    seen: list[LifecycleOccurred] = []
    h.bus.subscribe(LifecycleOccurred, seen.append)
    h.fake.add_position("TLT", -300, D("90"))
    await h.recorder.wait_for(lambda: any(p.position.symbol == "TLT"
                                          for p in h.recorder.of(PositionUpdated)))
    h.fake.pay_dividend("TLT", D("0.31"))  # short shares: the dividend is charged
    await h.recorder.wait_for(lambda: len(seen) == 1)
    event = seen[0].event
    assert event.kind is LifecycleKind.DIVIDEND and event.symbol == "TLT"
    assert event.value == D("-93.00") and event.price == D("0.31")


def test_a_share_row_labelled_with_the_assignment_sub_type_is_a_delivery():
    shares = lifecycle_event(_tx(**{
        "transaction-type": "Receive Deliver", "transaction-sub-type": "Assignment",
        "symbol": "SPY", "instrument-type": "Equity", "quantity": "100", "price": "590.0",
        "value": "59000.0", "value-effect": "Debit"}))
    assert shares is not None and shares.kind is LifecycleKind.SHARES_DELIVERED
    assert shares.quantity == 100 and shares.price == D("590.0")
    assert shares.value == D("-59000.0") and shares.underlying == "SPY"


async def test_a_transaction_notification_makes_the_adapter_read_the_history(tt_harness):
    h = tt_harness
    seen: list[LifecycleOccurred] = []
    h.bus.subscribe(LifecycleOccurred, seen.append)
    row = h.fake.ledger.add(kind="Money Movement", sub_type="Dividend",
                            description="ORDINARY DIVIDEND~QQQ", at=datetime.now(UTC),
                            value=D("72.00"), symbol="QQQ", underlying="QQQ",
                            instrument_type="Equity", quantity=100, price=D("0.72"))
    await h.settle()
    assert not seen  # booked, but nothing on the stream pointed at it yet
    h.fake._notify("Transaction", row)  # a notification type the SDK has no model for
    await h.recorder.wait_for(lambda: len(seen) == 1)
    assert seen[0].event.transaction_id == str(row["id"])
    assert seen[0].event.kind is LifecycleKind.DIVIDEND and seen[0].event.value == D("72.00")
