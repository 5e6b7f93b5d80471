"""The paper account's requirement of a hypothetical portfolio, measured on the underlyings an
order changes (the others as measured for the account), matches measuring everything again."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tastydesk.engine.broker.paper.account import PaperAccount
from tastydesk.engine.broker.paper.margin import Holding, requirement, share_requirement
from tastydesk.engine.broker.paper.market import PaperMarket
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import NEW_YORK, MarketCalendar, SimClock
from tastydesk.engine.domain.money import CENT

MONDAY_10AM = datetime(2026, 1, 5, 10, 0, tzinfo=NEW_YORK).astimezone(UTC)


def _account(rng: random.Random) -> tuple[PaperAccount, PaperMarket, SimClock]:
    clock = SimClock(MONDAY_10AM)
    market = PaperMarket(EventBus(), clock, MarketCalendar([]), seed=7)
    account = PaperAccount(market, Decimal("1000000"))
    for symbol in market.symbols[:4]:
        for exp in market.chain(symbol, 7, 60).expirations[:2]:
            for strike in rng.sample(exp.strikes, 4):
                contract = strike.put if rng.random() < 0.5 else strike.call
                account.apply(contract.symbol, rng.choice((-2, -1, 1, 3)), Decimal("1.00"))
    account.apply(market.symbols[0], 100, market.spot(market.symbols[0]))  # shares too
    return account, market, clock


def _measured_again(account: PaperAccount, market: PaperMarket, lines: list[Holding],
                    shares: dict[str, int]) -> Decimal:
    spots = {h.underlying: market.spot(h.underlying) for h in lines if h.quantity}
    spots.update({t: market.spot(t) for t, q in shares.items() if q})
    return (requirement(lines, spots) + share_requirement(shares, spots)).quantize(CENT)


def _own_lines(account: PaperAccount) -> list[Holding]:
    """The account's option lines at today's marks, listed without the account's keeping."""
    return [Holding(p.symbol, p.underlying, p.option_type, p.strike, p.expiry, p.quantity,
                    account.mark(p.symbol))
            for p in account.positions() if p.option_type is not None
            and p.strike is not None and p.expiry is not None]


def test_requirement_of_an_orders_underlying_alone_matches_measuring_everything() -> None:
    rng = random.Random(11)
    account, market, clock = _account(rng)
    compared = 0
    for step in range(6):
        if step % 2:  # the marks move
            clock.advance(clock.now() + timedelta(minutes=7))
            market.step(clock.now())
        else:  # a position changes
            line = rng.choice(account.holdings())
            account.apply(line.symbol, -line.quantity if step == 4 else 1, Decimal("0.50"))
        own = _own_lines(account)
        assert account.holdings() == own  # kept lines follow the marks and the positions
        shares = account.shares()
        for _ in range(25):
            by_symbol = {h.symbol: h for h in own}
            touched = rng.choice(own)
            underlying = touched.underlying
            exp = rng.choice(market.chain(underlying, 7, 90).expirations)
            added = rng.choice(exp.strikes).put
            for symbol, quantity in ((touched.symbol, touched.quantity + rng.choice((-3, -1, 2))),
                                     (added.symbol, rng.choice((-1, 1)))):
                held = by_symbol.get(symbol)
                quantity += 0 if held is None or symbol == touched.symbol else held.quantity
                by_symbol[symbol] = Holding(symbol, underlying, added.option_type
                                            if symbol == added.symbol else touched.option_type,
                                            added.strike if symbol == added.symbol
                                            else touched.strike,
                                            exp.date if symbol == added.symbol
                                            else touched.expiry, quantity, Decimal("0.80"))
            lines = list(by_symbol.values())
            assert account.requirement(lines, shares, frozenset({underlying})) == \
                _measured_again(account, market, lines, shares)
            compared += 1
    assert compared == 150
