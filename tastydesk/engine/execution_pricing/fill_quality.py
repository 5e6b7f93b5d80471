"""Fill quality: how much of the bid/ask spread each fill gave away, and averages of it.

Why: the walk's presets are only as good as the prices they get. Every fill is recorded with
the spread's mid and natural at that moment; the share of the spread conceded is 0 at mid and 1
at natural (negative: better than mid; above 1: worse than natural). Prices are per share and
signed (credit +), so "fill - mid" is positive when the fill beat the mid, for credits and
debits alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from tastydesk.engine.domain.enums import OrderPurpose
from tastydesk.engine.domain.money import CENT, MULTIPLIER, ZERO
from tastydesk.engine.domain.records import OrderEventRecord


def spread_share_conceded(fill: Decimal, mid: Decimal, natural: Decimal) -> float | None:
    """``(mid - fill) / (mid - natural)``; ``None`` when mid and natural coincide (no spread)."""
    width = mid - natural
    if width == 0:
        return None
    return float((mid - fill) / width)


@dataclass(frozen=True, slots=True)
class FillSample:
    """One fill with the market at that moment, per share and signed (credit +)."""

    symbol: str
    strategy: str
    units: int  # spread units filled
    fill: Decimal
    mid: Decimal
    natural: Decimal
    purpose: OrderPurpose = OrderPurpose.OPEN

    def __post_init__(self) -> None:
        if self.units <= 0:
            raise ValueError(f"units: must be > 0, got {self.units}")

    @property
    def vs_mid(self) -> Decimal:
        """``fill - mid`` per share: + better than mid."""
        return self.fill - self.mid

    @property
    def share_conceded(self) -> float | None:
        return spread_share_conceded(self.fill, self.mid, self.natural)


@dataclass(frozen=True, slots=True)
class FillQuality:
    """Averages over a set of fills, weighted by units.

    ``avg_vs_mid`` is dollars per spread unit (x 100), + better than mid, as the Analytics view
    shows it. ``spread_share_conceded`` is the conceded dollars over the spread's dollars (mid to
    natural) summed over the fills with a spread, so a fill on a one-cent spread cannot swamp
    the figure; ``None`` without any.
    """

    fills: int
    units: int
    avg_vs_mid: Decimal
    total_vs_mid: Decimal
    spread_share_conceded: float | None


EMPTY = FillQuality(0, 0, ZERO, ZERO, None)


def summarise(samples: Iterable[FillSample], multiplier: Decimal = MULTIPLIER) -> FillQuality:
    """The :class:`FillQuality` of ``samples`` (``EMPTY`` when there are none)."""
    fills = units = 0
    total = conceded = width = ZERO
    for s in samples:
        fills += 1
        units += s.units
        total += s.vs_mid * s.units * multiplier
        if s.mid != s.natural:
            conceded += (s.mid - s.fill) * s.units
            width += (s.mid - s.natural) * s.units
    if fills == 0:
        return EMPTY
    avg = (total / units).quantize(CENT, rounding=ROUND_HALF_EVEN)
    share = float(conceded / width) if width != 0 else None
    return FillQuality(fills, units, avg, total.quantize(CENT, rounding=ROUND_HALF_EVEN), share)


def group_by(samples: Iterable[FillSample], key: Callable[[FillSample], str],
             multiplier: Decimal = MULTIPLIER) -> dict[str, FillQuality]:
    """:func:`summarise` per key, keys in first-seen order."""
    groups: dict[str, list[FillSample]] = {}
    for s in samples:
        groups.setdefault(key(s), []).append(s)
    return {k: summarise(v, multiplier) for k, v in groups.items()}


def by_symbol(samples: Iterable[FillSample]) -> dict[str, FillQuality]:
    return group_by(samples, lambda s: s.symbol)


def by_strategy(samples: Iterable[FillSample]) -> dict[str, FillQuality]:
    return group_by(samples, lambda s: s.strategy)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100), as the benchmarks report; ``None`` if empty.
    For figures such as the number of price steps a stop exit needed (p90)."""
    if not 0 <= q <= 100:
        raise ValueError(f"q: must be within 0..100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def samples_from_events(symbol: str, strategy: str, purpose: OrderPurpose,
                        events: Iterable[OrderEventRecord]) -> list[FillSample]:
    """The fills an order's event history records: each event carrying the market (``mid`` and
    ``natural``) whose filled quantity grew gives one sample, at the limit the order had then
    (what the broker fills a limit order at). Events stored before the market was recorded give
    none."""
    out = []
    price: Decimal | None = None
    filled = 0
    for e in events:
        if e.price is not None:
            price = e.price
        if e.filled_quantity is None or e.filled_quantity <= filled:
            continue
        units = e.filled_quantity - filled
        filled = e.filled_quantity
        if price is not None and e.mid is not None and e.natural is not None:
            out.append(FillSample(symbol, strategy, units, price, e.mid, e.natural, purpose))
    return out
