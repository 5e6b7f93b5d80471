from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tastydesk.engine.domain.chain import (
    Expiration,
    Greeks,
    OptionChain,
    OptionContract,
    Quote,
    Strike,
    UnderlyingInfo,
    occ_symbol,
    streamer_symbol,
)
from tastydesk.engine.domain.enums import ExpiryChoice, OptionType, SelectionMethod, Side
from tastydesk.engine.domain.strategy import DteRange, Strategy, StrategyLeg, StrikeSelection
from tastydesk.engine.selection import (
    DELTA_TOLERANCE,
    SelectionError,
    chain_window,
    select_expiration,
    select_offset_expiration,
    select_strike,
)

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
EXPIRY = date(2026, 12, 18)
D = Decimal


def _contract(
    strike: Decimal, option_type: OptionType, delta: float | None, bid: str | None, ask: str,
    *, age_s: float = 5.0, oi: int = 500,
) -> OptionContract:
    occ = occ_symbol("SPY", EXPIRY, option_type, strike)
    streamer = streamer_symbol("SPY", EXPIRY, option_type, strike)
    quote = None
    if bid is not None:
        quote = Quote(streamer, D(bid), D(ask), NOW - timedelta(seconds=age_s))
    greeks = None
    if delta is not None:
        greeks = Greeks(streamer, 1.0, 0.2, delta, 0.01, -0.05, 0.3, 0.01, NOW)
    return OptionContract(occ, streamer, "SPY", EXPIRY, strike, option_type, quote, greeks, oi)


def _strike(price: str, call_delta: float | None, call_bid: str | None, call_ask: str,
            put_delta: float | None, put_bid: str | None, put_ask: str, **kw: float) -> Strike:
    p = D(price)
    return Strike(
        p,
        _contract(p, OptionType.CALL, call_delta, call_bid, call_ask, **kw),
        _contract(p, OptionType.PUT, put_delta, put_bid, put_ask, **kw),
    )


def _expiration(*strikes: Strike) -> Expiration:
    return Expiration(EXPIRY, 28, True, strikes=strikes)


# spot 100: strikes 90..110 by 5, symmetric deltas
BASIC = _expiration(
    _strike("90", 0.90, "10.10", "10.30", -0.10, "0.40", "0.45"),
    _strike("95", 0.70, "6.00", "6.20", -0.30, "1.20", "1.30"),
    _strike("100", 0.50, "2.90", "3.10", -0.50, "2.90", "3.10"),
    _strike("105", 0.30, "1.20", "1.30", -0.70, "6.00", "6.20"),
    _strike("110", 0.10, "0.40", "0.45", -0.90, "10.10", "10.30"),
)
SPOT = D("100")


def _leg(option_type: OptionType, method: SelectionMethod, value: str = "0",
         ref: int | None = None, side: Side = Side.SELL) -> StrategyLeg:
    return StrategyLeg(option_type, side, StrikeSelection(method, D(value), ref))


def _pick(leg: StrategyLeg, exp: Expiration = BASIC, spot: Decimal = SPOT,
          resolved: tuple[OptionContract, ...] = ()) -> tuple[OptionContract, str]:
    return select_strike(exp, leg, spot, resolved, NOW, 120.0)


# --- expirations ---------------------------------------------------------------------------------


def _chain(*exps: tuple[date, int, bool]) -> OptionChain:
    under = UnderlyingInfo("SPY", SPOT)
    return OptionChain(under, tuple(Expiration(d, n, m) for d, n, m in exps), NOW)


CHAIN = _chain(
    (date(2026, 12, 11), 21, False),
    (date(2026, 12, 18), 28, True),
    (date(2026, 12, 24), 34, False),
    (date(2026, 12, 31), 41, False),
    (date(2027, 1, 15), 56, True),
)


def test_expiration_prefers_monthly_in_range_over_closer_weekly() -> None:
    exp = select_expiration(CHAIN, DteRange(25, 33, 40, prefer_monthly=True))
    assert exp.date == date(2026, 12, 18)  # monthly at 28 beats weekly at 34 (closer to 33)


def test_expiration_closest_to_target_without_monthly_preference() -> None:
    exp = select_expiration(CHAIN, DteRange(25, 33, 40, prefer_monthly=False))
    assert exp.date == date(2026, 12, 24)


def test_expiration_weekly_when_no_monthly_in_range() -> None:
    exp = select_expiration(CHAIN, DteRange(30, 38, 45, prefer_monthly=True))
    assert exp.date == date(2026, 12, 31)


def test_expiration_tie_goes_to_earlier_date() -> None:
    # 21 and 28 DTE... target 31 is equidistant from 28 and 34
    exp = select_expiration(CHAIN, DteRange(20, 31, 40, prefer_monthly=False))
    assert exp.date == date(2026, 12, 18)


def test_expiration_none_in_range() -> None:
    with pytest.raises(SelectionError, match="no expiration between 60 and 90 DTE"):
        select_expiration(CHAIN, DteRange(60, 75, 90))


def test_expiration_bad_range_and_empty_chain() -> None:
    with pytest.raises(SelectionError, match="min 40 is above max 30"):
        select_expiration(CHAIN, DteRange(40, 35, 30))
    with pytest.raises(SelectionError, match="has no expirations"):
        select_expiration(_chain(), DteRange(20, 30, 40))


def test_offset_expiration_for_calendars() -> None:
    base = select_expiration(CHAIN, DteRange(20, 21, 22))
    assert base.date == date(2026, 12, 11)
    far = select_offset_expiration(CHAIN, base, 14)  # target 12-25: 12-24 is 1 day away
    assert far.date == date(2026, 12, 24)
    via_range = select_expiration(CHAIN, DteRange(20, 21, 22), offset_days=35)  # target 01-15
    assert via_range.date == date(2027, 1, 15)
    # offset never returns the base itself, and a tie goes to the earlier date
    assert select_offset_expiration(CHAIN, base, 1).date == date(2026, 12, 18)
    # target 12-21 is 3 days from both 12-18 and 12-24: the earlier date wins
    assert select_offset_expiration(CHAIN, base, 10).date == date(2026, 12, 18)
    assert select_offset_expiration(CHAIN, CHAIN.expirations[2], -6).date == date(2026, 12, 18)


def test_offset_expiration_missing() -> None:
    last = CHAIN.expirations[-1]
    with pytest.raises(SelectionError, match="no expiration after 2027-01-15"):
        select_offset_expiration(CHAIN, last, 30)


def _strategy(dte: DteRange, *offsets: int) -> Strategy:
    legs = [_leg(OptionType.PUT, SelectionMethod.ATM)]
    legs += [StrategyLeg(OptionType.PUT, Side.BUY, StrikeSelection(SelectionMethod.ATM, D(0)),
                         expiry=ExpiryChoice.OFFSET, expiry_offset_days=o) for o in offsets]
    return Strategy(name="window", legs=tuple(legs), dte=dte, biases=frozenset())


@pytest.mark.parametrize(("dte", "offsets"), [
    (DteRange(20, 30, 60), ()),                       # monthly 12-18 preferred: only it
    (DteRange(20, 45, 60, prefer_monthly=False), ()),  # 12-31 nearest the target
    (DteRange(20, 21, 22), (14,)),                    # calendar: 12-11 and 12-24
    (DteRange(20, 21, 22), (35,)),
    (DteRange(30, 34, 45), (-6,)),                    # before the range: not fetched
    (DteRange(30, 41, 45), (-6,)),                    # a far leg before the base
])
def test_chain_window_holds_exactly_what_selection_picks(dte: DteRange,
                                                         offsets: tuple[int, ...]) -> None:
    strategy = _strategy(dte, *offsets)
    # What selection sees when the whole DTE range (plus the calendar offset) is fetched.
    top = dte.max + max((0, *offsets))
    whole = OptionChain(CHAIN.underlying, tuple(e for e in CHAIN.expirations
                                                if dte.min <= e.dte <= top), NOW)
    try:
        base = select_expiration(whole, dte)
        picks = [base] + [select_offset_expiration(whole, base, o) for o in offsets]
    except SelectionError:
        with pytest.raises(SelectionError):
            chain_window(CHAIN.expirations, strategy)
        return
    low, high = chain_window(CHAIN.expirations, strategy)
    assert (low, high) == (min(e.dte for e in picks), max(e.dte for e in picks))
    # Selection on the slice agrees with selection on the whole range.
    sliced = OptionChain(CHAIN.underlying, tuple(e for e in CHAIN.expirations
                                                 if low <= e.dte <= high), NOW)
    sliced_base = select_expiration(sliced, dte)
    assert sliced_base == base
    assert [select_offset_expiration(sliced, sliced_base, o) for o in offsets] == picks[1:]


def test_chain_window_without_a_qualifying_expiration() -> None:
    with pytest.raises(SelectionError, match="no expiration between 60 and 90 DTE"):
        chain_window(CHAIN.expirations, _strategy(DteRange(60, 75, 90)))
    with pytest.raises(SelectionError, match="no expiration after 2027-01-15"):
        chain_window(CHAIN.expirations, _strategy(DteRange(50, 56, 60), 30))


# --- strikes: every method -----------------------------------------------------------------------


def test_delta_picks_closest_absolute_delta() -> None:
    put, reason = _pick(_leg(OptionType.PUT, SelectionMethod.DELTA, "0.28"))
    assert put.strike == D("95") and put.option_type is OptionType.PUT
    assert "delta 0.28" in reason and "-0.300" in reason
    call, _ = _pick(_leg(OptionType.CALL, SelectionMethod.DELTA, "0.12"))
    assert call.strike == D("110")


def test_delta_tie_prefers_further_otm() -> None:
    put, _ = _pick(_leg(OptionType.PUT, SelectionMethod.DELTA, "0.20"))  # 0.10 and 0.30 tie
    assert put.strike == D("90")
    call, _ = _pick(_leg(OptionType.CALL, SelectionMethod.DELTA, "0.20"))
    assert call.strike == D("110")


def test_delta_value_out_of_range() -> None:
    for bad in ("0", "1", "1.5", "-0.2"):
        with pytest.raises(SelectionError, match=r"delta must be between 0 and 1"):
            _pick(_leg(OptionType.PUT, SelectionMethod.DELTA, bad))


def test_delta_without_greeks() -> None:
    exp = _expiration(_strike("100", None, "2.9", "3.1", None, "2.9", "3.1"))
    with pytest.raises(SelectionError, match=r"no put with delta near 0.16 .*\(greeks missing\)"):
        _pick(_leg(OptionType.PUT, SelectionMethod.DELTA, "0.16"), exp)


def test_delta_too_far_from_any_strike() -> None:
    exp = _expiration(_strike("100", 0.5, "2.9", "3.1", -0.5, "2.9", "3.1"))
    assert DELTA_TOLERANCE < 0.34
    with pytest.raises(SelectionError, match=r"closest is 0\.50 at strike 100"):
        _pick(_leg(OptionType.PUT, SelectionMethod.DELTA, "0.16"), exp)


def test_delta_skips_contracts_without_greeks() -> None:
    exp = _expiration(
        _strike("90", 0.9, "10", "10.2", None, "0.4", "0.45"),
        _strike("95", 0.7, "6", "6.2", -0.25, "1.2", "1.3"),
    )
    put, _ = _pick(_leg(OptionType.PUT, SelectionMethod.DELTA, "0.18"), exp)
    assert put.strike == D("95")


def test_atm_closest_to_spot_and_tie() -> None:
    put, reason = _pick(_leg(OptionType.PUT, SelectionMethod.ATM), spot=D("101.9"))
    assert put.strike == D("100") and "at the money" in reason
    call, _ = _pick(_leg(OptionType.CALL, SelectionMethod.ATM), spot=D("103"))
    assert call.strike == D("105")
    # spot exactly between 100 and 105: put takes the lower, call the higher (further OTM)
    assert _pick(_leg(OptionType.PUT, SelectionMethod.ATM), spot=D("102.5"))[0].strike == D("100")
    assert _pick(_leg(OptionType.CALL, SelectionMethod.ATM), spot=D("102.5"))[0].strike == D("105")


def test_atm_beyond_the_strike_range() -> None:
    assert _pick(_leg(OptionType.CALL, SelectionMethod.ATM), spot=D("150"))[0].strike == D("110")
    assert _pick(_leg(OptionType.PUT, SelectionMethod.ATM), spot=D("50"))[0].strike == D("90")


def test_offset_signed_dollars_from_spot() -> None:
    assert _pick(_leg(OptionType.PUT, SelectionMethod.OFFSET, "-6"))[0].strike == D("95")
    assert _pick(_leg(OptionType.CALL, SelectionMethod.OFFSET, "9"))[0].strike == D("110")
    # 100 - 7.5 = 92.5 sits between 90 and 95: a put goes further OTM (90)
    assert _pick(_leg(OptionType.PUT, SelectionMethod.OFFSET, "-7.5"))[0].strike == D("90")


def test_percent_signed_from_spot() -> None:
    assert _pick(_leg(OptionType.CALL, SelectionMethod.PERCENT, "4"))[0].strike == D("105")
    assert _pick(_leg(OptionType.PUT, SelectionMethod.PERCENT, "-9"))[0].strike == D("90")
    _, reason = _pick(_leg(OptionType.PUT, SelectionMethod.PERCENT, "-9"))
    assert "-9% from spot" in reason


def test_leg_offset_from_reference_leg() -> None:
    short, _ = _pick(_leg(OptionType.PUT, SelectionMethod.DELTA, "0.30"))
    long_leg = _leg(OptionType.PUT, SelectionMethod.LEG_OFFSET, "-5", ref=0, side=Side.BUY)
    picked, reason = _pick(long_leg, resolved=(short,))
    assert picked.strike == D("90") and "leg 1 strike 95" in reason
    same = _leg(OptionType.CALL, SelectionMethod.LEG_OFFSET, "0", ref=0, side=Side.BUY)
    assert _pick(same, resolved=(short,))[0].strike == D("95")


def test_premium_closest_mid() -> None:
    put, reason = _pick(_leg(OptionType.PUT, SelectionMethod.PREMIUM, "1.10"))
    assert put.strike == D("95") and "mid 1.25" in reason
    # 0.80 is equidistant... mids 0.425 and 1.25: 0.425 is closer
    assert _pick(_leg(OptionType.PUT, SelectionMethod.PREMIUM, "0.80"))[0].strike == D("90")


def test_premium_tie_prefers_further_otm() -> None:
    exp = _expiration(
        _strike("95", 0.7, "6", "6.2", -0.3, "1.00", "1.00"),
        _strike("100", 0.5, "2.9", "3.1", -0.5, "2.00", "2.00"),
        _strike("105", 0.3, "2.00", "2.00", -0.7, "6", "6.2"),
        _strike("110", 0.1, "1.00", "1.00", -0.9, "10", "10.2"),
    )
    assert _pick(_leg(OptionType.PUT, SelectionMethod.PREMIUM, "1.50"), exp)[0].strike == D("95")
    assert _pick(_leg(OptionType.CALL, SelectionMethod.PREMIUM, "1.50"), exp)[0].strike == D("110")


def test_premium_without_quotes_and_bad_value() -> None:
    exp = _expiration(_strike("100", 0.5, None, "0", -0.5, None, "0"))
    with pytest.raises(SelectionError, match=r"no put with a premium near 1 .*\(quotes missing\)"):
        _pick(_leg(OptionType.PUT, SelectionMethod.PREMIUM, "1"), exp)
    with pytest.raises(SelectionError, match=r"selection\.value: premium must be > 0"):
        _pick(_leg(OptionType.PUT, SelectionMethod.PREMIUM, "0"))


def test_width_goes_further_otm_from_reference() -> None:
    short_put = BASIC.strikes[2].put  # 100
    short_call = BASIC.strikes[2].call
    wing = _leg(OptionType.PUT, SelectionMethod.WIDTH, "10", ref=0, side=Side.BUY)
    assert _pick(wing, resolved=(short_put,))[0].strike == D("90")
    cwing = _leg(OptionType.CALL, SelectionMethod.WIDTH, "5", ref=0, side=Side.BUY)
    picked, reason = _pick(cwing, resolved=(short_call,))
    assert picked.strike == D("105") and "5 above leg 1 strike 100" in reason
    # a width narrower than the strike spacing still lands strictly beyond the reference
    narrow = _leg(OptionType.PUT, SelectionMethod.WIDTH, "1", ref=0, side=Side.BUY)
    assert _pick(narrow, resolved=(short_put,))[0].strike == D("95")
    # a width past the last strike takes the furthest strike available
    wide = _leg(OptionType.CALL, SelectionMethod.WIDTH, "50", ref=0, side=Side.BUY)
    assert _pick(wide, resolved=(short_call,))[0].strike == D("110")


def test_width_nothing_beyond_reference() -> None:
    lowest = BASIC.strikes[0].put
    wing = _leg(OptionType.PUT, SelectionMethod.WIDTH, "5", ref=0, side=Side.BUY)
    with pytest.raises(SelectionError, match="no put strike below 90"):
        _pick(wing, resolved=(lowest,))
    highest = BASIC.strikes[-1].call
    cwing = _leg(OptionType.CALL, SelectionMethod.WIDTH, "5", ref=0, side=Side.BUY)
    with pytest.raises(SelectionError, match="no call strike above 110"):
        _pick(cwing, resolved=(highest,))
    with pytest.raises(SelectionError, match=r"selection\.value: width must be > 0"):
        _pick(_leg(OptionType.PUT, SelectionMethod.WIDTH, "0", ref=0), resolved=(lowest,))


def test_reference_leg_missing_or_unresolved() -> None:
    with pytest.raises(SelectionError, match=r"selection\.reference_leg: required for leg_offset"):
        _pick(_leg(OptionType.PUT, SelectionMethod.LEG_OFFSET, "-5"))
    with pytest.raises(SelectionError, match="leg 2 is not resolved yet"):
        _pick(_leg(OptionType.PUT, SelectionMethod.WIDTH, "5", ref=1),
              resolved=(BASIC.strikes[0].put,))


# --- strikes: quote failures ---------------------------------------------------------------------


def test_stale_quote_rejected() -> None:
    exp = _expiration(_strike("100", 0.5, "2.9", "3.1", -0.5, "2.9", "3.1", age_s=95))
    stale = r"quote for SPY 261218P00100000 is stale \(95 s old\)"
    with pytest.raises(SelectionError, match=stale):
        select_strike(exp, _leg(OptionType.PUT, SelectionMethod.ATM), SPOT, (), NOW, 60.0)
    # the same quote passes a looser age limit
    select_strike(exp, _leg(OptionType.PUT, SelectionMethod.ATM), SPOT, (), NOW, 120.0)


def test_zero_bid_rejected_for_sold_leg_only() -> None:
    exp = _expiration(_strike("100", 0.5, "0", "0.05", -0.5, "0", "0.05"))
    with pytest.raises(SelectionError, match="bid is zero for SPY 261218P00100000"):
        _pick(_leg(OptionType.PUT, SelectionMethod.ATM), exp)
    bought, _ = _pick(_leg(OptionType.PUT, SelectionMethod.ATM, side=Side.BUY), exp)
    assert bought.strike == D("100")


def test_missing_and_crossed_quotes_rejected() -> None:
    exp = _expiration(_strike("100", 0.5, None, "0", -0.5, "3.2", "3.0"))
    with pytest.raises(SelectionError, match="no quote for SPY 261218C00100000"):
        _pick(_leg(OptionType.CALL, SelectionMethod.ATM), exp)
    with pytest.raises(SelectionError, match=r"no valid market for SPY 261218P00100000"):
        _pick(_leg(OptionType.PUT, SelectionMethod.ATM), exp)


def test_bad_spot_and_empty_expiration() -> None:
    with pytest.raises(SelectionError, match="spot: must be > 0"):
        _pick(_leg(OptionType.PUT, SelectionMethod.ATM), spot=D("0"))
    with pytest.raises(SelectionError, match="has no strikes"):
        _pick(_leg(OptionType.PUT, SelectionMethod.ATM), _expiration())
