"""The paper account: cash, fees, signed positions with their average prices, realised P&L,
marks and the margin requirement.

Positions are booked the way a broker books them: adding to a position averages its open price,
reducing it realises P&L against that average, and a position closed out disappears (only its
realised P&L lives on). Options (OCC symbol, multiplier 100) and shares (the ticker, multiplier
1, delivered by assignment or exercise or traded outright) are positions alike.

Marks are the market's mids (the spot for shares) at the last step, kept per market version
because a step asks for the same legs from balances, margin and positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tastydesk.engine.broker.paper.margin import (
    Holding,
    requirement,
    share_requirement,
    underlying_requirement,
)
from tastydesk.engine.broker.paper.market import PaperMarket
from tastydesk.engine.domain.account import Balance, BrokerPosition
from tastydesk.engine.domain.chain import parse_occ
from tastydesk.engine.domain.enums import OptionType
from tastydesk.engine.domain.money import CENT, ZERO

_PRICE_PLACES = Decimal("0.0001")


@dataclass(slots=True)
class PaperPosition:
    """One open line; ``quantity`` signed (short negative). Shares have no option fields."""

    symbol: str
    underlying: str
    option_type: OptionType | None
    strike: Decimal | None
    expiry: date | None
    quantity: int = 0
    average_open_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO

    @property
    def is_option(self) -> bool:
        return self.option_type is not None

    @property
    def multiplier(self) -> int:
        return 100 if self.option_type is not None else 1

    def state(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "underlying": self.underlying, "quantity": self.quantity,
                "average_open_price": str(self.average_open_price),
                "realized_pnl": str(self.realized_pnl)}

    @staticmethod
    def parse(body: dict[str, Any]) -> PaperPosition:
        position = PaperPosition.empty(body["symbol"], body["underlying"])
        position.quantity = int(body["quantity"])
        position.average_open_price = Decimal(body["average_open_price"])
        position.realized_pnl = Decimal(body["realized_pnl"])
        return position

    @staticmethod
    def empty(symbol: str, underlying: str) -> PaperPosition:
        """A flat position in an option (OCC symbol) or in shares (``symbol == underlying``)."""
        if symbol == underlying:
            return PaperPosition(symbol, underlying, None, None, None)
        _, expiry, option_type, strike = parse_occ(symbol)
        return PaperPosition(symbol, underlying, option_type, strike, expiry)


class PaperAccount:
    """Cash and positions of the paper account, valued against the paper market."""

    def __init__(self, market: PaperMarket, starting_cash: Decimal) -> None:
        self._market = market
        self.cash = starting_cash
        self.fees_paid = ZERO
        self.realized_closed = ZERO  # realised P&L of positions since closed out
        self._positions: dict[str, PaperPosition] = {}  # open positions only
        self._marks: dict[str, Decimal] = {}  # last known mark per open position
        self._mark_cache: dict[str, Decimal] = {}
        self._mark_version = -1
        self._requirement_cache: tuple[int, int, Decimal] | None = None
        # The marked option lines and each underlying's requirement, kept until the marks or
        # the positions change: an order's check changes one underlying's lines.
        self._lines_key: tuple[int, int] | None = None
        self._holdings: list[Holding] = []
        self._underlying_reqs: dict[str, Decimal] = {}
        self._rev = 0  # bumped whenever a position changes

    @property
    def revision(self) -> int:
        """Bumped whenever a position changes (tells a step whether it booked anything)."""
        return self._rev

    # -- positions -------------------------------------------------------------------------

    @property
    def has_positions(self) -> bool:
        return bool(self._positions)

    def positions(self) -> list[PaperPosition]:
        return list(self._positions.values())

    def position(self, symbol: str) -> PaperPosition | None:
        return self._positions.get(symbol)

    def held(self, symbol: str) -> int:
        """Signed quantity held in ``symbol`` (0 when none)."""
        p = self._positions.get(symbol)
        return 0 if p is None else p.quantity

    def apply(self, symbol: str, delta: int, price: Decimal) -> PaperPosition:
        """Book ``delta`` contracts (or shares, for a ticker) at ``price``: average in when
        adding, realise when reducing."""
        position = self._positions.get(symbol)
        if position is None:
            if self._market.is_underlying(symbol):
                underlying = symbol
            else:
                contract = self._market.contract(symbol)
                underlying = parse_occ(symbol)[0] if contract is None else contract.underlying
            position = PaperPosition.empty(symbol, underlying)
            self._positions[symbol] = position
        old = position.quantity
        new = old + delta
        if old == 0 or (old > 0) == (delta > 0):
            total = abs(old) * position.average_open_price + abs(delta) * price
            position.average_open_price = (total / abs(new)).quantize(_PRICE_PLACES)
        else:
            closed = min(abs(old), abs(delta))
            direction = 1 if old > 0 else -1
            position.realized_pnl += (
                (price - position.average_open_price) * position.multiplier * closed * direction
            )
            if new == 0:
                position.average_open_price = ZERO
            elif (new > 0) != (old > 0):
                position.average_open_price = price
        position.quantity = new
        self._rev += 1
        if new == 0:
            # Closed out: only its realised P&L lives on (keeps per-step scans and snapshots to
            # what is open).
            del self._positions[symbol]
            self.realized_closed += position.realized_pnl
            self._marks.pop(symbol, None)
        return position

    # -- valuation -------------------------------------------------------------------------

    def mark(self, symbol: str) -> Decimal:
        """Mid at the last step, else the last known mark, else the average open price."""
        version = self._market.version
        if version != self._mark_version:
            self._mark_cache.clear()
            self._mark_version = version
        mark = self._mark_cache.get(symbol)
        if mark is not None:
            return mark
        if self._market.is_underlying(symbol):
            mark = self._market.spot(symbol)
            self._mark_cache[symbol] = mark
            return mark
        mark = self._market.mid(symbol)
        held = self._positions.get(symbol)
        if mark is not None:
            if held is not None:
                self._marks[symbol] = mark
        elif symbol in self._marks:
            mark = self._marks[symbol]
        else:
            return ZERO if held is None else held.average_open_price
        self._mark_cache[symbol] = mark
        return mark

    def holdings(self) -> list[Holding]:
        """The option lines, marked (what the option margin rules measure)."""
        self._refresh_lines()
        return list(self._holdings)

    def _refresh_lines(self) -> None:
        key = (self._market.version, self._rev)
        if key == self._lines_key:
            return
        self._holdings = [
            Holding(p.symbol, p.underlying, p.option_type, p.strike, p.expiry, p.quantity,
                    self.mark(p.symbol))
            for p in self._positions.values()
            if p.option_type is not None and p.strike is not None and p.expiry is not None
        ]
        lines: dict[str, list[Holding]] = {}
        for h in self._holdings:
            if h.quantity:
                lines.setdefault(h.underlying, []).append(h)
        self._underlying_reqs = {u: underlying_requirement(group, self._market.spot(u))
                                 for u, group in lines.items()}
        self._lines_key = key

    def shares(self) -> dict[str, int]:
        """Share positions: ticker -> signed quantity."""
        return {p.symbol: p.quantity for p in self._positions.values() if not p.is_option}

    def requirement(self, holdings: list[Holding], shares: dict[str, int] | None = None,
                    changed: frozenset[str] | None = None) -> Decimal:
        """Requirement of these option lines plus these shares (the account's when None).

        ``changed``: the underlyings whose lines differ from the account's own; every other
        underlying's lines must be the account's (as :meth:`holdings` lists them), and their
        requirement is taken as measured for the account instead of measured again. The sum
        runs in the same order, so the result is the same to the last digit."""
        shares = self.shares() if shares is None else shares
        share_spots = {t: self._market.spot(t) for t, q in shares.items() if q}
        if changed is None:
            spots = {h.underlying: self._market.spot(h.underlying)
                     for h in holdings if h.quantity}
            spots.update(share_spots)
            return (requirement(holdings, spots)
                    + share_requirement(shares, spots)).quantize(CENT)
        self._refresh_lines()
        own = self._underlying_reqs
        lines: dict[str, list[Holding]] = {}
        for h in holdings:
            if h.quantity:
                group = lines.setdefault(h.underlying, [])
                if h.underlying in changed:
                    group.append(h)
        total = ZERO
        for underlying, group in lines.items():
            total += (underlying_requirement(group, self._market.spot(underlying))
                      if underlying in changed else own[underlying])
        return (total + share_requirement(shares, share_spots)).quantize(CENT)

    def positions_requirement(self) -> Decimal:
        """Requirement of the open positions; kept until the marks or the positions change."""
        version, rev = self._market.version, self._rev
        cached = self._requirement_cache
        if cached is not None and cached[0] == version and cached[1] == rev:
            return cached[2]
        req = self.requirement(self.holdings())
        self._requirement_cache = (version, rev, req)
        return req

    def position_value(self) -> Decimal:
        return sum(
            (self.mark(p.symbol) * p.multiplier * p.quantity for p in self._positions.values()),
            ZERO,
        )

    def balance(self, account_number: str, now: datetime) -> Balance:
        req = self.positions_requirement()
        nlv = self.cash + self.position_value()
        return Balance(account_number=account_number, net_liquidating_value=nlv,
                       cash=self.cash, buying_power=nlv - req, maintenance_requirement=req,
                       updated_at=now)

    def broker_position(self, p: PaperPosition, now: datetime) -> BrokerPosition:
        return BrokerPosition(
            symbol=p.symbol,
            underlying=p.underlying,
            quantity=p.quantity,
            average_open_price=p.average_open_price,
            mark=self.mark(p.symbol) if p.quantity else None,
            multiplier=p.multiplier,
            updated_at=now,
        )

    @property
    def realized_pnl(self) -> Decimal:
        """Realised P&L of closed quantity, before fees."""
        return self.realized_closed + sum(
            (p.realized_pnl for p in self._positions.values()), ZERO)

    def unrealized_pnl(self) -> Decimal:
        """Open positions marked at mid against their average open price."""
        total = ZERO
        for p in self._positions.values():
            if p.quantity != 0:
                total += ((self.mark(p.symbol) - p.average_open_price) * p.multiplier
                          * p.quantity)
        return total

    # -- durable state ---------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "cash": str(self.cash),
            "fees_paid": str(self.fees_paid),
            "realized_closed": str(self.realized_closed),
            "positions": [p.state() for p in self._positions.values()],
            "marks": {s: str(m) for s, m in self._marks.items() if s in self._positions},
        }

    def restore(self, cash: Decimal, fees_paid: Decimal, realized_closed: Decimal,
                positions: list[PaperPosition], marks: dict[str, Decimal]) -> None:
        self.cash = cash
        self.fees_paid = fees_paid
        self.realized_closed = realized_closed
        self._positions = {p.symbol: p for p in positions if p.quantity != 0}
        self._marks = {s: m for s, m in marks.items() if s in self._positions}
        self._rev += 1
        self._requirement_cache = None
        self._mark_cache.clear()
        self._mark_version = -1
