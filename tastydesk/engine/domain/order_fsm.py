"""The order lifecycle as a table, like the workflow's: which status may follow which.

Our statuses fold the broker's into one machine. An intent is PENDING_SUBMIT until the broker
answers; an ambiguous answer is UNKNOWN and is resolved by a look-up, never by re-sending. A
price step keeps the order WORKING (the replacement carries on under the same external id).
Terminal statuses accept only a late fill: a cancel can race the fill it did not stop.
"""

from __future__ import annotations

from collections.abc import Iterable

from tastydesk.engine.domain.enums import OrderStatus
from tastydesk.engine.domain.records import OrderEventRecord

S = OrderStatus
_LIVE = frozenset({S.WORKING, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED})

ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING_SUBMIT: _LIVE | {S.UNKNOWN},
    S.UNKNOWN: _LIVE | {S.UNKNOWN},
    S.WORKING: _LIVE,
    S.PARTIALLY_FILLED: _LIVE,
    S.FILLED: frozenset({S.FILLED}),
    S.CANCELLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED}),
    S.EXPIRED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.EXPIRED}),
    S.REJECTED: frozenset({S.REJECTED}),
    S.REPLACED: frozenset(),
}

OPEN_ORDER = frozenset({S.PENDING_SUBMIT, S.UNKNOWN, S.WORKING, S.PARTIALLY_FILLED})


def can_move(current: OrderStatus, new: OrderStatus) -> bool:
    """Whether an order in ``current`` may be recorded as ``new``."""
    return new in ORDER_TRANSITIONS[current]


def price_steps(events: Iterable[OrderEventRecord]) -> int:
    """How many times a working order's price was stepped: a WORKING event at a new price after
    the order was placed (read from the events' status and price, not from their text)."""
    steps = 0
    placed: object = None
    for e in events:
        if e.status is not S.WORKING or e.price is None:
            continue
        if placed is not None and e.price != placed:
            steps += 1
        placed = e.price
    return steps
