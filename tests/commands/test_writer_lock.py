"""One writer per data directory, across real processes: two ``simulate`` runs, the app and
``simulate``, a strategy import beside a writer; read-only commands run beside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tastydesk.exit_codes import ExitCode
from tastydesk.locking import WriterLock, lock_path, probe

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}


def _tastydesk(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tastydesk", *argv], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def _wait_for_holder(path: Path, proc: subprocess.Popen[str], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = probe(path)
        if holder is not None and holder.pid == proc.pid:
            return holder
        assert proc.poll() is None, "the first writer ended before it was seen holding the lock"
        time.sleep(0.05)
    raise AssertionError("the first writer never took the lock")


def test_second_simulate_on_one_directory_is_refused_naming_the_first(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = subprocess.Popen([sys.executable, "-m", "tastydesk", "simulate", "--days", "400",
                              "--data-dir", str(data), "--json"], cwd=ROOT, env=ENV,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        holder = _wait_for_holder(lock_path(data), first)
        assert "simulate --days 400" in holder.command
        second = _tastydesk("simulate", "--days", "1", "--data-dir", str(data))
        assert first.poll() is None, "the first run must still hold the lock"
    finally:
        first.kill()
        first.communicate(timeout=30)
    assert second.returncode == ExitCode.LOCKED, second.stderr
    assert second.stdout == ""
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert f"pid {first.pid}" in lines[0] and "simulate --days 400" in lines[0]


def test_app_holding_the_directory_refuses_simulate_and_strategy_import(
        qtbot: Any, tmp_path: Path) -> None:
    from tastydesk.ui.single_instance import SingleInstance

    data = tmp_path / "data"
    data.mkdir()
    app = SingleInstance(data)
    assert app.acquire()
    try:
        refused = _tastydesk("simulate", "--days", "1", "--data-dir", str(data))
        assert refused.returncode == ExitCode.LOCKED, refused.stderr
        assert f"pid {os.getpid()}" in refused.stderr
        assert not (data / "tastydesk.db").exists() and not (data / "paper.db").exists()
        exported = tmp_path / "ic.json"
        shown = _tastydesk("strategies", "export", "Iron Condor - 45 DTE", "--out",
                           str(exported), "--data-dir", str(data))  # read-only: runs beside it
        assert shown.returncode == 0, shown.stderr
        doc = json.loads(exported.read_text())
        doc["name"] = "Mine"
        exported.write_text(json.dumps(doc))
        imported = _tastydesk("strategies", "import", str(exported), "--data-dir", str(data))
        assert imported.returncode == ExitCode.LOCKED, imported.stderr
        assert _tastydesk("strategies", "list", "--data-dir", str(data)).returncode == 0
    finally:
        app.release()


def test_the_app_refuses_a_directory_a_command_is_writing(qtbot: Any, tmp_path: Path) -> None:
    from tastydesk.ui.single_instance import SingleInstance

    with WriterLock(lock_path(tmp_path), command="tastydesk simulate --days 30"):
        app = SingleInstance(tmp_path)
        assert not app.acquire()
        assert app.holder is not None
        assert app.holder.pid == os.getpid()
        assert app.holder.command == "tastydesk simulate --days 30"
        app.release()


def test_the_running_desktop_app_refuses_simulate_and_a_second_app(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**ENV, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    app = subprocess.Popen([sys.executable, "-m", "tastydesk", "--paper", "--data-dir",
                            str(data)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        holder = _wait_for_holder(lock_path(data), app)
        assert "--paper" in holder.command
        refused = _tastydesk("simulate", "--days", "1", "--data-dir", str(data))
        second = subprocess.run([sys.executable, "-m", "tastydesk", "--paper", "--data-dir",
                                 str(data)], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=120)
        assert app.poll() is None
    finally:
        app.kill()
        app.communicate(timeout=30)
    assert refused.returncode == ExitCode.LOCKED, refused.stderr
    assert f"pid {app.pid}" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert second.returncode == ExitCode.LOCKED, second.stderr
    assert f"pid {app.pid}" in second.stderr


def test_the_app_refuses_to_start_while_a_command_writes(tmp_path: Path) -> None:
    with WriterLock(lock_path(tmp_path), command="tastydesk simulate --days 30"):
        proc = subprocess.run([sys.executable, "-m", "tastydesk", "--paper", "--data-dir",
                               str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                              timeout=120, env={**ENV, "XDG_CONFIG_HOME": str(tmp_path / "c")})
    assert proc.returncode == ExitCode.LOCKED, proc.stderr
    assert proc.stderr.strip().endswith(f"in use by pid {os.getpid()} "
                                        f"(tastydesk simulate --days 30)")
    assert not (tmp_path / "tastydesk.db").exists()
