"""The order-status table: every status our records take is reachable, terminal statuses never
reopen, and a move the table does not list is refused."""

from __future__ import annotations

from itertools import pairwise

import pytest

from tastydesk.engine.domain.enums import OrderStatus
from tastydesk.engine.domain.order_fsm import OPEN_ORDER, ORDER_TRANSITIONS, can_move

S = OrderStatus
#: The broker's status for the order a replace cancelled. Our record keeps its external id and
#: carries on under the new broker order, so it never takes this status (the order manager
#: drops it before consulting the table).
BROKER_ONLY = frozenset({S.REPLACED})
#: What a terminal order may still record: a fill that raced the cancel or the expiry (after a
#: late partial fill the order follows PARTIALLY_FILLED's row: the broker may still work the rest).
LATE_FILLS = frozenset({S.PARTIALLY_FILLED, S.FILLED})


def _reachable(start: OrderStatus) -> set[OrderStatus]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in ORDER_TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_table_covers_every_status() -> None:
    assert set(ORDER_TRANSITIONS) == set(OrderStatus)


def test_every_status_of_our_records_is_reachable_from_the_intent() -> None:
    assert _reachable(S.PENDING_SUBMIT) == set(OrderStatus) - BROKER_ONLY
    assert not any(s in targets for targets in ORDER_TRANSITIONS.values() for s in BROKER_ONLY)
    assert all(not ORDER_TRANSITIONS[s] for s in BROKER_ONLY)


@pytest.mark.parametrize("status", [s for s in OrderStatus if s.is_terminal], ids=str)
def test_a_terminal_status_never_reopens(status: OrderStatus) -> None:
    way_out = ORDER_TRANSITIONS[status] - {status}
    assert way_out <= LATE_FILLS
    assert not way_out & OPEN_ORDER - {S.PARTIALLY_FILLED}
    assert not any(can_move(status, s) for s in (S.PENDING_SUBMIT, S.UNKNOWN, S.WORKING))


def test_filled_and_rejected_are_final() -> None:
    assert ORDER_TRANSITIONS[S.FILLED] == {S.FILLED}
    assert ORDER_TRANSITIONS[S.REJECTED] == {S.REJECTED}


@pytest.mark.parametrize(("current", "new"), [
    (S.FILLED, S.WORKING), (S.CANCELLED, S.WORKING), (S.REJECTED, S.FILLED),
    (S.WORKING, S.PENDING_SUBMIT), (S.WORKING, S.UNKNOWN), (S.PARTIALLY_FILLED, S.UNKNOWN),
    (S.EXPIRED, S.CANCELLED)], ids=lambda s: str(s))
def test_an_illegal_move_is_refused(current: OrderStatus, new: OrderStatus) -> None:
    assert not can_move(current, new)


def test_the_ordinary_life_of_an_order_is_allowed() -> None:
    path = [S.PENDING_SUBMIT, S.UNKNOWN, S.WORKING, S.PARTIALLY_FILLED, S.FILLED]
    assert all(can_move(a, b) for a, b in pairwise(path))
