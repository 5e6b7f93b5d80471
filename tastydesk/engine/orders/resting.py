"""Resting exits: a good-till-cancelled closing limit at the profit target, left at the broker.

Why: the profit-target rule acts only while the app runs. A strategy with ``resting_exit`` set
leaves a GTC closing order at the target's price once its entry fills, so profit is taken while
the app is closed. The order is kept in step with the position (after a partial close or a
roll it is withdrawn and placed again for what is left), and every exit of the app's own (a
stop, the trader's close, an expiration-risk exit, a roll) withdraws it first and goes out only
once the broker confirms it ended: never two closing orders over the same contracts. A resting
order that filled while the app was stopped is found at start-up (the reconciler folds its
broker snapshot in) and booked as the profit-target exit.

A resting order is an open closing order with time in force GTC: the app sends no other (its
exits are Day orders), so the order book is the one record of which order rests.
"""

from __future__ import annotations

from decimal import Decimal

from tastydesk.engine.domain.enums import OrderPurpose, OrderStatus, RuleType, WorkflowState
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.instruments import MAX_OPTION_LEGS, TimeInForce
from tastydesk.engine.domain.money import ZERO
from tastydesk.engine.domain.order_fsm import OPEN_ORDER
from tastydesk.engine.domain.records import OrderRecord
from tastydesk.engine.execution_pricing.thresholds import profit_target_mark
from tastydesk.engine.orders.manager import OrderManager
from tastydesk.engine.positions.book import PositionBook
from tastydesk.engine.positions.monitored import MonitoredPosition, close_legs
from tastydesk.engine.readiness import Readiness
from tastydesk.engine.strategies.library import StrategyLibrary
from tastydesk.engine.workflow.book import WorkflowBook

#: The cancel reason of a resting order withdrawn by the app (before its own exit, or to
#: re-size it); the settlement side recognises it and raises no alarm.
WITHDRAWN = "resting exit withdrawn"
RULE = RuleType.PROFIT_TARGET.value
_CLOSING = (OrderPurpose.CLOSE, OrderPurpose.PARTIAL_CLOSE)


def is_resting(order: OrderRecord) -> bool:
    """Whether ``order`` is a resting exit (a GTC closing order: the app's exits are Day)."""
    return order.purpose in _CLOSING and order.time_in_force is TimeInForce.GTC


class RestingExits:
    """Places, re-sizes and withdraws each workflow's resting profit-target order. Every
    command runs under the workflow's lock (the callers hold it)."""

    def __init__(self, *, orders: OrderManager, positions: PositionBook,
                 strategies: StrategyLibrary, book: WorkflowBook, readiness: Readiness) -> None:
        self._orders = orders
        self._positions = positions
        self._strategies = strategies
        self._book = book
        self._readiness = readiness

    def order_of(self, workflow_id: WorkflowId) -> OrderRecord | None:
        """The workflow's resting order still open at the broker, if any."""
        return next((o for o in self._orders.open_records() if o.workflow_id == workflow_id
                     and is_resting(o)), None)

    def target_price(self, mon: MonitoredPosition) -> Decimal | None:
        """The signed closing price at the position's profit target (unrounded), or None when
        its strategy wants no resting exit or the target cannot be priced."""
        strategy = self._strategies.get(mon.strategy_name)
        if strategy is None or not strategy.pricing.resting_exit:
            return None
        rule = next((r for r in mon.rules if r.rule_type is RuleType.PROFIT_TARGET and r.enabled),
                    None)
        if rule is None or mon.holds_shares or len(mon.legs) > MAX_OPTION_LEGS:
            return None
        basis = mon.max_profit_per_unit if mon.max_profit_per_unit > 0 else None
        if basis is None and mon.entry_price <= 0:
            return None
        price = -profit_target_mark(mon.entry_price, rule.threshold, basis)
        return price if price != ZERO else None

    async def place(self, workflow_id: WorkflowId) -> bool:
        """Rest a GTC closing order at the profit target for every unit held (after the entry
        fills, or after a partial close or roll changed the position). True when one went out.
        Nothing is sent before start-up reconciliation ends (:meth:`resume` places them then)."""
        mon = self._positions.get(workflow_id)
        wf = self._book.find(workflow_id)  # a position the book has no workflow for: none
        if mon is None or mon.units < 1 or self.order_of(workflow_id) is not None or \
                not self._readiness.reconciled or mon.acting or \
                wf is None or wf.state is not WorkflowState.MONITORING:
            return False
        price = self.target_price(mon)
        if price is None:
            return False
        await self._orders.submit(workflow_id, OrderPurpose.CLOSE, mon.symbol,
                                  close_legs(mon, mon.units), mon.units,
                                  mid=price, natural=price, strategy=None, limit=price,
                                  price=price, rule_type=RULE,
                                  time_in_force=TimeInForce.GTC)
        return True

    async def resume(self) -> None:
        """Once reconciled (at start-up, or when the trader cleared the reconciliation gate):
        every monitored position whose strategy wants a resting order gets one that closes what
        it holds. One is placed where none rests (the entry filled while the app was stopped or
        the gate held); one over other contracts (the trader took the broker's view, a leg
        expired or was assigned meanwhile) is withdrawn and placed again for what is held."""
        for mon in list(self._positions):
            async with self._book.lock(mon.workflow_id):
                resting = self.order_of(mon.workflow_id)
                if resting is None:
                    await self.place(mon.workflow_id)
                elif not self._in_step(mon, resting) and not mon.acting and \
                        self._book.state(mon.workflow_id) is WorkflowState.MONITORING:
                    await self.resize(mon.workflow_id)

    def _in_step(self, mon: MonitoredPosition, order: OrderRecord) -> bool:
        """Whether ``order`` closes exactly what the position holds, and is still wanted."""
        if self.target_price(mon) is None:
            return False
        held = {(leg.symbol, leg.action, leg.quantity) for leg in close_legs(mon, mon.units)}
        return {(leg.symbol, leg.action, leg.quantity) for leg in order.legs} == held

    async def withdraw(self, workflow_id: WorkflowId, why: str) -> str:
        """Cancel the workflow's resting order before the app's own exit; returns "" when
        nothing rests any more (the exit may go out), else why the exit must wait: the order
        filled first (the position changed) or its cancel is not confirmed yet."""
        resting = self.order_of(workflow_id)
        if resting is None:
            return ""
        after = await self._orders.withdraw(resting.external_id, f"{WITHDRAWN}: {why}")
        if after is None:
            return ""
        if after.filled_quantity > resting.filled_quantity or after.status is OrderStatus.FILLED:
            return (f"the resting profit-target order filled first ({after.filled_quantity} of "
                    f"{after.quantity})")
        if after.status in OPEN_ORDER:
            return "the resting profit-target order's cancel is not confirmed yet"
        return ""

    async def resize(self, workflow_id: WorkflowId) -> None:
        """After a partial close or roll: the resting order follows the position (withdrawn,
        then placed again at the new quantity and price)."""
        if not await self.withdraw(workflow_id, "the position changed"):
            await self.place(workflow_id)
