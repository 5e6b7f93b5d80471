"""Domain dataclasses <-> JSON documents, exactly: Decimals as strings, dates as ISO text.

Decoding is driven by the dataclass type hints, so a TradeProposal (legs, greeks, P&L curve)
comes back equal to what was stored.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from tastydesk.engine.domain.orders import OrderLeg
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.store.types import decode_datetime, encode_datetime


def to_jsonable(value: Any) -> Any:
    """A JSON-ready copy of a domain value (dataclasses become objects keyed by field)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return encode_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not f.name.startswith("_")}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_jsonable(tp: Any, data: Any) -> Any:
    """Rebuild a value of type ``tp`` from :func:`to_jsonable` output."""
    return _decoder(tp)(data)


def _identity(data: Any) -> Any:
    return data


def _date(data: Any) -> date:
    return date.fromisoformat(data)


_SCALARS: dict[Any, Callable[[Any], Any]] = {
    Any: _identity, int: _identity, str: _identity, bool: _identity, float: float,
    Decimal: Decimal, datetime: decode_datetime, date: _date,
}


@functools.cache
def _decoder(tp: Any) -> Callable[[Any], Any]:
    """The decoding function for ``tp``, worked out from the type hints once per type: a stored
    proposal (legs, greeks, a P&L curve of hundreds of points) is read back on every fill and
    restart, and interpreting the hints per value cost several milliseconds each time."""
    scalar = _SCALARS.get(tp) if not isinstance(tp, str) else None
    if scalar is not None:
        return scalar
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = _decoder(next(a for a in args if a is not type(None)))
        return lambda data: None if data is None else inner(data)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _decoder(args[0])
            return lambda data: tuple(map(item, data))
        items = [_decoder(a) for a in args]
        return lambda data: tuple(f(v) for f, v in zip(items, data, strict=True))
    if origin in (frozenset, set):
        item, make = _decoder(args[0]), origin
        return lambda data: make(map(item, data))
    if origin is list:
        item = _decoder(args[0])
        return lambda data: list(map(item, data))
    if origin is dict:
        return dict
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return _dataclass_decoder(tp)
        if issubclass(tp, Enum):
            return tp
    raise TypeError(f"cannot decode JSON into {tp!r}")


def _dataclass_decoder(cls: type) -> Callable[[Any], Any]:
    hints = _hints(cls)
    fields = [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(cls) if f.init]

    def decode(data: Any) -> Any:
        return cls(**{name: f(data[name]) for name, f in fields if name in data})

    return decode


def proposal_to_json(proposal: TradeProposal) -> dict[str, Any]:
    return to_jsonable(proposal)


def proposal_from_json(data: dict[str, Any]) -> TradeProposal:
    return from_jsonable(TradeProposal, data)


def legs_to_json(legs: tuple[OrderLeg, ...]) -> list[Any]:
    return to_jsonable(legs)


def legs_from_json(data: list[Any]) -> tuple[OrderLeg, ...]:
    return from_jsonable(tuple[OrderLeg, ...], data)
