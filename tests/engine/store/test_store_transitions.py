from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tastydesk.engine.domain.enums import Actor, Trigger, WorkflowState
from tastydesk.engine.domain.records import TransitionRequest, WorkflowRecord
from tastydesk.engine.domain.workflow_fsm import TRANSITIONS, InvalidTransition, allowed_triggers, replay
from tastydesk.engine.store.errors import NotFound
from tastydesk.engine.store.service import Store
from tests.engine.store.conftest import NOW, path_to

LEGAL = sorted(TRANSITIONS.items(), key=lambda kv: (kv[0][0].value, kv[0][1].value))
ILLEGAL = [(s, t) for s in WorkflowState for t in Trigger if (s, t) not in TRANSITIONS]


@pytest.fixture(name="shared", scope="module")
def fixture_shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store.open(tmp_path_factory.mktemp("fsm") / "fsm.db")
    yield store
    assert store.integrity_check() == []
    store.close()


def drive(store: Store, state: WorkflowState) -> WorkflowRecord:
    wf = store.create_workflow("spy", Actor.ENGINE, "test", NOW)
    for trigger in path_to(state):
        wf = store.transition(wf.id, trigger, Actor.ENGINE, "setup", NOW)
    assert wf.state is state
    return wf


def snapshot(store: Store, wf_id: int) -> tuple[object, ...]:
    return store.get_workflow(wf_id), tuple(store.transitions(wf_id))


@pytest.mark.parametrize(("pair", "target"), LEGAL, ids=str)
def test_every_legal_transition_is_stored_with_its_log_row(
        shared: Store, pair: tuple[WorkflowState, Trigger], target: WorkflowState) -> None:
    state, trigger = pair
    wf = drive(shared, state)
    later = NOW + timedelta(minutes=5)
    moved = shared.transition(wf.id, trigger, Actor.USER, "because", later, {"k": "v"})
    assert moved.state is target and moved.version == wf.version + 1
    assert moved.updated_at == later and moved.created_at == NOW
    assert shared.get_workflow(wf.id) == moved
    last = shared.transitions(wf.id)[-1]
    assert (last.seq, last.from_state, last.to_state, last.trigger, last.actor, last.reason,
            dict(last.payload), last.time) == (
        moved.version, state, target, trigger, Actor.USER, "because", {"k": "v"}, later)


@pytest.mark.parametrize(("state", "trigger"), ILLEGAL, ids=str)
def test_every_illegal_transition_is_refused_and_writes_nothing(
        shared: Store, state: WorkflowState, trigger: Trigger) -> None:
    wf = drive(shared, state)
    before = snapshot(shared, wf.id)
    with pytest.raises(InvalidTransition) as info:
        shared.transition(wf.id, trigger, Actor.ENGINE, "nope", NOW, proposal_id=99)
    assert state.value in str(info.value) and trigger.value in str(info.value)
    assert snapshot(shared, wf.id) == before


def test_creation_is_the_first_logged_transition(store: Store) -> None:
    wf = store.create_workflow(" qqq ", Actor.USER, "watch list", NOW, strategy_name="IC")
    assert (wf.symbol, wf.state, wf.version, wf.strategy_name) == (
        "QQQ", WorkflowState.SCANNING, 1, "IC")
    (first,) = store.transitions(wf.id)
    assert (first.seq, first.from_state, first.to_state, first.trigger) == (
        1, None, WorkflowState.SCANNING, None)


def test_updates_apply_atomically_with_the_transition(store: Store) -> None:
    wf = drive(store, WorkflowState.EVALUATING)
    cooldown = datetime(2026, 1, 5, 12, 0, tzinfo=UTC) + timedelta(hours=9)
    moved = store.transition(wf.id, Trigger.PROPOSE, Actor.ENGINE, "proposal", NOW,
                             proposal_id=7, strategy_name="Iron Condor - 45 DTE",
                             cooldown_until=cooldown, error=None)
    assert (moved.proposal_id, moved.strategy_name, moved.cooldown_until) == (
        7, "Iron Condor - 45 DTE", cooldown)
    assert store.get_workflow(wf.id) == moved


def test_bad_update_field_is_named_and_nothing_changes(store: Store) -> None:
    wf = drive(store, WorkflowState.EVALUATING)
    before = snapshot(store, wf.id)
    with pytest.raises(ValueError, match="rules_paused"):
        store.transition(wf.id, Trigger.PROPOSE, Actor.ENGINE, "x", NOW, rules_paused=True)
    with pytest.raises(ValueError, match="cooldown_until"):
        store.transition(wf.id, Trigger.PROPOSE, Actor.ENGINE, "x", NOW,
                         cooldown_until=datetime(2026, 1, 6))
    assert snapshot(store, wf.id) == before


def test_unknown_workflow(store: Store) -> None:
    with pytest.raises(NotFound, match="workflow 999"):
        store.transition(999, Trigger.SCAN, Actor.ENGINE, "x", NOW)
    with pytest.raises(NotFound):
        store.get_workflow(999)


def test_group_commit_is_all_or_nothing(store: Store) -> None:
    a = store.create_workflow("AAPL", Actor.ENGINE, "t", NOW)
    b = store.create_workflow("MSFT", Actor.ENGINE, "t", NOW)
    done = store.transition_many([
        TransitionRequest(a.id, Trigger.SCAN, Actor.ENGINE, "1", NOW),
        TransitionRequest(a.id, Trigger.PROPOSE, Actor.ENGINE, "2", NOW, updates={"proposal_id": 3}),
        TransitionRequest(b.id, Trigger.SCAN, Actor.ENGINE, "3", NOW),
    ])
    assert [w.state for w in done] == [WorkflowState.EVALUATING, WorkflowState.PENDING_APPROVAL,
                                       WorkflowState.EVALUATING]
    before = snapshot(store, a.id), snapshot(store, b.id)
    with pytest.raises(InvalidTransition):
        store.transition_many([
            TransitionRequest(a.id, Trigger.APPROVE, Actor.USER, "ok", NOW),
            TransitionRequest(b.id, Trigger.FILL, Actor.ENGINE, "illegal", NOW),
        ])
    assert (snapshot(store, a.id), snapshot(store, b.id)) == before
    assert store.integrity_check() == []


def test_update_workflow_settings_never_state(store: Store) -> None:
    wf = store.create_workflow("IWM", Actor.USER, "t", NOW)
    updated = store.update_workflow(wf.id, rules_paused=True,
                                    rule_overrides={"stop_loss": "150", "n": [1, 2]})
    assert updated.rules_paused is True
    assert dict(updated.rule_overrides) == {"stop_loss": "150", "n": [1, 2]}
    assert store.get_workflow(wf.id) == updated and updated.version == wf.version
    with pytest.raises(ValueError, match="state"):
        store.update_workflow(wf.id, state="MONITORING")


def test_list_workflows_filters(store: Store) -> None:
    a = store.create_workflow("SPY", Actor.USER, "t", NOW)
    store.create_workflow("QQQ", Actor.USER, "t", NOW)
    store.transition(a.id, Trigger.SCAN, Actor.ENGINE, "s", NOW)
    assert [w.symbol for w in store.list_workflows()] == ["SPY", "QQQ"]
    assert [w.symbol for w in store.list_workflows([WorkflowState.EVALUATING])] == ["SPY"]
    assert [w.symbol for w in store.list_workflows(symbol="qqq")] == ["QQQ"]
    assert store.list_workflows([]) == []


def test_transitions_limit_keeps_the_most_recent_in_order(store: Store) -> None:
    wf = drive(store, WorkflowState.MONITORING)
    rows = store.transitions(wf.id)
    assert [r.seq for r in rows] == list(range(1, wf.version + 1))
    assert store.transitions(wf.id, limit=2) == rows[-2:]


def test_integrity_check_catches_tampering(tmp_path: Path) -> None:
    import sqlite3

    store = Store.open(tmp_path / "t.db")
    wf = drive(store, WorkflowState.EXECUTING)
    assert store.integrity_check() == []
    store.close()
    raw = sqlite3.connect(tmp_path / "t.db")
    raw.execute("UPDATE workflows SET state='MONITORING' WHERE id=?", (wf.id,))
    raw.execute("UPDATE workflow_transitions SET trigger='fill' WHERE workflow_id=? AND seq=3",
                (wf.id,))
    raw.execute("PRAGMA foreign_keys=OFF")
    raw.execute("INSERT INTO orders (workflow_id, purpose, external_id, status, underlying, "
                "price, quantity, filled_quantity, attempt, legs, created_at, updated_at) "
                "VALUES (4242, 'open', 'orphan', 'WORKING', 'SPY', '1', 1, 0, 0, '[]', 'x', 'x')")
    raw.commit()
    raw.close()
    store = Store.open(tmp_path / "t.db")
    problems = store.integrity_check()
    store.close()
    text = "\n".join(problems)
    assert "order 'orphan' has no workflow" in text
    assert "foreign key: orders" in text
    assert f"workflow {wf.id} transition #3" in text
    assert f"workflow {wf.id} is MONITORING" in text


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=100), max_size=25))
def test_replaying_the_stored_log_rebuilds_the_state(shared: Store, choices: list[int]) -> None:
    wf = shared.create_workflow("TSLA", Actor.ENGINE, "fuzz", NOW)
    for choice in choices:
        options = allowed_triggers(wf.state)
        if not options:
            break
        wf = shared.transition(wf.id, options[choice % len(options)], Actor.ENGINE, "walk", NOW,
                               {"price": Decimal("1.05")})
    log = shared.transitions(wf.id)
    rebuilt = replay(t.trigger for t in log[1:] if t.trigger is not None)
    assert rebuilt is shared.get_workflow(wf.id).state is wf.state
    assert len(log) == wf.version
