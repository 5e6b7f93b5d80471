"""Prices and strikes as Decimal, memoised: a chain of a thousand contracts converts the same
few hundred cent values and strikes over and over, and building a Decimal is not free."""

from __future__ import annotations

from decimal import Decimal

CENT_VALUES: dict[int, Decimal] = {}  # integer cents -> Decimal dollars (read-mostly memo)
_STRIKES: dict[float, Decimal] = {}
_MAX_CENTS = 500_000


def cents(value: int) -> Decimal:
    """``value`` integer cents as Decimal dollars (``123`` -> ``1.23``)."""
    dec = CENT_VALUES.get(value)
    if dec is None:
        dec = Decimal(value).scaleb(-2)
        if len(CENT_VALUES) < _MAX_CENTS:
            CENT_VALUES[value] = dec
    return dec


def plain(dec: Decimal) -> Decimal:
    """A strike without exponent noise: ``590`` rather than ``5.9E+2``."""
    return dec.quantize(Decimal(1)) if dec == dec.to_integral_value() else dec.normalize()


def strike_decimal(value: float) -> Decimal:
    """A strike as the exchange writes it: ``590``, ``602.5``, ``92.25`` (never ``5.9E+2``)."""
    dec = _STRIKES.get(value)
    if dec is None:
        dec = plain(Decimal(f"{value:.2f}"))
        _STRIKES[value] = dec
    return dec
