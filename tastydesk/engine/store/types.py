"""Column types that keep money exact and time unambiguous.

Decimals are stored as TEXT (``str(Decimal)``) so no value ever passes through a float. Times
are stored as fixed-width ISO-8601 UTC text (``2026-01-02T15:04:05.123456+00:00``): it sorts
correctly as text, reads well in any SQLite browser, and always comes back timezone-aware UTC.
Naive datetimes are refused rather than guessed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator


def encode_decimal(value: Decimal | int | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool | float):
        raise TypeError(f"refusing to store {type(value).__name__} {value!r} as money: "
                        "use Decimal")
    try:
        number = value if isinstance(value, Decimal) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a decimal number: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"refusing to store non-finite decimal {number}")
    return str(number)


def decode_decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def encode_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"refusing to store naive datetime {value.isoformat()}: "
                         "give it a timezone")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def decode_datetime(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def encode_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def decode_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return encode_datetime(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


class DecimalText(TypeDecorator[Decimal]):
    """Exact Decimal as TEXT."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return encode_decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return decode_decimal(value)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetime as sortable ISO text."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return encode_datetime(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return decode_datetime(value)


class JsonText(TypeDecorator[Any]):
    """A JSON document as TEXT, with Decimals written as strings."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else encode_json(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return decode_json(value)
