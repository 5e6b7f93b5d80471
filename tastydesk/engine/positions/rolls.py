"""Rolling a position as legal orders: no order may carry more than four legs.

Why: tastytrade accepts at most four legs per order, so an iron condor (four legs to close, four
to open) cannot roll in one order. It rolls as its put spread and its call spread, each an order
of at most four legs (close two, open two). The planner is pure and stateless: it compares the
legs held now with the roll's target (the roll proposal), so the pieces still to do are known at
any moment, including after a restart between two pieces.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tastydesk.engine.domain.enums import OptionType, OrderAction, Side
from tastydesk.engine.domain.instruments import MAX_OPTION_LEGS
from tastydesk.engine.domain.lifecycle import OPTION_MULTIPLIER, is_option_symbol
from tastydesk.engine.domain.money import CENT
from tastydesk.engine.domain.orders import OrderLeg
from tastydesk.engine.domain.pricer import PricedLeg, signed_mid, signed_natural
from tastydesk.engine.domain.proposal import ResolvedLeg, TradeProposal
from tastydesk.engine.execution_pricing.anomaly import LegQuote
from tastydesk.engine.positions.monitored import MonitoredLeg, closing_leg

_TYPE_LABEL = {OptionType.PUT: "put", OptionType.CALL: "call"}
SHARES_LABEL = "shares"  # a piece closing the shares an assignment left


@dataclass(frozen=True, slots=True)
class RollPiece:
    """One legal order of a roll: legs to close (held now) and legs to open (the target)."""

    label: str  # "roll", "put spread", "call spread", "put spread close", ...
    close: tuple[MonitoredLeg, ...]
    open: tuple[ResolvedLeg, ...]
    target_units: int  # the roll proposal's spread units (its legs' quantities are per this)

    @property
    def leg_count(self) -> int:
        return len(self.close) + len(self.open)

    def order_legs(self, units: int, open_units: int | None = None,
                   held_units: int | None = None) -> tuple[OrderLeg, ...]:
        """The order's legs closing ``units`` of the ``held_units`` held (default: all of
        them) and opening ``open_units`` new ones (the same number unless the trader changed
        the quantity on the Roll ticket). Shares close by the shares held, as a close does."""
        opens = units if open_units is None else open_units
        held = units if held_units is None else held_units
        closing = tuple(closing_leg(leg, units, held) for leg in self.close)
        opening = tuple(OrderLeg(leg.symbol, OrderAction.SELL_TO_OPEN if leg.side is Side.SELL
                                 else OrderAction.BUY_TO_OPEN,
                                 leg.quantity // self.target_units * opens)
                        for leg in self.open)
        return closing + opening

    def quotes(self) -> list[LegQuote]:
        """The piece's legs from our side of its order, for the pricing-anomaly failsafe."""
        out = [LegQuote(1 if leg.ratio > 0 else -1, abs(leg.ratio), leg.bid, leg.ask,
                        leg.option_type, leg.strike, leg.expiry) for leg in self.close]
        out += [LegQuote(1 if leg.side is Side.SELL else -1, leg.quantity // self.target_units,
                         leg.bid, leg.ask, leg.option_type, leg.strike, leg.expiry)
                for leg in self.open]
        return out

    def prices(self, close_units: int = 1, open_units: int = 1
               ) -> tuple[Decimal, Decimal] | None:
        """Signed (mid, natural) per unit (credit +), or None while a closing leg is unquoted;
        with ``close_units`` / ``open_units`` the price of that many of each side together."""
        priced: list[PricedLeg] = []
        for leg in self.close:  # closing: the side that unwinds the held leg
            if leg.bid is None or leg.ask is None:
                return None
            priced.append(PricedLeg(Side.SELL if leg.ratio > 0 else Side.BUY,
                                    abs(leg.ratio) * close_units, leg.bid, leg.ask))
        for leg in self.open:
            priced.append(PricedLeg(leg.side, leg.quantity // self.target_units * open_units,
                                    leg.bid, leg.ask))
        return signed_mid(priced).quantize(CENT), signed_natural(priced).quantize(CENT)

    def order(self, units: int, open_units: int | None = None
              ) -> tuple[tuple[OrderLeg, ...], int, Decimal, Decimal] | None:
        """(legs, order units, mid, natural per order unit) of this piece closing ``units`` and
        opening ``open_units`` (default: as many); None while a closing leg is unquoted."""
        legs = self.order_legs(units, open_units)
        if open_units is None or open_units == units:
            prices = self.prices()
            if prices is None:
                return None
            return legs, *order_prices(legs, units, *prices)
        whole = self.prices(units, open_units)  # the whole order, per share
        if whole is None:
            return None
        return legs, *order_prices(legs, 1, *whole)


def _label(kinds: set[OptionType | None]) -> str:
    if kinds == {None}:
        return SHARES_LABEL
    if len(kinds) == 1:
        return f"{_TYPE_LABEL[next(iter(kinds))]} spread"  # type: ignore[index]
    return "roll"


def describe_legs(kinds: Sequence[OptionType]) -> str:
    """A piece's label from its legs' option types (for orders read back from the store)."""
    return _label(set(kinds))


def plan_roll(held: Sequence[MonitoredLeg], target: TradeProposal,
              max_legs: int = MAX_OPTION_LEGS) -> list[RollPiece]:
    """The orders still needed to turn ``held`` into ``target``'s legs, each of at most
    ``max_legs`` legs: one order when everything fits, else one per option type (a condor's put
    spread, then its call spread), and a side too big for one order closes, then opens.

    Empty when nothing is left to roll (every target leg held, nothing else held).
    """
    target_symbols = {leg.symbol for leg in target.legs}
    held_symbols = {leg.symbol for leg in held}
    closing = [leg for leg in held if leg.symbol not in target_symbols]
    opening = [leg for leg in target.legs if leg.symbol not in held_symbols]
    if not closing and not opening:
        return []
    units = max(1, target.quantity)
    if len(closing) + len(opening) <= max_legs:
        kinds = {leg.option_type for leg in closing} | {leg.option_type for leg in opening}
        return [RollPiece(_label(kinds), tuple(closing), tuple(opening), units)]
    pieces: list[RollPiece] = []
    for kind in (OptionType.PUT, OptionType.CALL):
        close = tuple(leg for leg in closing if leg.option_type is kind)
        open_ = tuple(leg for leg in opening if leg.option_type is kind)
        if not close and not open_:
            continue
        label = _label({kind})
        if len(close) + len(open_) <= max_legs:
            pieces.append(RollPiece(label, close, open_, units))
            continue
        if close:
            pieces.append(RollPiece(f"{label} close", close, (), units))
        if open_:
            pieces.append(RollPiece(f"{label} open", (), open_, units))
    shares = tuple(leg for leg in closing if leg.is_shares)
    if shares:  # the options first, so no short option is left without its shares
        pieces.append(RollPiece(f"{SHARES_LABEL} close", shares, (), units))
    return pieces


def close_pieces(held: Sequence[MonitoredLeg], max_legs: int = MAX_OPTION_LEGS
                 ) -> list[tuple[str, tuple[MonitoredLeg, ...]]]:
    """A close in legal orders: everything at once when it fits, else by option type (puts,
    then calls), a type with too many legs in chunks of ``max_legs``, and shares an assignment
    left last (the options first, so no short option is left without its shares)."""
    if len(held) <= max_legs:
        return [("close", tuple(held))]
    out = []
    for kind in (OptionType.PUT, OptionType.CALL, None):
        legs = [leg for leg in held if leg.option_type is kind]
        label = SHARES_LABEL if kind is None else f"{_TYPE_LABEL[kind]} legs"
        for i in range(0, len(legs), max_legs):
            out.append((label, tuple(legs[i:i + max_legs])))
    return out


def is_clean(held: Sequence[MonitoredLeg], target: TradeProposal) -> bool:
    """Whether each option type is wholly old or wholly target (no piece stopped half-filled):
    only then is it safe to carry on with the planned pieces."""
    target_symbols = {leg.symbol for leg in target.legs}
    for kind in (OptionType.PUT, OptionType.CALL):
        states = {leg.symbol in target_symbols for leg in held if leg.option_type is kind}
        if len(states) > 1:
            return False
    return True


def in_order_units(legs: tuple[OrderLeg, ...], units: int, mid: Decimal,
                   natural: Decimal) -> tuple[int, Decimal, Decimal]:
    """An order's quantity is the greatest common divisor of its legs' quantities (how the
    broker counts units and fills), with prices per that unit: a position whose legs are not
    one-to-one (two of one for each of another) closes as fewer, larger units."""
    g = 0
    for leg in legs:
        g = math.gcd(g, leg.quantity)
    if g <= 0 or g == units:
        return units, mid, natural
    scale = Decimal(units) / Decimal(g)
    return g, (mid * scale).quantize(CENT), (natural * scale).quantize(CENT)


def order_prices(legs: tuple[OrderLeg, ...], units: int, mid: Decimal,
                 natural: Decimal) -> tuple[int, Decimal, Decimal]:
    """The order's quantity and prices per its unit (see :func:`in_order_units`). Shares alone
    trade per share (multiplier 1), so their unit price is the per-contract figure times 100."""
    if any(is_option_symbol(leg.symbol) for leg in legs):
        return in_order_units(legs, units, mid, natural)
    shares = math.gcd(*(leg.quantity for leg in legs))
    scale = Decimal(units * OPTION_MULTIPLIER) / Decimal(shares)
    return shares, (mid * scale).quantize(CENT), (natural * scale).quantize(CENT)
