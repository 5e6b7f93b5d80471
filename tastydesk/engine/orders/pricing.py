"""Each order's price walk: the urgency its purpose calls for, the strategy's presets and the
instrument's tick.

Why here and not in the callers: every price an order takes (the start, each step, each re-price
at natural) must come from one rule, rounded to the tick the broker enforces and never past the
trader's limit, whichever component asked for the order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal

from tastydesk.engine.domain.enums import ExecutionPreset, OrderPurpose, RuleType
from tastydesk.engine.domain.instruments import SPREAD_PENNY_TICKS, TickTable, TradingRules
from tastydesk.engine.domain.strategy import PricingSettings, Strategy
from tastydesk.engine.execution_pricing.walk import (
    PriceWalk,
    Urgency,
    WalkChoice,
    preset,
    start_price,
    step_price,
    urgency_for,
    walk_limit,
)
from tastydesk.engine.ports import BrokerPort


@dataclass(frozen=True, slots=True)
class WalkPlan:
    """How one order walks: from ``start`` toward natural, never past ``bound``."""

    walk: PriceWalk
    urgency: Urgency
    reason: str  # which walk and why, for the order's events
    ticks: TickTable
    start: Decimal  # unrounded first price (mid plus the offset, or the trader's own price)
    bound: Decimal | None  # the worst price: the trader's limit tightened by the max slippage

    def price(self, attempt: int, natural: Decimal) -> Decimal:
        """The limit of attempt ``attempt`` (0 = the start) against the current ``natural``."""
        return step_price(self.start, natural, self.bound, attempt, self.walk, self.ticks)


def _rule_type(rule_type: str) -> RuleType | None:
    try:
        return RuleType(rule_type) if rule_type else None
    except ValueError:
        return None


def _strategy_urgency(pricing: PricingSettings, choice: WalkChoice,
                      purpose: OrderPurpose) -> WalkChoice:
    """The strategy's preset for this kind of order, when it chose one."""
    if purpose is OrderPurpose.OPEN:
        chosen = pricing.entry_preset
    elif choice.urgency is Urgency.FAST:
        chosen = pricing.protective_preset
    else:
        chosen = pricing.exit_preset
    if chosen is ExecutionPreset.DEFAULT or chosen.value == choice.urgency.value:
        return choice
    urgency = Urgency(chosen.value)
    why = choice.reason.split(": ", 1)[-1]
    return WalkChoice(urgency, f"{urgency.value} pricing: {why} (the strategy's preset)")


def walk_for(strategy: Strategy | None, purpose: OrderPurpose, rule_type: str = "",
             max_slippage: Decimal | None = None) -> tuple[PriceWalk, Urgency, str]:
    """The walk for an order of ``purpose`` (closing for ``rule_type``): the urgency its
    purpose calls for unless the strategy chose another preset, the strategy's custom entry
    values (start offset, number of prices, interval, step share), and the reason the timeline
    shows. ``max_slippage`` (the trader's setting) bounds every walk that re-prices at natural
    until filled."""
    choice = urgency_for(purpose, _rule_type(rule_type))
    custom: dict[str, object] = {}
    if strategy is not None:
        pricing = strategy.pricing
        choice = _strategy_urgency(pricing, choice, purpose)
        if purpose is OrderPurpose.OPEN:
            if pricing.max_attempts > 0:
                custom["attempts"] = pricing.max_attempts
            if pricing.start_offset > 0:
                custom["start_offset"] = pricing.start_offset
            if pricing.walk_interval_seconds > 0:
                custom["interval_seconds"] = float(pricing.walk_interval_seconds)
            if pricing.step_share_pct > 0:
                custom["step_share"] = Decimal(pricing.step_share_pct) / 100
    reason = choice.reason + (" (the strategy's own values)" if custom else "")
    walk = preset(choice.urgency, **custom)
    if max_slippage is not None and walk.repeats_at_natural is None:
        walk = dataclasses.replace(walk, max_slippage=max_slippage)
    return walk, choice.urgency, reason


class OrderPricer:
    """Plans walks; caches each underlying's trading rules (they change rarely, and a broker
    round trip per price step would slow exits down)."""

    def __init__(self, broker: BrokerPort) -> None:
        self._broker = broker
        self._rules: dict[str, TradingRules] = {}

    async def rules(self, underlying: str) -> TradingRules:
        key = underlying.upper()
        rules = self._rules.get(key)
        if rules is None:
            rules = self._rules[key] = await self._broker.trading_rules(key)
        return rules

    async def plan(self, *, underlying: str, leg_count: int, purpose: OrderPurpose,
                   rule_type: str, strategy: Strategy | None, mid: Decimal,
                   limit: Decimal | None, price: Decimal | None = None,
                   natural: Decimal | None = None,
                   max_slippage: Decimal | None = None) -> WalkPlan:
        """The walk of a new order; ``price`` (the trader's own) starts it there instead of at
        mid and, as the limit, keeps it there. A walk that re-prices at natural until filled
        never goes past ``natural`` (at the start; mid when unknown) by more than its maximum
        slippage (``max_slippage``, the trader's setting, else the preset's)."""
        walk, urgency, reason = walk_for(strategy, purpose, rule_type, max_slippage)
        ticks = (await self.rules(underlying)).ticks_for(leg_count)
        if price is not None:
            return WalkPlan(walk, urgency, f"{reason}; the trader's price {price}", ticks, price,
                            price if limit is None else max(price, limit))
        return WalkPlan(walk, urgency, reason, ticks, start_price(mid, walk),
                        walk_limit(mid if natural is None else natural, limit, walk))



def resumed_plan(price: Decimal) -> WalkPlan:
    """An order found working at start-up: it keeps its price and walks no further (so its
    ticks never matter)."""
    walk = PriceWalk(interval_seconds=preset(Urgency.PATIENT).interval_seconds, attempts=1)
    return WalkPlan(walk, Urgency.PATIENT, "found working at start-up", SPREAD_PENNY_TICKS,
                    price, price)
