"""Strategy <-> JSON. Decimals travel as strings so no value ever passes through a float."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from tastydesk.engine.domain.strategy import ManagementRule, Strategy, StrategyLeg
from tastydesk.engine.strategies.validation import (
    SCHEMA_VERSION,
    FieldError,
    StrategyValidationError,
    parse_strategy,
)


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
            "step": _dec(p.step),
            "interval_seconds": p.interval_seconds,
            "max_attempts": p.max_attempts,
            "limit_price": _dec(p.limit_price),
        },
        "rules": [_rule(r) for r in s.rules],
    }


def strategy_from_dict(d: object) -> Strategy:
    """Validate and build; raises :class:`StrategyValidationError` naming every bad field."""
    return parse_strategy(d)


def export_json(s: Strategy) -> str:
    return json.dumps(strategy_to_dict(s), indent=2, ensure_ascii=False) + "\n"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def import_json(text: str | bytes) -> Strategy:
    """Parse a strategy file; bad JSON and newer schema versions give a clear error."""
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise StrategyValidationError([FieldError("$", f"not valid JSON: {exc}")]) from None
    return parse_strategy(data)
