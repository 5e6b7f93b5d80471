from __future__ import annotations

import argparse
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
    assert "0001_initial, head is 0003_order_fees" in _line(out, "migration")
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
