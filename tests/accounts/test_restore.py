"""After a run, an emptied or deleted paper state or app database stops every writer naming the
file, with no order sent; doctor names it; restoring the latest daily backup brings the
account back and it reconciles clean."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tastydesk.accounts.backup import list_backups
from tastydesk.cli import main
from tastydesk.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parents[2]


def _empty(path: Path) -> None:
    path.write_bytes(b"")
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


DAMAGE: dict[str, tuple[str, Callable[[Path], None]]] = {
    "empty paper.db": ("paper.db", _empty),
    "deleted paper.db": ("paper.db", _remove),
    "empty app database": ("tastydesk.db", _empty),
    "deleted app database": ("tastydesk.db", _remove),
}


@pytest.fixture(scope="module")
def after_a_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("run") / "data"
    assert main(["simulate", "--days", "4", "--auto-approve", "--data-dir", str(data)]) in (0, 1)
    return data


def _orders(data: Path) -> int:
    with sqlite3.connect(data / "tastydesk.db") as raw:
        return raw.execute("SELECT COUNT(*) FROM orders").fetchone()[0]


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_is_refused_named_and_the_latest_backup_brings_the_account_back(
        damage: str, after_a_run: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    shutil.copytree(after_a_run, data, ignore=shutil.ignore_patterns("*.lock", "logs"))
    assert list_backups(data), "a clean run leaves the day's backup"
    orders_before = _orders(data)
    name, act = DAMAGE[damage]
    act(data / name)
    capsys.readouterr()
    assert main(["simulate", "--days", "1", "--auto-approve",
                 "--data-dir", str(data)]) == ExitCode.DAMAGED_STATE
    assert str(data / name) in capsys.readouterr().err
    assert main(["--self-test", "--data-dir", str(data)]) == ExitCode.DAMAGED_STATE
    assert str(data / name) in capsys.readouterr().err
    app = subprocess.run([sys.executable, "-m", "tastydesk", "--data-dir", str(data)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert app.returncode == ExitCode.DAMAGED_STATE, app.stderr
    assert "automation not armed" in app.stderr and str(data / name) in app.stderr
    assert main(["doctor", "--no-qt", "--data-dir", str(data)]) != 0
    assert str(data / name) in capsys.readouterr().out
    assert main(["accounts", "restore", "--data-dir", str(data)]) == 0
    capsys.readouterr()
    assert _orders(data) == orders_before  # nothing was sent while it was damaged
    assert main(["simulate", "--days", "1", "--auto-approve", "--json",
                 "--data-dir", str(data)]) in (0, 1)
    summary = json.loads(capsys.readouterr().out)
    assert summary["resumed"] and summary["integrity"] == []
    with sqlite3.connect(data / "tastydesk.db") as raw:
        mismatches = raw.execute("SELECT COUNT(*) FROM error_log WHERE message LIKE "
                                 "'%mismatch%'").fetchone()[0]
    assert mismatches == 0, "reconciliation after the restore is clean"
