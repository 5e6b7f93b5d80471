"""The builder's one table of fields: every strategy field is in it, once, and round-trips."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses
from typing import Any

import pytest

from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.strategies.defaults import DEFAULT_STRATEGIES
from tastydesk.ui.builder.fields import FIELDS, PARTS, Section, assemble, rows, value_of
from tastydesk.ui.builder.form import FieldSet


def strategy_paths() -> set[str]:
    paths = set()
    for f in dataclasses.fields(Strategy):
        if f.name in PARTS:
            paths |= {f"{f.name}.{sub.name}" for sub in dataclasses.fields(PARTS[f.name])}
        else:
            paths.add(f.name)
    return paths


def test_every_strategy_field_is_in_the_table_once() -> None:
    paths = [f.path for f in FIELDS]
    assert len(paths) == len(set(paths))
    assert set(paths) == strategy_paths()


@pytest.mark.parametrize("strategy", DEFAULT_STRATEGIES, ids=lambda s: s.name)
def test_field_set_round_trips_every_default_strategy(qtbot: Any, strategy: Strategy) -> None:
    fields = FieldSet()
    changes: list[int] = []
    fields.changed.connect(lambda: changes.append(1))
    fields.load(strategy)
    assert changes == []  # loading is not editing
    assert fields.strategy() == strategy
    assert assemble({f.path: value_of(strategy, f.path) for f in FIELDS}) == strategy
    fields.widget("priority").setValue(strategy.priority + 1)
    assert changes and fields.strategy().priority == strategy.priority + 1


def test_error_paths_find_their_widgets(qtbot: Any) -> None:
    fields = FieldSet()
    dte = fields.widget("dte")
    assert fields.widget_for("dte.min") is dte.min_spin
    assert fields.widget_for("dte") is dte
    assert fields.widget_for("filters") is fields.widget("filters.min_credit")
    assert fields.widget_for("pricing.limit_price") is fields.widget("pricing.limit_price").spin
    assert fields.widget_for("legs[3].selection.value") is fields.widget("legs").view
    assert fields.widget_for("biases[0]") is fields.widget("biases")
    assert fields.widget_for("nonsense") is None


def test_inline_fields_share_a_row() -> None:
    general = [[f.path for f in row] for row in rows(Section.GENERAL)]
    assert general[0] == ["name", "priority", "enabled"]
    filters = [[f.path for f in row] for row in rows(Section.FILTERS)]
    assert ["filters.iv_rank_min", "filters.iv_rank_max"] in filters
