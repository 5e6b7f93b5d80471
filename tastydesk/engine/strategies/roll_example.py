"""An example roll rule for the iron condor, and a check that a run's orders were legal.

Why: the default condor exits at 21 DTE; with this rule it rolls out at 25 DTE instead (to the
strategy's own DTE window), which exercises rolling a four-leg position as legal orders (its put
spread, then its call spread). ``tastydesk simulate --roll-rule`` adds it to the stored condor.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from decimal import Decimal
from typing import Any

from tastydesk.engine.domain.enums import OrderPurpose, OrderStatus, RuleAction, RuleType
from tastydesk.engine.domain.instruments import MAX_OPTION_LEGS
from tastydesk.engine.domain.records import OrderRecord
from tastydesk.engine.domain.strategy import ManagementRule, Strategy
from tastydesk.engine.ports import BrokerPort

CONDOR_PREFIX = "Iron Condor"
ROLL_DTE = Decimal("25")


def with_roll_rule(strategy: Strategy, dte: Decimal = ROLL_DTE) -> Strategy:
    """The strategy with a roll rule at ``dte`` (acting unattended), unless it has one."""
    if any(r.rule_type is RuleType.ROLL for r in strategy.rules):
        return strategy
    priority = max((r.priority for r in strategy.rules), default=0) + 1
    rule = ManagementRule(RuleType.ROLL, dte, action=RuleAction.ROLL, priority=priority,
                          auto=True)
    return dataclasses.replace(strategy, rules=(*strategy.rules, rule))


def is_condor(strategy: Strategy) -> bool:
    return strategy.name.startswith(CONDOR_PREFIX)


async def order_legality(broker: BrokerPort, orders: list[OrderRecord]) -> dict[str, Any]:
    """What a run's orders looked like against the broker's rules: legs per order, prices on
    the instrument's tick, and how rolls went out (pieces of at most four legs)."""
    over = off_tick = 0
    rules_by_symbol: dict[str, Any] = {}
    rejected: Counter[str] = Counter()
    for order in orders:
        if len(order.legs) > MAX_OPTION_LEGS:
            over += 1
        rules = rules_by_symbol.get(order.underlying)
        if rules is None:
            rules = rules_by_symbol[order.underlying] = await broker.trading_rules(
                order.underlying)
        if not rules.ticks_for(len(order.legs)).is_on_tick(order.price):
            off_tick += 1
        if order.status is OrderStatus.REJECTED:
            reason = (order.reject_reason or "").lower()
            rejected["tick" if "tick" in reason else "legs" if "legs" in reason
                     else "session" if "session" in reason or "closed" in reason
                     else "other"] += 1
    rolls = [o for o in orders if o.purpose is OrderPurpose.ROLL]
    filled = [o for o in rolls if o.status is OrderStatus.FILLED]
    return {
        "orders_over_4_legs": over,
        "off_tick_orders": off_tick,
        "rejected_by_reason": dict(sorted(rejected.items())),
        "roll_orders": len(rolls),
        "roll_orders_filled": len(filled),
        "four_leg_roll_orders_filled": sum(1 for o in filled if len(o.legs) == 4),
    }
