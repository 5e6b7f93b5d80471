"""The store service: one short transaction per call, plain records in and out.

The workflow hot path (create, transition, group commit) runs plain SQL on one pooled connection
reserved for it, in its own ``BEGIN IMMEDIATE`` transaction, because it runs thousands of times a
second in simulations; everything else goes through the typed ORM. A transition is a
compare-and-set on the workflow's (state, version) plus one appended transition row, in the same
transaction, so the log and the current state can never disagree.

Log readers (transitions, decisions, audit, errors) return rows oldest first; ``limit`` keeps the
most recent ones.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tastydesk.engine.domain.enums import (
    Actor,
    OrderAction,
    OrderPurpose,
    OrderStatus,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.money import MULTIPLIER
from tastydesk.engine.domain.orders import Fill, OrderLeg, OrderRequest
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.records import (
    AuditRecord,
    DecisionRecord,
    ErrorRecord,
    FillRecord,
    JournalRecord,
    OrderEventRecord,
    OrderRecord,
    PositionRecord,
    ProposalRecord,
    RuleActionRecord,
    TransitionRecord,
    TransitionRequest,
    WorkflowRecord,
)
from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.domain.workflow_fsm import INITIAL_STATE, TRANSITIONS, InvalidTransition, next_state
from tastydesk.engine.store import codec
from tastydesk.engine.store.database import READ_ONLY, check_database, open_database
from tastydesk.engine.store.errors import (
    ConcurrentTransition,
    DuplicateOrderIntent,
    NotFound,
    StoreError,
)
from tastydesk.engine.store.models import (
    AuditRow,
    ConfigRow,
    DecisionRow,
    ErrorRow,
    JournalRow,
    MetricRow,
    OrderEventRow,
    OrderRow,
    StrategyRow,
    WorkflowRow,
)
from tastydesk.engine.store.types import (
    decode_datetime,
    decode_json,
    encode_datetime,
    encode_decimal,
    encode_json,
)
from tastydesk.engine.strategies.codec import strategy_to_dict
from tastydesk.engine.strategies.defaults import DEFAULT_STRATEGIES
from tastydesk.engine.strategies.validation import StrategyValidationError, parse_strategy

log = logging.getLogger(__name__)

DEFAULTS_INSTALLED_KEY = "strategies.defaults_installed"
DECISIONS = frozenset({"approve", "reject", "modify"})
PRICE_PLACES = Decimal("0.000001")

_WF_COLUMNS = ("id, symbol, strategy_name, state, version, created_at, updated_at, "
               "cooldown_until, rules_paused, rule_overrides, proposal_id, error")
_SELECT_WF = f"SELECT {_WF_COLUMNS} FROM workflows WHERE id=?"
_UPDATE_WF_STATE = ("UPDATE workflows SET state=?, version=?, updated_at=? "
                    "WHERE id=? AND state=? AND version=?")
_INSERT_TRANSITION = (
    "INSERT INTO workflow_transitions (workflow_id, seq, from_state, to_state, trigger, actor, "
    "reason, payload, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
_TRANSITION_UPDATES = frozenset({"strategy_name", "proposal_id", "cooldown_until", "error"})
_WORKFLOW_UPDATES = frozenset({"rules_paused", "rule_overrides", "cooldown_until"})

R = TypeVar("R")


def _decode_time(text: str) -> datetime:
    value = decode_datetime(text)
    assert value is not None
    return value


def _decode_overrides(text: str | None) -> dict[str, Any]:
    return {} if text in (None, "{}") else decode_json(text)


def _workflow(row: Sequence[Any]) -> WorkflowRecord:
    return WorkflowRecord(
        id=row[0], symbol=row[1], strategy_name=row[2], state=WorkflowState(row[3]),
        version=row[4], created_at=_decode_time(row[5]), updated_at=_decode_time(row[6]),
        cooldown_until=decode_datetime(row[7]), rules_paused=bool(row[8]),
        rule_overrides=_decode_overrides(row[9]), proposal_id=row[10], error=row[11],
    )


def _transition(row: Sequence[Any]) -> TransitionRecord:
    return TransitionRecord(
        id=row[0], workflow_id=row[1], seq=row[2],
        from_state=None if row[3] is None else WorkflowState(row[3]),
        to_state=WorkflowState(row[4]), trigger=None if row[5] is None else Trigger(row[5]),
        actor=Actor(row[6]), reason=row[7], payload=decode_json(row[8]) or {},
        time=decode_datetime(row[9]),  # type: ignore[arg-type]
    )










def _decision(row: DecisionRow) -> DecisionRecord:
    return DecisionRecord(id=row.id, proposal_id=row.proposal_id, decision=row.decision,
                          user=row.user, reason=row.reason, time=row.time, price=row.price,
                          quantity=row.quantity)


def _journal(row: JournalRow) -> JournalRecord:
    return JournalRecord(id=row.id, workflow_id=row.workflow_id, strategy=row.strategy,
                         symbol=row.symbol, entry_price=row.entry_price,
                         exit_price=row.exit_price, fees=row.fees, realised_pnl=row.realised_pnl,
                         opened_at=row.opened_at, closed_at=row.closed_at,
                         duration_s=row.duration_s, closing_rule=row.closing_rule)




_ORDER_FIELDS = ("id", "workflow_id", "proposal_id", "purpose", "external_id", "broker_order_id",
                 "status", "underlying", "price", "quantity", "filled_quantity", "attempt", "legs",
                 "created_at", "updated_at", "reject_reason", "fees")
_ORDER_COLUMNS = ", ".join(_ORDER_FIELDS)
_SELECT_ORDER_BY_EXTERNAL = f"SELECT {_ORDER_COLUMNS} FROM orders WHERE external_id=?"
_INSERT_ORDER = (
    "INSERT INTO orders (workflow_id, proposal_id, purpose, external_id, status, underlying, "
    "price, quantity, filled_quantity, attempt, legs, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)")
_INSERT_ORDER_EVENT = (
    "INSERT INTO order_events (order_id, status, broker_order_id, price, filled_quantity, "
    "detail, time) VALUES (?, ?, ?, ?, ?, ?, ?)")
_INSERT_FILL = (
    "INSERT INTO fills (fill_id, order_id, workflow_id, symbol, action, quantity, price, time) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fill_id) DO NOTHING")
_SELECT_OPEN_POSITION = (
    "SELECT id, quantity, avg_open_price, opened_at, realised_pnl FROM positions "
    "WHERE workflow_id=? AND symbol=? AND closed_at IS NULL ORDER BY id DESC LIMIT 1")
_INSERT_POSITION = (
    "INSERT INTO positions (workflow_id, symbol, quantity, avg_open_price, opened_at, "
    "closed_at, realised_pnl) VALUES (?, ?, ?, ?, ?, NULL, '0')")


def _require_workflow_raw(raw: sqlite3.Connection, workflow_id: int) -> None:
    if raw.execute("SELECT 1 FROM workflows WHERE id=?", (workflow_id,)).fetchone() is None:
        raise NotFound(f"workflow {workflow_id} does not exist")


def _order_ids(raw: sqlite3.Connection, external_id: str) -> tuple[int, int]:
    row = raw.execute("SELECT id, workflow_id FROM orders WHERE external_id=?",
                      (external_id,)).fetchone()
    if row is None:
        raise NotFound(f"order {external_id!r} does not exist")
    return row[0], row[1]


def _insert_fill(raw: sqlite3.Connection, order_id: int, workflow_id: int, fill: Fill) -> bool:
    cur = raw.execute(_INSERT_FILL, (
        fill.fill_id, order_id, workflow_id, fill.symbol, OrderAction(fill.action).value,
        fill.quantity, encode_decimal(fill.price), encode_datetime(fill.time)))
    return cur.rowcount == 1


def _fold_position(raw: sqlite3.Connection, workflow_id: int, symbol: str, signed_quantity: int,
                   price: Decimal, now: datetime) -> PositionRecord:
    if signed_quantity == 0:
        raise ValueError("signed_quantity must not be zero")
    if not isinstance(price, Decimal) or not price.is_finite() or price < 0:
        raise ValueError(f"price must be a non-negative Decimal, got {price!r}")
    when = encode_datetime(now)
    row = raw.execute(_SELECT_OPEN_POSITION, (workflow_id, symbol)).fetchone()

    def opened(quantity: int) -> PositionRecord:
        cur = raw.execute(_INSERT_POSITION, (workflow_id, symbol, quantity,
                                             encode_decimal(price), when))
        assert cur.lastrowid is not None
        return PositionRecord(id=cur.lastrowid, workflow_id=workflow_id, symbol=symbol,
                              quantity=quantity, avg_open_price=price, opened_at=now,
                              closed_at=None, realised_pnl=Decimal("0"))

    if row is None:
        return opened(signed_quantity)
    pos_id, quantity, avg = row[0], row[1], Decimal(row[2])
    opened_at, realised = _decode_time(row[3]), Decimal(row[4])
    closed_at: datetime | None = None
    if (quantity > 0) == (signed_quantity > 0):
        held, added = abs(quantity), abs(signed_quantity)
        avg = ((avg * held + price * added) / (held + added)).quantize(PRICE_PLACES).normalize()
        quantity += signed_quantity
        remainder = 0
    else:
        closing = min(abs(quantity), abs(signed_quantity))
        direction = 1 if quantity > 0 else -1
        realised += (price - avg) * closing * direction * MULTIPLIER
        remainder = quantity + signed_quantity
        if remainder == 0 or (remainder > 0) != (quantity > 0):
            quantity, closed_at = 0, now
        else:
            quantity, remainder = remainder, 0
    raw.execute("UPDATE positions SET quantity=?, avg_open_price=?, realised_pnl=?, "
                "closed_at=? WHERE id=?",
                (quantity, encode_decimal(avg), encode_decimal(realised),
                 encode_datetime(closed_at), pos_id))
    if remainder != 0:
        return opened(remainder)
    return PositionRecord(id=pos_id, workflow_id=workflow_id, symbol=symbol, quantity=quantity,
                          avg_open_price=avg, opened_at=opened_at, closed_at=closed_at,
                          realised_pnl=realised)


def _require_aware(name: str, value: object) -> None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _encode_updates(updates: Mapping[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """Column values for a workflow update, checked field by field."""
    out: dict[str, Any] = {}
    for key, value in updates.items():
        if key not in allowed:
            names = ", ".join(sorted(allowed))
            raise ValueError(f"{key}: cannot be updated here (allowed: {names})")
        if key == "cooldown_until":
            _require_aware(key, value)
            out[key] = encode_datetime(value)
        elif key in ("strategy_name", "error"):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{key} must be text or None, got {type(value).__name__}")
            out[key] = value
        elif key == "proposal_id":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"proposal_id must be an integer or None, got {value!r}")
            out[key] = value
        elif key == "rules_paused":
            if not isinstance(value, bool):
                raise ValueError(f"rules_paused must be true or false, got {value!r}")
            out[key] = int(value)
        elif key == "rule_overrides":
            if not isinstance(value, Mapping):
                raise ValueError(f"rule_overrides must be a mapping, got {type(value).__name__}")
            out[key] = encode_json(dict(value))
    return out


def _decoded_updates(encoded: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(encoded)
    if "cooldown_until" in out:
        out["cooldown_until"] = decode_datetime(out["cooldown_until"])
    if "rules_paused" in out:
        out["rules_paused"] = bool(out["rules_paused"])
    if "rule_overrides" in out:
        out["rule_overrides"] = decode_json(out["rule_overrides"])
    return out


class Store:
    """Synchronous repository over one SQLite file. Thread-safe; writes are serialised."""

    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self._engine: Engine = open_database(self.path, synchronous)
        self._reader: Engine = self._engine.execution_options(**{READ_ONLY: True})
        self._lock = threading.RLock()
        self._closed = False
        self._hot: Any = self._engine.raw_connection()  # pooled, pragmas applied on connect
        self._legs: dict[int, tuple[OrderLeg, ...]] = {}
        if not self.get_config(DEFAULTS_INSTALLED_KEY, False):
            self.restore_default_strategies()
            self.set_config(DEFAULTS_INSTALLED_KEY, True)

    @classmethod
    def open(cls, path: Path, synchronous: str = "FULL") -> Store:
        return cls(path, synchronous)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._hot.close()
                self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ---------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._lock, Session(self._engine, expire_on_commit=False) as session, \
                session.begin():
            yield session

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self._reader, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def _raw_write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise StoreError(f"store {self.path} is closed")
            raw: sqlite3.Connection = self._hot.driver_connection
            raw.execute("BEGIN IMMEDIATE")
            try:
                yield raw
            except BaseException:
                raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")

    @contextmanager
    def _raw_read(self) -> Iterator[sqlite3.Connection]:
        with self._reader.connect() as conn:
            conn.begin()
            raw = conn.connection.driver_connection
            assert raw is not None
            yield raw
            conn.rollback()

    # -- strategies -----------------------------------------------------------------------------

    def list_strategies(self) -> list[Strategy]:
        with self._read() as s:
            rows = s.scalars(select(StrategyRow).order_by(StrategyRow.name)).all()
        out = []
        for row in rows:
            try:
                out.append(parse_strategy(row.body))
            except StrategyValidationError as exc:
                log.error("stored strategy %r is invalid and was skipped: %s", row.name, exc)
        return out

    def get_strategy(self, name: str) -> Strategy | None:
        with self._read() as s:
            row = s.scalars(select(StrategyRow).where(StrategyRow.name == name)).first()
        return None if row is None else parse_strategy(row.body)

    def save_strategy(self, strategy: Strategy) -> None:
        body = strategy_to_dict(strategy)
        parse_strategy(body)  # a strategy that would not load back is never stored
        with self._write() as s:
            self._upsert_strategy(s, body, builtin=strategy in DEFAULT_STRATEGIES)

    def _upsert_strategy(self, s: Session, body: dict[str, Any], builtin: bool) -> None:
        now = datetime.now().astimezone()
        stmt = sqlite_insert(StrategyRow).values(name=body["name"], body=body, builtin=builtin,
                                                 updated_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"body": stmt.excluded.body, "builtin": stmt.excluded.builtin,
                  "updated_at": stmt.excluded.updated_at})
        s.execute(stmt)

    def delete_strategy(self, name: str) -> None:
        with self._write() as s:
            result = s.execute(delete(StrategyRow).where(StrategyRow.name == name))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFound(f"strategy {name!r} does not exist")

    def restore_default_strategies(self) -> None:
        """Put the built-in strategies back as shipped; other strategies are left alone."""
        with self._write() as s:
            for strategy in DEFAULT_STRATEGIES:
                self._upsert_strategy(s, strategy_to_dict(strategy), builtin=True)

    def is_builtin_strategy(self, name: str) -> bool:
        with self._read() as s:
            return bool(s.scalar(select(StrategyRow.builtin).where(StrategyRow.name == name)))

    # -- workflows ------------------------------------------------------------------------------

    def create_workflow(self, symbol: str, actor: Actor, reason: str, now: datetime,
                        strategy_name: str | None = None) -> WorkflowRecord:
        """A new workflow in SCANNING, with its creation as transition #1."""
        with self._raw_write() as raw:
            wf_id = self._insert_workflow(raw, symbol, actor, reason, now, strategy_name)
            row = raw.execute(f"SELECT {_WF_COLUMNS} FROM workflows WHERE id=?",
                              (wf_id,)).fetchone()
        return _workflow(row)

    def create_workflows(self, symbols: Iterable[str], actor: Actor, reason: str,
                         now: datetime, strategy_name: str | None = None) -> list[int]:
        """Create many workflows in one transaction (start-up from a watch list); their ids."""
        with self._raw_write() as raw:
            return [self._insert_workflow(raw, sym, actor, reason, now, strategy_name)
                    for sym in symbols]

    @staticmethod
    def _insert_workflow(raw: sqlite3.Connection, symbol: str, actor: Actor, reason: str,
                         now: datetime, strategy_name: str | None) -> int:
        if not isinstance(symbol, str) or not symbol.strip():
            raise ValueError(f"symbol must be non-empty text, got {symbol!r}")
        _require_aware("now", now)
        when = encode_datetime(now)
        cur = raw.execute(
            "INSERT INTO workflows (symbol, strategy_name, state, version, created_at, "
            "updated_at, rules_paused, rule_overrides) VALUES (?, ?, ?, 1, ?, ?, 0, '{}')",
            (symbol.strip().upper(), strategy_name, INITIAL_STATE.value, when, when))
        wf_id = cur.lastrowid
        raw.execute(
            "INSERT INTO workflow_transitions (workflow_id, seq, from_state, to_state, trigger, "
            "actor, reason, payload, time) VALUES (?, 1, NULL, ?, NULL, ?, ?, '{}', ?)",
            (wf_id, INITIAL_STATE.value, Actor(actor).value, reason, when))
        assert wf_id is not None
        return wf_id

    def transition(self, workflow_id: int, trigger: Trigger, actor: Actor, reason: str,
                   now: datetime, payload: dict[str, Any] | None = None,
                   **updates: Any) -> WorkflowRecord:
        """Move a workflow by ``trigger``; the log row and the new state commit together.

        ``updates`` may set strategy_name, proposal_id, cooldown_until and error in the same
        transaction. Illegal moves raise :class:`InvalidTransition` and write nothing.
        """
        request = TransitionRequest(workflow_id, trigger, actor, reason, now, payload, updates)
        with self._raw_write() as raw:
            return self._apply(raw, request)

    def transition_many(self, items: Sequence[TransitionRequest]) -> list[WorkflowRecord]:
        """Group commit: all transitions in one transaction, all or nothing, in order."""
        with self._raw_write() as raw:
            return [self._apply(raw, item) for item in items]

    @staticmethod
    def _apply(raw: sqlite3.Connection, req: TransitionRequest) -> WorkflowRecord:
        trigger = Trigger(req.trigger)
        _require_aware("now", req.now)
        encoded = _encode_updates(req.updates, _TRANSITION_UPDATES) if req.updates else {}
        row = raw.execute(_SELECT_WF, (req.workflow_id,)).fetchone()
        if row is None:
            raise NotFound(f"workflow {req.workflow_id} does not exist")
        current = WorkflowState(row[3])
        version = row[4]
        target = next_state(current, trigger)
        when = encode_datetime(req.now)
        if encoded:
            sets = "".join(f", {k}=?" for k in encoded)
            sql = (f"UPDATE workflows SET state=?, version=?, updated_at=?{sets} "
                   "WHERE id=? AND state=? AND version=?")
        else:
            sql = _UPDATE_WF_STATE
        cur = raw.execute(sql, (target.value, version + 1, when, *encoded.values(),
                                req.workflow_id, current.value, version))
        if cur.rowcount != 1:
            raise ConcurrentTransition(f"workflow {req.workflow_id} changed while moving it from "
                                       f"{current.value} by {trigger.value}")
        payload = encode_json(dict(req.payload)) if req.payload else "{}"
        raw.execute(_INSERT_TRANSITION, (req.workflow_id, version + 1, current.value,
                                         target.value, trigger.value, Actor(req.actor).value,
                                         req.reason, payload, when))
        changed = _decoded_updates(encoded) if encoded else {}
        return WorkflowRecord(
            id=row[0], symbol=row[1], strategy_name=changed.get("strategy_name", row[2]),
            state=target, version=version + 1, created_at=_decode_time(row[5]),
            updated_at=req.now,
            cooldown_until=changed["cooldown_until"] if "cooldown_until" in changed
            else decode_datetime(row[7]),
            rules_paused=bool(row[8]), rule_overrides=_decode_overrides(row[9]),
            proposal_id=changed.get("proposal_id", row[10]), error=changed.get("error", row[11]),
        )

    def get_workflow(self, workflow_id: int) -> WorkflowRecord:
        with self._raw_read() as raw:
            row = raw.execute(f"SELECT {_WF_COLUMNS} FROM workflows WHERE id=?",
                              (workflow_id,)).fetchone()
        if row is None:
            raise NotFound(f"workflow {workflow_id} does not exist")
        return _workflow(row)

    def list_workflows(self, states: Iterable[WorkflowState] | None = None,
                       symbol: str | None = None) -> list[WorkflowRecord]:
        sql = f"SELECT {_WF_COLUMNS} FROM workflows WHERE 1=1"
        params: list[Any] = []
        if states is not None:
            values = [WorkflowState(s).value for s in states]
            if not values:
                return []
            sql += f" AND state IN ({', '.join('?' * len(values))})"
            params += values
        if symbol is not None:
            sql += " AND symbol=?"
            params.append(symbol.strip().upper())
        with self._raw_read() as raw:
            rows = raw.execute(sql + " ORDER BY id", params).fetchall()
        return [_workflow(r) for r in rows]

    def transitions(self, workflow_id: int | None = None,
                    limit: int | None = None) -> list[TransitionRecord]:
        sql = ("SELECT id, workflow_id, seq, from_state, to_state, trigger, actor, reason, "
               "payload, time FROM workflow_transitions")
        params: list[Any] = []
        if workflow_id is not None:
            sql += " WHERE workflow_id=?"
            params.append(workflow_id)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._raw_read() as raw:
            rows = raw.execute(sql, params).fetchall()
        return [_transition(r) for r in reversed(rows)]

    def update_workflow(self, workflow_id: int, **fields: Any) -> WorkflowRecord:
        """Change settings (rules_paused, rule_overrides, cooldown_until); never the state."""
        encoded = _encode_updates(fields, _WORKFLOW_UPDATES)
        with self._raw_write() as raw:
            if encoded:
                sets = ", ".join(f"{k}=?" for k in encoded)
                raw.execute(f"UPDATE workflows SET {sets} WHERE id=?",
                            (*encoded.values(), workflow_id))
            row = raw.execute(f"SELECT {_WF_COLUMNS} FROM workflows WHERE id=?",
                              (workflow_id,)).fetchone()
            if row is None:
                raise NotFound(f"workflow {workflow_id} does not exist")
        return _workflow(row)

    # -- proposals and decisions ---------------------------------------------------------------

    def save_proposal(self, workflow_id: int, proposal: TradeProposal,
                      expires_at: datetime | None) -> int:
        _require_aware("expires_at", expires_at)
        body = encode_json(codec.proposal_to_json(proposal))
        with self._raw_write() as raw:
            _require_workflow_raw(raw, workflow_id)
            cur = raw.execute(
                "INSERT INTO proposals (workflow_id, body, status, created_at, expires_at) "
                "VALUES (?, ?, 'pending', ?, ?)",
                (workflow_id, body, encode_datetime(proposal.created_at),
                 encode_datetime(expires_at)))
            assert cur.lastrowid is not None
            return cur.lastrowid

    def get_proposal(self, proposal_id: int) -> ProposalRecord:
        with self._raw_read() as raw:
            row = raw.execute("SELECT id, workflow_id, body, status, created_at, expires_at "
                              "FROM proposals WHERE id=?", (proposal_id,)).fetchone()
        if row is None:
            raise NotFound(f"proposal {proposal_id} does not exist")
        return ProposalRecord(id=row[0], workflow_id=row[1],
                              proposal=codec.proposal_from_json(decode_json(row[2])),
                              status=row[3], created_at=_decode_time(row[4]),
                              expires_at=decode_datetime(row[5]))

    def set_proposal_status(self, proposal_id: int, status: str) -> None:
        with self._raw_write() as raw:
            cur = raw.execute("UPDATE proposals SET status=? WHERE id=?", (status, proposal_id))
            if cur.rowcount != 1:
                raise NotFound(f"proposal {proposal_id} does not exist")

    def record_decision(self, proposal_id: int, decision: str, user: str, reason: str,
                        now: datetime, price: Decimal | None = None,
                        quantity: int | None = None) -> DecisionRecord:
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(sorted(DECISIONS))}, "
                             f"got {decision!r}")
        if quantity is not None and quantity < 1:
            raise ValueError(f"quantity must be at least 1, got {quantity}")
        values = (proposal_id, decision, user, reason, encode_decimal(price), quantity,
                  encode_datetime(now))
        with self._raw_write() as raw:
            if raw.execute("SELECT 1 FROM proposals WHERE id=?", (proposal_id,)).fetchone() is None:
                raise NotFound(f"proposal {proposal_id} does not exist")
            cur = raw.execute(
                "INSERT INTO decisions (proposal_id, decision, user, reason, price, quantity, "
                "time) VALUES (?, ?, ?, ?, ?, ?, ?)", values)
            assert cur.lastrowid is not None
        return DecisionRecord(id=cur.lastrowid, proposal_id=proposal_id, decision=decision,
                              user=user, reason=reason, time=now, price=price,
                              quantity=quantity)

    def decisions(self, limit: int | None = None) -> list[DecisionRecord]:
        return self._log(DecisionRow, _decision, limit)

    # -- orders ---------------------------------------------------------------------------------

    def create_order_intent(self, workflow_id: int, purpose: OrderPurpose, request: OrderRequest,
                            quantity: int, now: datetime, proposal_id: int | None = None,
                            attempt: int = 0) -> OrderRecord:
        """Persist the order before it is sent (status PENDING_SUBMIT).

        Raises :class:`DuplicateOrderIntent` when the external id, or the (proposal, purpose,
        attempt) triple, is already taken: one approval can never create two entry orders.
        """
        if quantity < 1:
            raise ValueError(f"quantity must be at least 1, got {quantity}")
        purpose = OrderPurpose(purpose)
        status = OrderStatus.PENDING_SUBMIT.value
        when = encode_datetime(now)
        price = encode_decimal(request.price)
        legs = encode_json(codec.legs_to_json(request.legs))
        try:
            with self._raw_write() as raw:
                _require_workflow_raw(raw, workflow_id)
                cur = raw.execute(_INSERT_ORDER, (
                    workflow_id, proposal_id, purpose.value, request.external_id, status,
                    request.underlying, price, quantity, attempt, legs, when, when))
                order_id = cur.lastrowid
                raw.execute(_INSERT_ORDER_EVENT, (order_id, status, None, price, 0,
                                                  "intent recorded", when))
        except sqlite3.IntegrityError as exc:
            text = str(exc)
            if "external_id" in text:
                raise DuplicateOrderIntent(
                    f"an order with external id {request.external_id!r} already exists") from None
            if "UNIQUE" in text:
                raise DuplicateOrderIntent(
                    f"proposal {proposal_id} already has a {purpose.value} order "
                    f"for attempt {attempt}") from None
            raise StoreError(f"order intent refused: {text}") from exc
        assert order_id is not None
        self._legs[order_id] = request.legs
        return OrderRecord(
            id=order_id, workflow_id=workflow_id, proposal_id=proposal_id, purpose=purpose,
            external_id=request.external_id, broker_order_id=None,
            status=OrderStatus.PENDING_SUBMIT, price=request.price, quantity=quantity,
            filled_quantity=0, attempt=attempt, underlying=request.underlying, legs=request.legs,
            created_at=now, updated_at=now, reject_reason=None)

    def update_order(self, external_id: str, status: OrderStatus, now: datetime,
                     broker_order_id: str | None = None, price: Decimal | None = None,
                     filled_quantity: int | None = None, detail: str = "",
                     fees: Decimal | None = None) -> OrderRecord:
        """Record a status change and append it to the order's event history.

        ``fees`` (the broker's figure for the whole order) is kept when given.
        """
        if fees is not None and (not isinstance(fees, Decimal) or not fees.is_finite()
                                 or fees < 0):
            raise ValueError(f"fees must be a non-negative Decimal, got {fees!r}")
        status = OrderStatus(status)
        when = encode_datetime(now)
        encoded_price = encode_decimal(price)
        with self._raw_write() as raw:
            row = raw.execute(_SELECT_ORDER_BY_EXTERNAL, (external_id,)).fetchone()
            if row is None:
                raise NotFound(f"order {external_id!r} does not exist")
            values = dict(zip(_ORDER_FIELDS, row, strict=True))
            if filled_quantity is not None and not 0 <= filled_quantity <= values["quantity"]:
                raise ValueError(f"filled_quantity must be between 0 and {values['quantity']}, "
                                 f"got {filled_quantity}")
            sets: dict[str, Any] = {"status": status.value, "updated_at": when}
            if broker_order_id is not None:
                sets["broker_order_id"] = broker_order_id
            if price is not None:
                sets["price"] = encoded_price
            if filled_quantity is not None:
                sets["filled_quantity"] = filled_quantity
            if status is OrderStatus.REJECTED and detail:
                sets["reject_reason"] = detail
            if fees is not None:
                sets["fees"] = encode_decimal(fees)
            raw.execute(f"UPDATE orders SET {', '.join(f'{k}=?' for k in sets)} WHERE id=?",
                        (*sets.values(), values["id"]))
            raw.execute(_INSERT_ORDER_EVENT, (values["id"], status.value, broker_order_id,
                                              encoded_price, filled_quantity, detail, when))
        values.update(sets)
        return self._order_record(values)

    def _order_record(self, values: dict[str, Any]) -> OrderRecord:
        # An order's legs never change after its intent is written, so they are decoded once.
        order_id = values["id"]
        legs = self._legs.get(order_id)
        if legs is None:
            legs = codec.legs_from_json(decode_json(values["legs"]))
            if len(self._legs) > 4096:
                self._legs.clear()
            self._legs[order_id] = legs
        return OrderRecord(
            id=order_id, workflow_id=values["workflow_id"], proposal_id=values["proposal_id"],
            purpose=OrderPurpose(values["purpose"]), external_id=values["external_id"],
            broker_order_id=values["broker_order_id"], status=OrderStatus(values["status"]),
            price=Decimal(values["price"]), quantity=values["quantity"],
            filled_quantity=values["filled_quantity"], attempt=values["attempt"],
            underlying=values["underlying"], legs=legs,
            created_at=_decode_time(values["created_at"]),
            updated_at=_decode_time(values["updated_at"]),
            reject_reason=values["reject_reason"],
            fees=None if values["fees"] is None else Decimal(values["fees"]))

    def get_order(self, external_id: str) -> OrderRecord | None:
        return self._first_order("external_id=?", external_id)

    def order_by_broker_id(self, broker_order_id: str) -> OrderRecord | None:
        return self._first_order("broker_order_id=? ORDER BY id DESC", broker_order_id)

    def _first_order(self, where: str, value: object) -> OrderRecord | None:
        with self._raw_read() as raw:
            row = raw.execute(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE {where} LIMIT 1",
                              (value,)).fetchone()
        return None if row is None else self._order_record(dict(zip(_ORDER_FIELDS, row,
                                                                    strict=True)))

    def orders(self, workflow_id: int | None = None, open_only: bool = False) -> list[OrderRecord]:
        sql = f"SELECT {_ORDER_COLUMNS} FROM orders WHERE 1=1"
        params: list[Any] = []
        if workflow_id is not None:
            sql += " AND workflow_id=?"
            params.append(workflow_id)
        if open_only:
            terminal = [st.value for st in OrderStatus if st.is_terminal]
            sql += f" AND status NOT IN ({', '.join('?' * len(terminal))})"
            params.extend(terminal)
        with self._raw_read() as raw:
            rows = raw.execute(sql + " ORDER BY id", params).fetchall()
        return [self._order_record(dict(zip(_ORDER_FIELDS, r, strict=True))) for r in rows]

    def order_events(self, external_id: str) -> list[OrderEventRecord]:
        stmt = (select(OrderEventRow).join(OrderRow, OrderRow.id == OrderEventRow.order_id)
                .where(OrderRow.external_id == external_id).order_by(OrderEventRow.id))
        with self._read() as s:
            return [OrderEventRecord(id=r.id, order_id=r.order_id, status=OrderStatus(r.status),
                                     broker_order_id=r.broker_order_id, price=r.price,
                                     filled_quantity=r.filled_quantity, detail=r.detail,
                                     time=r.time)
                    for r in s.scalars(stmt).all()]

    def add_fill(self, external_id: str, fill: Fill) -> bool:
        """Store a fill once; a replayed fill (same fill_id) is ignored and returns False."""
        with self._raw_write() as raw:
            order_id, workflow_id = _order_ids(raw, external_id)
            return _insert_fill(raw, order_id, workflow_id, fill)

    def record_fills(self, external_id: str, fills: Sequence[Fill], now: datetime) -> list[Fill]:
        """Store fills and fold each new one into its workflow's position, in ONE transaction.

        A crash can therefore never leave a fill recorded but its position unchanged (after a
        restart the fill would be skipped as a duplicate and the position would stay wrong).
        Returns the fills that were new.
        """
        new: list[Fill] = []
        with self._raw_write() as raw:
            order_id, workflow_id = _order_ids(raw, external_id)
            for fill in fills:
                if not _insert_fill(raw, order_id, workflow_id, fill):
                    continue
                buy = OrderAction(fill.action) in (OrderAction.BUY_TO_OPEN, OrderAction.BUY_TO_CLOSE)
                _fold_position(raw, workflow_id, fill.symbol,
                               fill.quantity if buy else -fill.quantity, fill.price, now)
                new.append(fill)
        return new

    def fills(self, workflow_id: int | None = None) -> list[FillRecord]:
        sql = ("SELECT id, fill_id, order_id, workflow_id, symbol, action, quantity, price, time "
               "FROM fills")
        params: tuple[Any, ...] = ()
        if workflow_id is not None:
            sql += " WHERE workflow_id=?"
            params = (workflow_id,)
        with self._raw_read() as raw:
            rows = raw.execute(sql + " ORDER BY id", params).fetchall()
        return [FillRecord(id=r[0], fill_id=r[1], order_id=r[2], workflow_id=r[3], symbol=r[4],
                           action=OrderAction(r[5]), quantity=r[6], price=Decimal(r[7]),
                           time=_decode_time(r[8])) for r in rows]

    # -- positions ------------------------------------------------------------------------------

    def apply_position_fill(self, workflow_id: int, symbol: str, signed_quantity: int,
                            price: Decimal, now: datetime) -> PositionRecord:
        """Fold one leg fill into the workflow's position in that symbol.

        Adding to a position averages the open price; reducing it realises
        ``(exit - open) x quantity x 100`` (sign-adjusted for shorts); crossing through zero
        closes the old row and opens a new one at the fill price.
        """
        with self._raw_write() as raw:
            _require_workflow_raw(raw, workflow_id)
            return _fold_position(raw, workflow_id, symbol, signed_quantity, price, now)

    def positions(self, workflow_id: int | None = None,
                  open_only: bool = True) -> list[PositionRecord]:
        sql = ("SELECT id, workflow_id, symbol, quantity, avg_open_price, opened_at, closed_at, "
               "realised_pnl FROM positions WHERE 1=1")
        params: list[Any] = []
        if workflow_id is not None:
            sql += " AND workflow_id=?"
            params.append(workflow_id)
        if open_only:
            sql += " AND closed_at IS NULL"
        with self._raw_read() as raw:
            rows = raw.execute(sql + " ORDER BY id", params).fetchall()
        return [PositionRecord(id=r[0], workflow_id=r[1], symbol=r[2], quantity=r[3],
                               avg_open_price=Decimal(r[4]), opened_at=_decode_time(r[5]),
                               closed_at=decode_datetime(r[6]), realised_pnl=Decimal(r[7]))
                for r in rows]

    # -- journal, rule actions, audit, errors, metrics, config ---------------------------------

    def add_journal(self, workflow_id: int, strategy: str, symbol: str, entry_price: Decimal,
                    exit_price: Decimal, fees: Decimal, realised_pnl: Decimal,
                    opened_at: datetime, closed_at: datetime, closing_rule: str) -> JournalRecord:
        if closed_at < opened_at:
            raise ValueError(f"closed_at {closed_at.isoformat()} is before opened_at "
                             f"{opened_at.isoformat()}")
        with self._write() as s:
            self._require_workflow(s, workflow_id)
            row = JournalRow(workflow_id=workflow_id, strategy=strategy, symbol=symbol,
                             entry_price=entry_price, exit_price=exit_price, fees=fees,
                             realised_pnl=realised_pnl, opened_at=opened_at, closed_at=closed_at,
                             duration_s=int((closed_at - opened_at).total_seconds()),
                             closing_rule=closing_rule)
            s.add(row)
            s.flush()
            return _journal(row)

    def journal(self) -> list[JournalRecord]:
        with self._read() as s:
            return [_journal(r) for r in s.scalars(select(JournalRow).order_by(JournalRow.id))]

    def add_rule_action(self, workflow_id: int, rule_type: str, action: str, detail: str,
                        status: str, now: datetime) -> RuleActionRecord:
        values = (workflow_id, str(rule_type), str(action), detail, status, encode_datetime(now))
        with self._raw_write() as raw:
            _require_workflow_raw(raw, workflow_id)
            cur = raw.execute("INSERT INTO rule_actions (workflow_id, rule_type, action, detail, "
                              "status, time) VALUES (?, ?, ?, ?, ?, ?)", values)
        assert cur.lastrowid is not None
        return RuleActionRecord(id=cur.lastrowid, workflow_id=workflow_id,
                                rule_type=str(rule_type), action=str(action), detail=detail,
                                status=status, time=now)

    def rule_actions(self, workflow_id: int | None = None) -> list[RuleActionRecord]:
        sql = "SELECT id, workflow_id, rule_type, action, detail, status, time FROM rule_actions"
        params: tuple[Any, ...] = ()
        if workflow_id is not None:
            sql += " WHERE workflow_id=?"
            params = (workflow_id,)
        with self._raw_read() as raw:
            rows = raw.execute(sql + " ORDER BY id", params).fetchall()
        return [RuleActionRecord(id=r[0], workflow_id=r[1], rule_type=r[2], action=r[3],
                                 detail=r[4], status=r[5], time=_decode_time(r[6]))
                for r in rows]

    def audit(self, actor: Actor | str, action: str, detail: str, now: datetime,
              workflow_id: int | None = None) -> None:
        with self._write() as s:
            s.add(AuditRow(actor=str(actor), action=action, detail=detail,
                           workflow_id=workflow_id, time=now))

    def audit_log(self, limit: int | None = None) -> list[AuditRecord]:
        return self._log(AuditRow, lambda r: AuditRecord(
            id=r.id, actor=r.actor, action=r.action, detail=r.detail,
            workflow_id=r.workflow_id, time=r.time), limit)

    def log_error(self, category: str, message: str, now: datetime, detail: str = "",
                  workflow_id: int | None = None) -> None:
        with self._write() as s:
            s.add(ErrorRow(category=category, message=message, detail=detail,
                           workflow_id=workflow_id, time=now))

    def errors(self, limit: int | None = None) -> list[ErrorRecord]:
        return self._log(ErrorRow, lambda r: ErrorRecord(
            id=r.id, category=r.category, message=r.message, detail=r.detail,
            workflow_id=r.workflow_id, time=r.time), limit)

    def record_metric(self, name: str, value: float, now: datetime) -> None:
        with self._write() as s:
            s.add(MetricRow(name=name, value=float(value), time=now))

    def metrics(self, name: str, since: datetime | None = None) -> list[tuple[datetime, float]]:
        stmt = select(MetricRow.time, MetricRow.value).where(MetricRow.name == name)
        if since is not None:
            stmt = stmt.where(MetricRow.time >= since)
        with self._read() as s:
            return [(t, v) for t, v in s.execute(stmt.order_by(MetricRow.time, MetricRow.id))]

    def get_config(self, key: str, default: Any = None) -> Any:
        with self._read() as s:
            row = s.get(ConfigRow, key)
            return default if row is None else row.value

    def set_config(self, key: str, value: Any) -> None:
        encode_json(value)  # refuse values that cannot be stored before touching the row
        with self._write() as s:
            stmt = sqlite_insert(ConfigRow).values(key=key, value=value)
            s.execute(stmt.on_conflict_do_update(index_elements=["key"],
                                                 set_={"value": stmt.excluded.value}))

    # -- checks ---------------------------------------------------------------------------------

    def integrity_check(self) -> list[str]:
        """Every problem found, ``[]`` when the database is sound.

        SQLite's page and foreign-key checks, plus the store's own invariants: every order
        belongs to a workflow, and each workflow's transition log starts at creation, chains
        ``from -> to`` through legal moves, is numbered 1..version and ends in its current state.
        """
        with self._raw_read() as raw:
            problems = check_database(raw)
            problems += [f"order {ext!r} has no workflow" for (ext,) in raw.execute(
                "SELECT o.external_id FROM orders o LEFT JOIN workflows w "
                "ON w.id = o.workflow_id WHERE w.id IS NULL")]
            workflows = {r[0]: (r[1], r[2]) for r in raw.execute(
                "SELECT id, state, version FROM workflows")}
            rows = raw.execute("SELECT workflow_id, seq, from_state, to_state, trigger "
                               "FROM workflow_transitions ORDER BY workflow_id, seq")
            problems += _check_transitions(workflows, rows)
        return problems

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _require_workflow(s: Session, workflow_id: int) -> None:
        if s.scalar(select(1).where(WorkflowRow.id == workflow_id)) is None:
            raise NotFound(f"workflow {workflow_id} does not exist")

    def _log(self, model: type[Any], convert: Callable[[Any], R], limit: int | None) -> list[R]:
        stmt = select(model).order_by(model.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._read() as s:
            return [convert(r) for r in reversed(s.scalars(stmt).all())]


def _check_transitions(workflows: Mapping[int, tuple[str, int]],
                       rows: Iterable[Sequence[Any]]) -> list[str]:
    problems: list[str] = []
    last: dict[int, tuple[int, str]] = {}
    for wf_id, seq, from_state, to_state, trigger in rows:
        prev = last.get(wf_id)
        where = f"workflow {wf_id} transition #{seq}"
        if prev is None:
            if seq != 1 or from_state is not None or to_state != INITIAL_STATE.value:
                problems.append(f"{where}: log must start with creation into "
                                f"{INITIAL_STATE.value}")
        else:
            if seq != prev[0] + 1:
                problems.append(f"{where}: follows #{prev[0]} (gap in the log)")
            if from_state != prev[1]:
                problems.append(f"{where}: starts from {from_state} but the previous one "
                                f"ended in {prev[1]}")
            try:
                legal = TRANSITIONS.get((WorkflowState(from_state), Trigger(trigger)))
            except ValueError:
                legal = None
            if legal is None or legal.value != to_state:
                problems.append(f"{where}: {from_state} -{trigger}-> {to_state} is not legal")
        last[wf_id] = (seq, to_state)
    for wf_id, (state, version) in workflows.items():
        tail = last.get(wf_id)
        if tail is None:
            problems.append(f"workflow {wf_id} has no transition log")
        elif tail != (version, state):
            problems.append(f"workflow {wf_id} is {state} at version {version} but its log ends "
                            f"in {tail[1]} at #{tail[0]}")
    for wf_id in last.keys() - workflows.keys():
        problems.append(f"transitions exist for missing workflow {wf_id}")
    return problems


class AsyncStore:
    """The same methods as :class:`Store`, as coroutines run on one dedicated writer thread.

    The event loop never waits on SQLite's fsync; calls execute in the order they were awaited,
    one at a time, so the single-writer rule holds without extra locking.
    """

    def __init__(self, store: Store, inline: bool = False) -> None:
        self.store = store
        self.inline = inline
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tastydesk-store")

    async def run(self, func: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run any callable on the writer thread (for multi-step work that belongs together).

        ``inline`` stores (headless simulation, where no UI shares the loop) run the call on the
        loop thread instead: same order, no thread hop.
        """
        if self.inline:
            return func(*args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor,
                                          functools.partial(func, *args, **kwargs))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        method = getattr(self.store, name)
        if not callable(method):
            raise AttributeError(f"Store.{name} is not a method")

        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self.run(method, *args, **kwargs)

        return call

    async def close(self) -> None:
        await self.run(self.store.close)
        self._executor.shutdown(wait=True)


__all__ = ["AsyncStore", "InvalidTransition", "Store"]
