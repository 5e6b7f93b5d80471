"""The simulate report's count of opening orders above the per-trade cap or the allocation,
rebuilt from order records, transitions and the broker's net liquidating value: positions held,
working opening orders and pending approvals of other workflows count; what ended before the
order does not."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tastydesk.engine.domain.enums import (
    Actor,
    OrderAction,
    OrderPurpose,
    OrderStatus,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.ids import BrokerOrderId, ExternalOrderId, ProposalId, WorkflowId
from tastydesk.engine.domain.orders import OrderLeg
from tastydesk.engine.domain.records import (
    JournalRecord,
    OrderEventRecord,
    OrderRecord,
    TransitionRecord,
)
from tastydesk.engine.readmodel.allocation_audit import OpeningBreaches, opening_breaches

D = Decimal
T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
LEG = (OrderLeg("SPY   260220P00570000", OrderAction.SELL_TO_OPEN, 1),)
# proposal id -> (strategy, buying power, quantity)
PROPOSALS = {1: ("Put", D("4000"), 1), 2: ("Put", D("4000"), 1), 3: ("Put", D("6000"), 1),
             4: ("Put", D("3000"), 1)}
CAPS = {"Put": D("5000")}


class Records:
    def __init__(self) -> None:
        self.orders: list[OrderRecord] = []
        self.events: dict[str, list[OrderEventRecord]] = {}
        self.transitions: list[TransitionRecord] = []
        self._ids = itertools.count(1)

    def order(self, wid: int, proposal: int, at: datetime, *steps: tuple[OrderStatus, int, datetime],
              purpose: OrderPurpose = OrderPurpose.OPEN) -> None:
        n = len(self.orders) + 1
        ext = ExternalOrderId(f"td-{wid}-{purpose.value}-{n}")
        self.orders.append(OrderRecord(
            n, WorkflowId(wid), ProposalId(proposal), purpose, ext, BrokerOrderId(f"B{n}"),
            steps[-1][0], D("1.00"), 1, steps[-1][1], 0, "SPY", LEG, at, steps[-1][2]))
        self.events[ext] = [OrderEventRecord(next(self._ids), n, status, None, None, filled,
                                             status.value, when)
                            for status, filled, when in ((OrderStatus.PENDING_SUBMIT, 0, at),
                                                         *steps)]

    def proposed(self, wid: int, proposal: int, at: datetime, until: datetime,
                 then: WorkflowState = WorkflowState.EXECUTING) -> None:
        self.transitions.append(TransitionRecord(
            next(self._ids), wid, 1, WorkflowState.EVALUATING, WorkflowState.PENDING_APPROVAL,
            Trigger.PROPOSE, Actor.ENGINE, "", {"proposal_id": proposal}, at))
        self.transitions.append(TransitionRecord(
            next(self._ids), wid, 2, WorkflowState.PENDING_APPROVAL, then, Trigger.APPROVE,
            Actor.USER, "", {}, until))

    def audit(self, nlv: D = D("10000"), journal: list[JournalRecord] | None = None
              ) -> OpeningBreaches:
        return opening_breaches(self.orders, lambda o: self.events[o.external_id],
                                PROPOSALS.__getitem__, CAPS, self.transitions, journal or [],
                                [], nlv, D("80"))


def test_orders_within_the_cap_and_the_allocation_count_nothing() -> None:
    r = Records()
    r.order(1, 1, T0, (OrderStatus.WORKING, 0, T0), (OrderStatus.FILLED, 1, T0 + timedelta(1)))
    assert r.audit(nlv=D("10000")) == OpeningBreaches(0, 0)  # 4,000 of 8,000


def test_an_order_above_its_per_trade_cap_is_counted() -> None:
    r = Records()
    r.order(1, 3, T0, (OrderStatus.WORKING, 0, T0))
    assert r.audit(nlv=D("100000")).above_cap == 1  # 6,000 above the 5,000 cap


def test_a_held_position_and_a_working_order_count_against_the_allocation() -> None:
    r = Records()
    r.order(1, 1, T0, (OrderStatus.WORKING, 0, T0), (OrderStatus.FILLED, 1, T0))  # held 4,000
    r.order(2, 4, T0 + timedelta(minutes=5), (OrderStatus.WORKING, 0, T0 + timedelta(minutes=5)))
    later = T0 + timedelta(minutes=10)
    r.order(3, 2, later, (OrderStatus.WORKING, 0, later))  # 4,000 + 3,000 + 4,000 > 8,000
    assert r.audit(nlv=D("10000")) == OpeningBreaches(0, 1)


def test_a_pending_approval_counts_and_one_decided_before_does_not() -> None:
    r = Records()
    r.proposed(7, 1, T0, T0 + timedelta(hours=1))  # pending 4,000 while the order goes out
    at = T0 + timedelta(minutes=10)
    r.order(3, 2, at, (OrderStatus.WORKING, 0, at))
    assert r.audit(nlv=D("9000")).above_allocation == 1  # 4,000 + 4,000 > 7,200
    r2 = Records()
    r2.proposed(7, 1, T0, T0 + timedelta(minutes=1), then=WorkflowState.REJECTED)
    r2.order(3, 2, at, (OrderStatus.WORKING, 0, at))
    assert r2.audit(nlv=D("9000")).above_allocation == 0


def test_a_position_closed_before_the_order_frees_its_buying_power() -> None:
    r = Records()
    r.order(1, 1, T0, (OrderStatus.FILLED, 1, T0))
    close_at = T0 + timedelta(minutes=5)
    r.order(1, 1, close_at, (OrderStatus.FILLED, 1, close_at), purpose=OrderPurpose.CLOSE)
    at = T0 + timedelta(minutes=10)
    r.order(3, 2, at, (OrderStatus.WORKING, 0, at))
    assert r.audit(nlv=D("9000")).above_allocation == 0
    expired = Records()
    expired.order(1, 1, T0, (OrderStatus.FILLED, 1, T0))
    expired.order(3, 2, at, (OrderStatus.WORKING, 0, at))
    ended = JournalRecord(1, 1, "Put", "SPY", D("1"), D("0"), D("0"), D("100"), T0,
                          close_at, 300, "expired")
    assert expired.audit(nlv=D("9000")).above_allocation == 1
    assert expired.audit(nlv=D("9000"), journal=[ended]).above_allocation == 0
