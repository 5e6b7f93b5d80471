"""Open interest in strike selection, the ex-dividend warning on short calls, the paper trend
from the shared formula, and betas from market metrics in the position book."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from tastydesk.engine.broker.paper.history import PriceHistory
from tastydesk.engine.domain.chain import Strike, UnderlyingInfo
from tastydesk.engine.domain.enums import OptionType, SelectionMethod, Side, Trigger
from tastydesk.engine.domain.proposal import ResolvedLeg
from tastydesk.engine.domain.trend import trend_signal
from tastydesk.engine.proposals.warnings import dividend_warnings
from tastydesk.engine.selection import select_strike
from tests.engine.test_selection import EXPIRY, NOW, SPOT, _contract, _expiration, _leg
from tests.kit.world import world

D = Decimal


def _strike_oi(price: str, put_delta: float, bid: str, ask: str, oi: int) -> Strike:
    p = D(price)
    return Strike(p, _contract(p, OptionType.CALL, 1 + put_delta, bid, ask, oi=oi),
                  _contract(p, OptionType.PUT, put_delta, bid, ask, oi=oi))


def test_strikes_below_the_minimum_open_interest_are_passed_over() -> None:
    exp = _expiration(_strike_oi("90", -0.10, "0.40", "0.45", 900),
                      _strike_oi("95", -0.30, "1.20", "1.30", 12),  # the 0.30 delta: illiquid
                      _strike_oi("97", -0.33, "1.60", "1.70", 700))
    leg = _leg(OptionType.PUT, SelectionMethod.DELTA, "0.3")
    picked, _ = select_strike(exp, leg, SPOT, (), NOW, 120.0, min_open_interest=100)
    assert picked.strike == D("97")
    picked, _ = select_strike(exp, leg, SPOT, (), NOW, 120.0)  # no minimum: the closest delta
    assert picked.strike == D("95")
    thin = _expiration(_strike_oi("95", -0.30, "1.20", "1.30", 12))
    picked, _ = select_strike(thin, leg, SPOT, (), NOW, 120.0, min_open_interest=100)
    assert picked.strike == D("95")  # nothing liquid: the proposal warns instead


def _resolved(option_type: OptionType, side: Side, strike: str) -> ResolvedLeg:
    return ResolvedLeg(f"SPY {strike}", "", option_type, side, D(strike), EXPIRY, 1, D("1"),
                       D("1.1"), D("1.05"), 0.3, 0.0, 0.0, 0.0, 0.2)


def test_an_ex_dividend_date_before_expiry_warns_on_a_short_call_only() -> None:
    ex = EXPIRY - timedelta(days=10)
    under = UnderlyingInfo("SPY", SPOT, ex_dividend_date=ex, dividend_amount=D("1.75"))
    legs = [_resolved(OptionType.CALL, Side.SELL, "105"), _resolved(OptionType.CALL, Side.BUY,
                                                                    "110"),
            _resolved(OptionType.PUT, Side.SELL, "95")]
    (warning,) = dividend_warnings(under, legs, NOW)
    assert warning.startswith(f"ex-dividend on {ex:%Y-%m-%d} ($1.75 a share), before the short "
                              f"105 call expires")
    after = UnderlyingInfo("SPY", SPOT, ex_dividend_date=EXPIRY + timedelta(days=3))
    assert dividend_warnings(after, legs, NOW) == []
    assert dividend_warnings(under, legs[2:], NOW) == []  # puts are not called away


def test_the_paper_trend_is_the_shared_formula() -> None:
    history = PriceHistory(1)
    closes = [100.0 + i * 0.5 for i in range(80)]
    history.recent[0].extend(closes)
    for spot, vol in ((140.0, 0.2), (95.0, 0.35)):
        expected = trend_signal([*closes[-49:], spot], vol)
        assert history.trend(0, spot, vol) == expected != 0.0


async def test_monitored_positions_take_their_beta_from_market_metrics(tmp_path: Path) -> None:
    w = await world(tmp_path)
    try:
        async def metrics(symbols: object) -> dict[str, UnderlyingInfo]:
            return {s: UnderlyingInfo(s, D("250"), beta=2.1) for s in symbols}  # type: ignore

        w.broker.market_metrics = metrics  # type: ignore[method-assign]
        wid = await w.workflow_in("TSLA", Trigger.SCAN, Trigger.PROPOSE, Trigger.APPROVE,
                                  Trigger.FILL, strategy_name="Put Credit Spread - 30 DTE")
        now = w.clock.now()
        await w.kernel.store.apply_position_fill(wid, "TSLA  260220P00200000", -1, D("3"), now)
        await w.kernel.store.apply_position_fill(wid, "TSLA  260220P00195000", 1, D("2"), now)
        await w.kernel.positions.load(wid)
        assert w.kernel.positions.get(wid).beta == 2.1
    finally:
        await w.close()


