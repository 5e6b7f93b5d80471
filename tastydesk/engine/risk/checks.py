"""Pre-trade and portfolio checks as pure functions: the same inputs give the same answer, so
they are tested without a broker, a store or a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tastydesk.engine.config import EngineConfig
from tastydesk.engine.domain.enums import CommitmentKind, Side
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.money import CENT, ZERO
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.strategy import Strategy


def netting_conflict(proposal: TradeProposal,
                     held: Mapping[str, tuple[int, int]]) -> str | None:
    """Brokers net positions per contract: a leg opposite to another workflow's would cancel
    it out at the broker and leave both workflows unable to close, so it is refused.

    ``held`` maps an OCC symbol to (signed contracts held, workflow id)."""
    for leg in proposal.legs:
        other = held.get(leg.symbol)
        if other is None:
            continue
        sign = -1 if leg.side is Side.SELL else 1
        if other[0] * sign < 0:
            return (f"{leg.symbol.split()[0]} {leg.strike} {leg.option_type.value} would net "
                    f"against workflow {other[1]}'s position")
    return None


def buying_power_limit(net_liquidating_value: Decimal | None, config: EngineConfig) -> Decimal:
    """The most buying power all positions together may use."""
    if net_liquidating_value is None:
        return ZERO
    return (net_liquidating_value * config.max_allocation_pct / 100).quantize(CENT)


@dataclass(frozen=True, slots=True)
class Commitment:
    """Buying power a workflow has asked for but does not hold yet: a proposal waiting for
    approval, or the unfilled part of a working opening order."""

    workflow_id: WorkflowId
    symbol: str
    buying_power: Decimal
    kind: CommitmentKind


def committed(commitments: Iterable[Commitment], exclude_workflow: int | None = None
              ) -> Decimal:
    """Buying power committed by other workflows (``exclude_workflow``'s own is what is being
    checked)."""
    return sum((c.buying_power for c in commitments if c.workflow_id != exclude_workflow), ZERO)


def opening_problem(buying_power: Decimal, max_per_trade: Decimal, *, used: Decimal,
                    limit: Decimal) -> str | None:
    """Why an opening order needing ``buying_power`` may not be sent, or None.

    ``used`` is everything already spoken for: filled positions, pending approvals and working
    opening orders of other workflows (not filled positions only: two approvals in a row would
    otherwise each pass against the same headroom). ``limit`` is the allocation cap (0: none).
    """
    if buying_power > max_per_trade:
        return (f"buying power {buying_power} above the per-trade maximum {max_per_trade}")
    if limit > 0 and used + buying_power > limit:
        return f"allocation: {used} used or committed + {buying_power} exceeds {limit}"
    return None


def position_count_problem(symbol: str, others: Mapping[str, int], config: EngineConfig
                           ) -> str | None:
    """Why one more position on ``symbol`` may not be opened, or None. ``others`` counts, per
    symbol, the other workflows holding a position, working an opening order or waiting for
    approval; the new one must fit the per-symbol and the total limits with them."""
    on_symbol = others.get(symbol, 0)
    if on_symbol + 1 > config.max_workflows_per_symbol:
        return (f"per-symbol limit: {on_symbol} other {symbol} position(s) open, working or "
                f"pending approval; at most {config.max_workflows_per_symbol}")
    total = sum(others.values())
    if total + 1 > config.max_workflows_total:
        return (f"total limit: {total} other position(s) open, working or pending approval; "
                f"at most {config.max_workflows_total}")
    return None


def proposal_problem(proposal: TradeProposal, strategy: Strategy, *, used: Decimal,
                     limit: Decimal, now: datetime, max_quote_age_s: float) -> str | None:
    """Why a proposal may not be sent (credit, per-trade and portfolio buying power, stale
    quotes), or None. The broker's dry run comes after these."""
    if strategy.filters.min_credit > 0 and proposal.mid_price < strategy.filters.min_credit:
        return f"credit {proposal.mid_price} below minimum {strategy.filters.min_credit}"
    problem = opening_problem(proposal.buying_power, strategy.sizing.max_buying_power,
                              used=used, limit=limit)
    if problem:
        return problem
    if proposal.quote_time is not None:
        age = (now - proposal.quote_time).total_seconds()
        if age > max_quote_age_s:
            return f"quotes are {age:.0f} s old"
    return None


def breach_reasons(beta_weighted_delta: float, used: Decimal, limit: Decimal,
                   config: EngineConfig) -> list[str]:
    """The portfolio limits currently exceeded (empty: none)."""
    reasons = []
    if abs(beta_weighted_delta) > float(config.max_portfolio_bwd):
        reasons.append(f"beta-weighted delta {beta_weighted_delta:+.0f} beyond "
                       f"±{config.max_portfolio_bwd}")
    if limit > 0 and used > limit:
        reasons.append(f"buying power used {used} above {limit}")
    return reasons
