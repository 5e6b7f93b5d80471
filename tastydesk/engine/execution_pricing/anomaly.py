"""Pricing-anomaly failsafe: is a set of quotes fit to trigger a rule or price an order?

Why: one bad print (a bid that vanished, a crossed market, a quote from before a halt) can make
a position look deep in loss for a single evaluation and fire its stop, or price a close far
from where the market really is. A quote set that fails any check here neither triggers rules
nor prices orders, and the engine raises an alert naming the reason.

The legs are those of the order the quotes would price, from our side: ``sign`` +1 for a leg
we sell in it, -1 for one we buy. For the rule monitor that is the closing order (a short leg is
bought back, a long leg sold). Prices are per share; the spread's figures per unit are signed
(credit +), as everywhere.

Checks, in order:

* ``NO_QUOTE``: a leg lacks a bid or an ask.
* ``CROSSED``: a leg's bid is above its ask, or either is negative.
* ``ZERO_BID``: a leg we sell has no bid while its ask says it is worth something (an ask above
  ``zero_bid_max_ask``); a worthless far wing quoted 0.00 x 0.05 is normal and passes.
* ``INVERTED``: two legs of one type and expiry are quoted out of strike order (a call's ask
  below the bid of a higher-strike call, or a put's ask below the bid of a lower-strike put),
  which no live market allows.
* ``WIDE``: the spread's width (far - natural) exceeds ``max_spread_share`` of its mid, and
  ``min_spread_per_leg`` per contract in the unit (so a cheap close is not blocked by pennies).
* ``JUMP``: the mid moved from the last recent mid by more than ``jump_multiple`` times the
  range of the recent mids (at least ``min_range``). The engine should keep every mid in its
  recent window, flagged or not, so a genuine move passes on the next quote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from tastydesk.engine.domain.enums import OptionType

Price = Decimal | float


class QuoteAnomaly(StrEnum):
    NO_QUOTE = "no_quote"
    CROSSED = "crossed"
    ZERO_BID = "zero_bid"
    INVERTED = "inverted"
    WIDE = "wide"
    JUMP = "jump"


DESCRIPTIONS: dict[QuoteAnomaly, str] = {
    QuoteAnomaly.NO_QUOTE: "a leg has no bid or no ask",
    QuoteAnomaly.CROSSED: "a leg's bid is above its ask",
    QuoteAnomaly.ZERO_BID: "a leg to be sold has no bid",
    QuoteAnomaly.INVERTED: "two legs are quoted out of strike order",
    QuoteAnomaly.WIDE: "the spread is too wide for its price",
    QuoteAnomaly.JUMP: "the price jumped far beyond its recent range",
}


@dataclass(frozen=True, slots=True)
class LegQuote:
    """One leg of the order with its quote; strike, type and expiry enable the inversion check."""

    sign: int  # +1 sold in this order, -1 bought
    ratio: int  # contracts per spread unit, > 0
    bid: Price | None
    ask: Price | None
    option_type: OptionType | None = None
    strike: Price | None = None
    expiry: date | None = None


@dataclass(frozen=True, slots=True)
class AnomalyLimits:
    max_spread_share: float = 0.5
    min_spread_per_leg: float = 0.10
    zero_bid_max_ask: float = 0.10
    jump_multiple: float = 3.0
    min_range: float = 0.05

    def __post_init__(self) -> None:
        for name in ("max_spread_share", "min_spread_per_leg", "zero_bid_max_ask",
                     "jump_multiple", "min_range"):
            value = getattr(self, name)
            if not value >= 0:
                raise ValueError(f"{name}: must be >= 0, got {value}")


DEFAULT_LIMITS = AnomalyLimits()


class _Leg:
    """A leg's figures as floats (the checks run on every quote of a monitored position)."""

    __slots__ = ("ask", "bid", "expiry", "option_type", "ratio", "sign", "strike")

    def __init__(self, leg: LegQuote, bid: float, ask: float) -> None:
        self.sign, self.ratio, self.bid, self.ask = leg.sign, leg.ratio, bid, ask
        self.option_type, self.expiry = leg.option_type, leg.expiry
        self.strike = None if leg.strike is None else float(leg.strike)


def _quoted(legs: Sequence[LegQuote]) -> list[_Leg] | None:
    out: list[_Leg] = []
    for leg in legs:
        if leg.bid is None or leg.ask is None:
            return None
        out.append(_Leg(leg, float(leg.bid), float(leg.ask)))
    return out


def _figures(legs: Sequence[_Leg]) -> tuple[float, float, float]:
    mid = natural = far = 0.0
    for leg in legs:
        if leg.sign > 0:
            natural += leg.ratio * leg.bid
            far += leg.ratio * leg.ask
        else:
            natural -= leg.ratio * leg.ask
            far -= leg.ratio * leg.bid
        mid += leg.sign * leg.ratio * (leg.bid + leg.ask) / 2.0
    return mid, natural, far


def spread_figures(legs: Sequence[LegQuote]) -> tuple[float, float, float] | None:
    """``(mid, natural, far)`` of one unit, signed (credit +); ``None`` while a leg is unquoted."""
    quoted = _quoted(legs)
    return None if quoted is None else _figures(quoted)


def _inverted(legs: Sequence[_Leg]) -> bool:
    known = sorted((leg for leg in legs if leg.option_type is not None and leg.strike is not None),
                   key=lambda leg: leg.strike or 0.0)
    for i, low in enumerate(known):
        for high in known[i + 1:]:
            if (low.option_type is not high.option_type or low.expiry != high.expiry
                    or low.strike == high.strike):
                continue
            # Calls are worth more at lower strikes, puts at higher ones.
            rich, cheap = (low, high) if low.option_type is OptionType.CALL else (high, low)
            if rich.ask < cheap.bid:
                return True
    return False


def quote_anomaly(
    legs: Sequence[LegQuote], recent_mids: Sequence[Price] = (),
    limits: AnomalyLimits = DEFAULT_LIMITS,
) -> QuoteAnomaly | None:
    """The first reason the quotes are unusable (see the module docstring), or ``None``."""
    if not legs:
        raise ValueError("legs: a quote set needs at least one leg")
    quoted = _quoted(legs)
    if quoted is None:
        return QuoteAnomaly.NO_QUOTE
    if any(leg.bid > leg.ask or leg.bid < 0 for leg in quoted):
        return QuoteAnomaly.CROSSED
    if any(leg.sign > 0 and leg.bid <= 0 and leg.ask > limits.zero_bid_max_ask for leg in quoted):
        return QuoteAnomaly.ZERO_BID
    if len(quoted) > 1 and _inverted(quoted):
        return QuoteAnomaly.INVERTED
    mid, natural, far = _figures(quoted)
    contracts = sum(leg.ratio for leg in quoted)
    allowed = max(limits.max_spread_share * abs(mid), limits.min_spread_per_leg * contracts)
    if far - natural > allowed + 1e-9:
        return QuoteAnomaly.WIDE
    if len(recent_mids) >= 2:
        recent = [float(m) for m in recent_mids]
        span = max(max(recent) - min(recent), limits.min_range)
        if abs(mid - recent[-1]) > limits.jump_multiple * span + 1e-9:
            return QuoteAnomaly.JUMP
    return None
