"""Reading single fields of untrusted data, each problem recorded with the path of its field.

:class:`FieldReader` is what :mod:`tastydesk.engine.strategies.validation` builds a strategy
with: it reads integers, decimals, booleans, text and enum values out of mappings, never raises
on bad input, and records a :class:`FieldError` per problem (``legs[2].selection.value: must be
a finite number``). Text must be storable as UTF-8 (a lone surrogate is refused), numbers
finite (NaN and Infinity are named by their path), and keys non-empty.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

E = TypeVar("E", bound=StrEnum)
MISSING: Any = object()  # "no value": a required field left out, or a field that was invalid


@dataclass(frozen=True, slots=True)
class FieldError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class StrategyValidationError(ValueError):
    """Raised with every problem found; ``errors`` lists them field by field."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("invalid strategy: " + "; ".join(str(e) for e in self.errors))



def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def unencodable(text: str) -> int | None:
    """Index of the first character UTF-8 cannot store (a lone surrogate), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def shown(value: object) -> str:
    """A short, printable rendering of an offending value; NaN and infinities by their JSON
    names, since those are what a strategy file spells."""
    if isinstance(value, float | Decimal) and not isinstance(value, bool):
        nan = value.is_nan() if isinstance(value, Decimal) else math.isnan(value)
        inf = value.is_infinite() if isinstance(value, Decimal) else math.isinf(value)
        if nan:
            return "NaN"
        if inf:
            return "Infinity" if value > 0 else "-Infinity"
    return f"{value!r:.40}"


class FieldReader:
    """Reads fields and collects every problem in :attr:`errors`."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def err(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path or "$", message))

    # -- primitive fields -------------------------------------------------------------------

    def mapping(self, obj: object, path: str, allowed: frozenset[str]) -> Mapping[str, Any] | None:
        if not isinstance(obj, Mapping):
            self.err(path, f"must be an object, got {type(obj).__name__}")
            return None
        for key in obj:
            if not isinstance(key, str):
                self.err(path, f"keys must be strings, got {key!r:.40}")
            elif not key.strip():
                self.err(path, f"has an empty key {key!r}: every field needs a name")
            elif unencodable(key) is not None:
                self.err(path, f"has a key that is not valid text: {key!r:.60}")
            elif key not in allowed:
                self.err(join(path, key), "unknown field")
        return obj

    def get(self, obj: Mapping[str, Any], key: str, path: str, default: Any) -> Any:
        value = obj.get(key, MISSING)
        if value is MISSING:
            if default is MISSING:
                self.err(join(path, key), "is required")
            return MISSING if default is MISSING else default
        return value

    def integer(self, obj: Mapping[str, Any], key: str, path: str, default: Any = MISSING,
                lo: int | None = None, hi: int | None = None) -> Any:
        value = self.get(obj, key, path, default)
        if value is MISSING:
            return MISSING
        p = join(path, key)
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                value = int(value)
            else:
                self.err(p, f"must be a whole number, got {shown(value)}")
                return MISSING
        if lo is not None and value < lo:
            self.err(p, f"must be at least {lo}, got {value}")
            return MISSING
        if hi is not None and value > hi:
            self.err(p, f"must be at most {hi}, got {value}")
            return MISSING
        return value

    def decimal(self, obj: Mapping[str, Any], key: str, path: str, default: Any = MISSING,
                check: Callable[[Decimal], str | None] | None = None,
                nullable: bool = False) -> Any:
        value = self.get(obj, key, path, default)
        if value is MISSING or (nullable and value is None):
            return value
        p = join(path, key)
        number = to_decimal(value)
        if number is None:
            self.err(p, f"must be a finite number (as a string or number), got {shown(value)}")
            return MISSING
        if check is not None:
            problem = check(number)
            if problem:
                self.err(p, f"{problem}, got {number}")
                return MISSING
        return number

    def boolean(self, obj: Mapping[str, Any], key: str, path: str, default: Any = MISSING) -> Any:
        value = self.get(obj, key, path, default)
        if value is MISSING:
            return MISSING
        if not isinstance(value, bool):
            self.err(join(path, key), f"must be true or false, got {value!r:.40}")
            return MISSING
        return value

    def string(self, obj: Mapping[str, Any], key: str, path: str, default: Any = MISSING,
               max_len: int = 1000, non_empty: bool = False) -> Any:
        value = self.get(obj, key, path, default)
        if value is MISSING:
            return MISSING
        p = join(path, key)
        if not isinstance(value, str):
            self.err(p, f"must be text, got {type(value).__name__}")
            return MISSING
        bad = unencodable(value)
        if bad is not None:
            self.err(p, f"is not valid text: character {bad + 1} is a lone surrogate "
                        f"({value[bad]!r}), which cannot be stored")
            return MISSING
        if non_empty and not value.strip():
            self.err(p, "must not be empty")
            return MISSING
        if len(value) > max_len:
            self.err(p, f"must be at most {max_len} characters, got {len(value)}")
            return MISSING
        return value

    def enum(self, obj: Mapping[str, Any], key: str, path: str, kind: type[E],
             default: Any = MISSING) -> Any:
        value = self.get(obj, key, path, default)
        if value is MISSING:
            return MISSING
        return self.enum_value(value, join(path, key), kind)

    def enum_value(self, value: object, path: str, kind: type[E]) -> Any:
        if isinstance(value, kind):
            return value
        if isinstance(value, str):
            for member in kind:
                if value == member.value:
                    return member
        choices = ", ".join(m.value for m in kind)
        self.err(path, f"must be one of {choices}, got {value!r:.40}")
        return MISSING



def to_decimal(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, Decimal):
            number = value
        elif isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, float):
            number = Decimal(repr(value))
        elif isinstance(value, str) and len(value) <= 64:
            number = Decimal(value.strip())
        else:
            return None
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or (number != 0 and number.adjusted() > 15):
        return None  # infinities, NaN and absurd magnitudes are never meaningful here
    return number


def at_least(lo: Decimal) -> Callable[[Decimal], str | None]:
    return lambda v: None if v >= lo else f"must be at least {lo}"


def between_inclusive(lo: Decimal, hi: Decimal, what: str) -> Callable[[Decimal], str | None]:
    return lambda v: None if lo <= v <= hi else f"{what} must be between {lo} and {hi}"

