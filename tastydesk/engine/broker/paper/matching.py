"""Order matching and booking of the paper broker, on every market step.

Option orders trade against the options' quotes, share orders against the underlying's.
A marketable order trades at once, up to what the touch displays; a resting one trades
passively with the probability of :mod:`.fills` (never more than half its units at a time).
A trade is booked leg by leg: per-leg prices that sum to the order's limit, commission on
opening legs, the position change, cash; then ``FillReceived`` per leg, ``PositionUpdated`` per
touched position and ``OrderUpdated`` are published.
"""

from __future__ import annotations

import math
import random
from datetime import datetime
from decimal import Decimal

from tastydesk.engine.broker.paper.account import PaperAccount, PaperPosition
from tastydesk.engine.broker.paper.checks import OPENING, SELLING
from tastydesk.engine.broker.paper.fills import (
    LegMarket,
    aggressiveness,
    displayed_units,
    fill_probability,
    is_marketable,
    split_price,
)
from tastydesk.engine.broker.paper.margin import opening_commission
from tastydesk.engine.broker.paper.market import PaperMarket
from tastydesk.engine.broker.paper.orders import OrderBook, PaperOrder, ny_date
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.enums import OrderStatus
from tastydesk.engine.domain.events import FillReceived, OrderUpdated, PositionUpdated
from tastydesk.engine.domain.money import MULTIPLIER, ZERO
from tastydesk.engine.domain.orders import Fill


class Matcher:
    """Trades working orders against the paper market's quotes; owns the fill model's random
    stream (part of the broker's snapshot, so fills continue identically after a restart)."""

    def __init__(self, market: PaperMarket, account: PaperAccount, book: OrderBook,
                 bus: EventBus, clock: Clock, seed: int, fees_per_contract: Decimal) -> None:
        self._market = market
        self._account = account
        self._book = book
        self._bus = bus
        self._clock = clock
        self._fees_per_contract = fees_per_contract
        self.rng = random.Random(seed)

    def match(self, record: PaperOrder, now: datetime) -> bool:
        """Trade what ``record`` trades in the step ending ``now``; True when it traded."""
        legs = self._leg_markets(record)
        # Only open-market time counts: a GTC order resting overnight has not been working
        # through the night.
        since = max(record.last_evaluated, self._market.calendar.session_open(ny_date(now)))
        elapsed = (now - since).total_seconds()
        record.last_evaluated = now
        if legs is None:
            return False
        price = record.request.price * self._price_scale(record)
        if is_marketable(price, legs):
            units = record.remaining
            shown = displayed_units(legs)
            if shown is not None:
                units = min(units, max(1, shown))
        else:
            age = (now - record.placed_at).total_seconds()
            probability = fill_probability(aggressiveness(price, legs), age, elapsed)
            if probability <= 0 or self.rng.random() >= probability:
                return False
            most = max(1, math.ceil(record.units / 2))
            units = self.rng.randint(1, min(record.remaining, most))
        self._fill(record, units, legs, now)
        return True

    def _price_scale(self, record: PaperOrder) -> int:
        """100 for an order mixing shares and options (priced per 100 shares, so per share its
        price is a hundred times larger), else 1."""
        stock = [self._market.is_underlying(leg.symbol) for leg in record.request.legs]
        return MULTIPLIER if any(stock) and not all(stock) else 1

    def _leg_markets(self, record: PaperOrder) -> list[LegMarket] | None:
        """The order's legs per unit, in shares when it mixes shares and options (an option's
        ratio and sizes count its 100 shares), so one split prices both per share."""
        scale = self._price_scale(record)
        legs = []
        for leg, ratio in zip(record.request.legs, record.ratios, strict=True):
            per = 1
            if self._market.is_underlying(leg.symbol):
                q = self._market.quote(leg.symbol)  # shares trade against the ticker's quote
            else:
                contract = self._market.contract(leg.symbol)
                q = None if contract is None else contract.quote
                per = scale
            if q is None:
                return None
            sign = 1 if leg.action in SELLING else -1
            legs.append(LegMarket(sign, ratio * per, q.bid, q.ask, q.bid_size * per,
                                  q.ask_size * per))
        return legs

    def _fill(self, record: PaperOrder, units: int, legs: list[LegMarket], now: datetime
              ) -> None:
        prices = split_price(record.request.price * self._price_scale(record), legs)
        fees = ZERO
        touched: list[PaperPosition] = []
        account = self._account
        shares = all(self._market.is_underlying(leg.symbol) for leg in record.request.legs)
        for i, (leg, ratio, price) in enumerate(
            zip(record.request.legs, record.ratios, prices, strict=True)
        ):
            contracts = units * ratio
            # stock trades (and the Equity leg of a mixed order) carry no commission
            if leg.action in OPENING and not self._market.is_underlying(leg.symbol):
                fee = opening_commission(contracts, self._fees_per_contract,
                                         record.commission_by_leg[i])
                record.commission_by_leg[i] += fee
                fees += fee
            fill = Fill(self._book.new_fill_id("F"), record.order_id, leg.symbol, leg.action,
                        contracts, price, now)
            record.fills.append(fill)
            delta = -contracts if leg.action in SELLING else contracts
            touched.append(account.apply(leg.symbol, delta, price))
            self._bus.publish(FillReceived(fill))
        account.cash += record.request.price * units * (1 if shares else MULTIPLIER) - fees
        account.fees_paid += fees
        record.filled_units += units
        if record.remaining == 0:
            self._book.finish(record, OrderStatus.FILLED, now)
        else:
            record.status = OrderStatus.PARTIALLY_FILLED
            record.updated_at = now
            self._book.touch(record)
        at = self._clock.now()
        for position in touched:
            self._bus.publish(PositionUpdated(account.broker_position(position, at)))
        self._bus.publish(OrderUpdated(record.snapshot()))
