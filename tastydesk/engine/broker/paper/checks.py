"""Pre-trade checks of the paper broker: what a dry run reports and what ``place`` rejects.

An order is checked against the market (known, quoted symbols of its underlying), the account
(closing no more than is held, buying power after what working orders hold) and its own shape
(positive quantities, a price that can be split across the legs). Errors name the field.

Shares trade alone (one leg whose symbol is the ticker, quantity in shares, price per share, no
commission: tastytrade charges none on stock) or as the Equity leg of an order with option legs
(a covered-stock order, as tastytrade takes it: closing delivered shares together with the
remaining options). Such a mixed order is priced like an option spread, per unit of 100 shares:
its price times 100 times its units is the cash it moves.

With ``strict_rules`` the checker also enforces what tastytrade enforces (:mod:`.rules`): at most
four legs, a price on the instrument's tick (single-leg table, or the spread table for
multi-leg orders) and no order while the underlying is halted. A Day order outside the regular
session is refused by ``place`` either way (a dry run warns); a GTC order is accepted then and
works from the next open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tastydesk.engine.broker.paper.account import PaperAccount
from tastydesk.engine.broker.paper.margin import Holding, opening_commission
from tastydesk.engine.broker.paper.market import PaperMarket
from tastydesk.engine.broker.paper.orders import OrderBook, units_of
from tastydesk.engine.broker.paper.rules import SHARE_TICKS, rules_for
from tastydesk.engine.domain.chain import OptionContract
from tastydesk.engine.domain.enums import OrderAction
from tastydesk.engine.domain.instruments import TimeInForce
from tastydesk.engine.domain.money import CENT, MULTIPLIER, ZERO
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest

OPENING = frozenset({OrderAction.BUY_TO_OPEN, OrderAction.SELL_TO_OPEN})
SELLING = frozenset({OrderAction.SELL_TO_OPEN, OrderAction.SELL_TO_CLOSE})
MARKET_CLOSED = "market closed"


@dataclass(frozen=True, slots=True)
class Checked:
    """Outcome of validating an order against the market and the account."""

    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    buying_power_effect: Decimal
    fees: Decimal
    day_order_when_closed: bool = False

    def reasons(self) -> list[str]:
        """Why ``place`` refuses it: the errors, and a Day order outside the session."""
        reasons = list(self.errors)
        if self.day_order_when_closed:
            reasons.append(MARKET_CLOSED)
        return reasons


class OrderChecker:
    """Checks orders for the paper broker; queries only, nothing changes."""

    def __init__(self, market: PaperMarket, account: PaperAccount, book: OrderBook,
                 fees_per_contract: Decimal, strict_rules: bool) -> None:
        self._market = market
        self._account = account
        self._book = book
        self._fees_per_contract = fees_per_contract
        self._strict = strict_rules

    def check(self, order: OrderRequest, now: datetime, replacing: str | None = None) -> Checked:
        errors: list[str] = []
        warnings: list[str] = []
        closed = not self._market.calendar.is_open(now)
        if closed:
            warnings.append(MARKET_CLOSED)
        day_closed = closed and order.time_in_force is TimeInForce.DAY
        if not order.legs:
            errors.append("legs: an order needs at least one leg")
        errors.extend(bad_quantities(order.legs))
        if self._strict:
            errors.extend(self._rule_errors(order, now))
        contracts = self._leg_errors(order, errors)
        errors.extend(price_errors(order))
        if errors:
            return Checked(tuple(errors), tuple(warnings), ZERO, ZERO, day_closed)
        fees = sum(
            (opening_commission(leg.quantity, self._fees_per_contract, ZERO)
             for leg, contract in zip(order.legs, contracts, strict=True)
             if leg.action in OPENING and contract is not None),
            ZERO,
        )
        effect = self.buying_power_effect(order)
        if effect is None:
            return Checked(("legs: no quote for every leg",), tuple(warnings), ZERO, ZERO,
                           day_closed)
        available = (self._account.balance("", now).buying_power
                     - self._reserved(exclude=replacing))
        if effect < 0 and available + effect - fees < 0:
            errors.append(
                f"buying power: order needs ${-effect + fees:,.2f}, "
                f"only ${max(available, ZERO):,.2f} available after working orders"
            )
        return Checked(tuple(errors), tuple(warnings), effect, fees, day_closed)

    def _rule_errors(self, order: OrderRequest, now: datetime) -> list[str]:
        """What tastytrade refuses whatever the account: legs, ticks, halts."""
        errors = []
        rules = rules_for(order.underlying)
        count = len(order.legs)
        if count > rules.max_legs:
            errors.append(f"legs: Orders may have at most {rules.max_legs} legs (got {count})")
        stock = self.is_stock_order(order)
        table = SHARE_TICKS if stock else rules.ticks_for(count)
        if count and not table.is_on_tick(order.price):
            kind = "shares" if stock else ("spreads" if count > 1 else "options")
            errors.append(f"price: {order.price} is not a multiple of the tick size "
                          f"{table.tick_for(order.price)} for {order.underlying} {kind}")
        if self._market.halts.is_halted(order.underlying, now):
            errors.append(f"underlying: trading in {order.underlying} is halted")
        return errors

    def is_stock_order(self, order: OrderRequest) -> bool:
        """An order for shares: its legs name tickers (one leg, when valid)."""
        return bool(order.legs) and all(self._market.is_underlying(leg.symbol) for leg in order.legs)

    def _leg_errors(self, order: OrderRequest, errors: list[str]
                    ) -> list[OptionContract | None]:
        """Per leg, its option contract (None for shares and unknown symbols)."""
        seen: set[str] = set()
        contracts: list[OptionContract | None] = []
        for i, leg in enumerate(order.legs):
            if leg.symbol in seen:
                errors.append(f"legs[{i}].symbol: {leg.symbol!r} appears in more than one leg")
            seen.add(leg.symbol)
            contract = None
            if self._market.is_underlying(leg.symbol):
                if leg.symbol != order.underlying:
                    errors.append(f"legs[{i}].symbol: {leg.symbol!r} is not {order.underlying}")
            else:
                contract = self._market.contract(leg.symbol)
                if contract is None:
                    errors.append(f"legs[{i}].symbol: unknown option symbol {leg.symbol!r}")
                elif contract.underlying != order.underlying:
                    errors.append(
                        f"legs[{i}].symbol: {leg.symbol!r} is an option on "
                        f"{contract.underlying}, not {order.underlying}"
                    )
                elif contract.quote is None:
                    errors.append(f"legs[{i}].symbol: no quote for {leg.symbol!r}")
            contracts.append(contract)
            if leg.action not in OPENING and leg.quantity > 0:
                held_qty = self._account.held(leg.symbol)
                closable = -held_qty if leg.action is OrderAction.BUY_TO_CLOSE else held_qty
                if leg.quantity > max(closable, 0):
                    side = "short" if leg.action is OrderAction.BUY_TO_CLOSE else "long"
                    errors.append(
                        f"legs[{i}].action: {leg.action.value} {leg.quantity} exceeds the "
                        f"{side} position of {max(closable, 0)} in {leg.symbol!r}"
                    )
        return contracts

    def _reserved(self, exclude: str | None) -> Decimal:
        """Buying power held by working orders (their unfilled part), as tastytrade holds it."""
        total = ZERO
        for record in self._book.working():
            if record.order_id == exclude:
                continue
            remaining = OrderRequest(record.request.underlying, record.remaining_legs(),
                                     record.request.price, record.request.external_id)
            effect = self.buying_power_effect(remaining)
            if effect is not None:
                total += max(ZERO, -effect)
        return total

    def buying_power_effect(self, order: OrderRequest) -> Decimal | None:
        """Change of NLV - requirement if the order filled now at its limit (fees excluded);
        None when a leg has no quote."""
        account = self._account
        market = self._market
        by_symbol = {h.symbol: h for h in account.holdings()}
        shares = account.shares()
        value_change = ZERO
        stock = self.is_stock_order(order)
        changed: set[str] = set()  # underlyings whose option lines the order changes
        for leg in order.legs:
            delta = -leg.quantity if leg.action in SELLING else leg.quantity
            if self._market.is_underlying(leg.symbol):
                value_change += market.spot(leg.symbol) * delta
                shares[leg.symbol] = shares.get(leg.symbol, 0) + delta
                continue
            contract = market.contract(leg.symbol)
            if contract is None or contract.quote is None:
                return None
            mark = contract.quote.mid
            value_change += mark * MULTIPLIER * delta
            held = by_symbol.get(leg.symbol)
            changed.add(contract.underlying)
            if held is not None:
                changed.add(held.underlying)
            quantity = delta + (0 if held is None else held.quantity)
            by_symbol[leg.symbol] = Holding(
                contract.symbol, contract.underlying, contract.option_type, contract.strike,
                contract.expiry, quantity, mark,
            )
        units, _ = units_of(order.legs)
        cash_change = order.price * units * (1 if stock else MULTIPLIER)
        nlv_change = cash_change + value_change
        req_change = (account.requirement(list(by_symbol.values()), shares, frozenset(changed))
                      - account.positions_requirement())
        return (nlv_change - req_change).quantize(CENT)


def bad_quantities(legs: tuple[OrderLeg, ...]) -> list[str]:
    return [
        f"legs[{i}].quantity: must be a positive number of contracts, got {leg.quantity}"
        for i, leg in enumerate(legs)
        if leg.quantity <= 0
    ]


def price_errors(order: OrderRequest) -> list[str]:
    errors: list[str] = []
    price = order.price
    if price != price.quantize(CENT):
        errors.append(f"price: {price} is not a whole number of cents")
    if not order.legs or bad_quantities(order.legs):
        return errors
    sides = {leg.action in SELLING for leg in order.legs}
    if sides == {True} and price <= 0:
        errors.append(f"price: an order that only sells must be a credit (> 0), got {price}")
    if sides == {False} and price >= 0:
        errors.append(f"price: an order that only buys must be a debit (< 0), got {price}")
    _, ratios = units_of(order.legs)
    if 1 not in ratios:
        errors.append(
            "legs: ratios " + ":".join(map(str, ratios)) + " have no single-contract leg; "
            "the paper broker needs one to split the price across legs"
        )
    return errors
