"""Strategy <-> JSON. Decimals travel as strings so no value ever passes through a float."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from tastydesk.engine.domain.enums import RuleType
from tastydesk.engine.domain.strategy import ManagementRule, Strategy, StrategyLeg
from tastydesk.engine.strategies.validation import (
    SCHEMA_VERSION,
    FieldError,
    StrategyValidationError,
    parse_strategy,
)

MAX_FILE_BYTES = 1 << 20  # strategy files are a few KiB; anything this large is something else


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _leg(leg: StrategyLeg) -> dict[str, Any]:
    return {
        "option_type": leg.option_type.value,
        "side": leg.side.value,
        "ratio": leg.ratio,
        "expiry": leg.expiry.value,
        "expiry_offset_days": leg.expiry_offset_days,
        "selection": {
            "method": leg.selection.method.value,
            "value": _dec(leg.selection.value),
            "reference_leg": leg.selection.reference_leg,
        },
    }


def _rule(rule: ManagementRule) -> dict[str, Any]:
    return {
        "rule_type": rule.rule_type.value,
        "threshold": _dec(rule.threshold),
        "action": rule.action.value,
        "priority": rule.priority,
        "enabled": rule.enabled,
        "close_pct": rule.close_pct,
        "delta_scope": rule.delta_scope.value,
        "hold_evaluations": rule.hold_evaluations,
        "hold_seconds": rule.hold_seconds,
        "auto": rule.auto,
        **({"strike_distance_pct": _dec(rule.strike_distance_pct)}
           if rule.rule_type is RuleType.EXPIRATION_RISK else {}),
    }


def strategy_to_dict(s: Strategy) -> dict[str, Any]:
    """A JSON-ready mapping; :func:`strategy_from_dict` turns it back into an equal Strategy."""
    f, z, p = s.filters, s.sizing, s.pricing
    return {
        "schema_version": SCHEMA_VERSION,
        "name": s.name,
        "description": s.description,
        "enabled": s.enabled,
        "priority": s.priority,
        "biases": sorted(b.value for b in s.biases),
        "dte": {"min": s.dte.min, "target": s.dte.target, "max": s.dte.max,
                "prefer_monthly": s.dte.prefer_monthly},
        "legs": [_leg(leg) for leg in s.legs],
        "filters": {
            "min_credit": _dec(f.min_credit),
            "min_underlying_price": _dec(f.min_underlying_price),
            "iv_rank_min": _dec(f.iv_rank_min),
            "iv_rank_max": _dec(f.iv_rank_max),
            "min_liquidity": f.min_liquidity,
            "max_spread_pct": _dec(f.max_spread_pct),
            "min_open_interest": f.min_open_interest,
            "earnings_blackout_days": f.earnings_blackout_days,
        },
        "sizing": {"quantity": z.quantity, "max_buying_power": _dec(z.max_buying_power)},
        "pricing": {
            "start_offset": _dec(p.start_offset),
            "max_attempts": p.max_attempts,
            "limit_price": _dec(p.limit_price),
            "entry_preset": p.entry_preset.value,
            "exit_preset": p.exit_preset.value,
            "protective_preset": p.protective_preset.value,
            "walk_interval_seconds": p.walk_interval_seconds,
            "step_share_pct": p.step_share_pct,
            "resting_exit": p.resting_exit,
        },
        "rules": [_rule(r) for r in s.rules],
        "after_assignment": s.after_assignment.value,
        "after_assignment_auto": s.after_assignment_auto,
    }


def strategy_from_dict(d: object) -> Strategy:
    """Validate and build; raises :class:`StrategyValidationError` naming every bad field."""
    return parse_strategy(d)


def export_json(s: Strategy) -> str:
    """The strategy as a JSON file's text; raises :class:`StrategyValidationError` naming the
    field when it holds something a file cannot carry (text that is not valid UTF-8)."""
    data = strategy_to_dict(s)
    parse_strategy(data)  # a strategy that would not import back is never written
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def import_json(text: str | bytes) -> Strategy:
    """Parse a strategy file's text or bytes (UTF-8, with or without a byte-order mark).

    Bad JSON, text that is not UTF-8 and newer schema versions give a clear error; NaN and
    Infinity, which JSON does not allow, are reported at the field that holds them.
    """
    if isinstance(text, bytes | bytearray):
        if len(text) > MAX_FILE_BYTES:
            raise StrategyValidationError([FieldError(
                "$", f"larger than {MAX_FILE_BYTES // 1024} KiB: not a strategy file")])
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise StrategyValidationError([FieldError(
                "$", f"not UTF-8 text (byte {exc.start + 1} is {text[exc.start]:#04x})")]) from None
    text = text.removeprefix("\ufeff")
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=float)
    except (ValueError, RecursionError) as exc:
        message = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise StrategyValidationError([FieldError("$", f"not valid JSON: {message}")]) from None
    return parse_strategy(data)
