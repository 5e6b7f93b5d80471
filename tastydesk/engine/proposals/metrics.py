"""Risk and reward figures of a resolved position: probabilities, expectation, greeks, margin.

Probability of profit and expected value use the terminal distribution the legs' own implied
volatilities imply (:mod:`tastydesk.engine.pricing.smile`, Breeden-Litzenberger with risk-neutral
drift ``rate - div``), so both agree with the prices of the very options the position holds: a
spread opened at its fair mid has an expected value of zero less costs, on either side of a
skew. Without a smile they fall back to one lognormal volatility.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np

from tastydesk.engine.domain.enums import OptionType, Side
from tastydesk.engine.domain.money import CENT
from tastydesk.engine.domain.proposal import PositionGreeks, ResolvedLeg
from tastydesk.engine.pricing.probability import prob_touch
from tastydesk.engine.pricing.smile import Smile, expected_linear_payoff, smile_prob_below
from tastydesk.engine.proposals.payoff import MULTIPLIER, ExpiryPayoff
from tastydesk.engine.proposals.valuation import signed_contracts, years_to_expiry

#: Reg-T naked option requirement: 20 % of the underlying less the out-of-the-money amount plus
#: the premium, at least 10 % of the underlying (calls) or of the strike (puts) plus the premium.
REG_T_BASE = 0.20
REG_T_FLOOR = 0.10


def _smile(vol: float, smile: Smile | None) -> Smile | None:
    if smile is not None:
        return smile
    return Smile.flat(vol) if vol > 0 else None


def probability_of_profit(
    payoff: ExpiryPayoff, spot: float, t: float, vol: float, rate: float = 0.0, div: float = 0.0,
    *, smile: Smile | None = None,
) -> float:
    """Probability that the expiry P&L is positive: the mass of its profit intervals.

    ``smile`` (see :func:`~tastydesk.engine.proposals.valuation.leg_smile`) gives each strike
    its own volatility; without it every strike uses ``vol``.
    """
    intervals = payoff.profit_intervals()
    model = _smile(vol, smile)
    if t <= 0 or model is None:
        return 1.0 if any(lo < spot < hi for lo, hi in intervals) else 0.0
    if not intervals:
        return 0.0
    bounds = np.array([[lo, hi] for lo, hi in intervals], dtype=float)
    inner = (bounds > 0) & np.isfinite(bounds)
    below = np.where(bounds == 0, 0.0, 1.0)  # P(S_T < 0) = 0, P(S_T < inf) = 1
    below[inner] = smile_prob_below(spot, bounds[inner], t, model, rate, div)
    total = float(np.maximum(below[:, 1] - below[:, 0], 0.0).sum())
    return min(1.0, max(0.0, total))


def expected_pnl(
    payoff: ExpiryPayoff, spot: float, t: float, vol: float, rate: float = 0.0, div: float = 0.0,
    *, smile: Smile | None = None,
) -> float:
    """Expected expiry P&L in dollars (before fees), in closed form from call prices at the
    payoff's kinks (see :mod:`tastydesk.engine.pricing.smile`).

    With ``smile`` built from the legs the expected payoff of a single-expiration position is
    exactly its legs' values at their own IVs grown to expiry, so the figure is the entry price
    less the legs' fair value (plus the premium's carry).
    """
    model = _smile(vol, smile)
    if t <= 0 or model is None:
        return float(payoff.value_at(spot)[0])
    return expected_linear_payoff(
        payoff.prices, payoff.values, payoff.upper_slope, spot, t, model, rate, div
    )


def touch_probability(
    legs: Sequence[ResolvedLeg], spot: float, at: datetime, fallback_vol: float,
    rate: float = 0.0, div: float = 0.0,
) -> float:
    """Chance the underlying trades through a short strike before that leg expires.

    Only the nearest short strike on each side of spot can be touched first, so the figure is
    the sum of those two touch probabilities, capped at 1 (an upper bound on the union: both
    sides cannot be touched first). A short strike at spot counts as touched.
    """
    above: tuple[float, ResolvedLeg] | None = None
    below: tuple[float, ResolvedLeg] | None = None
    for leg in legs:
        if leg.side is not Side.SELL:
            continue
        k = float(leg.strike)
        if k == spot:
            return 1.0
        if k > spot and (above is None or k < above[0]):
            above = (k, leg)
        if k < spot and (below is None or k > below[0]):
            below = (k, leg)
    total = 0.0
    for found in (above, below):
        if found is None:
            continue
        k, leg = found
        t = years_to_expiry(leg.expiry, at)
        vol = leg.iv if leg.iv > 0 else fallback_vol
        if t <= 0 or vol <= 0:
            continue
        total += float(prob_touch(spot, k, t, vol, rate, div))
    return min(1.0, total)


def position_greeks(
    legs: Sequence[ResolvedLeg], spot: float, beta: float, reference_price: float | None = None
) -> PositionGreeks:
    """Greeks of the whole position in trader units.

    Delta and gamma in shares of the underlying, theta in dollars per day, vega in dollars per
    vol point. Beta-weighted delta is ``delta x beta``, in beta-adjusted underlying shares; with
    ``reference_price`` (e.g. SPY's price) it becomes shares of that reference:
    ``delta x beta x spot / reference_price``.
    """
    signed = signed_contracts(legs) * MULTIPLIER

    def total(values: list[float]) -> float:
        return float((signed * np.array(values, dtype=float)).sum())

    delta = total([leg.delta for leg in legs])
    bwd = delta * beta
    if reference_price is not None:
        if reference_price <= 0:
            raise ValueError(f"reference_price: must be > 0, got {reference_price}")
        bwd = bwd * spot / reference_price
    return PositionGreeks(
        delta=delta,
        gamma=total([leg.gamma for leg in legs]),
        theta=total([leg.theta for leg in legs]),
        vega=total([leg.vega for leg in legs]),
        beta_weighted_delta=bwd,
    )


def naked_requirement(leg: ResolvedLeg, spot: Decimal) -> Decimal:
    """Reg-T requirement for one naked short contract of ``leg`` (per contract, in dollars)."""
    premium = leg.mid
    if leg.option_type is OptionType.CALL:
        otm = max(Decimal(0), leg.strike - spot)
        floor = Decimal(str(REG_T_FLOOR)) * spot
    else:
        otm = max(Decimal(0), spot - leg.strike)
        floor = Decimal(str(REG_T_FLOOR)) * leg.strike
    base = Decimal(str(REG_T_BASE)) * spot - otm
    return (max(base, floor) + premium) * Decimal(int(MULTIPLIER))


def reg_t_requirement(legs: Sequence[ResolvedLeg], spot: Decimal) -> Decimal:
    """Reg-T style buying power for the uncovered short options of a position.

    Per option type, short contracts beyond the long contracts of that type are naked; the
    costliest shorts are taken as the naked ones (conservative). Calls and puts then combine by
    the strangle rule: the larger side's requirement plus the other side's premium.
    """
    sides: dict[OptionType, tuple[Decimal, Decimal]] = {}
    for option_type in (OptionType.CALL, OptionType.PUT):
        typed = [leg for leg in legs if leg.option_type is option_type]
        longs = sum(leg.quantity for leg in typed if leg.side is Side.BUY)
        shorts = sorted(
            (leg for leg in typed if leg.side is Side.SELL),
            key=lambda leg: naked_requirement(leg, spot),
            reverse=True,
        )
        naked = sum(leg.quantity for leg in shorts) - longs
        requirement = Decimal(0)
        premium = Decimal(0)
        for leg in shorts:
            if naked <= 0:
                break
            n = min(naked, leg.quantity)
            requirement += naked_requirement(leg, spot) * n
            premium += leg.mid * Decimal(int(MULTIPLIER)) * n
            naked -= n
        sides[option_type] = (requirement, premium)
    call_req, call_prem = sides[OptionType.CALL]
    put_req, put_prem = sides[OptionType.PUT]
    total = call_req + put_prem if call_req >= put_req else put_req + call_prem
    if call_req == 0 and put_req == 0:
        total = Decimal(0)
    return total.quantize(CENT, rounding=ROUND_HALF_EVEN)


def fees_estimate(legs: Sequence[ResolvedLeg], fees_per_contract: Decimal) -> Decimal:
    """Round-trip fees: ``fees_per_contract`` for every contract of every leg.

    ``fees_per_contract`` stands for the whole round trip of one contract: tastytrade's opening
    commission (closing is free) plus clearing and regulatory fees both ways. The estimate leaves
    out the opening commission cap per leg, so above that cap it overstates the cost.
    """
    if fees_per_contract < 0:
        raise ValueError(f"fees_per_contract: must be >= 0, got {fees_per_contract}")
    contracts = sum(leg.quantity for leg in legs)
    return (fees_per_contract * contracts).quantize(CENT, rounding=ROUND_HALF_EVEN)

