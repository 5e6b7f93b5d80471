from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tastydesk.engine.domain.enums import Trigger, WorkflowState
from tastydesk.engine.domain.workflow_fsm import (
    ACTIVE_STATES,
    FINAL_STATES,
    INITIAL_STATE,
    TRANSITIONS,
    InvalidTransition,
    allowed_triggers,
    next_state,
    replay,
)

S, T = WorkflowState, Trigger
LEGAL = sorted(TRANSITIONS.items(), key=lambda kv: (kv[0][0].value, kv[0][1].value))
ILLEGAL = [(s, t) for s in WorkflowState for t in Trigger if (s, t) not in TRANSITIONS]


@pytest.mark.parametrize(("pair", "target"), LEGAL, ids=lambda v: str(v))
def test_every_legal_pair_leads_to_its_target(
        pair: tuple[WorkflowState, Trigger], target: WorkflowState) -> None:
    assert next_state(*pair) is target


@pytest.mark.parametrize(("state", "trigger"), ILLEGAL, ids=lambda v: str(v))
def test_every_illegal_pair_raises_naming_state_and_trigger(
        state: WorkflowState, trigger: Trigger) -> None:
    with pytest.raises(InvalidTransition) as info:
        next_state(state, trigger)
    assert info.value.state is state and info.value.trigger is trigger
    assert state.value in str(info.value) and trigger.value in str(info.value)


def test_lifecycle_spelled_out() -> None:
    happy = [T.SCAN, T.PROPOSE, T.APPROVE, T.FILL, T.PARTIAL, T.CLOSE, T.CLOSED]
    assert replay(happy) is S.COMPLETED
    assert replay([*happy, T.RESTART]) is S.SCANNING
    assert replay([T.SCAN, T.NO_CANDIDATE]) is S.SCANNING
    assert replay([T.SCAN, T.PROPOSE, T.REJECT]) is S.REJECTED
    assert replay([T.SCAN, T.PROPOSE, T.EXPIRE]) is S.SCANNING
    assert replay([T.SCAN, T.PROPOSE, T.REPRICE]) is S.EVALUATING
    assert replay([T.SCAN, T.PROPOSE, T.APPROVE, T.EXEC_FAILED]) is S.SCANNING
    assert replay([T.SCAN, T.PROPOSE, T.APPROVE, T.FILL, T.CLOSE, T.CLOSE_FAILED]) is S.MONITORING
    assert replay([T.SCAN, T.PROPOSE, T.APPROVE, T.FILL, T.CLOSE, T.PARTIAL]) is S.MONITORING
    assert replay([T.FAIL, T.RECOVER]) is S.SCANNING
    assert replay([T.SCAN, T.PROPOSE, T.APPROVE, T.FILL, T.FAIL, T.CLOSE]) is S.CLOSING


def test_cancel_and_fail_from_every_active_state_and_nothing_leaves_cancelled() -> None:
    for state in ACTIVE_STATES:
        assert next_state(state, T.CANCEL) is S.CANCELLED
        assert next_state(state, T.FAIL) is S.ERROR
    for state in FINAL_STATES:
        assert allowed_triggers(state) == ()
    assert next_state(S.ERROR, T.CANCEL) is S.CANCELLED
    with pytest.raises(InvalidTransition):
        next_state(S.ERROR, T.FAIL)


def test_every_state_is_reachable_and_can_end() -> None:
    seen = {INITIAL_STATE}
    queue = deque([INITIAL_STATE])
    while queue:
        state = queue.popleft()
        for (src, _), dst in TRANSITIONS.items():
            if src is state and dst not in seen:
                seen.add(dst)
                queue.append(dst)
    assert seen == set(WorkflowState)
    for state in set(WorkflowState) - FINAL_STATES:
        assert (state, T.CANCEL) in TRANSITIONS


def test_replay_stops_at_the_first_illegal_trigger() -> None:
    with pytest.raises(InvalidTransition, match="SCANNING -> approve"):
        replay([T.SCAN, T.NO_CANDIDATE, T.APPROVE])


@given(st.lists(st.integers(min_value=0, max_value=1000), max_size=60))
def test_replay_of_random_legal_walks_matches_stepping(choices: list[int]) -> None:
    state, triggers = INITIAL_STATE, []
    for choice in choices:
        options = allowed_triggers(state)
        if not options:
            break
        trigger = options[choice % len(options)]
        triggers.append(trigger)
        state = next_state(state, trigger)
    assert replay(triggers) is state
