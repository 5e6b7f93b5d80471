from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tastydesk.engine.broker.paper.margin import Holding, opening_commission, requirement
from tastydesk.engine.domain.enums import OptionType

D = Decimal
EXP = date(2026, 2, 20)
CALL, PUT = OptionType.CALL, OptionType.PUT


def h(option_type: OptionType, strike: str, quantity: int, mark: str, underlying: str = "SPY",
      expiry: date = EXP) -> Holding:
    return Holding(f"{underlying}-{option_type}-{strike}-{expiry}", underlying, option_type,
                   D(strike), expiry, quantity, D(mark))


def test_put_credit_vertical_is_width_minus_credit() -> None:
    lines = [h(PUT, "95", -1, "2.00"), h(PUT, "90", 1, "0.50")]
    assert requirement(lines, {"SPY": D("100")}) == D("350.00")


def test_vertical_scales_with_quantity() -> None:
    lines = [h(PUT, "95", -3, "2.00"), h(PUT, "90", 3, "0.50")]
    assert requirement(lines, {"SPY": D("100")}) == D("1050.00")


def test_long_option_is_its_value() -> None:
    assert requirement([h(CALL, "105", 2, "1.25")], {"SPY": D("100")}) == D("250.00")


def test_iron_condor_counts_the_wider_side_once() -> None:
    lines = [
        h(PUT, "95", -1, "1.00"), h(PUT, "90", 1, "0.40"),
        h(CALL, "105", -1, "1.10"), h(CALL, "115", 1, "0.30"),
    ]
    # Credit 1.40; wider side is 10 wide: max loss 10 - 1.40.
    assert requirement(lines, {"SPY": D("100")}) == D("860.00")


def test_naked_put_is_reg_t() -> None:
    # 20 % of 100 = 20, minus 5 OTM = 15, plus premium 1.50 = 16.50 a share.
    assert requirement([h(PUT, "95", -1, "1.50")], {"SPY": D("100")}) == D("1650.00")


def test_naked_put_far_otm_uses_ten_percent_of_strike() -> None:
    # 20 - 40 OTM < 10 % of 60 = 6; plus 0.10 premium.
    assert requirement([h(PUT, "60", -2, "0.10")], {"SPY": D("100")}) == D("1220.00")


def test_naked_call_otm_amount_is_above_spot() -> None:
    # 20 - 10 OTM = 10 < 10 % of the 110 strike = 11; plus 0.80.
    assert requirement([h(CALL, "110", -1, "0.80")], {"SPY": D("100")}) == D("1180.00")
    # 20 - 2 OTM = 18 > 10.2; plus 1.50.
    assert requirement([h(CALL, "102", -1, "1.50")], {"SPY": D("100")}) == D("1950.00")


def test_strangle_counts_larger_side_plus_other_premium() -> None:
    lines = [h(PUT, "95", -1, "1.50"), h(CALL, "110", -1, "0.80")]
    # put side 1650 > call side 1180; plus call premium 80.
    assert requirement(lines, {"SPY": D("100")}) == D("1730.00")


def test_ratio_excess_short_is_naked_and_rest_defined() -> None:
    # Long 1 100 call, short 2 105 calls: one 105 call is covered (spread), one is naked.
    lines = [h(CALL, "100", 1, "3.00"), h(CALL, "105", -2, "1.00")]
    # Naked 105 call: 20 - 5 OTM = 15 > 10.5, plus 1.00 premium = 1600.
    # Covered 100/105 call spread held long: worst case is losing its 2.00 value = 200.
    assert requirement(lines, {"SPY": D("100")}) == D("1800.00")


def test_underlyings_add_up_and_missing_spot_is_an_error() -> None:
    lines = [h(PUT, "95", -1, "2.00"), h(PUT, "90", 1, "0.50"), h(CALL, "50", 1, "1.00", "QQQ")]
    assert requirement(lines, {"SPY": D("100"), "QQQ": D("45")}) == D("450.00")
    with pytest.raises(ValueError, match="QQQ"):
        requirement(lines, {"SPY": D("100")})


def test_calendar_counts_as_defined_risk() -> None:
    lines = [h(CALL, "100", -1, "2.00"), h(CALL, "100", 1, "3.50", expiry=date(2026, 3, 20))]
    assert requirement(lines, {"SPY": D("100")}) == D("150.00")


def test_opening_commission_is_capped_per_leg() -> None:
    fee = D("1.00")
    assert opening_commission(3, fee, D("0")) == D("3.00")
    assert opening_commission(15, fee, D("0")) == D("10.00")
    assert opening_commission(5, fee, D("8.00")) == D("2.00")
    assert opening_commission(5, fee, D("10.00")) == D("0")


def _reference(lines: list[Holding], spot: Decimal) -> Decimal:
    """The margin rules written out directly, line by line, for one underlying."""
    def payoff(group: list[Holding], price: Decimal) -> Decimal:
        total = D(0)
        for x in group:
            intrinsic = max(D(0), price - x.strike if x.option_type is CALL else x.strike - price)
            total += intrinsic * 100 * x.quantity
        return total

    def defined(group: list[Holding]) -> Decimal:
        if not group:
            return D(0)
        value = sum((x.mark * 100 * x.quantity for x in group), D(0))
        return max(D(0), value - min(payoff(group, p) for p in {D(0), *(x.strike for x in group)}))

    def split(side: list[Holding], puts: bool) -> tuple[list[Holding], list[Holding]]:
        excess = -sum(x.quantity for x in side)
        if excess <= 0:
            return [], side
        left = {id(x): x.quantity for x in side}
        naked = []
        for x in sorted((x for x in side if x.quantity < 0),
                        key=lambda x: -x.strike if puts else x.strike):
            take = min(excess, -x.quantity)
            if take:
                naked.append(Holding(x.symbol, x.underlying, x.option_type, x.strike, x.expiry,
                                     -take, x.mark))
                left[id(x)] += take
                excess -= take
        covered = [Holding(x.symbol, x.underlying, x.option_type, x.strike, x.expiry,
                           left[id(x)], x.mark) for x in side if left[id(x)]]
        return naked, covered

    def naked_req(group: list[Holding]) -> Decimal:
        total = D(0)
        for x in group:
            otm = max(D(0), x.strike - spot if x.option_type is CALL else spot - x.strike)
            total += (max(D("0.20") * spot - otm, D("0.10") * x.strike) + x.mark) * 100 * -x.quantity
        return total

    live = [x for x in lines if x.quantity]
    nc, cc = split([x for x in live if x.option_type is CALL], puts=False)
    np_, cp = split([x for x in live if x.option_type is PUT], puts=True)
    if not nc and not np_:
        return defined(live)
    call_req, put_req = naked_req(nc) + defined(cc), naked_req(np_) + defined(cp)
    if nc and np_:
        if call_req >= put_req:
            return call_req + sum((x.mark * 100 * -x.quantity for x in np_), D(0))
        return put_req + sum((x.mark * 100 * -x.quantity for x in nc), D(0))
    return max(call_req, put_req)


def test_requirement_matches_the_rules_for_random_portfolios_and_new_marks() -> None:
    import random

    rng = random.Random(4)
    strikes = [str(s) for s in range(80, 125, 5)]
    for _ in range(300):
        shape = [(rng.choice((CALL, PUT)), strike, rng.choice((-3, -2, -1, 1, 2, 3)))
                 for strike in rng.sample(strikes, rng.randint(1, 5))]
        spot = D(rng.randint(85, 120))
        # The same shape at two sets of marks: the second evaluation reuses the first's plan.
        for _ in range(2):
            lines = [h(t, k, q, f"{rng.uniform(0.05, 12):.2f}") for t, k, q in shape]
            assert requirement(lines, {"SPY": spot}) == _reference(lines, spot)
