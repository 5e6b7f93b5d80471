"""An app database older than its paper state is found by the pairing sync, and normal crash
ordering (the app database one sync ahead, or paper saves the app database has not seen yet)
raises no alarm; see the rule in tastydesk.accounts.identity."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tastydesk.accounts.identity import (
    SYNC_KEY,
    SYNC_PART,
    PairFacts,
    SideFacts,
    pair_problem,
    read_app_facts,
    read_paper_facts,
)
from tastydesk.accounts.model import AccountRef
from tastydesk.cli import main
from tastydesk.commands.state_files import check_state_files
from tastydesk.engine.broker.paper.state import PaperState
from tastydesk.exit_codes import ExitCode
from tests.accounts.test_identity import _copy_db

ACCOUNT = AccountRef.default_paper()
ID = {"id": "abc", "account": ACCOUNT.slug}


def _problem(app_sync: int, paper_sync: int, seen: int = 5, generation: int = 9
             ) -> tuple[str, str] | None:
    return pair_problem(PairFacts(ID, ID, seen, generation, app_sync, paper_sync), ACCOUNT,
                        "tastydesk.db", "paper.db")


@pytest.mark.parametrize(("app_sync", "paper_sync"), [(0, 0), (4, 4), (5, 4)])
def test_level_or_the_app_one_ahead_is_normal(app_sync: int, paper_sync: int) -> None:
    assert _problem(app_sync, paper_sync) is None


def test_the_paper_ahead_names_the_app_database_as_older() -> None:
    found = _problem(3, 4)
    assert found is not None and found[0] == "tastydesk.db"
    assert "older than paper.db" in found[1] and "sync 3" in found[1] and "sync 4" in found[1]


def test_the_app_two_ahead_names_the_paper_state_as_older() -> None:
    found = _problem(6, 4)
    assert found is not None and found[0] == "paper.db" and "older than tastydesk.db" in found[1]


def _run(data: Path, days: int = 2) -> int:
    return main(["simulate", "--days", str(days), "--auto-approve", "--data-dir", str(data)])


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("sync") / "data"
    assert _run(data) in (0, 1)
    return data


def _fresh(one_run: Path, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(one_run, data, ignore=shutil.ignore_patterns("*.lock", "logs", "backups"))
    return data


def _facts(data: Path) -> tuple[SideFacts, SideFacts]:
    app, paper = sqlite3.connect(data / "tastydesk.db"), sqlite3.connect(data / "paper.db")
    try:
        return read_app_facts(app), read_paper_facts(paper)
    finally:
        app.close()
        paper.close()


def test_a_crash_after_the_app_database_synced_is_no_alarm(one_run: Path, tmp_path: Path
                                                            ) -> None:
    data = _fresh(one_run, tmp_path)
    app, paper = _facts(data)
    with sqlite3.connect(data / "tastydesk.db") as raw:  # the app's write of sync n+1 landed
        raw.execute("UPDATE config SET value=? WHERE key=?", (json.dumps(app.sync + 1), SYNC_KEY))
    raw.close()
    assert check_state_files(data) == []
    assert _run(data, 1) in (0, 1)
    app, paper = _facts(data)
    assert app.sync == paper.sync  # the next sync brought the paper state level


async def test_opening_finishes_an_interrupted_sync_so_two_crashes_raise_no_alarm(
        one_run: Path, tmp_path: Path) -> None:
    from tastydesk.engine.bootstrap import open_paper_engine

    data = _fresh(one_run, tmp_path)
    app, _paper = _facts(data)
    for crash in (1, 2):  # each time the app's write of the next sync lands, the paper's not
        with sqlite3.connect(data / "tastydesk.db") as raw:
            raw.execute("UPDATE config SET value=? WHERE key=?",
                        (json.dumps(app.sync + crash), SYNC_KEY))
        raw.close()
        assert check_state_files(data) == [], crash
        kernel, _driver = await open_paper_engine(data)  # opens, then "crashes": never stops
        await kernel.store.close()
        app_now, paper_now = _facts(data)
        assert paper_now.sync == app_now.sync == app.sync + crash


def test_paper_saves_the_app_database_has_not_seen_are_no_alarm(one_run: Path, tmp_path: Path
                                                                 ) -> None:
    data = _fresh(one_run, tmp_path)
    with PaperState(data / "paper.db") as state:  # saves after the last sync, then a crash
        for _ in range(50):
            state.save({"market/core": state.load("market/core")["market/core"]})
    app, paper = _facts(data)
    assert paper.generation > app.generation + 40 and paper.sync == app.sync
    assert check_state_files(data) == []
    assert _run(data, 1) in (0, 1)


def test_an_app_database_put_back_from_an_older_copy_is_refused_naming_it(
        one_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _fresh(one_run, tmp_path)
    old = tmp_path / "old-tastydesk.db"
    _copy_db(data / "tastydesk.db", old)
    assert _run(data, 1) in (0, 1)  # the account moves on
    _copy_db(old, data / "tastydesk.db")
    problems = check_state_files(data)
    assert [p.path for p in problems] == [data / "tastydesk.db"]
    assert "older than paper.db" in problems[0].reason
    capsys.readouterr()
    assert _run(data, 1) == ExitCode.DAMAGED_STATE
    err = capsys.readouterr().err
    assert str(data / "tastydesk.db") in err and "older than paper.db" in err
    assert main(["doctor", "--no-qt", "--data-dir", str(data)]) != 0
    assert "older than paper.db" in capsys.readouterr().out


def test_a_paper_state_two_syncs_behind_is_refused_naming_it(one_run: Path, tmp_path: Path
                                                            ) -> None:
    data = _fresh(one_run, tmp_path)
    with PaperState(data / "paper.db") as state:
        sync = state.load(SYNC_PART)[SYNC_PART]
    with sqlite3.connect(data / "tastydesk.db") as raw:
        raw.execute("UPDATE config SET value=? WHERE key=?", (json.dumps(sync + 2), SYNC_KEY))
    raw.close()
    problems = check_state_files(data)
    assert [p.path for p in problems] == [data / "paper.db"]
    assert "older than tastydesk.db" in problems[0].reason


def test_a_run_syncs_as_it_goes_not_only_when_it_stops(one_run: Path) -> None:
    """A run killed half-way has synced already: an app database put back from before it is
    then found older (two sessions of 15-minute steps: more than 50 steps, so one sync on the
    way, and one at the stop)."""
    app, paper = _facts(one_run)
    assert app.sync == paper.sync >= 2
