"""Display formatting for money, prices, percentages and ages (sign in text, never colour alone)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

MINUS = "\u2212"


def money(value: Decimal | float | None, signed: bool = False, places: int = 2) -> str:
    """``$1,234.56``; with ``signed`` a leading ``+`` or minus sign so P&L reads without colour."""
    if value is None:
        return "\u2014"
    number = float(value)
    body = f"${abs(number):,.{places}f}"
    if number < 0:
        return MINUS + body
    if signed and number > 0:
        return "+" + body
    return body


def price(value: Decimal | None) -> str:
    """A signed per-share price as ``0.85 cr`` (credit, positive) or ``1.20 db`` (debit)."""
    if value is None:
        return "\u2014"
    if value == 0:
        return "0.00"
    return f"{abs(value):.2f} {'cr' if value > 0 else 'db'}"


def pct(value: float | None, signed: bool = False, places: int = 0) -> str:
    if value is None:
        return "\u2014"
    text = f"{abs(value):.{places}f}%"
    if value < 0:
        return MINUS + text
    return ("+" + text) if signed and value > 0 else text


def number(value: float | None, places: int = 2, signed: bool = False) -> str:
    if value is None:
        return "\u2014"
    text = f"{abs(value):,.{places}f}"
    if value < 0:
        return MINUS + text
    return ("+" + text) if signed and value > 0 else text


def age(seconds: float | None) -> str:
    """Compact age: ``42s``, ``7m``, ``3h 05m``, ``2d``."""
    if seconds is None:
        return "\u2014"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d"


def timestamp(value: datetime | None) -> str:
    """Local wall time of a UTC timestamp, as ``2026-11-23 14:05:09``."""
    if value is None:
        return "\u2014"
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def clock_time(value: datetime | None) -> str:
    if value is None:
        return "\u2014"
    return value.astimezone().strftime("%a %H:%M:%S")
