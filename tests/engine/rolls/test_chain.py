"""Order chains: a roll keeps the position's identity; credits, debits, fees, realised P&L and
days held add up over the entry, its rolls and its close."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tastydesk.engine.domain.enums import OrderAction, OrderPurpose, OrderStatus
from tastydesk.engine.domain.orders import OrderLeg
from tastydesk.engine.domain.records import FillRecord, OrderRecord
from tastydesk.engine.positions.chain import chain_totals, chains

T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
D = Decimal
OLD_S, OLD_L = "SPY   260220P00570000", "SPY   260220P00565000"
NEW_S, NEW_L = "SPY   260320P00570000", "SPY   260320P00565000"


def order(oid: int, purpose: OrderPurpose, days: int, legs: tuple[OrderLeg, ...],
          fees: str = "2.00", filled: int = 1) -> OrderRecord:
    at = T0 + timedelta(days=days)
    return OrderRecord(oid, 7, None, purpose, f"td-{oid}", str(oid), OrderStatus.FILLED, D("0"),
                       1, filled, 0, "SPY", legs, at, at, fees=D(fees))


def fill(oid: int, days: int, symbol: str, action: OrderAction, price: str) -> FillRecord:
    return FillRecord(oid * 10 + len(symbol), f"f{oid}{symbol}", oid, 7, symbol, action, 1,
                      D(price), T0 + timedelta(days=days))


STO, BTO, BTC, STC = (OrderAction.SELL_TO_OPEN, OrderAction.BUY_TO_OPEN,
                      OrderAction.BUY_TO_CLOSE, OrderAction.SELL_TO_CLOSE)
OPEN = order(1, OrderPurpose.OPEN, 0, (OrderLeg(OLD_S, STO, 1), OrderLeg(OLD_L, BTO, 1)))
ROLL = order(2, OrderPurpose.ROLL, 20, (OrderLeg(OLD_S, BTC, 1), OrderLeg(OLD_L, STC, 1),
                                        OrderLeg(NEW_S, STO, 1), OrderLeg(NEW_L, BTO, 1)), "4.00")
CLOSE = order(3, OrderPurpose.CLOSE, 35, (OrderLeg(NEW_S, BTC, 1), OrderLeg(NEW_L, STC, 1)))
FILLS = [fill(1, 0, OLD_S, STO, "1.50"), fill(1, 0, OLD_L, BTO, "1.00"),   # 0.50 credit
         fill(2, 20, OLD_S, BTC, "2.00"), fill(2, 20, OLD_L, STC, "1.20"),  # 0.80 debit
         fill(2, 20, NEW_S, STO, "2.60"), fill(2, 20, NEW_L, BTO, "1.80"),  # 0.80 credit
         fill(3, 35, NEW_S, BTC, "0.40"), fill(3, 35, NEW_L, STC, "0.10")]  # 0.30 debit


def test_a_rolled_position_keeps_its_chain_and_realises_the_rolled_legs() -> None:
    open_now = chain_totals(7, [OPEN, ROLL], FILLS[:6], T0 + timedelta(days=30))
    assert open_now.closed_at is None and open_now.rolls == 1 and open_now.orders == 2
    assert open_now.credits == D("150") + D("120") + D("260")
    assert open_now.debits == D("100") + D("200") + D("180")
    assert open_now.fees == D("6.00")
    # The old spread: sold for 0.50, bought back for 0.80: -$30, less all fees so far.
    assert open_now.realised_pnl == D("-36.00")
    assert open_now.opened_at == T0 and open_now.days_held == 30


def test_the_closed_chain_totals_everything() -> None:
    done = chain_totals(7, [OPEN, ROLL, CLOSE], FILLS, T0 + timedelta(days=40))
    assert done.closed_at == T0 + timedelta(days=35) and done.days_held == 35
    # 0.50 - 0.80 + 0.80 - 0.30 = 0.20 a share: $20, less $8 of fees.
    assert (done.credits, done.debits) == (D("540.00"), D("520.00"))
    assert done.net == done.realised_pnl == D("12.00")


def test_a_new_entry_starts_a_new_chain() -> None:
    again = order(4, OrderPurpose.OPEN, 50, (OrderLeg(NEW_S, STO, 1), OrderLeg(NEW_L, BTO, 1)))
    unfilled = order(5, OrderPurpose.OPEN, 45, (), filled=0)
    found = chains(7, [OPEN, ROLL, CLOSE, unfilled, again],
                   [*FILLS, fill(4, 50, NEW_S, STO, "1.00"), fill(4, 50, NEW_L, BTO, "0.70")],
                   T0 + timedelta(days=60))
    assert [c.opened_at for c in found] == [T0, T0 + timedelta(days=50)]
    assert found[0].realised_pnl == D("12.00") and found[1].closed_at is None
    assert found[1].credits == D("100") and found[1].rolls == 0
