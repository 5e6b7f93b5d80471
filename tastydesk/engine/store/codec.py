"""Domain dataclasses <-> JSON documents, exactly: Decimals as strings, dates as ISO text.

Decoding is driven by the dataclass type hints, so a TradeProposal (legs, greeks, P&L curve)
comes back equal to what was stored.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
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
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if data is None:
            return None
        return from_jsonable(args[0], data)
    if tp is Any:
        return data
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_jsonable(args[0], v) for v in data)
        return tuple(from_jsonable(a, v) for a, v in zip(args, data, strict=True))
    if origin in (frozenset, set):
        (arg,) = typing.get_args(tp)
        return origin(from_jsonable(arg, v) for v in data)
    if origin is list:
        (arg,) = typing.get_args(tp)
        return [from_jsonable(arg, v) for v in data]
    if origin is dict:
        return dict(data)
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            hints = _hints(tp)
            kwargs = {f.name: from_jsonable(hints[f.name], data[f.name])
                      for f in dataclasses.fields(tp) if f.init and f.name in data}
            return tp(**kwargs)
        if issubclass(tp, Enum):
            return tp(data)
        if tp is Decimal:
            return Decimal(data)
        if tp is datetime:
            return decode_datetime(data)
        if tp is date:
            return date.fromisoformat(data)
        if tp is float:
            return float(data)
        if tp in (int, str, bool):
            return data
    raise TypeError(f"cannot decode JSON into {tp!r}")


def proposal_to_json(proposal: TradeProposal) -> dict[str, Any]:
    return to_jsonable(proposal)


def proposal_from_json(data: dict[str, Any]) -> TradeProposal:
    return from_jsonable(TradeProposal, data)


def legs_to_json(legs: tuple[OrderLeg, ...]) -> list[Any]:
    return to_jsonable(legs)


def legs_from_json(data: list[Any]) -> tuple[OrderLeg, ...]:
    return from_jsonable(tuple[OrderLeg, ...], data)
