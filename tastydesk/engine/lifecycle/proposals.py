"""Follow-up proposals after an assignment, as the approval queue shows them: the order's legs
(options as resolved legs on their closing or opening side, shares as a share leg), its price per
unit and the rationale. Pure: built from the monitored position or the chain's contract."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from tastydesk.engine.domain.chain import OptionContract
from tastydesk.engine.domain.enums import AfterAssignment, OptionType, Side
from tastydesk.engine.domain.lifecycle import OPTION_MULTIPLIER
from tastydesk.engine.domain.money import CENT, ZERO
from tastydesk.engine.domain.orders import OrderLeg
from tastydesk.engine.domain.proposal import PositionGreeks, ResolvedLeg, ShareLeg, TradeProposal
from tastydesk.engine.positions.monitored import MonitoredLeg, MonitoredPosition


def strike_text(strike: Decimal) -> str:
    """``560``, ``222.5``: no trailing zeros, never an exponent."""
    return format(strike.normalize(), "f")


def describe(leg: MonitoredLeg) -> str:
    """A held leg in a rationale: ``+100 SPY shares`` or ``+1 575 put 2026-01-16``."""
    if leg.is_shares:
        return f"{leg.quantity:+d} {leg.symbol} shares"
    assert leg.option_type is not None and leg.expiry is not None
    return (f"{leg.quantity:+d} {strike_text(leg.strike)} {leg.option_type.value} "
            f"{leg.expiry.isoformat()}")


def realised_by_closing(legs: list[MonitoredLeg],
                        quotes: dict[str, tuple[Decimal, Decimal]]) -> Decimal:
    """What closing ``legs`` at mid realises against their open prices, in dollars."""
    total = ZERO
    for leg in legs:
        bid, ask = quotes[leg.symbol]
        total += ((bid + ask) / 2 - leg.entry_price) * leg.quantity * leg.multiplier
    return total.quantize(CENT)


def _spot(mon: MonitoredPosition) -> Decimal:
    if mon.spot:
        return Decimal(str(mon.spot)).quantize(CENT)
    shares = next((leg for leg in mon.legs if leg.is_shares and leg.mid is not None), None)
    return ZERO if shares is None or shares.mid is None else shares.mid.quantize(CENT)


def close_proposal(mon: MonitoredPosition, legs: list[MonitoredLeg],
                   quotes: dict[str, tuple[Decimal, Decimal]], order_legs: tuple[OrderLeg, ...],
                   units: int, mid: Decimal, natural: Decimal, rationale: tuple[str, ...],
                   now: datetime) -> TradeProposal:
    """Closing ``legs`` of ``mon`` (the shares with the options, or one step of it) at the
    ``quotes`` (bid, ask) it was priced on. A close takes risk off: no profit or loss figures
    of its own (what it realises is in the rationale)."""
    sizes = {o.symbol: o.quantity for o in order_legs}
    options: list[ResolvedLeg] = []
    shares: list[ShareLeg] = []
    for leg in legs:
        bid, ask = quotes[leg.symbol]
        leg_mid = ((bid + ask) / 2).quantize(CENT)
        side = Side.SELL if leg.quantity > 0 else Side.BUY
        if leg.is_shares:
            shares.append(ShareLeg(leg.symbol, side, sizes[leg.symbol], bid, ask, leg_mid))
            continue
        assert leg.option_type is not None and leg.expiry is not None
        options.append(ResolvedLeg(
            symbol=leg.symbol, streamer_symbol=leg.streamer_symbol, option_type=leg.option_type,
            side=side, strike=leg.strike, expiry=leg.expiry, quantity=sizes[leg.symbol], bid=bid,
            ask=ask, mid=leg_mid, delta=leg.delta or 0.0, gamma=0.0, theta=leg.theta or 0.0,
            vega=leg.vega or 0.0, iv=0.0, reason="held since the assignment"))
    return TradeProposal(
        strategy_name=mon.strategy_name, underlying=mon.symbol, spot=_spot(mon),
        legs=tuple(options), quantity=units, mid_price=mid, natural_price=natural,
        max_profit=ZERO, max_loss=ZERO, defined_risk=True,
        breakevens=(), pop=0.0, touch_probability=0.0, expected_value=ZERO,
        risk_reward=0.0, greeks=PositionGreeks(), buying_power=ZERO, fees=ZERO, warnings=(),
        created_at=now, rationale=rationale, quote_time=now, follow_up=AfterAssignment.CLOSE,
        shares=tuple(shares))


def call_proposal(mon: MonitoredPosition, call: OptionContract, contracts: int,
                  buying_power: Decimal, rationale: tuple[str, ...],
                  now: datetime) -> TradeProposal:
    """Selling ``contracts`` covered calls against the shares: the premium is its profit."""
    assert call.quote is not None and call.option_type is OptionType.CALL
    q, g = call.quote, call.greeks
    mid = q.mid.quantize(CENT)
    leg = ResolvedLeg(
        symbol=call.symbol, streamer_symbol=call.streamer_symbol, option_type=call.option_type,
        side=Side.SELL, strike=call.strike, expiry=call.expiry, quantity=contracts, bid=q.bid,
        ask=q.ask, mid=mid, delta=g.delta if g else 0.0, gamma=g.gamma if g else 0.0,
        theta=g.theta if g else 0.0, vega=g.vega if g else 0.0, iv=g.iv if g else 0.0,
        open_interest=call.open_interest, reason=rationale[-1].rpartition(": ")[2])
    premium = (mid * OPTION_MULTIPLIER * contracts).quantize(CENT)
    delta = -(g.delta if g else 0.0) * OPTION_MULTIPLIER * contracts
    return TradeProposal(
        strategy_name=mon.strategy_name, underlying=mon.symbol, spot=_spot(mon), legs=(leg,),
        quantity=contracts, mid_price=mid, natural_price=q.bid, max_profit=premium,
        max_loss=ZERO, defined_risk=True, breakevens=(), pop=1.0 - (g.delta if g else 0.0),
        touch_probability=0.0, expected_value=ZERO, risk_reward=0.0,
        greeks=PositionGreeks(delta=delta), buying_power=buying_power, fees=ZERO, warnings=(),
        created_at=now, rationale=rationale, quote_time=now, follow_up=AfterAssignment.WHEEL)
