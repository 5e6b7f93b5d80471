from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tastydesk.engine.strategies.codec import (
    export_json,
    import_json,
    strategy_from_dict,
    strategy_to_dict,
)
from tastydesk.engine.strategies.defaults import DEFAULT_STRATEGIES
from tastydesk.engine.strategies.validation import StrategyValidationError


@pytest.mark.parametrize("strategy", DEFAULT_STRATEGIES, ids=lambda s: s.name)
def test_round_trip_through_dict_and_json(strategy: object) -> None:
    assert strategy_from_dict(strategy_to_dict(strategy)) == strategy
    text = export_json(strategy)
    assert import_json(text) == strategy
    assert json.loads(text)["schema_version"] == 1


def test_decimals_are_strings_in_json() -> None:
    doc = json.loads(export_json(DEFAULT_STRATEGIES[0]))
    assert doc["legs"][0]["selection"]["value"] == "0.16"
    assert doc["filters"]["min_credit"] == "0.50"
    assert doc["pricing"]["limit_price"] is None


def test_exactness_of_long_decimals() -> None:
    doc = strategy_to_dict(DEFAULT_STRATEGIES[0])
    doc["pricing"]["limit_price"] = "0.30000000000000004"
    s = strategy_from_dict(doc)
    assert s.pricing.limit_price == Decimal("0.30000000000000004")
    assert import_json(export_json(s)).pricing.limit_price == Decimal("0.30000000000000004")


def test_json_floats_parse_without_binary_error() -> None:
    doc = strategy_to_dict(DEFAULT_STRATEGIES[0])
    doc["legs"][0]["selection"]["value"] = 0.1
    text = json.dumps(doc)
    assert import_json(text).legs[0].selection.value == Decimal("0.1")


@pytest.mark.parametrize("text", ["", "{", "[1, 2", "nonsense", '{"name": NaN}'])
def test_bad_json_is_a_clear_error(text: str) -> None:
    with pytest.raises(StrategyValidationError, match=r"not valid JSON"):
        import_json(text)


def test_newer_schema_is_refused_by_name() -> None:
    doc = strategy_to_dict(DEFAULT_STRATEGIES[0])
    doc["schema_version"] = 7
    with pytest.raises(StrategyValidationError) as info:
        import_json(json.dumps(doc))
    assert [e.path for e in info.value.errors] == ["schema_version"]
    assert "newer" in info.value.errors[0].message
