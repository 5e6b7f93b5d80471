"""Small builders of engine view objects for model tests (models are thin adapters over views)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tastydesk.engine.domain.enums import (
    Bias,
    OptionType,
    RuleAction,
    RuleType,
    Side,
    WorkflowState,
)
from tastydesk.engine.domain.proposal import PositionGreeks, ResolvedLeg, TradeProposal
from tastydesk.engine.domain.views import (
    PendingView,
    PositionLegView,
    PositionView,
    RuleStatus,
    WorkflowView,
)

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def leg(strike: str, side: Side, option_type: OptionType = OptionType.PUT) -> ResolvedLeg:
    k = Decimal(strike)
    return ResolvedLeg(symbol=f"SPY   261218P{int(k * 1000):08d}", streamer_symbol=f".SPY261218P{k}",
                       option_type=option_type, side=side, strike=k, expiry=date(2026, 12, 18),
                       quantity=1, bid=Decimal("1.10"), ask=Decimal("1.20"),
                       mid=Decimal("1.15"), delta=-0.16, gamma=0.01, theta=0.03, vega=0.2,
                       iv=0.18, open_interest=1200, reason="0.16 delta")


def proposal(symbol: str = "SPY", mid: str = "0.85", warnings: tuple[str, ...] = ()) -> TradeProposal:
    return TradeProposal(
        strategy_name="Put Credit Spread - 30 DTE", underlying=symbol, spot=Decimal("600.12"),
        legs=(leg("560", Side.SELL), leg("555", Side.BUY)), quantity=1,
        mid_price=Decimal(mid), natural_price=Decimal(mid) - Decimal("0.10"),
        max_profit=Decimal(mid) * 100, max_loss=Decimal("500") - Decimal(mid) * 100,
        defined_risk=True, breakevens=(Decimal("559.15"),), pop=0.78,
        touch_probability=0.35, expected_value=Decimal("4.20"), risk_reward=4.88,
        greeks=PositionGreeks(delta=3.1, theta=2.4, vega=-5.2, beta_weighted_delta=3.1),
        buying_power=Decimal("415"), fees=Decimal("2.00"), warnings=warnings, created_at=T0,
        bias=Bias.BULLISH, confidence=0.72, rationale=("trend up", "IV rank 45"),
        iv_rank=Decimal("45"))


def pending(workflow_id: int, symbol: str = "SPY", mid: str = "0.85",
            warnings: tuple[str, ...] = (), age_s: int = 60) -> PendingView:
    created = T0 - timedelta(seconds=age_s)
    return PendingView(workflow_id=workflow_id, proposal_id=100 + workflow_id,
                       proposal=proposal(symbol, mid, warnings), created_at=created,
                       expires_at=created + timedelta(minutes=30))


def rule(index: int, rule_type: RuleType, threshold: str, current: float,
         distance: float) -> RuleStatus:
    return RuleStatus(index=index, rule_type=rule_type, action=RuleAction.CLOSE,
                      threshold=Decimal(threshold), current=current, distance=distance,
                      triggered=distance <= 0, enabled=True, auto=False,
                      description=f"{rule_type} at {threshold}")


def position(workflow_id: int, pnl: str = "12.50", pnl_pct: float = 20.0,
             symbol: str = "SPY") -> PositionView:
    return PositionView(
        workflow_id=workflow_id, symbol=symbol, strategy_name="Put Credit Spread - 30 DTE",
        state=WorkflowState.MONITORING, quantity=1, entry_price=Decimal("0.85"),
        mark=Decimal("0.70"), pnl=Decimal(pnl), pnl_pct=pnl_pct, max_profit=Decimal("85"),
        max_loss=Decimal("415"), dte=24, delta=2.5, theta=1.8, vega=-4.0,
        legs=(PositionLegView(f"SPY   261218P0056{workflow_id % 10}000", OptionType.PUT,
                              Decimal("560"), date(2026, 12, 18), -1, Decimal("1.15"),
                              Decimal("0.95"), -0.14),),
        rules=(rule(0, RuleType.PROFIT_TARGET, "50", pnl_pct, 50 - pnl_pct),
               rule(1, RuleType.STOP_LOSS, "200", -pnl_pct, 200 + pnl_pct)),
        health="ok", opened_at=T0)


def workflow(workflow_id: int, state: WorkflowState = WorkflowState.SCANNING,
             symbol: str = "SPY") -> WorkflowView:
    return WorkflowView(workflow_id=workflow_id, symbol=symbol,
                        strategy_name="Iron Condor - 45 DTE", state=state, created_at=T0,
                        updated_at=T0 + timedelta(minutes=workflow_id), last_reason="scan")


def moved(view: PositionView, pnl: str) -> PositionView:
    return replace(view, pnl=Decimal(pnl))
