"""Portfolio risk's pre-trade checks are pure functions: tested on values alone."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

from tastydesk.engine.config import EngineConfig
from tastydesk.engine.risk.checks import (
    breach_reasons,
    buying_power_limit,
    netting_conflict,
    proposal_problem,
)
from tastydesk.engine.strategies.defaults import DEFAULT_STRATEGIES
from tests.engine.store.conftest import NOW, make_proposal

SHORT, LONG = "SPY   260220P00570000", "SPY   260220P00565000"
_PCS = next(s for s in DEFAULT_STRATEGIES if s.name == "Put Credit Spread - 30 DTE")
PCS = dataclasses.replace(_PCS, filters=dataclasses.replace(_PCS.filters, min_credit=Decimal(0)))


def check(**kw: object) -> str | None:
    args: dict[str, object] = {"used": Decimal("0"), "limit": Decimal("0"), "now": NOW,
                               "max_quote_age_s": 30.0}
    args.update(kw)
    proposal = args.pop("proposal", make_proposal())
    strategy = args.pop("strategy", PCS)
    return proposal_problem(proposal, strategy, **args)  # type: ignore[arg-type]


def test_a_clean_proposal_passes() -> None:
    assert check() is None


def test_a_leg_opposite_to_another_workflow_would_net_and_is_refused() -> None:
    proposal = make_proposal()  # sells the 570 put, buys the 565 put
    assert netting_conflict(proposal, {SHORT: (-2, 7)}) is None  # same direction: fine
    problem = netting_conflict(proposal, {SHORT: (3, 7)})  # workflow 7 is long the 570 put
    assert problem is not None and "workflow 7" in problem
    assert netting_conflict(proposal, {LONG: (-1, 9)}) is not None


def test_credit_below_the_strategy_minimum() -> None:
    strategy = dataclasses.replace(PCS, filters=dataclasses.replace(PCS.filters,
                                                                    min_credit=Decimal("0.50")))
    assert check(strategy=strategy) == "credit 0.35 below minimum 0.50"


def test_per_trade_and_portfolio_buying_power() -> None:
    small = dataclasses.replace(PCS, sizing=dataclasses.replace(PCS.sizing,
                                                                max_buying_power=Decimal("500")))
    assert "per-trade maximum 500" in (check(strategy=small) or "")
    assert check(used=Decimal("9500"), limit=Decimal("10000")) == \
        "allocation: 9500 used + 930 exceeds 10000"
    assert check(used=Decimal("9000"), limit=Decimal("10000")) is None
    assert check(used=Decimal("99999"), limit=Decimal("0")) is None  # no limit known yet


def test_stale_quotes_are_refused() -> None:
    assert check(now=NOW + timedelta(seconds=31)) == "quotes are 31 s old"
    assert check(now=NOW + timedelta(seconds=30)) is None


def test_limits_and_breaches() -> None:
    config = EngineConfig()
    limit = buying_power_limit(Decimal("100000"), config)
    assert limit == (Decimal("100000") * config.max_allocation_pct / 100).quantize(Decimal("0.01"))
    assert buying_power_limit(None, config) == 0
    assert breach_reasons(0.0, Decimal("10"), limit, config) == []
    over = float(config.max_portfolio_bwd) + 1
    reasons = breach_reasons(-over, limit + 1, limit, config)
    assert len(reasons) == 2
    assert reasons[0].startswith(f"beta-weighted delta {-over:+.0f}")
    assert reasons[1] == f"buying power used {limit + 1} above {limit}"
