from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tastydesk.engine.domain.enums import Bias, RuleType, SelectionMethod
from tastydesk.engine.strategies.codec import strategy_to_dict
from tastydesk.engine.strategies.defaults import DEFAULT_STRATEGIES
from tastydesk.engine.strategies.validation import (
    FieldError,
    StrategyValidationError,
    parse_strategy,
    validate_strategy_dict,
)

CONDOR = next(s for s in DEFAULT_STRATEGIES if s.name.startswith("Iron Condor"))


def condor() -> dict[str, Any]:
    return strategy_to_dict(CONDOR)


def minimal() -> dict[str, Any]:
    return {
        "name": "Short put",
        "biases": ["bullish"],
        "dte": {"min": 20, "target": 30, "max": 40},
        "legs": [{"option_type": "put", "side": "sell",
                  "selection": {"method": "delta", "value": "0.2"}}],
    }


def paths(data: object) -> set[str]:
    return {e.path for e in validate_strategy_dict(data)}


def test_minimal_strategy_gets_defaults() -> None:
    s = parse_strategy(minimal())
    assert s.name == "Short put" and s.biases == frozenset({Bias.BULLISH})
    assert s.legs[0].selection.value == Decimal("0.2")
    assert s.sizing.quantity == 1 and s.rules == ()


def test_plain_json_numbers_are_accepted_exactly() -> None:
    data = minimal()
    data["legs"][0]["selection"]["value"] = 0.16
    data["filters"] = {"min_credit": 0.5, "iv_rank_min": 20}
    s = parse_strategy(data)
    assert s.legs[0].selection.value == Decimal("0.16")
    assert s.filters.min_credit == Decimal("0.5")


def _set(path: list[Any], value: Any) -> dict[str, Any]:
    data = condor()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(("path", "value", "expected"), [
    (["legs", 0, "selection", "value"], "1", "legs[0].selection.value"),
    (["legs", 0, "selection", "value"], "0", "legs[0].selection.value"),
    (["legs", 2, "selection", "value"], "-0.2", "legs[2].selection.value"),
    (["legs", 1, "selection", "value"], "0", "legs[1].selection.value"),
    (["legs", 1, "ratio"], 0, "legs[1].ratio"),
    (["legs", 1, "option_type"], "future", "legs[1].option_type"),
    (["legs", 1, "selection", "reference_leg"], None, "legs[1].selection.reference_leg"),
    (["legs", 1, "selection", "reference_leg"], 1, "legs[1].selection.reference_leg"),
    (["legs", 1, "selection", "reference_leg"], 3, "legs[1].selection.reference_leg"),
    (["legs", 3, "selection", "reference_leg"], 0, "legs[3].selection.reference_leg"),
    (["legs", 0, "selection", "reference_leg"], 0, "legs[0].selection.reference_leg"),
    (["dte", "min"], 46, "dte.min"),
    (["dte", "min"], -1, "dte.min"),
    (["dte", "max"], 44, "dte.max"),
    (["dte", "max"], 731, "dte.max"),
    (["dte", "target"], "45", "dte.target"),
    (["biases"], [], "biases"),
    (["biases"], ["neutral", "sideways"], "biases[1]"),
    (["biases"], ["neutral", "neutral"], "biases[1]"),
    (["filters", "iv_rank_min"], "101", "filters.iv_rank_min"),
    (["filters", "iv_rank_min"], "80", None),
    (["filters", "iv_rank_max"], "10", "filters.iv_rank_min"),
    (["filters", "max_spread_pct"], "0", "filters.max_spread_pct"),
    (["filters", "min_liquidity"], 5, "filters.min_liquidity"),
    (["sizing", "quantity"], 0, "sizing.quantity"),
    (["pricing", "step"], "0", "pricing.step"),
    (["pricing", "interval_seconds"], 0, "pricing.interval_seconds"),
    (["pricing", "max_attempts"], 21, "pricing.max_attempts"),
    (["pricing", "limit_price"], "NaN", "pricing.limit_price"),
    (["pricing", "entry_preset"], "hasty", "pricing.entry_preset"),
    (["pricing", "exit_preset"], "fast", None),
    (["pricing", "protective_preset"], "patient", "pricing.protective_preset"),
    (["pricing", "protective_preset"], "normal", None),
    (["pricing", "walk_interval_seconds"], -1, "pricing.walk_interval_seconds"),
    (["pricing", "walk_interval_seconds"], 3601, "pricing.walk_interval_seconds"),
    (["pricing", "step_share_pct"], 101, "pricing.step_share_pct"),
    (["pricing", "step_share_pct"], 25, None),
    (["pricing", "resting_exit"], "yes", "pricing.resting_exit"),
    (["pricing", "resting_exit"], True, None),
    (["rules", 0, "threshold"], "-5", "rules[0].threshold"),
    (["rules", 1, "threshold"], "150", "rules[1].threshold"),
    (["rules", 2, "threshold"], "2.5", "rules[2].threshold"),
    (["rules", 3, "close_pct"], 30, "rules[3].close_pct"),
    (["rules", 3, "action"], "close", "rules[3].action"),
    (["rules", 1, "priority"], 1, "rules[1].priority"),
    (["rules", 0, "surprise"], True, "rules[0].surprise"),
    (["name"], "  ", "name"),
    (["name"], "x" * 81, "name"),
    (["name"], 7, "name"),
    (["schema_version"], 2, "schema_version"),
    (["enabled"], "yes", "enabled"),
])
def test_bad_field_is_named(path: list[Any], value: Any, expected: str | None) -> None:
    data = _set(path, value)
    if expected is None:
        assert validate_strategy_dict(data) == []
        return
    assert expected in paths(data)
    with pytest.raises(StrategyValidationError) as info:
        parse_strategy(data)
    assert expected in str(info.value)


def test_missing_required_fields_are_each_reported() -> None:
    assert paths({}) >= {"name", "legs", "dte", "biases"}
    data = minimal()
    del data["legs"][0]["selection"]["value"]
    assert paths(data) == {"legs[0].selection.value"}


def test_leg_count_limits() -> None:
    data = minimal()
    data["legs"] = []
    assert paths(data) == {"legs"}
    data["legs"] = [{"option_type": "put", "side": "sell", "ratio": 1,
                     "selection": {"method": "delta", "value": f"0.{i + 10}"}} for i in range(9)]
    assert paths(data) == {"legs"}


def test_more_than_four_legs_is_refused_naming_legs() -> None:
    """tastytrade takes at most four legs per order: a five-leg strategy could never open."""
    def legs(n: int) -> list[dict[str, object]]:
        return [{"option_type": "put", "side": "sell", "ratio": 1,
                 "selection": {"method": "delta", "value": f"0.{i + 10}"}} for i in range(n)]

    data = minimal()
    data["legs"] = legs(5)
    errors = validate_strategy_dict(data)
    assert [e.path for e in errors] == ["legs"] and "at most 4 legs" in errors[0].message
    with pytest.raises(StrategyValidationError, match="legs"):
        parse_strategy(data)
    data["legs"] = legs(4)
    assert "legs" not in paths(data)


def test_two_leg_vertical_needs_a_short_and_a_long() -> None:
    data = minimal()
    data["legs"].append({"option_type": "put", "side": "sell",
                         "selection": {"method": "delta", "value": "0.1"}})
    errors = validate_strategy_dict(data)
    assert [e.path for e in errors] == ["legs"]
    assert "one sold and one bought" in errors[0].message
    data["legs"][1]["side"] = "buy"
    assert validate_strategy_dict(data) == []


def test_width_leg_must_be_the_wing_of_its_reference() -> None:
    data = minimal()
    data["legs"].append({"option_type": "call", "side": "buy",
                         "selection": {"method": "width", "value": "5", "reference_leg": 0}})
    assert "legs[1].selection.reference_leg" in paths(data)


def test_duplicate_identical_legs_rejected() -> None:
    data = condor()
    data["legs"][3] = copy.deepcopy(data["legs"][0])
    assert "legs[3]" in paths(data)


def test_reference_leg_not_allowed_for_delta() -> None:
    data = condor()
    data["legs"][2]["selection"]["reference_leg"] = 0
    assert paths(data) == {"legs[2].selection.reference_leg"}


def test_expiry_offset_rules() -> None:
    data = minimal()
    data["legs"][0]["expiry"] = "offset"
    assert paths(data) == {"legs[0].expiry_offset_days"}
    data["legs"][0]["expiry_offset_days"] = 30
    assert validate_strategy_dict(data) == []
    data["legs"][0]["expiry"] = "strategy"
    assert paths(data) == {"legs[0].expiry_offset_days"}


def test_every_selection_method_has_a_range() -> None:
    for method, good, bad in [
        (SelectionMethod.PERCENT, "-5", "-100"),
        (SelectionMethod.PREMIUM, "1.25", "0"),
        (SelectionMethod.OFFSET, "-10", "Infinity"),
    ]:
        data = minimal()
        data["legs"][0]["selection"] = {"method": method.value, "value": good}
        assert validate_strategy_dict(data) == [], method
        data["legs"][0]["selection"]["value"] = bad
        assert paths(data) == {"legs[0].selection.value"}, method
    data = minimal()
    data["legs"][0]["selection"] = {"method": "atm"}
    assert parse_strategy(data).legs[0].selection.method is SelectionMethod.ATM


def test_rule_threshold_ranges_by_type() -> None:
    cases = {RuleType.DELTA_BREACH: ("0.3", "1"), RuleType.TIME_EXIT: ("21", "21.5"),
             RuleType.STOP_LOSS: ("300", "0"), RuleType.ROLL: ("10", "-1"),
             RuleType.PROFIT_TARGET: ("50", "0")}
    for rule_type, (good, bad) in cases.items():
        data = minimal()
        data["rules"] = [{"rule_type": rule_type.value, "threshold": good}]
        assert validate_strategy_dict(data) == [], rule_type
        data["rules"][0]["threshold"] = bad
        assert paths(data) == {"rules[0].threshold"}, rule_type


def test_error_str_is_path_and_message() -> None:
    assert str(FieldError("dte.min", "is required")) == "dte.min: is required"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=12) | st.sampled_from(["put", "sell", "delta", "0.16", "width", "NaN"]),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.sampled_from(["name", "legs", "dte", "biases", "rules", "selection",
                                       "value", "min", "max", "method", "reference_leg",
                                       "side", "option_type", "x"]) | st.text(max_size=5),
                      children, max_size=6),
    max_leaves=30,
)


def _only_field_errors(data: object) -> None:
    errors = validate_strategy_dict(data)
    assert all(isinstance(e, FieldError) and isinstance(e.path, str) for e in errors)
    try:
        parse_strategy(data)
    except StrategyValidationError as exc:
        assert exc.errors
    else:
        assert errors == []


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_fuzz_random_json_gives_only_field_errors(data: object) -> None:
    _only_field_errors(data)


def _paths_of(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths_of(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths_of(v, (*prefix, i))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(DEFAULT_STRATEGIES), st.data())
def test_fuzz_mutated_valid_strategies_give_only_field_errors(strategy: Any,
                                                              data: st.DataObject) -> None:
    doc = strategy_to_dict(strategy)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths_of(doc)))
        parent: Any = doc
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(JSON)
        if not _paths_of(doc):
            break
    _only_field_errors(doc)


def test_a_resting_exit_needs_an_enabled_profit_target() -> None:
    data = condor()
    data["pricing"]["resting_exit"] = True
    data["rules"] = [r for r in data["rules"] if r["rule_type"] != "profit_target"]
    assert "pricing.resting_exit" in paths(data)
    data = condor()
    data["pricing"]["resting_exit"] = True
    for r in data["rules"]:
        if r["rule_type"] == "profit_target":
            r["enabled"] = False
    assert "pricing.resting_exit" in paths(data)


def test_presets_and_custom_values_round_trip() -> None:
    from tastydesk.engine.domain.enums import ExecutionPreset

    data = condor()
    data["pricing"].update(entry_preset="normal", exit_preset="fast", protective_preset="normal",
                           walk_interval_seconds=45, step_share_pct=20, resting_exit=True)
    s = parse_strategy(data)
    assert (s.pricing.entry_preset, s.pricing.exit_preset, s.pricing.protective_preset) == (
        ExecutionPreset.NORMAL, ExecutionPreset.FAST, ExecutionPreset.NORMAL)
    assert (s.pricing.walk_interval_seconds, s.pricing.step_share_pct,
            s.pricing.resting_exit) == (45, 20, True)
    assert parse_strategy(strategy_to_dict(s)) == s
    # A file written before these fields loads with the defaults (the walk by purpose).
    old = condor()
    for key in ("entry_preset", "exit_preset", "protective_preset", "walk_interval_seconds",
                "step_share_pct", "resting_exit"):
        old["pricing"].pop(key)
    assert parse_strategy(old).pricing == CONDOR.pricing
