"""The workflow lifecycle as a transition table: ``(state, trigger) -> next state``.

Every (state, trigger) pair missing from :data:`TRANSITIONS` is illegal. The table is the single
source of truth for the engine, the store (which refuses to persist an illegal move) and the
integrity check (which replays stored transitions against it).

Choices worth knowing:

* ``EXECUTING -exec_failed-> SCANNING``: an entry order that could not be filled after its last
  attempt ends the attempt; the proposal is stale by then, so it is not offered for approval again.
* ``CLOSING -partial-> MONITORING``: a partial close filled; the rest of the position is watched.
* ``COMPLETED`` and ``REJECTED`` wait for their cool-down and ``restart`` into ``SCANNING``; they
  may also be cancelled, which stops the symbol from being scanned again.
* ``ERROR -recover-> SCANNING``: resuming an errored workflow starts from a fresh scan. An errored
  workflow that still holds a position is closed with ``ERROR -close-> CLOSING`` instead, which
  then follows the normal closing path (``closed`` or ``close_failed`` back to monitoring).
* ``MONITORING``, ``CLOSING`` or ``ERROR`` ``-expired->`` / ``-assigned->`` ``COMPLETED``: the
  broker took the last legs away by expiration, assignment or exercise (a lifecycle transaction,
  no order); the cycle is journalled with that outcome.
* ``MONITORING -delivered-> MONITORING``: an assignment or exercise left shares in the position
  (the timeline shows it); ``MONITORING -follow_up-> MONITORING``: the after-assignment
  follow-up was proposed to the approval queue, rejected or expired (approving it closes).
* ``CANCELLED`` is final: nothing leaves it.
"""

from __future__ import annotations

from collections.abc import Iterable

from tastydesk.engine.domain.enums import Trigger, WorkflowState

S = WorkflowState
T = Trigger

ACTIVE_STATES: frozenset[WorkflowState] = frozenset(
    {S.SCANNING, S.EVALUATING, S.PENDING_APPROVAL, S.EXECUTING, S.MONITORING, S.CLOSING}
)
"""States in which the workflow is doing something; ``cancel`` and ``fail`` apply to all."""

RESTARTABLE_STATES: frozenset[WorkflowState] = frozenset({S.COMPLETED, S.REJECTED})
FINAL_STATES: frozenset[WorkflowState] = frozenset({S.CANCELLED})
INITIAL_STATE: WorkflowState = S.SCANNING

_LIFECYCLE: dict[tuple[WorkflowState, Trigger], WorkflowState] = {
    (S.SCANNING, T.SCAN): S.EVALUATING,
    (S.SCANNING, T.ADOPT): S.MONITORING,  # a position opened outside the app, now managed
    (S.EVALUATING, T.NO_CANDIDATE): S.SCANNING,
    (S.EVALUATING, T.PROPOSE): S.PENDING_APPROVAL,
    (S.PENDING_APPROVAL, T.APPROVE): S.EXECUTING,
    (S.PENDING_APPROVAL, T.REJECT): S.REJECTED,
    (S.PENDING_APPROVAL, T.EXPIRE): S.SCANNING,
    (S.PENDING_APPROVAL, T.REPRICE): S.EVALUATING,
    (S.EXECUTING, T.FILL): S.MONITORING,
    (S.EXECUTING, T.EXEC_FAILED): S.SCANNING,
    (S.MONITORING, T.CLOSE): S.CLOSING,
    (S.MONITORING, T.PARTIAL): S.MONITORING,
    (S.CLOSING, T.CLOSED): S.COMPLETED,
    (S.CLOSING, T.CLOSE_FAILED): S.MONITORING,
    (S.CLOSING, T.PARTIAL): S.MONITORING,
    (S.COMPLETED, T.RESTART): S.SCANNING,
    (S.REJECTED, T.RESTART): S.SCANNING,
    (S.COMPLETED, T.CANCEL): S.CANCELLED,
    (S.REJECTED, T.CANCEL): S.CANCELLED,
    (S.ERROR, T.RECOVER): S.SCANNING,
    (S.ERROR, T.CLOSE): S.CLOSING,
    (S.ERROR, T.CANCEL): S.CANCELLED,
    # The broker ended the position without an order (expiration, assignment, exercise); a
    # closing order still working for those legs can no longer fill.
    (S.MONITORING, T.EXPIRED): S.COMPLETED,
    (S.MONITORING, T.ASSIGNED): S.COMPLETED,
    (S.CLOSING, T.EXPIRED): S.COMPLETED,
    (S.CLOSING, T.ASSIGNED): S.COMPLETED,
    (S.ERROR, T.EXPIRED): S.COMPLETED,
    (S.ERROR, T.ASSIGNED): S.COMPLETED,
    (S.MONITORING, T.DELIVERED): S.MONITORING,
    (S.MONITORING, T.FOLLOW_UP): S.MONITORING,
}


def _build() -> dict[tuple[WorkflowState, Trigger], WorkflowState]:
    table = dict(_LIFECYCLE)
    for state in ACTIVE_STATES:
        table[(state, T.CANCEL)] = S.CANCELLED
        table[(state, T.FAIL)] = S.ERROR
    return table


TRANSITIONS: dict[tuple[WorkflowState, Trigger], WorkflowState] = _build()



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
