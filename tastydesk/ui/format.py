"""Display formatting for money, prices, percentages, option legs, ages and times.

The sign is always in the text (never colour alone), and a figure that rounds to zero is shown
without a sign ("0%", "$0.00"): "+0%" or "-0" would claim a direction the number does not have.
Times are shown in New York time, the market's own clock, with the zone named; a QSettings flag
(:data:`LOCAL_TIME_KEY`, set in the Settings dialog) switches them to the computer's local zone.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

from PySide6.QtCore import QSettings

from tastydesk.engine.domain.chain import parse_occ
from tastydesk.engine.domain.enums import OptionType

MINUS = "\u2212"
DASH = "\u2014"
NEW_YORK = ZoneInfo("America/New_York")
LOCAL_TIME_KEY = "display/local_time"


def _signed(number: float, body: str, signed: bool) -> str:
    """``body`` (already rounded, unsigned) with the sign the rounded figure really has."""
    if number < 0:
        return MINUS + body
    return ("+" + body) if signed and number > 0 else body


def money(value: Decimal | float | None, signed: bool = False, places: int = 2) -> str:
    """``$1,234.56``; with ``signed`` a leading ``+`` or minus sign so P&L reads without colour."""
    if value is None:
        return DASH
    number = round(float(value), places)
    return _signed(number, f"${abs(number):,.{places}f}", signed)


def price(value: Decimal | None) -> str:
    """A signed per-share price as ``0.85 cr`` (credit, positive) or ``1.20 db`` (debit)."""
    if value is None:
        return DASH
    if round(value, 2) == 0:
        return "0.00"
    return f"{abs(value):.2f} {'cr' if value > 0 else 'db'}"


def closing_price(mark: Decimal | None) -> str:
    """The price of the order that closes a position whose value is ``mark``.

    ``mark`` follows the entry's convention (a credit spread's value is positive), and closing
    trades the other way: a credit spread is bought back for a debit, a debit spread sold for a
    credit. So a mark of ``+3.26`` closes as ``3.26 db``.
    """
    return DASH if mark is None else price(-mark)


def pct(value: float | None, signed: bool = False, places: int = 0) -> str:
    if value is None:
        return DASH
    number = round(float(value), places)
    return _signed(number, f"{abs(number):.{places}f}%", signed)


def number(value: float | None, places: int = 2, signed: bool = False) -> str:
    if value is None:
        return DASH
    rounded = round(float(value), places)
    return _signed(rounded, f"{abs(rounded):,.{places}f}", signed)


def strike(value: Decimal) -> str:
    """A strike without trailing zeros: ``175``, ``612.5``, ``1,250``."""
    return f"{value.normalize():,f}"


def leg_name(root: str, expiry: date, option_type: OptionType | str, strike_price: Decimal) -> str:
    """An option leg as a trader reads it: ``NVDA 15 Jan 27 175 C``."""
    kind = "C" if str(option_type).upper().startswith("C") else "P"
    return f"{root} {expiry.day} {expiry:%b %y} {strike(strike_price)} {kind}"


def instrument(symbol: str) -> str:
    """An OCC option symbol as :func:`leg_name`; anything else (shares) shown plainly."""
    try:
        root, expiry, option_type, strike_price = parse_occ(symbol)
    except ValueError:
        return " ".join(symbol.split())
    return leg_name(root, expiry, option_type, strike_price)


def age(seconds: float | None) -> str:
    """Compact age: ``42s``, ``7m``, ``3h 05m``, ``2d``."""
    if seconds is None:
        return DASH
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d"


# ---- Times


def local_time() -> bool:
    """Whether times show in the computer's zone instead of New York (a user setting)."""
    value = QSettings().value(LOCAL_TIME_KEY, False)
    return value is True or str(value).lower() in ("true", "1")


def set_local_time(on: bool) -> None:
    QSettings().setValue(LOCAL_TIME_KEY, bool(on))


def _zoned(value: datetime) -> tuple[datetime, str]:
    if local_time():
        here = value.astimezone()
        return here, here.strftime("%Z") or "local"
    zone: tzinfo = NEW_YORK
    return value.astimezone(zone), "ET"


def timestamp(value: datetime | None) -> str:
    """Date and time of a UTC timestamp with its zone: ``2026-11-23 09:05:09 ET``."""
    if value is None:
        return DASH
    when, zone = _zoned(value)
    return f"{when:%Y-%m-%d %H:%M:%S} {zone}"


_ENGINE_STAMP = re.compile(r"\b(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})\b(?! [A-Z])")


def zoned_text(text: str) -> str:
    """Engine-written text with each bare ``YYYY-MM-DD HH:MM:SS`` (the engine's UTC clock) shown
    in the display zone with the zone named, like every other time on the desk."""
    return _ENGINE_STAMP.sub(
        lambda m: timestamp(datetime.fromisoformat(m[1]).replace(tzinfo=UTC)), text)


def clock_time(value: datetime | None) -> str:
    """Weekday and time with the zone: ``Mon 09:54:46 ET``."""
    if value is None:
        return DASH
    when, zone = _zoned(value)
    return f"{when:%a %H:%M:%S} {zone}"


def time_of_day(value: datetime | None) -> str:
    """Time with the zone: ``14:52:54 ET``."""
    if value is None:
        return DASH
    when, zone = _zoned(value)
    return f"{when:%H:%M:%S} {zone}"


def zone_name() -> str:
    """How the zone of displayed times reads in explanations."""
    return "your computer's local time" if local_time() else "New York time (ET)"
