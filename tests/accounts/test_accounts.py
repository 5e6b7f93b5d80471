"""Accounts: names, the registry, each account's own directory, and moving a tastytrade
account's single-database data into its account."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from tastydesk.accounts import AccountKind, AccountRef, BadAccount, PaperAccountSpec
from tastydesk.accounts.migrate import RETIRED_DIR, migrate_legacy
from tastydesk.accounts.registry import (
    account_dir,
    create_paper_account,
    last_used,
    list_accounts,
    paper_spec,
    set_last_used,
)
from tastydesk.cli import main
from tastydesk.engine.store.service import Store
from tastydesk.exit_codes import ExitCode


def test_account_names_parse_and_bad_ones_are_named() -> None:
    assert AccountRef.parse("paper") == AccountRef.default_paper()
    assert AccountRef.parse("paper:alt").slug == "paper-alt"
    assert AccountRef.parse("sandbox-5WT0001") == AccountRef(AccountKind.SANDBOX, "5WT0001")
    for bad in ("broker-x", "live", "paper-../x", "paper-A B"):
        with pytest.raises(BadAccount, match="--account"):
            AccountRef.parse(bad)


def test_paper_accounts_have_their_own_spec_and_the_last_choice_is_kept(tmp_path: Path) -> None:
    assert list_accounts(tmp_path) == [AccountRef.default_paper()]
    assert last_used(tmp_path) == AccountRef.default_paper()
    alt = create_paper_account(tmp_path, "alt", PaperAccountSpec(7, Decimal("25000")))
    with pytest.raises(BadAccount, match="exists already"):
        create_paper_account(tmp_path, "alt", PaperAccountSpec())
    assert paper_spec(tmp_path, alt) == PaperAccountSpec(7, Decimal("25000"))
    assert account_dir(tmp_path, alt) == tmp_path / "accounts" / "paper-alt"
    assert account_dir(tmp_path, AccountRef.default_paper()) == tmp_path
    set_last_used(tmp_path, alt)
    assert last_used(tmp_path) == alt
    assert list_accounts(tmp_path) == [AccountRef.default_paper(), alt]


def test_simulate_on_two_paper_accounts_keeps_their_files_apart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert main(["simulate", "--days", "2", "--auto-approve", "--data-dir", str(data)]) in (0, 1)
    before = (data / "tastydesk.db").read_bytes(), (data / "paper.db").read_bytes()
    assert main(["simulate", "--days", "2", "--auto-approve", "--seed", "3",
                 "--data-dir", str(data), "--account", "paper-alt"]) in (0, 1)
    alt = data / "accounts" / "paper-alt"
    assert (alt / "tastydesk.db").stat().st_size > 0 and (alt / "paper.db").stat().st_size > 0
    assert ((data / "tastydesk.db").read_bytes(), (data / "paper.db").read_bytes()) == before
    with sqlite3.connect(alt / "tastydesk.db") as raw:
        alt_orders = raw.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    with sqlite3.connect(data / "tastydesk.db") as raw:
        default_orders = raw.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    assert alt_orders and default_orders


def test_an_unusable_account_name_is_one_line_bad_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strategies", "list", "--data-dir", str(tmp_path),
                 "--account", "paper-No Good"]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--account" in err
    assert not (tmp_path / "accounts").exists()


def test_a_tastytrade_accounts_single_database_moves_into_its_account_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store.open(tmp_path / "tastydesk.db") as store:
        store.set_config("account:sandbox", "5WT0001")
        store.set_config("marker", {"kept": True})
    assert migrate_legacy(tmp_path) == AccountRef(AccountKind.SANDBOX, "5WT0001")
    moved = tmp_path / "accounts" / "sandbox-5WT0001" / "tastydesk.db"
    with Store.open(moved) as store:
        assert store.get_config("marker") == {"kept": True}
    assert not (tmp_path / "tastydesk.db").exists()
    assert (tmp_path / RETIRED_DIR / "tastydesk.db").exists()  # moved aside, never deleted
    assert migrate_legacy(tmp_path) is None  # once
    # The command line opens that account next, its data in place.
    assert main(["strategies", "list", "--data-dir", str(tmp_path)]) == 0
    assert last_used(tmp_path) == AccountRef(AccountKind.SANDBOX, "5WT0001")


def test_a_paper_world_stays_the_default_paper_account(tmp_path: Path) -> None:
    assert main(["simulate", "--days", "1", "--data-dir", str(tmp_path)]) in (0, 1)
    with Store.open(tmp_path / "tastydesk.db") as store:
        store.set_config("account:live", "5YZ00001")  # a login remembered from the paper desk
    assert migrate_legacy(tmp_path) is None
    assert (tmp_path / "paper.db").exists() and not (tmp_path / "accounts").exists()
