"""Expiration and strike selection: pure functions from a chain and a strategy leg to a contract.

Rules shared by every method
----------------------------
* **Expiration.** Only expirations with ``min <= DTE <= max`` qualify. When the range asks for
  monthlies (``prefer_monthly``) and at least one monthly qualifies, the monthly closest to the
  target wins even when a weekly sits nearer: monthlies carry the deepest liquidity, and the range
  already bounds how far from the target the trade may land. Otherwise the expiration closest to
  the target wins. Equal distances go to the earlier date (less time at risk).
* **Strike ties.** When two strikes are equally close to the target (price, delta or premium) the
  one further out of the money wins: the lower strike for puts, the higher for calls. That keeps a
  short strike further from the money, which is the conservative side for a seller.
* **Quote checks.** The chosen contract must have a quote no older than ``max_quote_age``
  seconds, a positive ask not below its bid, and, for legs we sell, a positive bid. A failure
  raises :class:`SelectionError` naming the contract rather than silently moving to another strike.
* **Delta tolerance.** A delta target is met only within :data:`DELTA_TOLERANCE`; a chain whose
  nearest strike is further off than that does not offer the trade the strategy describes.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from tastydesk.engine.domain.chain import Expiration, OptionChain, OptionContract
from tastydesk.engine.domain.enums import ExpiryChoice, OptionType, SelectionMethod, Side
from tastydesk.engine.domain.proposal import ResolvedLeg
from tastydesk.engine.domain.strategy import DteRange, Strategy, StrategyLeg
from tastydesk.engine.domain.symbols import display_symbol

DELTA_TOLERANCE = 0.10
_HUNDRED = Decimal("100")


class SelectionError(ValueError):
    """Nothing in the chain satisfies a selection rule; the message says which rule and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _type_name(option_type: OptionType) -> str:
    return "call" if option_type is OptionType.CALL else "put"


# --- expirations -----------------------------------------------------------------------------


def select_expiration(chain: OptionChain, dte: DteRange, offset_days: int = 0) -> Expiration:
    """The strategy's expiration for ``dte``; with ``offset_days`` the calendar expiry from it.

    ``offset_days != 0`` first picks the base expiration by the range, then returns
    :func:`select_offset_expiration` of it (a calendar's far leg).
    """
    base = _base_expiration(chain.expirations, dte, chain.underlying.symbol)
    if offset_days == 0:
        return base
    return select_offset_expiration(chain, base, offset_days)


def select_offset_expiration(
    chain: OptionChain, base: Expiration, offset_days: int
) -> Expiration:
    """The expiration closest to ``base.date + offset_days``, strictly on the offset's side.

    A calendar needs a different expiry from its base, so ``base`` itself never qualifies; equal
    distances go to the earlier date.
    """
    return _offset_expiration(chain.expirations, base, offset_days)


def dte_span(strategy: Strategy) -> tuple[int, int]:
    """Every DTE the strategy's legs could land on: its range, widened by calendar offsets."""
    offset = max((leg.expiry_offset_days for leg in strategy.legs), default=0)
    return strategy.dte.min, strategy.dte.max + offset


def chain_window(listed: Sequence[Expiration], strategy: Strategy) -> tuple[int, int]:
    """The DTE range (min, max) that a strategy's legs resolve to on the listed expirations.

    ``listed`` needs no strikes. Asking the broker for just this slice of the chain, instead of
    the whole DTE range, prices and streams only the expirations the trade can use. Selection on
    the slice picks the same expirations as on the full chain: every pick is the best of a pool
    that the slice still holds. Raises :class:`SelectionError` when no expiration qualifies.
    """
    low, top = dte_span(strategy)
    pool = [e for e in listed if low <= e.dte <= top]
    base = _base_expiration(listed, strategy.dte, strategy.name)
    chosen = [base]
    for leg in strategy.legs:
        if leg.expiry is ExpiryChoice.OFFSET:
            chosen.append(_offset_expiration(pool, base, leg.expiry_offset_days))
    return min(e.dte for e in chosen), max(e.dte for e in chosen)


def _base_expiration(expirations: Sequence[Expiration], dte: DteRange,
                     symbol: str) -> Expiration:
    if dte.min < 0:
        raise SelectionError(f"dte.min: must be >= 0, got {dte.min}")
    if dte.min > dte.max:
        raise SelectionError(f"dte: min {dte.min} is above max {dte.max}")
    if not expirations:
        raise SelectionError(f"chain for {symbol} has no expirations")
    in_range = [e for e in expirations if dte.min <= e.dte <= dte.max]
    if not in_range:
        raise SelectionError(f"no expiration between {dte.min} and {dte.max} DTE for {symbol}")
    pool = in_range
    if dte.prefer_monthly:
        monthlies = [e for e in in_range if e.monthly]
        if monthlies:
            pool = monthlies
    return min(pool, key=lambda e: (abs(e.dte - dte.target), e.date))


def _offset_expiration(expirations: Sequence[Expiration], base: Expiration,
                       offset_days: int) -> Expiration:
    if offset_days == 0:
        return base
    target = base.date + timedelta(days=offset_days)
    if offset_days > 0:
        pool = [e for e in expirations if e.date > base.date]
    else:
        pool = [e for e in expirations if e.date < base.date]
    if not pool:
        side = "after" if offset_days > 0 else "before"
        raise SelectionError(
            f"no expiration {side} {base.date:%Y-%m-%d} for an offset of {offset_days} days"
        )
    return min(pool, key=lambda e: (abs((e.date - target).days), e.date))


# --- strikes ---------------------------------------------------------------------------------


def select_strike(
    expiration: Expiration,
    leg: StrategyLeg,
    spot: Decimal,
    resolved: Sequence[ResolvedLeg | OptionContract],
    now: datetime,
    max_quote_age: float = 120.0,
) -> tuple[OptionContract, str]:
    """Pick the contract for ``leg`` in ``expiration``; returns it with a one-line reason.

    ``resolved`` holds the legs chosen so far, in strategy order, so LEG_OFFSET and WIDTH can
    measure from their reference leg. Raises :class:`SelectionError` when nothing qualifies.
    """
    if spot <= 0:
        raise SelectionError(f"spot: must be > 0, got {spot}")
    if not expiration.strikes:
        raise SelectionError(f"expiration {expiration.date:%Y-%m-%d} has no strikes")
    sel = leg.selection
    method = sel.method
    kind = _type_name(leg.option_type)
    if method is SelectionMethod.DELTA:
        contract, reason = _by_delta(expiration, leg.option_type, float(sel.value))
    elif method is SelectionMethod.PREMIUM:
        contract, reason = _by_premium(expiration, leg.option_type, sel.value)
    else:
        target, label = _price_target(leg, spot, resolved)
        if target <= 0:
            raise SelectionError(f"no {kind} strike at {label}: target {target} is not positive")
        contract = _nearest_strike(expiration, leg.option_type, target, method, resolved, leg)
        reason = f"{label}: strike {_fmt(contract.strike)}"
    _check_quote(contract, leg.side, now, max_quote_age)
    return contract, reason


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _further_otm_first(expiration: Expiration, option_type: OptionType) -> Sequence[OptionContract]:
    """Contracts ordered so that the first of equal candidates is the further out of the money."""
    contracts = [s.contract(option_type) for s in expiration.strikes]
    if option_type is OptionType.CALL:
        contracts.reverse()
    return contracts


def _by_delta(
    expiration: Expiration, option_type: OptionType, value: float
) -> tuple[OptionContract, str]:
    kind = _type_name(option_type)
    if not 0.0 < value < 1.0:
        raise SelectionError(f"selection.value: delta must be between 0 and 1, got {value}")
    best: OptionContract | None = None
    best_dist = math.inf
    best_delta = 0.0
    for contract in _further_otm_first(expiration, option_type):
        greeks = contract.greeks
        if greeks is None or not math.isfinite(greeks.delta):
            continue
        dist = round(abs(abs(greeks.delta) - value), 9)  # float noise must not break ties
        if dist < best_dist:
            best, best_dist, best_delta = contract, dist, greeks.delta
    if best is None:
        raise SelectionError(
            f"no {kind} with delta near {value:g} on {expiration.date:%Y-%m-%d} (greeks missing)"
        )
    if best_dist > DELTA_TOLERANCE:
        raise SelectionError(
            f"no {kind} with delta near {value:g} on {expiration.date:%Y-%m-%d} "
            f"(closest is {abs(best_delta):.2f} at strike {_fmt(best.strike)})"
        )
    return best, f"delta {value:g}: strike {_fmt(best.strike)} (delta {best_delta:+.3f})"


def _by_premium(
    expiration: Expiration, option_type: OptionType, value: Decimal
) -> tuple[OptionContract, str]:
    kind = _type_name(option_type)
    if value <= 0:
        raise SelectionError(f"selection.value: premium must be > 0, got {value}")
    best: OptionContract | None = None
    best_dist: Decimal | None = None
    for contract in _further_otm_first(expiration, option_type):
        quote = contract.quote
        if quote is None or quote.ask <= 0 or quote.ask < quote.bid:
            continue
        dist = abs(quote.mid - value)
        if best_dist is None or dist < best_dist:
            best, best_dist = contract, dist
    if best is None or best.quote is None:
        raise SelectionError(
            f"no {kind} with a premium near {_fmt(value)} on {expiration.date:%Y-%m-%d} "
            "(quotes missing)"
        )
    mid = best.quote.mid.quantize(Decimal("0.01"))
    return best, f"premium {_fmt(value)}: strike {_fmt(best.strike)} (mid {mid})"


def _reference_strike(
    leg: StrategyLeg, resolved: Sequence[ResolvedLeg | OptionContract]
) -> Decimal:
    ref = leg.selection.reference_leg
    method = leg.selection.method.value
    if ref is None:
        raise SelectionError(f"selection.reference_leg: required for {method} selection")
    if ref < 0:
        raise SelectionError(f"selection.reference_leg: must be >= 0, got {ref}")
    if ref >= len(resolved):
        raise SelectionError(
            f"selection.reference_leg: leg {ref + 1} is not resolved yet "
            f"(only {len(resolved)} leg(s) precede this one)"
        )
    return resolved[ref].strike


def _price_target(
    leg: StrategyLeg, spot: Decimal, resolved: Sequence[ResolvedLeg | OptionContract]
) -> tuple[Decimal, str]:
    sel = leg.selection
    method = sel.method
    value = sel.value
    if method is SelectionMethod.ATM:
        return spot, f"at the money ({_fmt(spot)})"
    if method is SelectionMethod.OFFSET:
        return spot + value, f"{_fmt(value):s} from spot {_fmt(spot)}"
    if method is SelectionMethod.PERCENT:
        return spot * (1 + value / _HUNDRED), f"{_fmt(value)}% from spot {_fmt(spot)}"
    if method is SelectionMethod.LEG_OFFSET:
        ref = _reference_strike(leg, resolved)
        return ref + value, f"{_fmt(value)} from leg {sel.reference_leg + 1} strike {_fmt(ref)}"
    if method is SelectionMethod.WIDTH:
        if value <= 0:
            raise SelectionError(f"selection.value: width must be > 0, got {value}")
        ref = _reference_strike(leg, resolved)
        where = f"leg {sel.reference_leg + 1} strike {_fmt(ref)}"
        if leg.option_type is OptionType.PUT:
            return ref - value, f"{_fmt(value)} below {where}"
        return ref + value, f"{_fmt(value)} above {where}"
    raise SelectionError(f"selection.method: unknown method {method!r}")


def _nearest_strike(
    expiration: Expiration,
    option_type: OptionType,
    target: Decimal,
    method: SelectionMethod,
    resolved: Sequence[ResolvedLeg | OptionContract],
    leg: StrategyLeg,
) -> OptionContract:
    """Closest strike to ``target`` by bisection; WIDTH only looks strictly beyond its reference."""
    strikes = expiration.strikes
    prices = [s.price for s in strikes]
    lo, hi = 0, len(prices)
    if method is SelectionMethod.WIDTH:
        ref = _reference_strike(leg, resolved)
        kind = _type_name(option_type)
        if option_type is OptionType.PUT:
            hi = bisect_left(prices, ref)
            if hi == 0:
                raise SelectionError(
                    f"no {kind} strike below {_fmt(ref)} on {expiration.date:%Y-%m-%d}"
                )
        else:
            lo = bisect_left(prices, ref)
            if lo < len(prices) and prices[lo] == ref:
                lo += 1
            if lo >= len(prices):
                raise SelectionError(
                    f"no {kind} strike above {_fmt(ref)} on {expiration.date:%Y-%m-%d}"
                )
    i = bisect_left(prices, target, lo, hi)
    candidates = [j for j in (i - 1, i) if lo <= j < hi]
    if len(candidates) == 1:
        return strikes[candidates[0]].contract(option_type)
    below, above = candidates
    d_below = target - prices[below]
    d_above = prices[above] - target
    if d_below < d_above:
        pick = below
    elif d_above < d_below:
        pick = above
    else:
        pick = below if option_type is OptionType.PUT else above
    return strikes[pick].contract(option_type)


def quote_age(contract: OptionContract, now: datetime) -> float | None:
    """Seconds since the contract's quote; None without a quote. Future stamps count as fresh."""
    if contract.quote is None:
        return None
    return max(0.0, (now - contract.quote.time).total_seconds())


def _check_quote(contract: OptionContract, side: Side, now: datetime, max_age: float) -> None:
    name = display_symbol(contract.symbol)
    quote = contract.quote
    if quote is None:
        raise SelectionError(f"no quote for {name}")
    age = quote_age(contract, now)
    if age is not None and age > max_age:
        raise SelectionError(f"quote for {name} is stale ({age:.0f} s old)")
    if quote.ask <= 0 or quote.ask < quote.bid:
        raise SelectionError(f"no valid market for {name} (bid {quote.bid}, ask {quote.ask})")
    if side is Side.SELL and quote.bid <= 0:
        raise SelectionError(f"bid is zero for {name}: nothing to sell into")

