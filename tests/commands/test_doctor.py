from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tastydesk.commands import doctor
from tastydesk.engine.broker.tastytrade.credentials import KeyringCredentialStore
from tastydesk.engine.store.service import Store

SECTIONS = ("[versions]", "[platform]", "[data]", "[database]", "[keyring]", "[credentials]",
            "[qt]", "[broker]")
SECRET = "prov-SECRET-4f1d9c77"
TOKEN = "refresh-TOKEN-8a2e6b31"


@pytest.fixture(autouse=True)
def _shared_qapp(qapp: Any) -> Any:
    """Doctor reports the running Qt application; without one it would create a bare
    QGuiApplication, which would then break every widget test that runs after it."""
    return qapp


def _run(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir")
    doctor.add_parser(parser)
    code = doctor.run(parser.parse_args(["--data-dir", str(data_dir)]))
    return code, capsys.readouterr().out


def _line(out: str, key: str) -> str:
    return next(line for line in out.splitlines() if line[3:].startswith(key))


def test_fresh_data_dir_reports_every_section(tmp_path, capsys, memory_keyring):
    code, out = _run(tmp_path, capsys)
    assert code == 0, out
    for section in SECTIONS:
        assert section in out
    assert "not created yet" in out
    assert not (tmp_path / "tastydesk.db").exists()  # diagnosing never creates a database
    assert "tastytrade SDK" in out and "Qt runtime" in out and "SQLAlchemy" in out
    assert "MemoryKeyring" in _line(out, "backend")
    assert _line(out, "secure").endswith("yes")
    assert _line(out, "live").endswith("no") and _line(out, "sandbox").endswith("no")
    assert "paper" in _line(out, "mode")
    assert "offscreen" in _line(out, "platform plugin")  # tests run with QT_QPA_PLATFORM=offscreen
    assert out.rstrip().endswith("no problems found")


def test_never_prints_a_stored_secret(tmp_path, capsys, memory_keyring):
    Store.open(tmp_path / "tastydesk.db").close()
    KeyringCredentialStore().save("live", SECRET, TOKEN)
    code, out = _run(tmp_path, capsys)
    assert code == 0, out
    assert SECRET not in out and TOKEN not in out
    assert SECRET[5:15] not in out and TOKEN[8:18] not in out
    assert _line(out, "live").endswith("yes") and _line(out, "sandbox").endswith("no")
    assert "tastytrade: login stored for live" in _line(out, "mode")
    assert _line(out, "migration").split()[-1] == "(head)"
    assert _line(out, "integrity").endswith("ok")


def test_database_behind_head_is_reported_and_left_alone(tmp_path, capsys, memory_keyring):
    from tastydesk.engine.store.database import create_sqlite_engine, current_revision, migrate

    db = tmp_path / "tastydesk.db"
    engine = create_sqlite_engine(db)
    migrate(engine, "0001_initial")
    engine.dispose()
    code, out = _run(tmp_path, capsys)
    assert code == 0, out
    assert "0001_initial, head is 0006_lifecycle_events" in _line(out, "migration")
    assert _line(out, "migration").startswith("??")
    engine = create_sqlite_engine(db)
    assert current_revision(engine) == "0001_initial"  # not migrated by the diagnosis
    engine.dispose()


def test_broken_store_invariant_is_a_problem(tmp_path, capsys, memory_keyring):
    db = tmp_path / "tastydesk.db"
    Store.open(db).close()
    raw = sqlite3.connect(db)
    raw.execute("PRAGMA foreign_keys=OFF")
    cols = [r[1] for r in raw.execute("PRAGMA table_info(workflows)")]
    assert "state" in cols
    raw.execute("INSERT INTO workflows (id, symbol, state, version, created_at, updated_at, "
                "rules_paused, rule_overrides) VALUES (99, 'SPY', 'MONITORING', 3, "
                "'2026-01-05T14:30:00+00:00', '2026-01-05T14:30:00+00:00', 0, '{}')")
    raw.commit()
    raw.close()
    code, out = _run(tmp_path, capsys)
    assert code == 1, out
    assert _line(out, "integrity").startswith("!!")
    assert "problem(s) found" in out


def test_not_a_database_is_a_problem(tmp_path, capsys, memory_keyring):
    (tmp_path / "tastydesk.db").write_bytes(b"this is not sqlite" * 100)
    code, out = _run(tmp_path, capsys)
    assert code == 1
    assert _line(out, "migration").startswith("!!")


@pytest.fixture(scope="module")
def after_a_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tastydesk.cli import main

    data = tmp_path_factory.mktemp("doctor-run") / "data"
    assert main(["simulate", "--days", "3", "--auto-approve", "--data-dir", str(data)]) in (0, 1)
    return data


@pytest.fixture
def ran(after_a_run: Path, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(after_a_run, copy, ignore=shutil.ignore_patterns("*.lock", "logs"))
    return copy


def test_after_a_run_state_files_pair_up(ran, capsys, memory_keyring):
    code, out = _run(ran, capsys)
    assert code == 0, out
    assert "saved part(s)" in _line(out, "status")
    assert "paper account in use" in _line(out, "history")
    assert _line(out, "holder").endswith("no tastydesk process is writing this directory")
    assert "2; newest" in _line(out, "backups")  # the run's daily backup: both files


def test_garbled_paper_state_is_a_problem(ran, capsys, memory_keyring):
    (ran / "paper.db").write_bytes(b"garbage " * 500)
    for suffix in ("-wal", "-shm"):
        (ran / f"paper.db{suffix}").unlink(missing_ok=True)
    code, out = _run(ran, capsys)
    assert code == 1
    assert _line(out, "status").startswith("!!") and "not a readable SQLite" in out
    assert out.rstrip().endswith("problem(s) found")


@pytest.mark.parametrize("how", ["empty", "deleted"])
def test_paper_state_missing_beside_history_is_a_problem(ran, capsys, memory_keyring, how):
    for suffix in ("", "-wal", "-shm"):
        (ran / f"paper.db{suffix}").unlink(missing_ok=True)
    if how == "empty":
        (ran / "paper.db").write_bytes(b"")
    code, out = _run(ran, capsys)
    assert code == 1
    pairing = _line(out, "pairing")
    assert pairing.startswith("!!") and str(ran / "paper.db") in pairing
    assert ("empty (0 bytes)" if how == "empty" else "missing") in pairing


@pytest.mark.parametrize("how", ["empty", "deleted"])
def test_app_database_missing_beside_a_paper_account_is_a_problem(ran, capsys, memory_keyring,
                                                                   how):
    for suffix in ("", "-wal", "-shm"):
        (ran / f"tastydesk.db{suffix}").unlink(missing_ok=True)
    if how == "empty":
        (ran / "tastydesk.db").write_bytes(b"")
    code, out = _run(ran, capsys)
    assert code == 1
    assert ("empty (0 bytes)" if how == "empty" else "not created yet") in _line(out, "status")
    pairing = _line(out, "pairing")
    assert pairing.startswith("!!") and str(ran / "tastydesk.db") in pairing
    assert "positions would be orphaned" in pairing


def test_migration_newer_than_the_app_says_so(ran, capsys, memory_keyring):
    raw = sqlite3.connect(ran / "tastydesk.db")
    raw.execute("UPDATE alembic_version SET version_num = '0042_future'")
    raw.commit()
    raw.close()
    code, out = _run(ran, capsys)
    assert code == 1
    migration = _line(out, "migration")
    assert migration.startswith("!!") and "0042_future is newer than this tastydesk" in migration


def test_lock_holder_is_named_and_doctor_runs_beside_it(ran, capsys, memory_keyring):
    from tastydesk.locking import WriterLock, lock_path

    with WriterLock(lock_path(ran), command="tastydesk simulate --days 9"):
        code, out = _run(ran, capsys)
    assert code == 0, out
    assert "tastydesk simulate --days 9" in _line(out, "holder")
    assert f"pid {os.getpid()}" in _line(out, "holder")


def test_backups_are_listed_and_a_damaged_one_is_a_problem(ran, capsys, memory_keyring):
    folder = ran / "backups"
    shutil.rmtree(folder)  # the run's own daily backup; a hand-made one instead
    folder.mkdir()
    good = sqlite3.connect(folder / "tastydesk-2026-01-05.db")
    source = sqlite3.connect(ran / "tastydesk.db")
    source.backup(good)
    source.close()
    good.close()
    code, out = _run(ran, capsys)
    assert code == 0, out
    assert "1; newest tastydesk-2026-01-05.db" in _line(out, "backups")
    (folder / "tastydesk-2026-01-06.db").write_bytes(b"junk" * 300)
    code, out = _run(ran, capsys)
    assert code == 1
    assert _line(out, "tastydesk-2026-01-06.db").startswith("!!")
