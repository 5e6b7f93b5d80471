"""Which strategy a scan proposes when several serve the symbol's bias and pass every check.

Why a score: taking the first strategy in priority order let one strategy shadow the others for
good (a short strangle behind an iron condor on every neutral symbol, 16 of 597 proposals in a
simulated year). Each candidate is scored by its **expected return on buying power**: the
proposal's expected value (after fees, from each leg's own implied volatility) divided by the
buying power it ties up, rounded to a tenth of a percent so that practically equal trades count
as equal. The highest score wins; equal scores go to the strategy with the lower ``priority``
number, then the one made for fewer biases (the more specific), then by name.
"""

from __future__ import annotations

from decimal import Decimal

from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.strategy import Strategy

#: Scores closer than this (a tenth of a percent of buying power) count as equal.
SCORE_RESOLUTION = Decimal("0.001")


def expected_return_on_buying_power(proposal: TradeProposal) -> Decimal | None:
    """Expected value per dollar of buying power, rounded to :data:`SCORE_RESOLUTION`; None when
    the trade needs no buying power (nothing to compare)."""
    if proposal.buying_power <= 0:
        return None
    return (proposal.expected_value / proposal.buying_power).quantize(SCORE_RESOLUTION)


def rank_key(proposal: TradeProposal, strategy: Strategy) -> tuple[Decimal, int, int, str]:
    """Sort key: best score first, then priority, specificity and name."""
    score = expected_return_on_buying_power(proposal)
    return (-(score if score is not None else Decimal("-1e9")), strategy.priority,
            len(strategy.biases), strategy.name)


def rank(candidates: list[tuple[TradeProposal, Strategy]]
         ) -> list[tuple[TradeProposal, Strategy]]:
    """``candidates`` best first (see the module docstring)."""
    return sorted(candidates, key=lambda c: rank_key(*c))
