"""Reading a data directory's trading records for the ``orders`` and ``journal`` exports.

The exports run beside the app, so nothing here may change the data directory: the database is
opened through a read-only SQLite URI (it can neither write nor create the file), no writer lock
is taken and no migration runs. Everything is read in one transaction, so an export is one
consistent snapshot even while the app keeps trading (WAL lets a reader run beside the writer).

The column lists come from the store's ORM tables (:mod:`tastydesk.engine.store.tables`), as the
store's own hot path does, and rows become the same plain records the store returns. A database
this tastydesk cannot read as it stands (garbled, from a newer or an older schema) is refused
with one line rather than guessed at: the app upgrades an older one the next time it opens it.
(Not a command: shared by :mod:`~tastydesk.commands.orders` and
:mod:`~tastydesk.commands.journal`.)
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from tastydesk.engine.domain.chain import parse_occ
from tastydesk.engine.domain.enums import OptionType, OrderAction, OrderPurpose, OrderStatus
from tastydesk.engine.domain.instruments import TimeInForce
from tastydesk.engine.domain.records import (
    FillRecord,
    JournalRecord,
    OrderEventRecord,
    OrderRecord,
)
from tastydesk.engine.store import codec
from tastydesk.engine.store.models import JournalRow
from tastydesk.engine.store.tables import FILLS, ORDER_EVENTS, ORDERS, TableSql
from tastydesk.engine.store.types import decode_datetime, decode_json
from tastydesk.exit_codes import CommandError, ExitCode

JOURNAL = TableSql.of(JournalRow)
CONTRACT_MULTIPLIER = 100  # equity options, as the journal's own figures use
CENT = Decimal("0.01")
SELLS = (OrderAction.SELL_TO_OPEN, OrderAction.SELL_TO_CLOSE)


class NoRecords(CommandError):
    """The data directory holds no tastydesk database (nothing has run there, or a typo)."""

    exit_code = ExitCode.BAD_INPUT


class UnreadableRecords(CommandError):
    """The database cannot be read as it stands: garbled, or another schema revision."""

    exit_code = ExitCode.DAMAGED_STATE


@dataclass(frozen=True, slots=True)
class Records:
    """Everything the exports show, read in one snapshot; each list oldest first (by id)."""

    path: Path
    orders: tuple[OrderRecord, ...]
    events: tuple[OrderEventRecord, ...]
    fills: tuple[FillRecord, ...]
    journal: tuple[JournalRecord, ...]

    def events_by_order(self) -> dict[int, list[OrderEventRecord]]:
        return _grouped(self.events, lambda e: e.order_id)

    def fills_by_order(self) -> dict[int, list[FillRecord]]:
        return _grouped(self.fills, lambda f: f.order_id)


def _grouped(items: Iterable[Any], key: Callable[[Any], int]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for item in items:
        out.setdefault(key(item), []).append(item)
    return out


def data_directory(override: str | None) -> Path:
    """The data directory to read; a ``--data-dir`` that does not exist is refused, not
    created (an export writes nothing)."""
    from tastydesk.paths import data_dir

    if not override:
        return data_dir(None)
    path = Path(override)
    if not path.is_dir():
        raise NoRecords(f"--data-dir {path}: "
                        f"{'not a directory' if path.exists() else 'no such directory'}")
    return path


def read_records(base: Path) -> Records:
    """Every order, its history and fills, and the journal, without writing anything.

    Raises :class:`NoRecords` (exit code 2) when there is no database and
    :class:`UnreadableRecords` (exit code 3) when it cannot be read as it stands.
    """
    from tastydesk.commands.state_files import (
        app_database_problems,
        inspect_app_database,
        read_only,
    )
    from tastydesk.paths import db_path

    path = db_path(Path(base))
    app = inspect_app_database(path)
    if not app.exists or app.size == 0:
        what = "no database" if not app.exists else "an empty database (0 bytes)"
        raise NoRecords(f"{path}: {what}; nothing has been traded with this data directory "
                        f"(see --data-dir)")
    problems = app_database_problems(app)
    if problems:
        raise UnreadableRecords(f"cannot read the records: {'; '.join(map(str, problems))}")
    if app.revision is None:
        raise UnreadableRecords(f"{path}: not a tastydesk database (it has no schema revision)")
    if app.revision != app.head:
        raise UnreadableRecords(
            f"{path}: at schema revision {app.revision}, this tastydesk reads "
            f"{app.head}; start tastydesk on this data directory once to upgrade it")
    try:
        with closing(read_only(path)) as raw:
            raw.execute("PRAGMA query_only=ON")
            raw.execute("BEGIN")  # one snapshot for every table
            records = Records(
                path=path,
                orders=tuple(_order(ORDERS.values(r)) for r in _all(raw, ORDERS)),
                events=tuple(_event(ORDER_EVENTS.values(r)) for r in _all(raw, ORDER_EVENTS)),
                fills=tuple(_fill(FILLS.values(r)) for r in _all(raw, FILLS)),
                journal=tuple(_journal(JOURNAL.values(r)) for r in _all(raw, JOURNAL)))
            raw.execute("ROLLBACK")
    except sqlite3.DatabaseError as exc:
        raise UnreadableRecords(f"{path}: not readable ({exc})") from None
    except (ValueError, TypeError, KeyError, InvalidOperation) as exc:
        # A value no tastydesk writes: an unknown status, a malformed price or leg.
        raise UnreadableRecords(f"{path}: a stored record is malformed "
                                f"({type(exc).__name__}: {exc})") from None
    return records


def _all(raw: sqlite3.Connection, table: TableSql) -> list[Any]:
    return raw.execute(f"{table.select} ORDER BY id").fetchall()


def _time(text: str) -> datetime:
    value = decode_datetime(text)
    if value is None:
        raise ValueError("a required time is missing")
    return value


def _order(o: Any) -> OrderRecord:
    return OrderRecord(
        id=o.id, workflow_id=o.workflow_id, proposal_id=o.proposal_id,
        purpose=OrderPurpose(o.purpose), external_id=o.external_id,
        broker_order_id=o.broker_order_id, status=OrderStatus(o.status), price=Decimal(o.price),
        quantity=o.quantity, filled_quantity=o.filled_quantity, attempt=o.attempt,
        underlying=o.underlying, legs=codec.legs_from_json(decode_json(o.legs)),
        created_at=_time(o.created_at), updated_at=_time(o.updated_at),
        reject_reason=o.reject_reason, fees=None if o.fees is None else Decimal(o.fees),
        time_in_force=TimeInForce(o.time_in_force))


def _event(e: Any) -> OrderEventRecord:
    return OrderEventRecord(id=e.id, order_id=e.order_id, status=OrderStatus(e.status),
                            broker_order_id=e.broker_order_id,
                            price=None if e.price is None else Decimal(e.price),
                            filled_quantity=e.filled_quantity, detail=e.detail,
                            time=_time(e.time))


def _fill(f: Any) -> FillRecord:
    return FillRecord(id=f.id, fill_id=f.fill_id, order_id=f.order_id,
                      workflow_id=f.workflow_id, symbol=f.symbol, action=OrderAction(f.action),
                      quantity=f.quantity, price=Decimal(f.price), time=_time(f.time))


def _journal(j: Any) -> JournalRecord:
    return JournalRecord(id=j.id, workflow_id=j.workflow_id, strategy=j.strategy,
                         symbol=j.symbol, entry_price=Decimal(j.entry_price),
                         exit_price=Decimal(j.exit_price), fees=Decimal(j.fees),
                         realised_pnl=Decimal(j.realised_pnl), opened_at=_time(j.opened_at),
                         closed_at=_time(j.closed_at), duration_s=j.duration_s,
                         closing_rule=j.closing_rule)


# -- formatting shared by both exports ----------------------------------------------------------


@functools.lru_cache(maxsize=4096)  # a position's symbols recur in its orders and fills
def leg_name(symbol: str) -> str:
    """A leg as a trader reads it: ``SPY   260220P00555000`` -> ``SPY 20 Feb 26 555 P``.

    A symbol that is not an OCC option symbol (shares) is shown as it is.
    """
    try:
        root, expiry, option_type, strike = parse_occ(symbol)
    except ValueError:
        return symbol.strip()
    kind = "C" if option_type is OptionType.CALL else "P"
    return f"{root} {expiry:%d %b %y} {format(strike.normalize(), 'f')} {kind}"


def price_effect(price: Decimal) -> str:
    """tastytrade's price effect of a signed price: credit +, debit -, none at zero."""
    return "credit" if price > 0 else "debit" if price < 0 else "none"


def fill_amount(fill: FillRecord) -> Decimal:
    """Dollars a fill brought in (+, a sale) or paid out (-, a purchase)."""
    sign = 1 if fill.action in SELLS else -1
    return sign * fill.price * fill.quantity * CONTRACT_MULTIPLIER


def money(value: Decimal | None) -> str | None:
    """Dollars as exact text to the cent (None stays None)."""
    return None if value is None else str(value.quantize(CENT))


def iso(value: datetime) -> str:
    """A stored UTC time as ISO-8601 text (to the second, explicit offset)."""
    return value.isoformat(timespec="seconds")


def short_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def days_between(start: datetime, end: datetime) -> Decimal:
    """Whole and part days, to the hundredth."""
    return (Decimal((end - start).total_seconds()) / 86400).quantize(CENT)


def write_json(value: Any, out: TextIO | None = None) -> None:
    emit((out or sys.stdout), json.dumps(value, indent=2) + "\n")


def write_table(headers: list[str], rows: list[list[str]], out: TextIO | None = None) -> None:
    """Columns padded to their widest cell; the last column is left unpadded."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in [headers, *rows]]
    emit(out or sys.stdout, "\n".join(lines) + "\n")


def emit(out: TextIO, text: str) -> None:
    """Write the export; a reader that stops early (``| head``) ends it quietly."""
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        # Python's documented recipe: point stdout at devnull so the exit flush cannot fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
