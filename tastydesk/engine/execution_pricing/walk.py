"""Pricing by the spread: each attempt concedes a share of the distance from the start to natural.

Why: a fixed $0.01 step concedes $0.05 in six attempts of spreads that are often $0.20 to $0.60
wide, so most orders never come near the price the market would take and are cancelled. Here the
attempts divide ``natural - start`` evenly, so the last attempt is at natural (or the trader's
limit, whichever comes first) whatever the width of the spread.

Prices are signed (credit +, debit -), so "worse for us" is always "lower": for a credit the
natural is below mid, for a debit it is more negative, and one rule serves both. Every price is
rounded to the instrument's tick toward the worst acceptable price, so rounding never crosses the
trader's limit.

Urgency follows the purpose: entries are patient (nothing is at stake yet), profit-taking exits
normal, protective exits (stop loss, delta breach, expiration risk) fast: a short interval, at
natural by the third price, then re-priced at the market's natural until filled, never past the
natural at the trigger by more than the slippage the trader accepts (``max_exit_slippage``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from tastydesk.engine.domain.enums import OrderPurpose, RuleType
from tastydesk.engine.domain.instruments import TickTable
from tastydesk.engine.domain.money import ZERO


class Urgency(StrEnum):
    PATIENT = "patient"
    NORMAL = "normal"
    FAST = "fast"


@dataclass(frozen=True, slots=True)
class PriceWalk:
    """How a limit order walks from its start to natural.

    ``attempts`` counts the prices from the start to natural inclusive (one attempt: straight at
    natural), ``interval_seconds`` apart. After the walk the order is re-priced at the then
    natural ``repeats_at_natural`` more times (``None``: until filled). ``start_offset`` is added
    to mid for the first price, in our favour. ``max_slippage`` bounds the walk to that many
    dollars per share past the natural at its start (see :func:`walk_limit`). ``step_share``
    (a strategy's custom value, 0 < share <= 1) makes each step concede that share of the
    distance to natural instead of dividing it evenly over the attempts.
    """

    interval_seconds: float
    attempts: int
    start_offset: Decimal = ZERO
    repeats_at_natural: int | None = 0
    max_slippage: Decimal | None = None
    step_share: Decimal | None = None

    def __post_init__(self) -> None:
        if not self.interval_seconds > 0:
            raise ValueError(f"interval_seconds: must be > 0, got {self.interval_seconds}")
        if self.attempts < 1:
            raise ValueError(f"attempts: must be >= 1, got {self.attempts}")
        if self.start_offset < 0:
            raise ValueError(f"start_offset: must be >= 0, got {self.start_offset}")
        if self.repeats_at_natural is not None and self.repeats_at_natural < 0:
            raise ValueError(
                f"repeats_at_natural: must be >= 0 or None, got {self.repeats_at_natural}")
        if self.max_slippage is not None and self.max_slippage < 0:
            raise ValueError(f"max_slippage: must be >= 0, got {self.max_slippage}")
        if self.step_share is not None and not ZERO < self.step_share <= 1:
            raise ValueError(f"step_share: must be above 0 and at most 1, got {self.step_share}")

    @property
    def last_attempt(self) -> int | None:
        """Index of the final attempt (the first is 0); ``None`` when it re-prices until filled."""
        if self.repeats_at_natural is None:
            return None
        return self.attempts - 1 + self.repeats_at_natural

    def has_attempt(self, attempt: int) -> bool:
        """Whether the walk prices attempt number ``attempt`` (0-based) at all."""
        last = self.last_attempt
        return attempt >= 0 and (last is None or attempt <= last)


#: Entries: five prices two minutes apart (mid, a quarter, half, three quarters, natural).
PATIENT = PriceWalk(interval_seconds=120, attempts=5)
#: Profit-taking and time exits: four prices 30 s apart (mid, a third, two thirds, natural).
NORMAL = PriceWalk(interval_seconds=30, attempts=4)
#: Protective exits: mid, halfway, natural 5 s apart, then natural again until filled, at most
#: $0.50 per share past the natural at the trigger unless the trader sets otherwise.
FAST = PriceWalk(interval_seconds=5, attempts=3, repeats_at_natural=None,
                 max_slippage=Decimal("0.50"))
PRESETS: dict[Urgency, PriceWalk] = {
    Urgency.PATIENT: PATIENT, Urgency.NORMAL: NORMAL, Urgency.FAST: FAST,
}


def preset(urgency: Urgency, **custom: object) -> PriceWalk:
    """The preset for ``urgency`` with any field replaced by a trader's value (validated)."""
    return dataclasses.replace(PRESETS[urgency], **custom)  # type: ignore[arg-type]


class WalkChoice(NamedTuple):
    urgency: Urgency
    reason: str  # one line for the timeline: which walk and why


_FAST_RULES = {RuleType.STOP_LOSS: "stop loss", RuleType.DELTA_BREACH: "delta breach",
               RuleType.EXPIRATION_RISK: "expiration risk"}


def urgency_for(
    purpose: OrderPurpose, rule_type: RuleType | None = None, *, expiration_risk: bool = False
) -> WalkChoice:
    """The urgency an order's purpose calls for, with the reason the timeline shows.

    Entries are patient; closes for a stop loss, a delta breach or expiration risk are fast;
    every other close, partial close or roll (profit target, time exit, the trader's own) is
    normal.
    """
    if purpose is OrderPurpose.OPEN:
        return WalkChoice(Urgency.PATIENT, "patient pricing: entry")
    if expiration_risk:
        return WalkChoice(Urgency.FAST, "fast pricing: expiration risk")
    if rule_type in _FAST_RULES:
        return WalkChoice(Urgency.FAST, f"fast pricing: {_FAST_RULES[rule_type]}")
    why = rule_type.value.replace("_", " ") if rule_type is not None else purpose.value.replace(
        "_", " ")
    return WalkChoice(Urgency.NORMAL, f"normal pricing: {why}")


def start_price(mid: Decimal, walk: PriceWalk) -> Decimal:
    """The walk's first (unrounded) price: mid plus the offset in our favour."""
    return mid + walk.start_offset


def walk_limit(natural: Decimal, limit: Decimal | None, walk: PriceWalk) -> Decimal | None:
    """The worst price the walk may take: the trader's limit, tightened to ``natural`` less the
    walk's maximum slippage (``natural`` taken when the walk starts: a walk that re-prices at
    the market's natural follows it only that far when it runs away)."""
    if walk.max_slippage is None:
        return limit
    bound = natural - walk.max_slippage
    return bound if limit is None else max(limit, bound)


def floor_price(natural: Decimal, limit: Decimal | None) -> Decimal:
    """Where the walk ends: natural, or the trader's limit when that is nearer."""
    return natural if limit is None else max(natural, limit)


def step_price(
    start: Decimal, natural: Decimal, limit: Decimal | None, attempt: int, walk: PriceWalk,
    ticks: TickTable,
) -> Decimal:
    """The limit price of attempt ``attempt`` (0 = the start), on tick and never past ``limit``.

    Attempt ``i`` of ``n`` sits ``i / (n - 1)`` of the way from ``start`` to the floor (natural,
    or ``limit`` when nearer); attempts from ``n - 1`` on are at the floor. With a
    ``step_share`` attempt ``i`` sits ``min(1, i * share)`` of the way instead (the last attempt
    may then stop short of natural). Pass the current natural on each attempt to follow the
    market; a start already at or past the floor prices every attempt at the floor.
    """
    if attempt < 0:
        raise ValueError(f"attempt: must be >= 0, got {attempt}")
    floor = floor_price(natural, limit)
    last = walk.attempts - 1
    if walk.step_share is not None and start > floor:
        raw = start + (floor - start) * min(Decimal(1), walk.step_share * attempt)
    elif start <= floor or attempt >= last:
        raw = floor
    else:
        raw = start + (floor - start) * Decimal(attempt) / Decimal(last)
    return ticks.round(raw, toward=floor)
