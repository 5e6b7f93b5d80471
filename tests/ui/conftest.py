"""UI tests: every test gets its own QSettings folder and an in-memory keyring."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _ui_isolation(isolated_settings: Any, memory_keyring: Any, gui_gc: Any) -> None:
    """QSettings and keyring never touch the developer's real configuration."""
