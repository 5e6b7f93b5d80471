"""Expiration settlement of the paper account.

Out-of-the-money options expire worthless; in-the-money options are cash-settled at intrinsic
value against the market's settlement price (the close on the expiration day). Positions whose
expiration passed while the broker was disconnected settle at the first step back.
"""

from __future__ import annotations

from datetime import date, datetime

from tastydesk.engine.broker.paper.account import PaperAccount
from tastydesk.engine.broker.paper.market import PaperMarket
from tastydesk.engine.broker.paper.orders import OrderBook, ny_date
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.enums import OptionType, OrderAction
from tastydesk.engine.domain.events import FillReceived, PositionUpdated
from tastydesk.engine.domain.money import MULTIPLIER, ZERO
from tastydesk.engine.domain.orders import Fill


class Settlement:
    """Settles expired positions of the account; see the module docstring."""

    def __init__(self, market: PaperMarket, account: PaperAccount, book: OrderBook,
                 bus: EventBus, clock: Clock) -> None:
        self._market = market
        self._account = account
        self._book = book
        self._bus = bus
        self._clock = clock

    def settle_due(self, since: datetime, now: datetime) -> bool:
        """Settle every expiration whose close lies in ``(since, now]`` or passed unsettled."""
        due = set(self._market.expired(since, now))
        positions = self._account.positions()
        if positions:
            today = ny_date(now)
            closed_today = now >= self._market.calendar.session_close(today)
            due.update(p.expiry for p in positions
                       if p.expiry < today or (p.expiry == today and closed_today))
        changed = False
        for expiry in sorted(due):
            changed |= self._settle(expiry, now)
        return changed

    def _settle(self, expiry: date, now: datetime) -> bool:
        changed = False
        account = self._account
        for position in account.positions():
            if position.expiry != expiry or position.quantity == 0:
                continue
            settlement = self._market.settlement_price(position.underlying, expiry)
            if position.option_type is OptionType.CALL:
                intrinsic = max(ZERO, settlement - position.strike)
            else:
                intrinsic = max(ZERO, position.strike - settlement)
            quantity = position.quantity
            action = OrderAction.SELL_TO_CLOSE if quantity > 0 else OrderAction.BUY_TO_CLOSE
            fill = Fill(
                self._book.new_fill_id("X"),
                f"EXPIRATION-{position.underlying}-{expiry:%Y%m%d}",
                position.symbol,
                action,
                abs(quantity),
                intrinsic,
                now,
            )
            account.apply(position.symbol, -quantity, intrinsic)
            account.cash += intrinsic * MULTIPLIER * quantity
            self._bus.publish(FillReceived(fill))
            self._bus.publish(PositionUpdated(account.broker_position(position,
                                                                      self._clock.now())))
            changed = True
        return changed
