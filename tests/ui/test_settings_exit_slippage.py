"""The trader's maximum slippage on fast exits is a field of the Settings dialog."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from decimal import Decimal
from typing import Any

from tastydesk.ui.widgets.settings_dialog import SettingsDialog
from tests.ui.fake_facade import FakeFacade


def test_max_exit_slippage_is_edited_and_validated(qtbot: Any) -> None:
    dialog = SettingsDialog(FakeFacade())  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    edit = dialog.edits["max_exit_slippage"]
    assert edit.text() == "0.50"  # the default
    edit.setText("-0.10")
    assert dialog.validate() is None
    assert dialog.errors["max_exit_slippage"].text().startswith(
        "Max slippage on fast exits ($): must be 0..100")
    edit.setText("0.30")
    config = dialog.validate()
    assert config is not None and config.max_exit_slippage == Decimal("0.30")
