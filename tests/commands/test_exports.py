"""``tastydesk orders`` and ``tastydesk journal`` on a real simulated account: the documented
shape, values that agree with the store, read-only beside a writer, and one-line refusals."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tastydesk.cli import main
from tastydesk.commands.exports import leg_name
from tastydesk.engine.domain.enums import Actor, OrderAction, OrderPurpose, OrderStatus
from tastydesk.engine.domain.instruments import TimeInForce
from tastydesk.engine.domain.orders import Fill, OrderLeg, OrderRequest
from tastydesk.engine.simulation import run_simulation
from tastydesk.engine.store.database import create_sqlite_engine, migrate
from tastydesk.engine.store.service import Store
from tastydesk.exit_codes import ExitCode
from tastydesk.locking import lock_path, probe
from tastydesk.paths import db_path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
DAYS = 10

# The documented keys (README, "Exports"); changing them breaks the trader's scripts.
ORDER_KEYS = ["id", "external_id", "broker_order_id", "workflow_id", "proposal_id", "purpose",
              "underlying", "legs", "price", "price_effect", "quantity", "filled_quantity",
              "time_in_force", "status", "reject_reason", "attempt", "fees", "created_at",
              "updated_at", "status_history", "fills"]
LEG_KEYS = ["symbol", "name", "action", "quantity"]
EVENT_KEYS = ["time", "status", "price", "filled_quantity", "broker_order_id", "detail"]
FILL_KEYS = ["fill_id", "symbol", "name", "action", "quantity", "price", "time"]
JOURNAL_COLUMNS = [
    "trade_id", "chain_id", "workflow_id", "strategy", "symbol", "opened_at", "closed_at",
    "days_held", "entry_order", "entry_price", "exit_order", "exit_price", "credits", "debits",
    "fees", "realised_pnl", "closing_rule", "roll_orders", "chain_opened_at", "chain_trades",
    "chain_roll_orders", "chain_credits", "chain_debits", "chain_fees", "chain_realised_pnl",
    "chain_days_held"]
CHAIN_ORDER_KEYS = ["id", "external_id", "role", "purpose", "created_at", "price",
                    "filled_quantity", "amount", "fees"]
LEG_NAME = re.compile(r"[A-Z]+ \d\d [A-Z][a-z]{2} \d\d \d+(\.\d+)? [CP]")


@pytest.fixture(scope="module", name="account")
def fixture_account(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A paper account after a short real simulation (entries, partial closes, exits)."""
    data = tmp_path_factory.mktemp("account")
    summary = asyncio.run(run_simulation(data, days=DAYS, seed=1, auto_approve=True))
    assert summary["errors"] == 0 and summary["positions_closed"] > 0
    return data, summary


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _export(capsys: pytest.CaptureFixture[str], data: Path, *argv: str) -> Any:
    code, out, err = _run(capsys, *argv, "--data-dir", str(data))
    assert code == 0 and err == "", err
    return out


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(name="store")
def fixture_store(account: tuple[Path, dict[str, Any]]) -> Iterator[Store]:
    store = Store.open(db_path(account[0]))
    yield store
    store.close()


def test_leg_names_read_as_a_trader_writes_them() -> None:
    assert leg_name("SPY   260220P00555000") == "SPY 20 Feb 26 555 P"
    assert leg_name("IWM   260320C00197500") == "IWM 20 Mar 26 197.5 C"
    assert leg_name("AAPL") == "AAPL"  # shares keep their ticker


def test_orders_json_has_the_documented_keys_and_agrees_with_the_store(
        account: tuple[Path, dict[str, Any]], store: Store,
        capsys: pytest.CaptureFixture[str]) -> None:
    data, summary = account
    before = _digest(db_path(data))
    orders = json.loads(_export(capsys, data, "orders", "--json"))
    assert _digest(db_path(data)) == before  # read-only
    stored = store.orders()
    assert len(orders) == len(stored) == summary["orders"]
    fills = {f.fill_id: f for f in store.fills()}
    assert sum(len(o["fills"]) for o in orders) == len(fills) == summary["fills"]
    for doc, rec in zip(orders, stored, strict=True):
        assert list(doc) == ORDER_KEYS
        assert (doc["id"], doc["external_id"], doc["status"], Decimal(doc["price"]),
                doc["quantity"], doc["filled_quantity"], doc["purpose"]) == (
            rec.id, rec.external_id, rec.status.value, rec.price, rec.quantity,
            rec.filled_quantity, rec.purpose.value)
        assert doc["time_in_force"] == "Day"
        assert doc["price_effect"] == ("credit" if rec.price > 0 else "debit")
        assert doc["fees"] == (None if rec.fees is None else str(rec.fees.quantize(Decimal("0.01"))))
        assert [list(leg) for leg in doc["legs"]] == [LEG_KEYS] * len(rec.legs)
        assert [(leg["symbol"], leg["action"], leg["quantity"]) for leg in doc["legs"]] == [
            (leg.symbol, leg.action.value, leg.quantity) for leg in rec.legs]
        assert all(LEG_NAME.fullmatch(leg["name"]) for leg in doc["legs"]), doc["legs"]
        history = doc["status_history"]
        assert [list(e) for e in history] == [EVENT_KEYS] * len(history)
        assert [e["status"] for e in history] == [
            e.status.value for e in store.order_events(rec.external_id)]
        assert history[0]["detail"] == "intent recorded" and history[-1]["status"] == doc["status"]
        assert [e["time"] for e in history] == sorted(e["time"] for e in history)
        # Every leg filled in proportion: the order's filled units times the leg's quantity.
        for leg in doc["legs"]:
            filled = sum(f["quantity"] for f in doc["fills"] if f["symbol"] == leg["symbol"])
            assert filled * rec.quantity == leg["quantity"] * rec.filled_quantity, (doc["id"], leg)
        for f in doc["fills"]:
            assert list(f) == FILL_KEYS
            kept = fills[f["fill_id"]]
            assert (f["symbol"], f["action"], f["quantity"], Decimal(f["price"])) == (
                kept.symbol, kept.action.value, kept.quantity, kept.price)
            assert kept.order_id == rec.id
    assert any(o["status"] == "FILLED" for o in orders)
    assert any(len(o["status_history"]) > 2 for o in orders)  # a price walk or a partial fill


def test_orders_table_is_one_line_per_order(account: tuple[Path, dict[str, Any]],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    data, summary = account
    lines = _export(capsys, data, "orders").splitlines()
    assert lines[0].split()[:4] == ["ID", "WF", "PURPOSE", "SYMBOL"]
    assert len(lines) == 1 + summary["orders"]
    first = lines[1].split()
    assert (first[0], first[5], first[6], first[7]) == ("1", "cr", "2/2", "Day")


def test_journal_json_totals_agree_with_the_simulation(
        account: tuple[Path, dict[str, Any]], store: Store,
        capsys: pytest.CaptureFixture[str]) -> None:
    data, summary = account
    trades = json.loads(_export(capsys, data, "journal", "--json"))
    journal = store.journal()
    assert len(trades) == len(journal) == summary["positions_closed"]
    total = sum((Decimal(t["realised_pnl"]) for t in trades), Decimal(0))
    assert total == Decimal(summary["realised_pnl"]) != 0
    orders = {o.id: o for o in store.orders()}
    for trade, rec in zip(trades, journal, strict=True):
        assert list(trade) == [*JOURNAL_COLUMNS, "orders"]
        assert (trade["trade_id"], trade["workflow_id"], trade["symbol"], trade["closing_rule"],
                Decimal(trade["fees"]), Decimal(trade["entry_price"])) == (
            rec.id, rec.workflow_id, rec.symbol, rec.closing_rule, rec.fees, rec.entry_price)
        credits, debits = Decimal(trade["credits"]), Decimal(trade["debits"])
        assert credits + debits - Decimal(trade["fees"]) == Decimal(trade["realised_pnl"])
        assert sum(Decimal(o["amount"]) for o in trade["orders"]) == credits + debits
        entry = orders[trade["chain_id"]]
        assert (entry.purpose, entry.workflow_id, entry.external_id) == (
            OrderPurpose.OPEN, rec.workflow_id, trade["entry_order"])
        assert trade["orders"][0]["role"] == "entry" and trade["orders"][-1]["role"] == "exit"
        assert all(list(o) == CHAIN_ORDER_KEYS for o in trade["orders"])
        assert Decimal(trade["days_held"]) == round(Decimal(rec.duration_s) / 86400, 2)
        # One trade per chain in this engine: the chain totals are the trade's.
        assert trade["chain_trades"] == 1
        assert [trade[f"chain_{k}"] for k in ("credits", "debits", "fees", "realised_pnl",
                                             "days_held")] == [
            trade[k] for k in ("credits", "debits", "fees", "realised_pnl", "days_held")]


def test_journal_csv_has_the_stable_header_and_the_json_values(
        account: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    data, _summary = account
    rows = list(csv.reader(io.StringIO(_export(capsys, data, "journal", "--csv"))))
    trades = json.loads(_export(capsys, data, "journal", "--json"))
    assert rows[0] == JOURNAL_COLUMNS
    assert rows[1:] == [["" if t[c] is None else str(t[c]) for c in JOURNAL_COLUMNS]
                        for t in trades]
    table = _export(capsys, data, "journal").splitlines()
    assert table[0].startswith("TRADE") and len(table) == 1 + len(trades)


def _trade(store: Store, wid: int, purpose: OrderPurpose, ext: str, price: str,
           fills: list[tuple[str, OrderAction, str]], when: datetime, units: int = 2,
           tif: TimeInForce = TimeInForce.DAY) -> None:
    legs = tuple(OrderLeg(symbol, action, units) for symbol, action, _ in fills)
    request = OrderRequest("SPY", legs, Decimal(price), ext, time_in_force=tif)
    store.create_order_intent(wid, purpose, request, units, when)
    store.update_order(ext, OrderStatus.FILLED, when, filled_quantity=units,
                       fees=Decimal("1.00") * units)
    store.record_fills(ext, [Fill(f"{ext}-{i}", ext, symbol, action, units, Decimal(px), when)
                             for i, (symbol, action, px) in enumerate(fills)], when)


def test_a_chain_closed_in_two_trades_accumulates_without_counting_a_fill_twice(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Entry, a roll, then two closing trades: the chain carries its totals forward."""
    t0 = datetime(2026, 2, 2, 15, 0, tzinfo=UTC)
    short, long_, short2, long2 = ("SPY   260320P00550000", "SPY   260320P00540000",
                                   "SPY   260417P00545000", "SPY   260417P00535000")
    with Store.open(db_path(tmp_path)) as store:
        wid = store.create_workflow("SPY", Actor.ENGINE, "test", t0).id
        _trade(store, wid, OrderPurpose.OPEN, "e", "0.60", [
            (short, OrderAction.SELL_TO_OPEN, "1.00"), (long_, OrderAction.BUY_TO_OPEN, "0.40")],
            t0)
        t1 = t0 + timedelta(days=5)
        _trade(store, wid, OrderPurpose.ROLL, "r", "0.30", [
            (short, OrderAction.BUY_TO_CLOSE, "0.50"), (long_, OrderAction.SELL_TO_CLOSE, "0.20"),
            (short2, OrderAction.SELL_TO_OPEN, "1.10"), (long2, OrderAction.BUY_TO_OPEN, "0.50")],
            t1, tif=TimeInForce.GTC)
        t2 = t0 + timedelta(days=8)
        _trade(store, wid, OrderPurpose.PARTIAL_CLOSE, "p", "-0.20", [
            (short2, OrderAction.BUY_TO_CLOSE, "0.30"), (long2, OrderAction.SELL_TO_CLOSE, "0.10")],
            t2, units=1)
        store.add_journal(wid, "S", "SPY", Decimal("0.60"), Decimal("-0.20"), Decimal("5.00"),
                          Decimal("155.00"), t0, t2, "rule profit_target")
        t3 = t0 + timedelta(days=10)
        _trade(store, wid, OrderPurpose.CLOSE, "c", "-0.10", [
            (short2, OrderAction.BUY_TO_CLOSE, "0.15"), (long2, OrderAction.SELL_TO_CLOSE, "0.05")],
            t3, units=1)
        store.add_journal(wid, "S", "SPY", Decimal("0.60"), Decimal("-0.10"), Decimal("1.00"),
                          Decimal("-11.00"), t0, t3, "rule dte")
    first, second = json.loads(_export(capsys, tmp_path, "journal", "--json"))
    assert [o["role"] for o in first["orders"]] == ["entry", "roll", "exit"]
    # Each order counts as the credit or debit it netted, as on tastytrade's chain view.
    assert [o["amount"] for o in first["orders"]] == ["120.00", "60.00", "-20.00"]
    assert (first["credits"], first["debits"], first["roll_orders"]) == ("180.00", "-20.00", 1)
    assert [o["id"] for o in second["orders"]] == [4]  # the earlier fills are counted once
    assert (second["credits"], second["debits"], second["roll_orders"]) == ("0.00", "-10.00", 0)
    assert second["chain_id"] == first["chain_id"] == 1
    assert (second["chain_trades"], second["chain_roll_orders"], second["chain_credits"],
            second["chain_debits"], second["chain_fees"], second["chain_realised_pnl"],
            second["chain_days_held"], second["chain_opened_at"]) == (
        2, 1, "180.00", "-30.00", "6.00", "144.00", "10.00", "2026-02-02T15:00:00+00:00")
    orders = json.loads(_export(capsys, tmp_path, "orders", "--json"))
    assert [o["time_in_force"] for o in orders] == ["Day", "GTC", "Day", "Day"]
    assert [o["price_effect"] for o in orders] == ["credit", "credit", "debit", "debit"]


def test_exports_run_beside_a_writer_holding_the_lock(
        account: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """Another process holds the writer lock and keeps writing; a real ``tastydesk orders``
    and ``journal`` process read a consistent snapshot and take no lock."""
    data = tmp_path / "busy"
    shutil.copytree(account[0], data, ignore=shutil.ignore_patterns("*.lock"))
    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(data), str(stop)], cwd=ROOT,
                              env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        holder = probe(lock_path(data))
        assert holder is not None and holder.pid == writer.pid
        shown = subprocess.run([sys.executable, "-m", "tastydesk", "orders", "--json",
                                "--data-dir", str(data)], cwd=ROOT, env=ENV,
                               capture_output=True, text=True, timeout=120)
        assert shown.returncode == 0, shown.stderr
        assert len(json.loads(shown.stdout)) == account[1]["orders"]
        code = main(["journal", "--csv", "--data-dir", str(data)])
        assert code == 0
        assert writer.poll() is None, "the writer must still be running"
    finally:
        stop.touch()
        writer.wait(timeout=60)
    assert writer.returncode == 0
    assert probe(lock_path(data)) is None


_WRITER = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from tastydesk.locking import WriterLock, lock_path
from tastydesk.engine.domain.enums import Actor
from tastydesk.engine.store.service import Store
data, stop = Path(sys.argv[1]), Path(sys.argv[2])
with WriterLock(lock_path(data), command="test writer"), Store.open(data / "tastydesk.db") as s:
    print("ready", flush=True)
    while not stop.exists():
        s.audit(Actor.USER, "note", "still writing", datetime.now(UTC))
"""


def _one_line_failure(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code, out, err = _run(capsys, *argv)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return code, lines[0]


@pytest.mark.parametrize("command", [["orders"], ["journal", "--json"]])
def test_a_garbled_database_is_one_line_and_exit_code_3(
        command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db_path(tmp_path).write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    before = _digest(db_path(tmp_path))
    code, line = _one_line_failure(capsys, *command, "--data-dir", str(tmp_path))
    assert code == ExitCode.DAMAGED_STATE
    assert str(db_path(tmp_path)) in line and "not a readable SQLite database" in line
    assert _digest(db_path(tmp_path)) == before


def test_a_malformed_record_is_one_line_and_exit_code_3(
        account: tuple[Path, dict[str, Any]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(db_path(account[0]), db_path(tmp_path))
    with sqlite3.connect(db_path(tmp_path)) as raw:
        raw.execute("UPDATE orders SET status='LOST' WHERE id=1")
    raw.close()
    code, line = _one_line_failure(capsys, "orders", "--data-dir", str(tmp_path))
    assert code == ExitCode.DAMAGED_STATE and "malformed" in line and "LOST" in line


def test_a_database_behind_this_schema_is_refused_not_migrated(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = create_sqlite_engine(db_path(tmp_path))
    migrate(engine, "0003_order_fees")
    engine.dispose()
    before = _digest(db_path(tmp_path))
    code, line = _one_line_failure(capsys, "journal", "--data-dir", str(tmp_path))
    assert code == ExitCode.DAMAGED_STATE
    assert "revision 0003_order_fees" in line and "start tastydesk" in line
    assert _digest(db_path(tmp_path)) == before


def test_a_database_from_a_newer_tastydesk_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Store.open(db_path(tmp_path)).close()
    with sqlite3.connect(db_path(tmp_path)) as raw:
        raw.execute("UPDATE alembic_version SET version_num='9999_future'")
    raw.close()
    code, line = _one_line_failure(capsys, "orders", "--json", "--data-dir", str(tmp_path))
    assert code == ExitCode.DAMAGED_STATE and "newer tastydesk" in line


def test_a_sqlite_file_that_is_not_a_tastydesk_database_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(db_path(tmp_path)) as raw:
        raw.execute("CREATE TABLE notes (text TEXT)")
    raw.close()
    code, line = _one_line_failure(capsys, "journal", "--data-dir", str(tmp_path))
    assert code == ExitCode.DAMAGED_STATE and "not a tastydesk database" in line


def test_no_database_or_no_directory_is_bad_input_and_creates_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, line = _one_line_failure(capsys, "journal", "--data-dir", str(tmp_path))
    assert code == ExitCode.BAD_INPUT and "no database" in line
    assert list(tmp_path.iterdir()) == []
    missing = tmp_path / "nowhere"
    code, line = _one_line_failure(capsys, "orders", "--data-dir", str(missing))
    assert code == ExitCode.BAD_INPUT and "no such directory" in line
    assert not missing.exists()
    a_file = tmp_path / "records.txt"
    a_file.write_text("not a data directory")
    code, line = _one_line_failure(capsys, "orders", "--data-dir", str(a_file))
    assert code == ExitCode.BAD_INPUT and "not a directory" in line


def test_bad_arguments_exit_with_code_2(account: tuple[Path, dict[str, Any]],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["journal", "--csv", "--json", "--data-dir", str(account[0])])
    assert exc.value.code == ExitCode.BAD_INPUT
    assert "not allowed with argument" in capsys.readouterr().err.splitlines()[-1]
    with pytest.raises(SystemExit) as exc:
        main(["orders", "--csv", "--data-dir", str(account[0])])
    assert exc.value.code == ExitCode.BAD_INPUT


def test_export_gtc_order_reads_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An order intent written with GTC is exported as GTC (time in force is stored)."""
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    legs = (OrderLeg("SPY   260417P00545000", OrderAction.SELL_TO_OPEN, 1),)
    with Store.open(db_path(tmp_path)) as store:
        wid = store.create_workflow("SPY", Actor.ENGINE, "t", now).id
        request = replace(OrderRequest("SPY", legs, Decimal("1.05"), "g1"),
                          time_in_force=TimeInForce.GTC)
        store.create_order_intent(wid, OrderPurpose.OPEN, request, 1, now)
    (order,) = json.loads(_export(capsys, tmp_path, "orders", "--json"))
    assert (order["time_in_force"], order["status"], order["fills"], order["fees"]) == (
        "GTC", "PENDING_SUBMIT", [], None)
    assert json.loads(_export(capsys, tmp_path, "journal", "--json")) == []
