"""Opening orders above the per-trade cap or the allocation, counted again from the records.

Why: the pre-trade checks refuse such orders; a report that only repeated the checks' own
verdicts could not show they work. This audit rebuilds, for each opening order at the moment its
intent was recorded, what the account held and had asked for, from the order records (their
events are numbered in the order they were written, so "before this order" is exact), the
workflows' transitions (pending approvals), the journal (cycles ended by the broker, such as an
expiration) and the net liquidating value the broker reported, and compares with the limits.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tastydesk.engine.domain.enums import OrderPurpose, Trigger, WorkflowState
from tastydesk.engine.domain.ids import ExternalOrderId, ProposalId, WorkflowId
from tastydesk.engine.domain.money import ZERO
from tastydesk.engine.domain.order_fsm import OPEN_ORDER
from tastydesk.engine.domain.records import (
    JournalRecord,
    OrderEventRecord,
    OrderRecord,
    TransitionRecord,
)

_CLOSING = (OrderPurpose.CLOSE, OrderPurpose.PARTIAL_CLOSE)


@dataclass(frozen=True, slots=True)
class OpeningBreaches:
    above_cap: int  # opening orders whose buying power exceeded the strategy's per-trade cap
    above_allocation: int  # ... that pushed the allocation past max_allocation_pct


@dataclass(frozen=True, slots=True)
class _Order:
    record: OrderRecord
    events: tuple[OrderEventRecord, ...]  # in the order written (ascending ids)
    per_unit: Decimal  # buying power per unit, from its proposal (0: none)
    ids: tuple[int, ...]  # the events' ids
    peaks: tuple[int, ...]  # units filled as of each event (the most any event so far says)
    first_event: int  # the id of its first event (0: none)

    @classmethod
    def of(cls, record: OrderRecord, events: Sequence[OrderEventRecord],
           per_unit: Decimal) -> _Order:
        """Why the ids and running peaks: every opening order asks every other order for its
        state before it, so that answer is a binary search, not a pass over the events."""
        peaks: list[int] = []
        peak = 0
        for e in events:
            peak = max(peak, e.filled_quantity or 0)
            peaks.append(peak)
        ids = tuple(e.id for e in events)
        return cls(record, tuple(events), per_unit, ids, tuple(peaks), ids[0] if ids else 0)

    def state_before(self, event_id: int) -> tuple[bool, int]:
        """(still open, units filled) as written before event ``event_id``."""
        seen = bisect_left(self.ids, event_id)
        if not seen:
            return False, 0
        return self.events[seen - 1].status in OPEN_ORDER, self.peaks[seen - 1]


def opening_breaches(orders: Iterable[OrderRecord],
                     events_of: Callable[[OrderRecord], Sequence[OrderEventRecord]],
                     proposal_of: Callable[[ProposalId], tuple[str, Decimal, int]],
                     caps: dict[str, Decimal], transitions: Iterable[TransitionRecord],
                     journal: Iterable[JournalRecord],
                     nlv: Sequence[tuple[datetime, Decimal]], start_nlv: Decimal,
                     max_allocation_pct: Decimal) -> OpeningBreaches:
    """Count the sent opening orders above their cap or the allocation (see the module).

    ``proposal_of(id)`` gives a proposal's (strategy, buying power, quantity); ``nlv`` is the
    broker's net liquidating value as reported over the run, in time order."""
    built: dict[ExternalOrderId, _Order] = {}
    for o in orders:
        per_unit = ZERO
        if o.proposal_id is not None and o.purpose is OrderPurpose.OPEN:
            _, bp, qty = proposal_of(o.proposal_id)
            per_unit = bp / qty if qty else ZERO
        built[o.external_id] = _Order.of(o, events_of(o), per_unit)
    pending = _pending_spans(transitions, proposal_of)
    ended: dict[int, list[datetime]] = {}  # workflow -> when its cycles ended, in time order
    for j in journal:
        ended.setdefault(j.workflow_id, []).append(j.closed_at)
    for closes in ended.values():
        closes.sort()
    times = [when for when, _ in nlv]
    above_cap = above_allocation = 0
    for order in built.values():
        rec = order.record
        if rec.purpose is not OrderPurpose.OPEN or rec.broker_order_id is None \
                or rec.proposal_id is None:
            continue
        strategy, _, _ = proposal_of(rec.proposal_id)
        own = order.per_unit * rec.quantity
        cap = caps.get(strategy)
        if cap is not None and own > cap:
            above_cap += 1
        limit = _nlv_at(nlv, times, rec.created_at, start_nlv) * max_allocation_pct / 100
        used, sent = _used(order, built.values(), ended)
        at = rec.created_at
        used += sum((bp for wid, start, end, bp in pending if wid != rec.workflow_id
                     and start <= at and (at < end or (at == end and wid not in sent))), ZERO)
        if used + own > limit:
            above_allocation += 1
    return OpeningBreaches(above_cap, above_allocation)


def _used(order: _Order, others: Iterable[_Order], ended: dict[WorkflowId, list[datetime]]
          ) -> tuple[Decimal, set[int]]:
    """Buying power the other workflows' held positions and working opening orders used
    when ``order`` was recorded, and the workflows whose opening order came before it at
    its very moment (their approval is no longer pending then)."""
    at, mark = order.record.created_at, order.first_event
    fills: dict[WorkflowId, list[tuple[datetime, int, Decimal]]] = {}  # workflow -> (when, +/-units, bp)
    working = ZERO
    sent: set[int] = set()
    for other in others:
        rec = other.record
        if rec.workflow_id == order.record.workflow_id or other.first_event >= mark:
            continue
        is_open, filled = other.state_before(mark)
        if rec.purpose is OrderPurpose.OPEN:
            if rec.created_at == at:
                sent.add(rec.workflow_id)
            if is_open:
                working += other.per_unit * (rec.quantity - filled)
            if filled:
                fills.setdefault(rec.workflow_id, []).append((rec.created_at, filled,
                                                              other.per_unit))
        elif rec.purpose in _CLOSING and filled:
            fills.setdefault(rec.workflow_id, []).append((rec.created_at, -filled, ZERO))
    total = working
    for wid, moves in fills.items():
        # The current cycle starts after the workflow's last cycle that ended by now (closed,
        # expired, assigned); earlier cycles hold nothing any more.
        closes = ended.get(wid, [])
        before = bisect_right(closes, at)
        since = closes[before - 1] if before else None
        current = [m for m in moves if since is None or m[0] > since]
        units = sum(n for _, n, _ in current)
        per_unit = next((bp for _, n, bp in reversed(current) if n > 0), ZERO)
        total += per_unit * max(0, units)
    return total, sent


def _pending_spans(transitions: Iterable[TransitionRecord],
                   proposal_of: Callable[[ProposalId], tuple[str, Decimal, int]]
                   ) -> list[tuple[WorkflowId, datetime, datetime, Decimal]]:
    """(workflow, from, until, buying power) of every proposal while it awaited approval; one
    approved at an order's own moment is pending then unless its order came first."""
    spans = []
    opened: dict[WorkflowId, tuple[datetime, Decimal]] = {}
    for t in sorted(transitions, key=lambda t: t.id):
        if t.to_state is WorkflowState.PENDING_APPROVAL and t.trigger is Trigger.PROPOSE \
                and "proposal_id" in t.payload:
            _, bp, _ = proposal_of(ProposalId(int(t.payload["proposal_id"])))
            opened[t.workflow_id] = (t.time, bp)
        elif t.workflow_id in opened and t.to_state is not WorkflowState.PENDING_APPROVAL:
            start, bp = opened.pop(t.workflow_id)
            spans.append((t.workflow_id, start, t.time, bp))
    spans += [(wid, start, datetime.max.replace(tzinfo=start.tzinfo), bp)
              for wid, (start, bp) in opened.items()]
    return spans


def _nlv_at(samples: Sequence[tuple[datetime, Decimal]], times: Sequence[datetime],
            at: datetime, start: Decimal) -> Decimal:
    """The last value reported at or before ``at`` (``times``: the samples' times, in order)."""
    seen = bisect_right(times, at)
    return samples[seen - 1][1] if seen else start
