"""An account whose files were refused opens read-only: the app database is looked at without
writing (real files, a damaged paper.db), the window says READ-ONLY with the reason, the trader
sees positions, orders, journal and history, and every command is refused: nothing written,
no order sent."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QLabel

from tastydesk.accounts.model import AccountRef
from tastydesk.cli import main
from tastydesk.commands.state_files import check_state_files
from tastydesk.engine.bootstrap import open_read_only_engine
from tastydesk.engine.errors import EngineError
from tastydesk.engine.store.errors import StoreError
from tastydesk.ui.main_window import MainWindow
from tastydesk.ui.read_only import read_only_tip
from tastydesk.ui.widgets.account_dialogs import StateChoice, StateProblemDialog
from tests.conftest import run_coro
from tests.ui.engine_kit import wait_for

ACCOUNT = AccountRef.default_paper()


@pytest.fixture(scope="module")
def traded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("readonly") / "data"
    assert main(["simulate", "--days", "8", "--auto-approve", "--data-dir", str(data)]) in (0, 1)
    return data


@pytest.fixture(name="damaged")
def fixture_damaged(traded: Path, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(traded, data, ignore=shutil.ignore_patterns("*.lock", "logs"))
    for name in ("paper.db-wal", "paper.db-shm"):
        (data / name).unlink(missing_ok=True)
    (data / "paper.db").write_bytes(b"garbled " * 512)
    return data


def _fingerprint(data: Path) -> dict[str, str]:
    """Every state file's content (the -shm index aside: SQLite's shared memory, not data)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(data.iterdir())
            if p.is_file() and not p.name.endswith("-shm")}


def _rows(db: Path) -> dict[str, int]:
    raw = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return {t: raw.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("workflows", "orders", "journal", "workflow_transitions", "audit_log",
                          "config")}
    finally:
        raw.close()


def test_the_refusal_offers_read_only_when_the_app_database_can_be_read(
        qtbot: Any, damaged: Path) -> None:
    from tastydesk.app import _why_not_read_only

    problems = [str(p) for p in check_state_files(damaged)]
    assert problems and str(damaged / "paper.db") in problems[0]
    dialog = StateProblemDialog(ACCOUNT, problems, None, no_read_only=_why_not_read_only(damaged))
    qtbot.addWidget(dialog)
    assert dialog.read_only_button.isEnabled()
    dialog.read_only_button.click()
    assert dialog.choice is StateChoice.READ_ONLY
    (damaged / "tastydesk.db").write_bytes(b"")
    why = _why_not_read_only(damaged)
    assert why is not None and "tastydesk.db" in why
    blocked = StateProblemDialog(ACCOUNT, problems, None, no_read_only=why)
    qtbot.addWidget(blocked)
    assert not blocked.read_only_button.isEnabled() and blocked.read_only_button.toolTip() == why


def test_read_only_shows_the_account_and_writes_and_sends_nothing(
        qloop: Any, qtbot: Any, damaged: Path) -> None:
    before, rows = _fingerprint(damaged), _rows(damaged / "tastydesk.db")
    assert rows["orders"] > 0 and rows["journal"] > 0
    reason = "; ".join(str(p) for p in check_state_files(damaged))
    engine = run_coro(qtbot, open_read_only_engine(damaged, reason, account=ACCOUNT))
    run_coro(qtbot, engine.start())
    window = MainWindow(engine, tray_available=False)
    qtbot.addWidget(window)
    window.account.set_context(damaged, ACCOUNT)
    window.account.show_read_only(engine.read_only)
    window.show()
    try:
        assert "READ-ONLY" in window.windowTitle() and str(damaged / "paper.db") in \
            window.windowTitle()
        badge = window.findChild(QLabel, "modeBadge")
        assert badge.text() == "READ-ONLY \u00b7 Paper \u00b7 default"
        assert str(damaged / "paper.db") in badge.toolTip()
        assert not window.kill_switch.isEnabled() and not window.scan_action.isEnabled()
        # Every dock greys its commands with the engine's reason, whatever is selected.
        assert window.position_dock.focus_workflow(engine.positions()[0].workflow_id)
        tip = read_only_tip(reason)
        builder = window.builder_dock
        assert builder is not None
        for control in (window.position_dock.close_button, window.position_dock.roll_button,
                        window.position_dock.partial_button, window.position_dock.pause_button,
                        window.approval_dock.approve_button, builder.save_button,
                        builder.library.restore_button, window.kill_switch):
            assert not control.isEnabled() and control.toolTip() == tip
        health = engine.health()
        assert not health.automation_armed and not health.reconciled
        assert health.clock_speed == 0  # paper time stands still
        assert health.reconcile_detail.startswith("read-only: ")
        # What the account holds is there to look at.
        assert len(engine.orders()) == rows["orders"]
        assert len(engine.journal()) == rows["journal"]
        assert engine.workflows() and engine.transitions()
        open_legs = _open_positions(damaged)
        assert len(engine.positions()) == open_legs > 0
        # Every command is refused with the reason, through the window's runner too.
        wid = engine.positions()[0].workflow_id
        for command in (engine.close_position(wid, "tester"), engine.scan_now(),
                        engine.set_automation(True, "tester"),
                        engine.cancel_workflow(wid, "tester", "look"),
                        engine.restore_default_strategies("tester")):
            with pytest.raises(EngineError, match=r"^read-only: "):
                run_coro(qtbot, command)
        window.scan_now()
        wait_for(qtbot, lambda: window.toast.text().startswith("Not done: read-only"), 10)
    finally:
        window.close()
        run_coro(qtbot, engine.stop())
    assert _fingerprint(damaged) == before  # not a byte written, no file created
    assert _rows(damaged / "tastydesk.db") == rows  # no order, transition or audit row


def _open_positions(data: Path) -> int:
    raw = sqlite3.connect(f"{(data / 'tastydesk.db').resolve().as_uri()}?mode=ro", uri=True)
    try:
        return raw.execute("SELECT COUNT(*) FROM workflows WHERE state IN "
                           "('MONITORING', 'CLOSING')").fetchone()[0]
    finally:
        raw.close()


def test_a_clean_app_database_opens_without_a_log_and_none_appears(
        qloop: Any, qtbot: Any, damaged: Path) -> None:
    """After a clean close (no -wal left) SQLite's immutable read creates no file at all."""
    db = damaged / "tastydesk.db"
    raw = sqlite3.connect(db)  # a clean close checkpoints and removes the log
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    for name in ("tastydesk.db-wal", "tastydesk.db-shm"):
        (damaged / name).unlink(missing_ok=True)
    listing = sorted(p.name for p in damaged.iterdir())
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    engine = run_coro(qtbot, open_read_only_engine(damaged, "paper.db damaged", account=ACCOUNT))
    run_coro(qtbot, engine.start())
    assert engine.orders()
    run_coro(qtbot, engine.stop())
    assert sorted(p.name for p in damaged.iterdir()) == listing
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


def test_an_unreadable_app_database_is_named_not_opened(qloop: Any, qtbot: Any,
                                                        tmp_path: Path) -> None:
    (tmp_path / "tastydesk.db").write_bytes(b"")
    with pytest.raises(StoreError, match=r"tastydesk\.db: no database to open read-only"):
        run_coro(qtbot, open_read_only_engine(tmp_path, "why", account=ACCOUNT))
    assert (tmp_path / "tastydesk.db").stat().st_size == 0



def test_the_apps_check_opens_read_only_or_restores_as_the_trader_chooses(
        qtbot: Any, traded: Path, damaged: Path) -> None:
    """The refusal as the app shows it (real dialog, real files): "Open read-only" returns the
    reason and changes nothing; "Restore" puts the backup back and the account opens."""
    from tastydesk.accounts.backup import take_backup
    from tastydesk.app import _check_account
    from tests.ui.engine_kit import DialogAnswerer

    before = _fingerprint(damaged)
    assert _check_account(damaged, ACCOUNT, ask=False)[0] == 3  # headless: exit, naming it
    with DialogAnswerer("Open read-only") as answerer:
        refused, reason = _check_account(damaged, ACCOUNT, ask=True)
    assert answerer.seen == ["Paper \u00b7 default: state files do not match"]
    assert refused is None and reason is not None and str(damaged / "paper.db") in reason
    assert _fingerprint(damaged) == before
    good = damaged.parent / "good"
    shutil.copytree(traded, good, ignore=shutil.ignore_patterns("*.lock", "logs", "backups"))
    backup = take_backup(good)  # what a writer's start takes on a good account
    assert backup is not None
    (good / "paper.db").write_bytes(b"")
    with DialogAnswerer(f"Restore backup of {backup.name}") as answerer:
        assert _check_account(good, ACCOUNT, ask=True) == (None, None)
    assert len(answerer.seen) == 1
    assert check_state_files(good) == []
