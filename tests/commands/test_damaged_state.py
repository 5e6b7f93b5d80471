"""Damaged or mismatched state files stop a writing command before it writes anything, with one
line naming the file and exit code 3; doctor names the same files and exits non-zero."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tastydesk.cli import main
from tastydesk.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def after_a_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory after a short simulation: an app database with history and its paper
    state."""
    data = tmp_path_factory.mktemp("run") / "data"
    assert main(["simulate", "--days", "3", "--auto-approve", "--data-dir", str(data)]) in (0, 1)
    assert (data / "tastydesk.db").stat().st_size > 0 and (data / "paper.db").stat().st_size > 0
    return data


@pytest.fixture
def data(after_a_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(after_a_run, copy, ignore=shutil.ignore_patterns("*.lock", "logs"))
    return copy


def _digests(folder: Path) -> dict[str, str]:
    """Every data file's content. SQLite's shared-memory index and an empty write-ahead log,
    which even a read-only connection may create, hold no data and are left out."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir())
            if p.is_file() and p.suffix != ".lock" and not p.name.endswith("-shm")
            and not (p.name.endswith("-wal") and p.stat().st_size == 0)}


def _garble(path: Path) -> None:
    path.write_bytes(b"this is not a database " * 200)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _empty(path: Path) -> None:
    path.write_bytes(b"")
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


DAMAGE: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "garbled paper.db": ("paper.db", _garble, "not a readable SQLite database"),
    "empty paper.db": ("paper.db", _empty, "empty (0 bytes)"),
    "deleted paper.db": ("paper.db", _remove, "missing while tastydesk.db holds"),
    "garbled app database": ("tastydesk.db", _garble, "not a readable SQLite database"),
    "empty app database": ("tastydesk.db", _empty, "empty (0 bytes) while paper.db holds"),
    "deleted app database": ("tastydesk.db", _remove, "missing while paper.db holds"),
}


@pytest.mark.parametrize("command", [["simulate", "--days", "1"], ["--self-test"]],
                         ids=["simulate", "self-test"])
@pytest.mark.parametrize("case", list(DAMAGE))
def test_writers_refuse_damaged_state_and_write_nothing(
        data: Path, case: str, command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    name, damage, reason = DAMAGE[case]
    damage(data / name)
    before = _digests(data)
    code = main([*command, "--data-dir", str(data)])
    captured = capsys.readouterr()
    assert code == ExitCode.DAMAGED_STATE, captured
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and str(data / name) in lines[0] and reason in lines[0], lines
    assert _digests(data) == before  # nothing written, nothing created


def test_self_test_refuses_a_garbled_paper_state_in_a_real_process(data: Path) -> None:
    _garble(data / "paper.db")
    before = _digests(data)
    proc = subprocess.run([sys.executable, "-m", "tastydesk", "--self-test", "--data-dir",
                           str(data)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin",
                               "PYTHONPATH": str(ROOT), "HOME": str(data.parent)})
    assert proc.returncode == ExitCode.DAMAGED_STATE, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert str(data / "paper.db") in proc.stderr
    assert _digests(data) == before


def test_a_database_from_a_newer_tastydesk_is_refused(
        data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = sqlite3.connect(data / "tastydesk.db")
    raw.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    raw.commit()
    raw.close()
    before = _digests(data)
    assert main(["simulate", "--days", "1", "--data-dir", str(data)]) == ExitCode.DAMAGED_STATE
    err = capsys.readouterr().err
    assert "0099_from_the_future by a newer tastydesk" in err
    assert main(["strategies", "list", "--data-dir", str(data)]) == ExitCode.DAMAGED_STATE
    assert "newer tastydesk" in capsys.readouterr().err
    assert _digests(data) == before


def test_strategy_import_refuses_a_garbled_database(
        data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "s.json"
    assert main(["strategies", "export", "Iron Condor - 45 DTE", "--out", str(file),
                 "--data-dir", str(data)]) == 0
    _garble(data / "tastydesk.db")
    before = _digests(data)
    assert main(["strategies", "import", str(file), "--data-dir", str(data)]) == 3
    assert "not a readable SQLite database" in capsys.readouterr().err
    assert _digests(data) == before


def test_bad_arguments_are_refused_before_anything_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    for argv in (["--days", "0"], ["--step-minutes", "nan"], ["--symbols", "SP Y"]):
        assert main(["simulate", *argv, "--data-dir", str(data)]) == ExitCode.BAD_INPUT
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not data.exists()


def test_an_unexpected_error_is_one_line_with_the_traceback_in_the_log(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tastydesk.commands import bench

    def broken(_args: object) -> int:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(bench, "run", broken)  # stands in for any bug a command may have
    assert main(["bench", "--data-dir", str(tmp_path)]) == ExitCode.INTERNAL_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("tastydesk: internal error: RuntimeError: boom second line")
    log = (tmp_path / "logs" / "tastydesk.log").read_text()
    assert "Traceback" in log and "raise RuntimeError" in log and str(tmp_path / "logs") in err
