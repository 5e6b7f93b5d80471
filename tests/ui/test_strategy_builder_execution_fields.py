"""The builder edits a strategy's execution presets, custom entry values and resting exit."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses
from typing import Any

from tastydesk.engine.domain.enums import ExecutionPreset
from tastydesk.engine.strategies.defaults import DEFAULT_STRATEGIES
from tastydesk.ui.builder.form import FieldSet


def test_presets_custom_values_and_resting_exit_round_trip(qtbot: Any) -> None:
    base = DEFAULT_STRATEGIES[0]
    strategy = dataclasses.replace(base, pricing=dataclasses.replace(
        base.pricing, entry_preset=ExecutionPreset.NORMAL, exit_preset=ExecutionPreset.FAST,
        protective_preset=ExecutionPreset.NORMAL, walk_interval_seconds=45, step_share_pct=25,
        resting_exit=True))
    fields = FieldSet()
    fields.load(strategy)
    assert fields.strategy() == strategy
    assert fields.widget("pricing.entry_preset").currentText() == "Normal"
    assert fields.widget("pricing.walk_interval_seconds").value() == 45
    assert fields.widget("pricing.resting_exit").isChecked()
    fields.load(base)  # unset: the walk by purpose, named as the default
    assert fields.widget("pricing.entry_preset").currentText() == "Default (patient)"
    assert fields.widget("pricing.protective_preset").currentText() == "Default (fast)"
    # A protective exit is never offered the patient walk.
    combo = fields.widget("pricing.protective_preset")
    assert "Patient" not in [combo.itemText(i) for i in range(combo.count())]
    fields.widget("pricing.exit_preset").setCurrentIndex(3)
    fields.widget("pricing.resting_exit").setChecked(True)
    edited = fields.strategy()
    assert edited.pricing.exit_preset is ExecutionPreset.FAST and edited.pricing.resting_exit
