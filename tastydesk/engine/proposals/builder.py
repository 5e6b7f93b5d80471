"""Build a priced, risk-measured :class:`TradeProposal` from a strategy and a live chain.

Conventions of the figures
--------------------------
* Prices per spread are per share and signed (credit +, debit -): *mid* prices every leg at its
  mid, *natural* sells at the bid and buys at the ask. Both are rounded to cents.
* Max profit, max loss, breakevens, probability of profit and expected value come from the
  payoff at the front expiry with the position opened at the mid price (see ``payoff``).
* A position whose loss grows without bound as the underlying rises (an uncovered short call) is
  not defined-risk: its max loss and buying power are the Reg-T estimate for its naked options.
  Everything else, a cash-secured put included, is defined-risk: max loss is the worst expiry
  loss and the buying power equals it.
* An unlimited upside (a net long call) has no finite max profit: the figure is the expiry P&L
  at spot plus three expected moves, and ``max_profit_unlimited`` is set.
* Probability of profit and expected value price each strike with its own leg's implied
  volatility (the smile through the legs at the front expiry, :func:`leg_smile`): a condor's
  put wing is priced on its own skew, not on the mean of the short legs. Strikes between and
  beyond the legs follow the smile's interpolation; where no leg has an IV, the flat fallback
  below applies.
* The fallback volatility (and the one used for the touch probability, the expected move and
  legs without an IV) is the mean implied volatility of the short legs, else the at-the-money IV
  of the front expiration, else the underlying's IV index.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np

from tastydesk.engine.domain.chain import Expiration, OptionChain, OptionContract
from tastydesk.engine.domain.enums import Bias, ExpiryChoice, OptionType, Side
from tastydesk.engine.domain.money import CENT
from tastydesk.engine.domain.pricer import PricedLeg, spread_price
from tastydesk.engine.domain.proposal import ResolvedLeg, TradeProposal
from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.pricing.bsm import bsm_greeks
from tastydesk.engine.pricing.probability import expected_move
from tastydesk.engine.proposals.curves import pnl_curve
from tastydesk.engine.proposals.metrics import (
    expected_pnl,
    fees_estimate,
    position_greeks,
    probability_of_profit,
    reg_t_requirement,
    touch_probability,
)
from tastydesk.engine.proposals.payoff import expiry_payoff
from tastydesk.engine.proposals.valuation import leg_smile, years_to_expiry
from tastydesk.engine.proposals.warnings import dividend_warnings
from tastydesk.engine.selection import (
    SelectionError,
    display_symbol,
    quote_age,
    select_expiration,
    select_offset_expiration,
    select_strike,
)

_HUNDRED = Decimal("100")
#: Profit figure for an unlimited upside: the expiry P&L this many expected moves above spot.
UNLIMITED_PROFIT_SD = 3.0


def _cents(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_EVEN)


def build_proposal(
    strategy: Strategy,
    chain: OptionChain,
    now: datetime,
    *,
    quantity: int | None = None,
    bias: Bias = Bias.NEUTRAL,
    confidence: float = 0.0,
    rationale: Sequence[str] = (),
    fees_per_contract: Decimal = Decimal("1.00"),
    max_quote_age_s: float = 120.0,
    beta_reference_price: Decimal | None = None,
    enforce_min_credit: bool = False,
) -> TradeProposal:
    """Resolve every leg of ``strategy`` on ``chain`` and measure the resulting trade.

    ``quantity`` (spreads) defaults to the strategy's sizing. ``fees_per_contract`` is the
    round-trip cost of one contract (see :func:`fees_estimate`). Quotes older than
    ``max_quote_age_s`` seconds reject the leg; quotes past half that age only warn.
    ``beta_reference_price`` (e.g. SPY's price) turns the beta-weighted delta into shares of the
    reference. Raises :class:`SelectionError` naming the leg and the reason when no trade fits.
    With ``enforce_min_credit`` a mid price below the strategy's minimum credit is such a reason,
    raised before any of the costlier measurements (a scan rejects most candidates this way).
    """
    qty = strategy.sizing.quantity if quantity is None else quantity
    if qty <= 0:
        raise SelectionError(f"quantity: must be > 0, got {qty}")
    if not strategy.legs:
        raise SelectionError(f"strategy.legs: {strategy.name!r} has no legs")
    if now.tzinfo is None:
        raise SelectionError("now: must be timezone-aware")
    if max_quote_age_s <= 0:
        raise SelectionError(f"max_quote_age_s: must be > 0, got {max_quote_age_s}")
    under = chain.underlying
    spot = under.price
    if spot <= 0:
        raise SelectionError(f"underlying.price: must be > 0 for {under.symbol}, got {spot}")
    rate, div = chain.rate, under.dividend_yield

    base = select_expiration(chain, strategy.dte)
    warnings: list[str] = []
    resolved: list[ResolvedLeg] = []
    contracts: list[OptionContract] = []
    for index, leg in enumerate(strategy.legs):
        label = f"leg {index + 1} ({leg.side.value} {leg.option_type.value})"
        if leg.ratio <= 0:
            raise SelectionError(f"{label}: ratio must be > 0, got {leg.ratio}")
        try:
            if leg.expiry is ExpiryChoice.OFFSET:
                expiration = select_offset_expiration(chain, base, leg.expiry_offset_days)
            else:
                expiration = base
            contract, reason = select_strike(
                expiration, leg, spot, resolved, now, max_quote_age_s,
                min_open_interest=strategy.filters.min_open_interest,
            )
        except SelectionError as exc:
            raise SelectionError(f"{label}: {exc.reason}") from exc
        resolved.append(
            _resolve_leg(contract, leg.side, leg.ratio * qty, reason, spot, now, rate, div,
                         under.iv, warnings)
        )
        contracts.append(contract)
    _check_duplicates(resolved)

    ratios = [leg.ratio for leg in strategy.legs]
    price = spread_price([PricedLeg(r.side, n, r.bid, r.ask)
                          for r, n in zip(resolved, ratios, strict=True)],
                         mids=[r.mid for r in resolved])
    mid, natural = price.mid, price.natural

    min_credit = strategy.filters.min_credit
    if enforce_min_credit and min_credit > 0 and mid < min_credit:
        raise SelectionError(f"credit {mid} below minimum {min_credit}")

    front = min(r.expiry for r in resolved)
    t = years_to_expiry(front, now)
    vol = _probability_vol(resolved, base, spot, under.iv)
    if vol <= 0:
        raise SelectionError(f"no implied volatility for {under.symbol}: cannot measure the trade")
    payoff = expiry_payoff(resolved, mid, qty, rate=rate, div=div, fallback_vol=vol)
    s0 = float(spot)

    defined_risk = not payoff.unlimited_loss
    if defined_risk:
        max_loss = _cents(payoff.max_loss)
        buying_power = max_loss
    else:
        buying_power = reg_t_requirement(resolved, spot)
        max_loss = buying_power
        warnings.append(
            "undefined risk: an uncovered short call loses without limit as the price rises; "
            f"max loss shows the Reg-T buying-power estimate ({buying_power})"
        )
    unlimited_profit = payoff.unlimited_profit
    if unlimited_profit:
        move = float(expected_move(s0, t, vol)) if t > 0 else 0.0
        top = s0 + UNLIMITED_PROFIT_SD * move
        max_profit = _cents(float(payoff.value_at(top)[0]))
        warnings.append(
            f"unlimited profit: max profit shows the expiry P&L at {top:.2f} "
            f"(spot + {UNLIMITED_PROFIT_SD:g} expected moves)"
        )
    else:
        max_profit = _cents(payoff.max_profit)
    if max_profit <= 0:
        warnings.append("no price at expiry makes this trade profitable at the mid price")
    if not payoff.exact:
        warnings.append(
            f"legs expire on different dates: figures are at the front expiry {front:%Y-%m-%d}, "
            "with later legs at their theoretical value"
        )

    fees = fees_estimate(resolved, fees_per_contract)
    smile = leg_smile(resolved, vol)
    pop = probability_of_profit(payoff, s0, t, vol, rate, div, smile=smile)
    touch = touch_probability(resolved, s0, now, vol, rate, div)
    ev = _cents(expected_pnl(payoff, s0, t, vol, rate, div, smile=smile)) - fees
    risk_reward = float(max_loss / max_profit) if max_profit > 0 else math.inf
    greeks = position_greeks(
        resolved, s0, under.beta,
        None if beta_reference_price is None else float(beta_reference_price),
    )
    curve = pnl_curve(
        resolved, spot, now, entry_price=mid, quantity=qty, vol=vol, rate=rate, div=div
    )

    warnings.extend(_market_warnings(strategy, resolved, contracts, now, max_quote_age_s))
    if under.earnings is not None and now.date() <= under.earnings <= max(
        r.expiry for r in resolved
    ):
        warnings.append(
            f"earnings on {under.earnings:%Y-%m-%d}, before expiration {front:%Y-%m-%d}"
        )
    warnings.extend(dividend_warnings(under, resolved, now))
    if min_credit > 0 and mid < min_credit:
        warnings.append(f"price {mid} is below the strategy's minimum credit {min_credit}")
    if buying_power > strategy.sizing.max_buying_power:
        warnings.append(
            f"buying power {buying_power} exceeds the strategy's per-trade limit "
            f"{strategy.sizing.max_buying_power}"
        )

    quote_times = [c.quote.time for c in contracts if c.quote is not None]
    return TradeProposal(
        strategy_name=strategy.name,
        underlying=under.symbol,
        spot=spot,
        legs=tuple(resolved),
        quantity=qty,
        mid_price=mid,
        natural_price=natural,
        max_profit=max_profit,
        max_loss=max_loss,
        defined_risk=defined_risk,
        breakevens=tuple(_cents(b) for b in payoff.breakevens()),
        pop=pop,
        touch_probability=touch,
        expected_value=ev,
        risk_reward=risk_reward,
        greeks=greeks,
        buying_power=buying_power,
        fees=fees,
        warnings=tuple(warnings),
        created_at=now,
        bias=bias,
        confidence=confidence,
        rationale=tuple(rationale),
        iv_rank=under.iv_rank,
        quote_time=min(quote_times) if quote_times else None,
        curve=curve,
        max_profit_unlimited=unlimited_profit,
    )


def _resolve_leg(
    contract: OptionContract, side: Side, quantity: int, reason: str, spot: Decimal,
    now: datetime, rate: float, div: float, fallback_iv: float, warnings: list[str],
) -> ResolvedLeg:
    quote = contract.quote
    if quote is None:  # select_strike guarantees a quote; keep the invariant explicit
        raise SelectionError(f"no quote for {display_symbol(contract.symbol)}")
    g = contract.greeks
    if g is not None and all(
        math.isfinite(x) for x in (g.delta, g.gamma, g.theta, g.vega, g.iv)
    ):
        delta, gamma, theta, vega, iv = g.delta, g.gamma, g.theta, g.vega, g.iv
    else:
        if fallback_iv <= 0:
            raise SelectionError(
                f"no greeks for {display_symbol(contract.symbol)} and no implied volatility "
                "for the underlying to compute them"
            )
        t = years_to_expiry(contract.expiry, now)
        res = bsm_greeks(float(spot), float(contract.strike), t, rate, div, fallback_iv,
                         contract.option_type is OptionType.CALL)
        delta, gamma, theta, vega = (float(res.delta), float(res.gamma), float(res.theta),
                                     float(res.vega))
        iv = fallback_iv
        warnings.append(
            f"greeks missing for {display_symbol(contract.symbol)}: computed from the "
            f"underlying's IV {fallback_iv:.1%}"
        )
    return ResolvedLeg(
        symbol=contract.symbol,
        streamer_symbol=contract.streamer_symbol,
        option_type=contract.option_type,
        side=side,
        strike=contract.strike,
        expiry=contract.expiry,
        quantity=quantity,
        bid=quote.bid,
        ask=quote.ask,
        mid=quote.mid,
        delta=delta,
        gamma=gamma,
        theta=theta,
        vega=vega,
        iv=iv,
        open_interest=contract.open_interest,
        reason=reason,
    )


def _check_duplicates(legs: Sequence[ResolvedLeg]) -> None:
    seen: dict[str, tuple[int, Side]] = {}
    for index, leg in enumerate(legs):
        previous = seen.get(leg.symbol)
        if previous is not None and previous[1] is not leg.side:
            raise SelectionError(
                f"legs {previous[0] + 1} and {index + 1} resolve to the same contract "
                f"{display_symbol(leg.symbol)} on opposite sides"
            )
        seen.setdefault(leg.symbol, (index, leg.side))


def _probability_vol(
    legs: Sequence[ResolvedLeg], base: Expiration, spot: Decimal, underlying_iv: float
) -> float:
    shorts = [leg.iv for leg in legs if leg.side is Side.SELL and leg.iv > 0]
    if shorts:
        return float(np.mean(shorts))
    strikes = base.strikes
    if strikes:
        atm = min(strikes, key=lambda s: (abs(s.price - spot), s.price))
        ivs = [c.greeks.iv for c in (atm.call, atm.put)
               if c.greeks is not None and math.isfinite(c.greeks.iv) and c.greeks.iv > 0]
        if ivs:
            return float(np.mean(ivs))
    return underlying_iv


def _market_warnings(
    strategy: Strategy, legs: Sequence[ResolvedLeg], contracts: Sequence[OptionContract],
    now: datetime, max_quote_age_s: float,
) -> list[str]:
    out: list[str] = []
    filters = strategy.filters
    for leg, contract in zip(legs, contracts, strict=True):
        name = display_symbol(leg.symbol)
        spread = leg.ask - leg.bid
        if leg.mid > 0:
            pct = spread / leg.mid * _HUNDRED
            if pct > filters.max_spread_pct:
                out.append(
                    f"wide market on {name}: spread {spread} is {pct:.0f}% of mid "
                    f"(limit {filters.max_spread_pct}%)"
                )
        if filters.min_open_interest > 0 and leg.open_interest < filters.min_open_interest:
            out.append(
                f"low open interest on {name}: {leg.open_interest} "
                f"(minimum {filters.min_open_interest})"
            )
        if leg.bid <= 0:
            out.append(f"bid is zero for {name}: the leg has no resale value")
        age = quote_age(contract, now)
        if age is not None and age > max_quote_age_s / 2:
            out.append(f"quote for {name} is ageing ({age:.0f} s old)")
    return out
