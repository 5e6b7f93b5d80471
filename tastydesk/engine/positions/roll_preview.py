"""The roll's target as the strategy's selection chooses it (or as the trader pinned it on the
Roll ticket), and the preview of what sending it would do.

Why here and pure: the roller sends rolls and the ticket previews them; both must build the same
target from the same inputs, so the choice of expiry, strikes and quantity is made once, by these
functions, and only the roller talks to the broker.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from tastydesk.engine.domain.chain import OptionChain
from tastydesk.engine.domain.enums import ExpiryChoice, SelectionMethod
from tastydesk.engine.domain.money import CENT, MULTIPLIER, ZERO
from tastydesk.engine.domain.orders import OrderLeg
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.rolls import HeldLeg, RollEdits, RollPreview
from tastydesk.engine.domain.strategy import DteRange, Strategy, StrikeSelection
from tastydesk.engine.errors import EngineError
from tastydesk.engine.positions.monitored import MonitoredPosition
from tastydesk.engine.positions.rolls import RollPiece, in_order_units
from tastydesk.engine.selection import SelectionError, select_expiration, select_offset_expiration

#: The furthest expiration the Roll ticket offers.
MAX_ROLL_DTE = 400


def check_edits(edits: RollEdits, legs: int) -> None:
    """Edits that cannot be right whatever the chain says, refused naming the field."""
    if edits.quantity is not None and not 1 <= edits.quantity <= 1000:
        raise EngineError("quantity: must be 1..1000")
    if edits.limit is not None and (not edits.limit.is_finite() or edits.limit == 0):
        raise EngineError("limit: must not be zero (credit positive, debit negative)")
    if edits.strikes is not None and len(edits.strikes) != legs:
        raise EngineError(f"strikes: the strategy has {legs} legs, got {len(edits.strikes)} "
                          "strikes")
    for i, strike in enumerate(edits.strikes or ()):
        if not strike.is_finite() or strike <= 0:
            raise EngineError(f"legs[{i}].strike: must be a positive price")


def roll_strategy(strategy: Strategy, current_dte: int, today: date, units: int,
                  edits: RollEdits) -> Strategy:
    """The strategy as the roll uses it: a later expiry than the position's (or the trader's),
    sized as the position (or the trader's quantity)."""
    if edits.expiry is not None:
        dte = (edits.expiry - today).days
        if dte < 1:
            raise EngineError(f"expiry: {edits.expiry.isoformat()} is not after today")
        window = DteRange(min=dte, target=dte, max=dte, prefer_monthly=False)
    else:
        window = DteRange(min=max(strategy.dte.min, current_dte + 1),
                          target=max(strategy.dte.target, current_dte + 7),
                          max=max(strategy.dte.max, current_dte + 14), prefer_monthly=False)
    quantity = edits.quantity or units
    return dataclasses.replace(strategy, dte=window,
                               sizing=dataclasses.replace(strategy.sizing, quantity=quantity))


def pin_strikes(strategy: Strategy, chain: OptionChain, strikes: Sequence[Decimal]) -> Strategy:
    """The strategy with each leg fixed at the trader's strike, each checked to be listed at the
    leg's expiration (an unlisted strike is refused naming the leg and the nearest ones)."""
    try:
        base = select_expiration(chain, strategy.dte)
    except SelectionError as exc:
        raise EngineError(f"expiry: {exc}") from exc
    spot = chain.underlying.price
    legs = []
    for i, (leg, strike) in enumerate(zip(strategy.legs, strikes, strict=True)):
        expiration = base
        if leg.expiry is ExpiryChoice.OFFSET:
            expiration = select_offset_expiration(chain, base, leg.expiry_offset_days)
        listed = [s.price for s in expiration.strikes]
        if strike not in listed:
            near = sorted(listed, key=lambda p: abs(p - strike))[:2]
            raise EngineError(f"legs[{i}].strike: {strike.normalize():f} is not listed on "
                              f"{expiration.date.isoformat()} (nearest "
                              + ", ".join(f"{p.normalize():f}" for p in sorted(near)) + ")")
        legs.append(dataclasses.replace(
            leg, selection=StrikeSelection(SelectionMethod.OFFSET, strike - spot)))
    # The trader chose the contracts: open-interest filtering must not move them.
    filters = dataclasses.replace(strategy.filters, min_open_interest=0)
    return dataclasses.replace(strategy, legs=tuple(legs), filters=filters)


def listed_strikes(chain: OptionChain, expiry: date) -> tuple[Decimal, ...]:
    """The strikes listed at ``expiry`` (what the ticket offers for each new leg)."""
    for expiration in chain.expirations:
        if expiration.date == expiry:
            return tuple(s.price for s in expiration.strikes)
    return ()


def roll_prices(pieces: Sequence[RollPiece], units: int, open_units: int
                ) -> tuple[int, Decimal, Decimal] | None:
    """(order units, mid, natural) of the whole roll per order unit, summed over its orders;
    None while a leg it closes is unquoted."""
    orders = [piece.order(units, open_units) for piece in pieces]
    if any(o is None for o in orders):
        return None
    done = [o for o in orders if o is not None]
    counts = {o[1] for o in done}
    if len(counts) == 1:
        return counts.pop(), sum((o[2] for o in done), ZERO), sum((o[3] for o in done), ZERO)
    legs: tuple[OrderLeg, ...] = tuple(leg for o in done for leg in o[0])
    mid = sum((o[2] * o[1] for o in done), ZERO)  # per share for the whole roll
    natural = sum((o[3] * o[1] for o in done), ZERO)
    return in_order_units(legs, 1, mid, natural)


def credit_collected(mon: MonitoredPosition) -> Decimal:
    """Net premium the position's order chain took in so far (credits less debits, in $)."""
    if mon.chain is not None:
        return (mon.chain.credits - mon.chain.debits).quantize(CENT)
    return (mon.entry_price * MULTIPLIER * mon.units).quantize(CENT)


def build_preview(mon: MonitoredPosition, proposal: TradeProposal, pieces: Sequence[RollPiece],
                  edits: RollEdits, *, expirations: Sequence[date], strikes: Sequence[Decimal],
                  problem: str | None) -> RollPreview:
    """The preview of a planned roll (see :class:`RollPreview`)."""
    quantity = proposal.quantity
    prices = roll_prices(pieces, mon.units, quantity)
    if prices is None:
        raise EngineError("quotes: a leg the roll closes has no quote yet; try again")
    order_units, mid, natural = prices
    held = {leg.symbol for leg in mon.legs}
    closing = tuple(HeldLeg(leg.symbol, leg.quantity, leg.bid, leg.ask)
                    for piece in pieces for leg in piece.close)
    collected = credit_collected(mon)
    current_bp = mon.buying_power_per_unit * mon.units
    return RollPreview(
        workflow_id=mon.workflow_id, symbol=mon.symbol, strategy_name=mon.strategy_name,
        held_units=mon.units, quantity=quantity, closing=closing, opening=proposal.legs,
        kept=tuple(leg.symbol for leg in proposal.legs if leg.symbol in held),
        expiry=proposal.expiry, expirations=tuple(expirations), strikes=tuple(strikes),
        orders=tuple(p.label for p in pieces), order_units=order_units, mid=mid,
        natural=natural, limit=edits.limit if edits.limit is not None else mid,
        max_loss=proposal.max_loss, buying_power=proposal.buying_power,
        buying_power_effect=(proposal.buying_power - current_bp).quantize(CENT),
        credit_collected=collected,
        credit_after=(collected + mid * MULTIPLIER * order_units).quantize(CENT),
        problem=problem, warnings=proposal.warnings)
