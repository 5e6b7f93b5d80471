"""Execution figures of a run, from the store: how entries filled, how fast stop exits got out,
how much of the spread fills conceded, which strategies were proposed, and whether any opening
order went above its per-trade cap.

Why: ``tastydesk simulate`` reports them so a change to pricing or to the pre-trade checks is
measured over a simulated year, not guessed.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

from tastydesk.engine.domain.enums import OrderPurpose, OrderStatus, Trigger
from tastydesk.engine.domain.ids import ProposalId
from tastydesk.engine.domain.order_fsm import price_steps
from tastydesk.engine.domain.records import OrderRecord, TransitionRecord
from tastydesk.engine.execution_pricing.fill_quality import percentile, samples_from_events, summarise
from tastydesk.engine.readmodel.allocation_audit import opening_breaches
from tastydesk.engine.store.service import Store

STOP_RULE = "stop_loss"
STOP_STEPS_OK = 3  # prices a stop exit may take (at natural by the third)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _close_rule(order: OrderRecord, closes: list[TransitionRecord]) -> str:
    """The rule behind a closing order: the workflow's last CLOSE transition before it."""
    rule = ""
    for t in closes:
        if t.workflow_id == order.workflow_id and t.time <= order.created_at:
            rule = str(t.payload.get("rule", ""))
    return rule


def execution_summary(store: Store) -> dict[str, Any]:
    transitions = store.transitions(None)
    proposals_by_strategy: Counter[str] = Counter()
    for t in transitions:
        if t.trigger is Trigger.PROPOSE and "proposal_id" in t.payload:
            proposal = store.get_proposal(ProposalId(int(t.payload["proposal_id"]))).proposal
            proposals_by_strategy[proposal.strategy_name] += 1
    closes = sorted((t for t in transitions if t.trigger is Trigger.CLOSE),
                    key=lambda t: t.time)
    strategies = {s.name: s for s in store.list_strategies()}
    workflows = {w.id: w for w in store.list_workflows()}
    samples = []
    entries_sent = entries_filled = above_cap = 0
    stop_prices: list[float] = []
    stop_orders = stop_quick = 0
    for order in store.orders():
        events = store.order_events(order.external_id)
        wf = workflows.get(order.workflow_id)
        strategy_name = (wf.strategy_name if wf else None) or ""
        samples.extend(samples_from_events(order.underlying, strategy_name, order.purpose,
                                           events))
        if order.broker_order_id is None:
            continue
        if order.purpose is OrderPurpose.OPEN:
            entries_sent += 1
            entries_filled += order.status is OrderStatus.FILLED
            if order.proposal_id is not None:
                proposal = store.get_proposal(order.proposal_id).proposal
                strategy = strategies.get(proposal.strategy_name)
                bp = proposal.buying_power / proposal.quantity * order.quantity
                if strategy is not None and bp > strategy.sizing.max_buying_power:
                    above_cap += 1
        elif (order.purpose in (OrderPurpose.CLOSE, OrderPurpose.PARTIAL_CLOSE)
              and _close_rule(order, closes) == STOP_RULE and order.status.is_terminal):
            stop_orders += 1  # an exit still working when the run ends is not decided yet
            if order.status is OrderStatus.FILLED:
                prices = price_steps(events) + 1
                stop_prices.append(float(prices))
                stop_quick += prices <= STOP_STEPS_OK
    quality = summarise(samples)
    return {
        "fill_quality": {
            "fills_with_market": quality.fills,
            "avg_fill_vs_mid": str(quality.avg_vs_mid),
            "spread_share_conceded": (None if quality.spread_share_conceded is None
                                      else round(quality.spread_share_conceded, 4)),
            "entries_sent": entries_sent,
            "entries_filled": entries_filled,
            "entries_filled_ratio": _ratio(entries_filled, entries_sent),
            "stop_exits": stop_orders,
            "stop_exits_within_3_steps_ratio": _ratio(stop_quick, stop_orders),
            "stop_exit_steps_p90": percentile(stop_prices, 90),
        },
        "proposals_by_strategy": dict(sorted(proposals_by_strategy.items())),
        "opening_orders_above_cap": above_cap,
    }


def allocation_summary(store: Store, nlv: list[tuple[datetime, Decimal]], start_nlv: Decimal,
                       max_allocation_pct: Decimal) -> dict[str, Any]:
    """Opening orders that, when sent, were above their strategy's per-trade cap or pushed the
    allocation (positions, pending approvals and working orders) past ``max_allocation_pct``
    of the broker's net liquidating value, counted from the records (see
    :mod:`tastydesk.engine.readmodel.allocation_audit`), not from the checks' verdicts."""
    proposals: dict[ProposalId, tuple[str, Decimal, int]] = {}

    def proposal_of(proposal_id: ProposalId) -> tuple[str, Decimal, int]:
        if proposal_id not in proposals:
            p = store.get_proposal(proposal_id).proposal
            proposals[proposal_id] = (p.strategy_name, p.buying_power, p.quantity)
        return proposals[proposal_id]

    found = opening_breaches(
        store.orders(), lambda o: store.order_events(o.external_id), proposal_of,
        {s.name: s.sizing.max_buying_power for s in store.list_strategies()},
        store.transitions(None), store.journal(), nlv, start_nlv, max_allocation_pct)
    return {"opening_orders_above_cap_or_allocation": {
        "above_per_trade_cap": found.above_cap,
        "above_allocation": found.above_allocation,
        "max_allocation_pct": str(max_allocation_pct)}}
