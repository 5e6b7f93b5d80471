"""The app database and the paper state prove they belong together: the same account identity,
and a paper save generation no older than the one the app database saw."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tastydesk.accounts.identity import SideFacts, read_app_facts, read_paper_facts
from tastydesk.cli import main
from tastydesk.exit_codes import ExitCode


def _run(data: Path, seed: int = 1) -> None:
    assert main(["simulate", "--days", "2", "--auto-approve", "--seed", str(seed),
                 "--data-dir", str(data)]) in (0, 1)


def _copy_db(source: Path, target: Path) -> None:
    """Put a consistent copy of ``source`` in place of ``target`` (as a person restoring a file
    would: the target's write-ahead log goes with it)."""
    staged = target.with_name(target.name + ".copy")
    src, dst = sqlite3.connect(source), sqlite3.connect(staged)
    with src, dst:
        src.backup(dst)
    src.close()
    dst.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    staged.replace(target)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("identity")
    _run(root / "a")
    _run(root / "b", seed=2)
    return root / "a", root / "b"


def _facts(data: Path) -> tuple[SideFacts, SideFacts]:
    app, paper = sqlite3.connect(data / "tastydesk.db"), sqlite3.connect(data / "paper.db")
    try:
        return read_app_facts(app), read_paper_facts(paper)
    finally:
        app.close()
        paper.close()


def test_a_run_gives_both_files_one_identity_and_records_the_generation(
        two_runs: tuple[Path, Path]) -> None:
    app, paper = _facts(two_runs[0])
    assert app.identity is not None and app.identity == paper.identity
    assert app.identity["account"] == "paper-default"
    assert 0 < app.generation <= paper.generation
    assert app.sync == paper.sync >= 1  # a clean stop leaves the two level
    other = _facts(two_runs[1])[0].identity
    assert other is not None and other["id"] != app.identity["id"]


def test_a_foreign_paper_state_is_refused_naming_it(
        two_runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    shutil.copytree(two_runs[0], data, ignore=shutil.ignore_patterns("*.lock", "logs"))
    _copy_db(two_runs[1] / "paper.db", data / "paper.db")
    capsys.readouterr()
    assert main(["simulate", "--days", "1", "--data-dir", str(data)]) == ExitCode.DAMAGED_STATE
    err = capsys.readouterr().err
    assert str(data / "paper.db") in err and "foreign" in err
    assert main(["doctor", "--data-dir", str(data), "--no-qt"]) != 0
    assert "foreign" in capsys.readouterr().out


def test_an_older_paper_state_put_back_is_refused_naming_it(
        two_runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    shutil.copytree(two_runs[0], data, ignore=shutil.ignore_patterns("*.lock", "logs"))
    old = tmp_path / "old-paper.db"
    _copy_db(data / "paper.db", old)
    assert main(["simulate", "--days", "1", "--data-dir", str(data)]) in (0, 1)  # resumes
    _copy_db(old, data / "paper.db")
    capsys.readouterr()
    assert main(["simulate", "--days", "1", "--data-dir", str(data)]) == ExitCode.DAMAGED_STATE
    err = capsys.readouterr().err
    assert str(data / "paper.db") in err and "older than tastydesk.db" in err


def test_doctor_checks_every_account_and_names_a_damaged_one(
        two_runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    shutil.copytree(two_runs[0], data, ignore=shutil.ignore_patterns("*.lock", "logs"))
    alt = data / "accounts" / "paper-alt"
    shutil.copytree(two_runs[1], alt, ignore=shutil.ignore_patterns("*.lock", "logs"))
    # two_runs[1]'s identity names paper-default: moved here, it is another account's file.
    capsys.readouterr()
    assert main(["doctor", "--no-qt", "--data-dir", str(data)]) != 0
    out = capsys.readouterr().out
    assert "account paper-alt" in out and str(alt / "tastydesk.db") in out
    assert "belongs to account paper-default" in out
    (alt / "paper.db").unlink()
    (alt / "tastydesk.db").unlink()
    main(["doctor", "--no-qt", "--data-dir", str(data)])
    out = capsys.readouterr().out
    assert "account paper-alt" in out and "belongs to account" not in out
