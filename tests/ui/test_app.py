"""The composition root: single-instance guard and a real start-up of the app offscreen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tastydesk.app import STARTUP_PROBE_ENV
from tastydesk.ui.single_instance import SingleInstance


def test_second_instance_is_refused_and_raises_the_first(qtbot: Any, tmp_path: Path) -> None:
    first = SingleInstance(tmp_path)
    second = SingleInstance(tmp_path)
    try:
        assert first.acquire()
        assert not second.acquire()
        with qtbot.waitSignal(first.activated, timeout=3000):
            assert second.ask_running_instance_to_raise()
    finally:
        second.release()
        first.release()
    third = SingleInstance(tmp_path)
    assert third.acquire()  # released locks are free again
    third.release()


def test_app_starts_offscreen_in_paper_mode_and_exits_cleanly(tmp_path: Path) -> None:
    from tests.ui.engine_kit import seed_store

    data = tmp_path / "data"
    data.mkdir()
    seed_store(data)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", STARTUP_PROBE_ENV: "1",
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    proc = subprocess.run([sys.executable, "-m", "tastydesk", "--data-dir", str(data), "--paper"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    assert float(lines["first-window-s"]) < float(lines["main-window-s"])
    assert (data / "logs" / "tastydesk.log").exists()
