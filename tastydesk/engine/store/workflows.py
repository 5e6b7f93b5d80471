"""Workflows and their transition log: the hot path of every engine, in plain SQL.

A transition is a compare-and-set on the workflow's (state, version) plus one appended log row,
in the same transaction, so the log and the current state can never disagree. Which move a
trigger makes is the domain's business (:mod:`tastydesk.engine.domain.workflow_fsm`); the store
only asks it for the target state, then compares and sets the version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tastydesk.engine.domain.enums import Actor, Trigger, WorkflowState
from tastydesk.engine.domain.ids import ProposalId, WorkflowId
from tastydesk.engine.domain.records import TransitionRecord, TransitionRequest, WorkflowRecord
from tastydesk.engine.domain.workflow_fsm import INITIAL_STATE, next_state
from tastydesk.engine.store.database import Database
from tastydesk.engine.store.errors import ConcurrentTransition, NotFound
from tastydesk.engine.store.tables import (
    TRANSITION_LOG,
    WORKFLOWS,
    decode_time,
    require_aware,
)
from tastydesk.engine.store.types import decode_datetime, decode_json, encode_datetime, encode_json

TRANSITION_UPDATES = frozenset({"strategy_name", "proposal_id", "cooldown_until", "error"})
WORKFLOW_UPDATES = frozenset({"rules_paused", "rule_overrides", "cooldown_until"})

_SELECT_WORKFLOW = WORKFLOWS.where("id=?")
_COMPARE_AND_SET = "id=? AND state=? AND version=?"
_MOVE = WORKFLOWS.update(("state", "version", "updated_at"), _COMPARE_AND_SET)
_INITIAL = INITIAL_STATE.value


def _decode_overrides(text: str | None) -> dict[str, Any]:
    return {} if text in (None, "{}") else decode_json(text)


def workflow_record(row: Sequence[Any]) -> WorkflowRecord:
    w = WORKFLOWS.values(row)
    return WorkflowRecord(
        id=WorkflowId(w.id), symbol=w.symbol, strategy_name=w.strategy_name,
        state=WorkflowState(w.state),
        version=w.version, created_at=decode_time(w.created_at),
        updated_at=decode_time(w.updated_at), cooldown_until=decode_datetime(w.cooldown_until),
        rules_paused=bool(w.rules_paused), rule_overrides=_decode_overrides(w.rule_overrides),
        proposal_id=None if w.proposal_id is None else ProposalId(w.proposal_id), error=w.error,
    )


def transition_record(row: Sequence[Any]) -> TransitionRecord:
    t = TRANSITION_LOG.values(row)
    return TransitionRecord(
        id=t.id, workflow_id=WorkflowId(t.workflow_id), seq=t.seq,
        from_state=None if t.from_state is None else WorkflowState(t.from_state),
        to_state=WorkflowState(t.to_state),
        trigger=None if t.trigger is None else Trigger(t.trigger),
        actor=Actor(t.actor), reason=t.reason, payload=decode_json(t.payload) or {},
        time=decode_datetime(t.time),  # type: ignore[arg-type]
    )


def encode_updates(updates: Mapping[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """Column values for a workflow update, checked field by field."""
    out: dict[str, Any] = {}
    for key, value in updates.items():
        if key not in allowed:
            names = ", ".join(sorted(allowed))
            raise ValueError(f"{key}: cannot be updated here (allowed: {names})")
        if key == "cooldown_until":
            require_aware(key, value)
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


def _insert_workflow(raw: sqlite3.Connection, symbol: str, actor: Actor, reason: str,
                     now: datetime, strategy_name: str | None) -> WorkflowId:
    if not isinstance(symbol, str) or not symbol.strip():
        raise ValueError(f"symbol must be non-empty text, got {symbol!r}")
    require_aware("now", now)
    when = encode_datetime(now)
    cur = raw.execute(WORKFLOWS.insert, WORKFLOWS.params(
        symbol=symbol.strip().upper(), strategy_name=strategy_name,
        state=_INITIAL, version=1, created_at=when, updated_at=when,
        cooldown_until=None, rules_paused=0, rule_overrides="{}", proposal_id=None,
        error=None))
    wf_id = cur.lastrowid
    raw.execute(TRANSITION_LOG.insert, TRANSITION_LOG.params(
        workflow_id=wf_id, seq=1, from_state=None, to_state=_INITIAL,
        trigger=None, actor=Actor(actor).value, reason=reason, payload="{}",
        time=when))
    assert wf_id is not None
    return WorkflowId(wf_id)


def _apply(raw: sqlite3.Connection, req: TransitionRequest) -> WorkflowRecord:
    # Enum ``.value`` is a descriptor call: each text is read once and kept (hot path).
    trigger = Trigger(req.trigger)
    require_aware("now", req.now)
    encoded = encode_updates(req.updates, TRANSITION_UPDATES) if req.updates else {}
    row = raw.execute(_SELECT_WORKFLOW, (req.workflow_id,)).fetchone()
    if row is None:
        raise NotFound(f"workflow {req.workflow_id} does not exist")
    w = WORKFLOWS.values(row)
    state, version = w.state, w.version
    target = next_state(WorkflowState(state), trigger)
    target_text, trigger_text = target.value, trigger.value
    when = encode_datetime(req.now)
    sql = (WORKFLOWS.update(("state", "version", "updated_at", *encoded), _COMPARE_AND_SET)
           if encoded else _MOVE)
    cur = raw.execute(sql, (target_text, version + 1, when, *encoded.values(),
                            req.workflow_id, state, version))
    if cur.rowcount != 1:
        raise ConcurrentTransition(f"workflow {req.workflow_id} changed while moving it from "
                                   f"{state} by {trigger_text}")
    raw.execute(TRANSITION_LOG.insert, TRANSITION_LOG.params(
        workflow_id=req.workflow_id, seq=version + 1, from_state=state, to_state=target_text,
        trigger=trigger_text, actor=Actor(req.actor).value, reason=req.reason,
        payload=encode_json(dict(req.payload)) if req.payload else "{}", time=when))
    changed = _decoded_updates(encoded) if encoded else {}
    return WorkflowRecord(
        id=w.id, symbol=w.symbol, strategy_name=changed.get("strategy_name", w.strategy_name),
        state=target, version=version + 1, created_at=decode_time(w.created_at),
        updated_at=req.now,
        cooldown_until=changed["cooldown_until"] if "cooldown_until" in changed
        else decode_datetime(w.cooldown_until),
        rules_paused=bool(w.rules_paused), rule_overrides=_decode_overrides(w.rule_overrides),
        proposal_id=changed.get("proposal_id", w.proposal_id),
        error=changed.get("error", w.error),
    )


class WorkflowRepository:
    """Workflows, their transitions (single and group-committed) and their settings."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create_workflow(self, symbol: str, actor: Actor, reason: str, now: datetime,
                        strategy_name: str | None = None) -> WorkflowRecord:
        with self._db.raw_write() as raw:
            wf_id = _insert_workflow(raw, symbol, actor, reason, now, strategy_name)
            row = raw.execute(_SELECT_WORKFLOW, (wf_id,)).fetchone()
        return workflow_record(row)

    def create_workflows(self, symbols: Iterable[str], actor: Actor, reason: str,
                         now: datetime, strategy_name: str | None = None) -> list[WorkflowId]:
        with self._db.raw_write() as raw:
            return [_insert_workflow(raw, sym, actor, reason, now, strategy_name)
                    for sym in symbols]

    def transition(self, workflow_id: WorkflowId, trigger: Trigger, actor: Actor, reason: str,
                   now: datetime, payload: dict[str, Any] | None = None,
                   **updates: Any) -> WorkflowRecord:
        request = TransitionRequest(workflow_id, trigger, actor, reason, now, payload, updates)
        with self._db.raw_write() as raw:
            return _apply(raw, request)

    def transition_many(self, items: Sequence[TransitionRequest]) -> list[WorkflowRecord]:
        with self._db.raw_write() as raw:
            return [_apply(raw, item) for item in items]

    def get_workflow(self, workflow_id: WorkflowId) -> WorkflowRecord:
        with self._db.raw_read() as raw:
            row = raw.execute(_SELECT_WORKFLOW, (workflow_id,)).fetchone()
        if row is None:
            raise NotFound(f"workflow {workflow_id} does not exist")
        return workflow_record(row)

    def list_workflows(self, states: Iterable[WorkflowState] | None = None,
                       symbol: str | None = None) -> list[WorkflowRecord]:
        sql = WORKFLOWS.where("1=1")
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
        with self._db.raw_read() as raw:
            rows = raw.execute(sql + " ORDER BY id", params).fetchall()
        return [workflow_record(r) for r in rows]

    def transitions(self, workflow_id: WorkflowId | None = None,
                    limit: int | None = None) -> list[TransitionRecord]:
        sql = TRANSITION_LOG.select
        params: list[Any] = []
        if workflow_id is not None:
            sql += " WHERE workflow_id=?"
            params.append(workflow_id)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._db.raw_read() as raw:
            rows = raw.execute(sql, params).fetchall()
        return [transition_record(r) for r in reversed(rows)]

    def update_workflow(self, workflow_id: WorkflowId, **fields: Any) -> WorkflowRecord:
        encoded = encode_updates(fields, WORKFLOW_UPDATES)
        with self._db.raw_write() as raw:
            if encoded:
                raw.execute(WORKFLOWS.update(encoded, "id=?"), (*encoded.values(), workflow_id))
            row = raw.execute(_SELECT_WORKFLOW, (workflow_id,)).fetchone()
            if row is None:
                raise NotFound(f"workflow {workflow_id} does not exist")
        return workflow_record(row)
