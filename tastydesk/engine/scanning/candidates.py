"""Candidates: from a symbol's market metrics to a proposal that passed every check.

Bias and confidence (:mod:`tastydesk.engine.scanning.bias`) pick the strategies to try; each is
filtered, built on the part of the chain its legs can use, checked against the portfolio (pure
checks in :mod:`tastydesk.engine.risk.checks`); the best by risk-adjusted expected return on
buying power (:mod:`tastydesk.engine.scanning.score`) is dry-run at the broker and proposed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.chain import Expiration, OptionChain
from tastydesk.engine.domain.enums import OrderAction, Side
from tastydesk.engine.domain.ids import ExternalOrderId, WorkflowId
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.ports import BrokerPort
from tastydesk.engine.proposals.builder import build_proposal
from tastydesk.engine.risk.checks import netting_conflict, proposal_problem
from tastydesk.engine.risk.portfolio import PortfolioRisk
from tastydesk.engine.scanning.bias import (
    BiasAssessment,
    assess_bias,
    candidate_strategies,
    filter_failures,
)
from tastydesk.engine.scanning.score import expected_return_on_buying_power, rank
from tastydesk.engine.selection import SelectionError, chain_window, dte_span
from tastydesk.engine.settings import Settings
from tastydesk.engine.strategies.library import StrategyLibrary

Candidate = tuple[TradeProposal, Strategy]


@dataclass(frozen=True, slots=True)
class Plan:
    """What a scan will build for a symbol: its bias assessment, the strategies that passed the
    entry filters and are not excluded (in priority order), and why the others were dropped."""

    symbol: str
    assessment: BiasAssessment
    strategies: tuple[Strategy, ...]
    reasons: tuple[str, ...]


def open_legs(proposal: TradeProposal, units: int) -> tuple[OrderLeg, ...]:
    """The opening order's legs for ``units`` spreads of ``proposal``."""
    out = []
    for leg in proposal.legs:
        ratio = leg.quantity // proposal.quantity
        action = OrderAction.SELL_TO_OPEN if leg.side is Side.SELL else OrderAction.BUY_TO_OPEN
        out.append(OrderLeg(leg.symbol, action, ratio * units))
    return tuple(out)


class CandidateBuilder:
    def __init__(self, *, broker: BrokerPort, settings: Settings, strategies: StrategyLibrary,
                 risk: PortfolioRisk, held_legs: Callable[[], Mapping[str, tuple[int, int]]],
                 clock: Clock) -> None:
        self._broker = broker
        self._settings = settings
        self._strategies = strategies
        self._risk = risk
        self._held_legs = held_legs
        self._clock = clock

    async def plan(self, symbol: str, only: Strategy | None = None,
                   exclude: Mapping[str, str] | None = None) -> Plan | str:
        """The cheap first half of :meth:`build`: the symbol's bias and the strategies worth
        building, or the reason there is nothing to build (a pure function of the market
        metrics, the portfolio and ``exclude``: no chain is fetched).

        ``exclude`` maps the names of strategies that may not be proposed now to the reason
        (already pending or open on the symbol): they are left out before anything is built.
        """
        config = self._settings.config
        today = self._clock.today()
        portfolio = self._risk.view
        if portfolio.breached and only is None:
            return f"portfolio limit breached: {portfolio.breach_reason}"
        info = (await self._broker.market_metrics([symbol]))[symbol]
        assessment = assess_bias(info, self._risk.symbol_bwd(symbol), config, today)
        if only is None and assessment.confidence < config.min_confidence:
            return f"confidence {assessment.confidence:.2f} below {config.min_confidence:.2f}"
        candidates = [only] if only else candidate_strategies(self._strategies.all(),
                                                              assessment.bias)
        if not candidates:
            return f"no enabled strategy serves a {assessment.bias.value} bias"
        reasons: list[str] = []
        kept: list[Strategy] = []
        for strategy in candidates:
            if exclude and strategy.name in exclude:
                reasons.append(exclude[strategy.name])
                continue
            failures = filter_failures(strategy, info, today)
            if failures and only is None:
                reasons.append(f"{strategy.name}: " + "; ".join(failures))
                continue
            kept.append(strategy)
        if not kept:
            return "; ".join(reasons)
        return Plan(symbol, assessment, tuple(kept), tuple(reasons))

    async def build(self, symbol: str, only: Strategy | None = None,
                    workflow_id: WorkflowId | None = None,
                    exclude: Mapping[str, str] | None = None) -> Candidate | str:
        """A proposal that passed every check, or the reason there is none; ``workflow_id``'s
        own pending buying power is not counted against it (a re-price replaces it)."""
        planned = await self.plan(symbol, only, exclude)
        if isinstance(planned, str):
            return planned
        return await self.build_planned(planned, workflow_id)

    async def build_planned(self, plan: Plan, workflow_id: WorkflowId | None = None) -> Candidate | str:
        """The costly second half of :meth:`build`: each planned strategy built on its part of
        the chain and checked; the best by score is dry-run and returned."""
        config = self._settings.config
        now = self._clock.now()
        assessment = plan.assessment
        reasons = list(plan.reasons)
        checked: list[Candidate] = []
        chains = _ChainCache(self._broker, plan.symbol)
        for strategy in plan.strategies:
            chain = await chains.chain_for(strategy)
            try:
                proposal = build_proposal(
                    strategy, chain, now, bias=assessment.bias, confidence=assessment.confidence,
                    rationale=assessment.reasons, max_quote_age_s=config.max_quote_age_seconds,
                    enforce_min_credit=True)
            except SelectionError as exc:
                reasons.append(f"{strategy.name}: {exc}")
                continue
            problem = self._check(proposal, strategy, workflow_id)
            if problem:
                reasons.append(f"{strategy.name}: {problem}")
                continue
            checked.append((proposal, strategy))
        # The best score goes first (see scanning.score); the broker's dry run decides between
        # equals only for the one about to be proposed.
        for proposal, strategy in rank(checked):
            problem = await self._dry_run(proposal)
            if problem:
                reasons.append(f"{strategy.name}: {problem}")
                continue
            score = expected_return_on_buying_power(proposal)
            if len(checked) > 1 and score is not None:
                proposal = dataclasses.replace(proposal, rationale=(
                    *proposal.rationale,
                    f"chosen among {len(checked)} strategies: risk-adjusted expected return on "
                    f"buying power {score:.1%}"))
            return proposal, strategy
        return "; ".join(reasons) or "no candidate"

    async def preview(self, strategy: Strategy, symbol: str) -> TradeProposal:
        """What ``strategy`` would propose on ``symbol`` now (no checks, nothing stored)."""
        config = self._settings.config
        symbol = symbol.upper()
        chain = await self.strategy_chain(symbol, strategy)
        assessment = assess_bias(chain.underlying, self._risk.symbol_bwd(symbol), config,
                                 self._clock.today())
        return build_proposal(strategy, chain, self._clock.now(), bias=assessment.bias,
                              confidence=assessment.confidence, rationale=assessment.reasons,
                              max_quote_age_s=config.max_quote_age_seconds)

    async def strategy_chain(self, symbol: str, strategy: Strategy) -> OptionChain:
        """The part of the chain the strategy's legs can use (see :class:`_ChainCache`)."""
        return await _ChainCache(self._broker, symbol).chain_for(strategy)

    def _check(self, proposal: TradeProposal, strategy: Strategy,
               workflow_id: WorkflowId | None) -> str | None:
        conflict = netting_conflict(proposal, self._held_legs())
        if conflict:
            return conflict
        return proposal_problem(proposal, strategy,
                                used=self._risk.used_or_committed(workflow_id),
                                limit=self._risk.bp_limit(), now=self._clock.now(),
                                max_quote_age_s=self._settings.config.max_quote_age_seconds)

    async def _dry_run(self, proposal: TradeProposal) -> str | None:
        """The broker's objection to the opening order at mid, or None. The mid is rounded to
        the broker's tick for the order's shape first: a single option above $3 trades in
        nickels, and an off-tick mid was refused for its price, not for the trade."""
        legs = open_legs(proposal, proposal.quantity)
        ticks = (await self._broker.trading_rules(proposal.underlying)).ticks_for(len(legs))
        request = OrderRequest(proposal.underlying, legs, ticks.round(proposal.mid_price),
                               ExternalOrderId("dry"))
        dry = await self._broker.dry_run(request)
        if dry.errors:
            return "dry run: " + "; ".join(dry.errors)
        return None


class _ChainCache:
    """One evaluation's chain lookups for a symbol: the expirations fetched once, and one chain
    per window, shared by the strategies that trade the same expirations (three 30-DTE
    defaults on a neutral symbol ask for the same one)."""

    def __init__(self, broker: BrokerPort, symbol: str) -> None:
        self._broker = broker
        self._symbol = symbol
        self._expirations: list[Expiration] | None = None
        self._chains: dict[tuple[int, int], OptionChain] = {}

    async def chain_for(self, strategy: Strategy) -> OptionChain:
        """The part of the chain the strategy's legs can use: its chosen expirations only.

        A DTE range spans several weeklies but a trade uses one or two of them; building (and,
        live, streaming) just those makes a scan several times cheaper. When no expiration
        qualifies, the whole range is fetched so selection reports why in its own words.
        """
        if self._expirations is None:
            self._expirations = await self._broker.expirations(self._symbol)
        try:
            low, high = chain_window(self._expirations, strategy)
        except SelectionError:
            low, high = dte_span(strategy)
        window = (low, max(low, high))
        chain = self._chains.get(window)
        if chain is None:
            chain = await self._broker.option_chain(self._symbol, *window)
            self._chains[window] = chain
        return chain
