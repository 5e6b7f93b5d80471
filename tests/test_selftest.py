from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tastydesk import selftest

ROOT = Path(__file__).resolve().parents[1]


def _args(data_dir: Path | None, **extra: object) -> argparse.Namespace:
    return argparse.Namespace(data_dir=str(data_dir) if data_dir else None, seed=None, speed=None,
                              **extra)


def _market_available() -> bool:
    return (ROOT / "tastydesk" / "engine" / "broker" / "paper" / "market.py").exists()


@pytest.mark.skipif(not _market_available(), reason="paper market module not present")
def test_full_self_test_passes_in_a_fresh_process(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-m", "tastydesk", "--self-test", "--data-dir",
                           str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=150)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    for check in ("Qt application", "database opens", "paper engine opens", "main window shown",
                  "engine started", "full workflow cycle", "store integrity check",
                  "journal has an entry", "no engine task failures", "main window closed",
                  "no unhandled exceptions"):
        assert any(line.startswith("ok") and check in line for line in out.splitlines()), check
    assert "FAIL" not in out
    started = next(line for line in out.splitlines() if "engine started" in line)
    # Approvals expire on the real clock, as in the app (paper time runs x60 faster).
    assert "expire after 5 real minutes" in started and "PAPER TIME" not in started, started
    assert out.strip().splitlines()[-1].startswith("self-test passed")
    assert (tmp_path / "tastydesk.db").exists()  # the given data directory is kept
    assert (tmp_path / "selftest-window.ini").exists()  # layout saved there, not in user settings


def _run_in_subprocess(data_dir: Path | None, tmpdir: Path | None = None,
                       **extra: object) -> tuple[int, str]:
    """Each self-test owns a QApplication and an event loop: run it in its own process."""
    code = (
        "import argparse, sys, tempfile\n"
        "from tastydesk import selftest\n"
        f"tempfile.tempdir = {str(tmpdir) if tmpdir else None!r}\n"
        f"args = argparse.Namespace(data_dir={str(data_dir) if data_dir else None!r}, seed=None,"
        f" speed=None, **{extra!r})\n"
        "sys.exit(selftest.run_self_test(args))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=150)
    return proc.returncode, proc.stdout + proc.stderr


def test_corrupt_database_fails_naming_it(tmp_path):
    (tmp_path / "tastydesk.db").write_bytes(b"definitely not an sqlite file " * 200)
    code, out = _run_in_subprocess(tmp_path)
    assert code == 1
    assert any(line.startswith("FAIL database opens") for line in out.splitlines()), out
    assert "tastydesk.db" in out
    assert "self-test FAILED" in out


def test_a_crash_becomes_a_named_failure(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    code, out = _run_in_subprocess(not_a_dir)
    assert code == 1
    assert "FAIL self-test ran to completion" in out
    assert "FileExistsError" in out or "NotADirectoryError" in out
    assert "self-test FAILED" in out


@pytest.mark.skipif(not _market_available(), reason="paper market module not present")
def test_cycle_bound_fails_naming_the_furthest_state(tmp_path):
    code, out = _run_in_subprocess(tmp_path, max_days=0.01, max_wall_s=20)
    assert code == 1
    line = next(x for x in out.splitlines() if "full workflow cycle" in x)
    assert line.startswith("FAIL") and "no workflow completed a cycle" in line
    assert "limits 0.01 days" in line
    # The bound is the only failure: the rest of the checks still ran and passed.
    assert any(x.startswith("ok") and "store integrity check" in x for x in out.splitlines())


def test_temporary_data_dir_is_removed(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    _run_in_subprocess(None, tmpdir=scratch, max_days=0.01, max_wall_s=5)
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(("states", "progress"), [
    ([], 0),
    (["SCANNING", "EVALUATING", "PENDING_APPROVAL", "EXECUTING"], 1),
    (["EXECUTING", "MONITORING", "CLOSING", "MONITORING"], 3),
    (["EXECUTING", "MONITORING", "CLOSING", "COMPLETED", "SCANNING"], 4),
    (["MONITORING", "CLOSING", "COMPLETED"], 0),  # never opened: not a cycle
])
def test_cycle_progress(states, progress):
    assert selftest._progress(states) == progress
    assert selftest._has_cycle(states) is (progress == 4)
