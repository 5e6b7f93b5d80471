"""Which strategy a scan proposes when several serve the symbol's bias and pass every check.

Why a score: taking the first strategy in priority order let one strategy shadow the others for
good (a short strangle behind an iron condor on every neutral symbol, 16 of 597 proposals in a
simulated year). Each candidate is scored by its **risk-adjusted expected return on buying
power**:

    score = expected value / buying power  -  TAIL_CHARGE (undefined risk only)

* The expected value is the proposal's, after fees, pricing each strike on its own leg's implied
  volatility; buying power is what the trade ties up (the allocation and per-trade caps limit
  exactly that), so the ratio says what a dollar of capital earns in this trade.
* The model's distribution is smooth: it has no gaps. A defined-risk trade's loss stops at its
  wings whatever the gap; an uncovered short leg's does not, and its Reg-T buying power is a
  margin figure, not its worst case. An undefined-risk trade is therefore charged
  :data:`TAIL_CHARGE` of its buying power: it is chosen over a defined-risk one only when it
  promises at least that much more per dollar. Without the charge a short strangle won every
  neutral symbol on its large buying power alone and was closed on delta breaches 123 times in
  a simulated year. A cash-secured put is not charged: short puts only, with the cash it ties
  up covering assignment at the strike, leave no tail outside the buying power.
* Scores are rounded to :data:`SCORE_RESOLUTION` (a tenth of a percent) so that practically
  equal trades count as equal; equal scores go to the strategy with the lower ``priority``
  number, then the one made for fewer biases (the more specific), then by name.
"""

from __future__ import annotations

from decimal import Decimal

from tastydesk.engine.domain.enums import OptionType, Side
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.strategy import Strategy

#: Scores closer than this (a tenth of a percent of buying power) count as equal.
SCORE_RESOLUTION = Decimal("0.001")
#: What an undefined-risk trade is charged for the tail the model leaves out, as a share of its
#: buying power (half a percent: about 6 % a year on a 30-day trade).
TAIL_CHARGE = Decimal("0.005")


def expected_return_on_buying_power(proposal: TradeProposal) -> Decimal | None:
    """The risk-adjusted expected value per dollar of buying power (see the module docstring),
    rounded to :data:`SCORE_RESOLUTION`; None when the trade needs no buying power (nothing to
    compare)."""
    if proposal.buying_power <= 0:
        return None
    score = proposal.expected_value / proposal.buying_power
    if not proposal.defined_risk and not _cash_secured(proposal):
        score -= TAIL_CHARGE
    return score.quantize(SCORE_RESOLUTION)


def _cash_secured(proposal: TradeProposal) -> bool:
    """Short puts only, with the buying power covering assignment at the strike: the worst
    case is inside what the trade ties up, so no tail is left out. A short call's is not."""
    no_short_call = not any(leg.side is Side.SELL and leg.option_type is OptionType.CALL
                            for leg in proposal.legs)
    return no_short_call and proposal.max_loss <= proposal.buying_power


def rank_key(proposal: TradeProposal, strategy: Strategy) -> tuple[Decimal, int, int, str]:
    """Sort key: best score first, then priority, specificity and name."""
    score = expected_return_on_buying_power(proposal)
    return (-(score if score is not None else Decimal("-1e9")), strategy.priority,
            len(strategy.biases), strategy.name)


def rank(candidates: list[tuple[TradeProposal, Strategy]]
         ) -> list[tuple[TradeProposal, Strategy]]:
    """``candidates`` best first (see the module docstring)."""
    return sorted(candidates, key=lambda c: rank_key(*c))
