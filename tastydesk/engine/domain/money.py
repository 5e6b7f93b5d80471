"""Decimal helpers. Prices follow tastytrade's sign convention: credit positive, debit negative."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

ZERO = Decimal("0")
CENT = Decimal("0.01")
MULTIPLIER = Decimal("100")  # equity option contract multiplier


def to_decimal(value: float | int | str | Decimal, places: Decimal = CENT) -> Decimal:
    """Convert a float from pricing math to a Decimal rounded to ``places`` (edge of float land)."""
    if isinstance(value, Decimal):
        return value.quantize(places, rounding=ROUND_HALF_EVEN)
    return Decimal(str(value)).quantize(places, rounding=ROUND_HALF_EVEN)


def tick_size(price: Decimal) -> Decimal:
    """Equity option tick: $0.05 at or above $3, $0.01 below (penny-pilot names quote in pennies)."""
    return CENT if abs(price) < Decimal("3") else Decimal("0.05")


def round_to_tick(price: Decimal, tick: Decimal = CENT) -> Decimal:
    """Round a price to a multiple of ``tick``, keeping its sign."""
    steps = (price / tick).quantize(Decimal("1"), rounding=ROUND_HALF_EVEN)
    return (steps * tick).quantize(tick)
