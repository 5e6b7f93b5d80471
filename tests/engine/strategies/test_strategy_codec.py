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


@pytest.mark.parametrize("text", ["", "{", "[1, 2", "nonsense"])
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


@pytest.mark.parametrize(("constant", "shown"), [("NaN", "NaN"), ("Infinity", "Infinity"),
                                                 ("-Infinity", "-Infinity")])
def test_nan_and_infinity_are_named_by_their_field(constant: str, shown: str) -> None:
    doc = strategy_to_dict(DEFAULT_STRATEGIES[0])
    doc["legs"][1]["selection"]["value"] = "@@"
    doc["dte"]["min"] = "@@"
    text = json.dumps(doc).replace('"@@"', constant)
    with pytest.raises(StrategyValidationError) as info:
        import_json(text)
    errors = {e.path: e.message for e in info.value.errors}
    assert set(errors) == {"legs[1].selection.value", "dte.min"}
    assert all(message.endswith(f"got {shown}") for message in errors.values())


def test_empty_keys_are_named_by_the_object_holding_them() -> None:
    doc = strategy_to_dict(DEFAULT_STRATEGIES[0])
    doc[""] = 1
    doc["legs"][0][" "] = 2
    with pytest.raises(StrategyValidationError) as info:
        import_json(json.dumps(doc))
    errors = {e.path: e.message for e in info.value.errors}
    assert set(errors) == {"$", "legs[0]"}
    assert all("empty key" in message for message in errors.values())


@pytest.mark.parametrize("field", ["name", "description"])
def test_lone_surrogates_are_refused_by_field(field: str) -> None:
    doc = strategy_to_dict(DEFAULT_STRATEGIES[0])
    doc[field] = "Condor \ud800 bad"
    text = json.dumps(doc)  # JSON spells the surrogate as an escape: valid JSON, invalid text
    assert "\\ud800" in text
    with pytest.raises(StrategyValidationError) as info:
        import_json(text)
    assert [(e.path, "lone surrogate" in e.message) for e in info.value.errors] == [(field, True)]
    with pytest.raises(StrategyValidationError):
        strategy_from_dict(doc)  # the same check guards the builder and the store


def test_a_stored_surrogate_is_refused_on_export_by_field() -> None:
    from dataclasses import replace

    broken = replace(DEFAULT_STRATEGIES[0], description="note \udcff")
    with pytest.raises(StrategyValidationError) as info:
        export_json(broken)
    assert [e.path for e in info.value.errors] == ["description"]


def test_a_byte_order_mark_is_accepted() -> None:
    text = export_json(DEFAULT_STRATEGIES[0])
    assert import_json("\ufeff" + text) == DEFAULT_STRATEGIES[0]
    assert import_json(b"\xef\xbb\xbf" + text.encode()) == DEFAULT_STRATEGIES[0]


def test_bytes_that_are_not_utf8_are_named() -> None:
    with pytest.raises(StrategyValidationError, match=r"not UTF-8 text \(byte 2 is 0xff\)"):
        import_json(b"{\xff}")
