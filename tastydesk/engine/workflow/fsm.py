"""Applying triggers to workflow states, with a clear error for every illegal move."""

from __future__ import annotations

from collections.abc import Iterable

from tastydesk.engine.domain.enums import Trigger, WorkflowState
from tastydesk.engine.workflow.states import INITIAL_STATE, TRANSITIONS


class InvalidTransition(ValueError):
    """A trigger that the current state does not accept; nothing was changed."""

    def __init__(self, state: WorkflowState, trigger: Trigger) -> None:
        self.state = state
        self.trigger = trigger
        allowed = ", ".join(t.value for t in allowed_triggers(state)) or "none"
        super().__init__(
            f"invalid transition: {state.value} -> {trigger.value} (allowed from {state.value}: "
            f"{allowed})"
        )


def next_state(state: WorkflowState, trigger: Trigger) -> WorkflowState:
    """The state ``trigger`` leads to from ``state``; raises :class:`InvalidTransition`."""
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise InvalidTransition(state, trigger) from None


def allowed_triggers(state: WorkflowState) -> tuple[Trigger, ...]:
    return tuple(t for t in Trigger if (state, t) in TRANSITIONS)


def replay(transitions: Iterable[Trigger], start: WorkflowState = INITIAL_STATE) -> WorkflowState:
    """Rebuild a state from its history: the append-only trigger log is the source of truth."""
    state = start
    for trigger in transitions:
        state = next_state(state, trigger)
    return state
