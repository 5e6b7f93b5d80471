"""Consistency checks over the whole file: SQLite's own, plus the store's invariants."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tastydesk.engine.domain.enums import Trigger, WorkflowState
from tastydesk.engine.domain.workflow_fsm import INITIAL_STATE, TRANSITIONS
from tastydesk.engine.store.database import Database, check_database
from tastydesk.engine.store.tables import TRANSITION_LOG, WORKFLOWS

_WORKFLOW_STATES = WORKFLOWS.pick(("id", "state", "version"))
_LOGS = TRANSITION_LOG.pick(("workflow_id", "seq", "from_state", "to_state", "trigger"),
                            "ORDER BY workflow_id, seq")


def check_transitions(workflows: Mapping[int, tuple[str, int]],
                      rows: Iterable[Sequence[Any]]) -> list[str]:
    """Problems in transition logs given as (workflow_id, seq, from, to, trigger) rows."""
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


class IntegrityChecker:
    """Read-only checks; ``[]`` means the database is sound."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def integrity_check(self) -> list[str]:
        with self._db.raw_read() as raw:
            problems = check_database(raw)
            problems += [f"order {ext!r} has no workflow" for (ext,) in raw.execute(
                "SELECT o.external_id FROM orders o LEFT JOIN workflows w "
                "ON w.id = o.workflow_id WHERE w.id IS NULL")]
            workflows = {r[0]: (r[1], r[2]) for r in raw.execute(_WORKFLOW_STATES)}
            problems += check_transitions(workflows, raw.execute(_LOGS))
        return problems
