from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tastydesk.engine.domain.enums import Bias, OptionType, Side, Trigger, WorkflowState
from tastydesk.engine.domain.proposal import PnlCurve, PositionGreeks, ResolvedLeg, TradeProposal
from tastydesk.engine.domain.workflow_fsm import INITIAL_STATE, TRANSITIONS
from tastydesk.engine.store.service import Store

NOW = datetime(2026, 1, 5, 15, 30, tzinfo=UTC)


@pytest.fixture(name="store")
def fixture_store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path / "tastydesk.db")
    yield store
    store.close()


def path_to(state: WorkflowState) -> list[Trigger]:
    """Shortest trigger sequence from the initial state to ``state``."""
    queue: deque[tuple[WorkflowState, list[Trigger]]] = deque([(INITIAL_STATE, [])])
    seen = {INITIAL_STATE}
    while queue:
        current, steps = queue.popleft()
        if current is state:
            return steps
        for (src, trigger), dst in TRANSITIONS.items():
            if src is current and dst not in seen:
                seen.add(dst)
                queue.append((dst, [*steps, trigger]))
    raise AssertionError(f"{state} unreachable")


def make_proposal(created_at: datetime = NOW) -> TradeProposal:
    def leg(side: Side, strike: str, mid: str, delta: float) -> ResolvedLeg:
        return ResolvedLeg(
            symbol=f"SPY   260220P00{strike}000", streamer_symbol=f".SPY260220P{strike}",
            option_type=OptionType.PUT, side=side, strike=Decimal(strike),
            expiry=date(2026, 2, 20), quantity=2, bid=Decimal(mid) - Decimal("0.02"),
            ask=Decimal(mid) + Decimal("0.02"), mid=Decimal(mid), delta=delta, gamma=0.01,
            theta=-0.03, vega=0.12, iv=0.1834, open_interest=1200, reason="delta 0.16")

    return TradeProposal(
        strategy_name="Put Credit Spread - 30 DTE", underlying="SPY", spot=Decimal("601.37"),
        legs=(leg(Side.SELL, "570", "1.45", -0.16), leg(Side.BUY, "565", "1.10", -0.13)),
        quantity=2, mid_price=Decimal("0.35"), natural_price=Decimal("0.31"),
        max_profit=Decimal("70"), max_loss=Decimal("930"), defined_risk=True,
        breakevens=(Decimal("569.65"),), pop=0.8123, touch_probability=0.31,
        expected_value=Decimal("-3.2"), risk_reward=13.2857,
        greeks=PositionGreeks(delta=-6.0, theta=1.2, vega=-4.5, beta_weighted_delta=-6.0),
        buying_power=Decimal("930"), fees=Decimal("2.28"), warnings=("wide spread",),
        created_at=created_at, bias=Bias.BULLISH, confidence=0.62,
        rationale=("trend up", "IV rank 34"), iv_rank=Decimal("34.5"), quote_time=created_at,
        curve=PnlCurve(prices=(560.0, 600.0), at_expiry=(-930.0, 70.0), today=(-500.0, 30.0),
                       one_sd_low=570.5, one_sd_high=632.1),
    )
