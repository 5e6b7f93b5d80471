"""What happens to the paper account without an order, by the OCC's rules.

At each session close (in time order, within one step too):

* **Early assignment**, deterministic per seed: a short call in the money whose extrinsic value
  (mid minus intrinsic, at the close) is below the dividend going ex the next trading day is
  assigned with probability :data:`EARLY_CALL_CHANCE`; a short put at least
  :data:`DEEP_PUT_ITM` in the money (as a share of the strike) with at most
  :data:`DEEP_PUT_EXTRINSIC` of extrinsic value and at most :data:`DEEP_PUT_DAYS` calendar days
  to expiry is assigned with probability :data:`EARLY_PUT_CHANCE` per close. The draw is a
  stable hash of the seed, the contract and the day, so a run replays exactly.
* **Expiration** of the day's series against the close (the settlement price): options less
  than $0.01 in the money expire worthless; the rest are exercised (long) or assigned (short)
  and physically settled, 100 shares per contract at the strike (cash moves by the strike
  value), except index options (:data:`INDEX_ROOTS`), which settle in cash at intrinsic value.
  Positions whose expiration passed while the broker was disconnected settle at the first step
  back.

At each session open: **dividends** on shares held on an ex-date (long shares receive, short
shares pay the amount per share).

Every change is a lifecycle transaction (:mod:`.lifecycle_log`: the option's removal, then the
share delivery at the strike; a dividend) plus ``PositionUpdated`` for each position touched.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from tastydesk.engine.broker.paper.account import PaperAccount, PaperPosition
from tastydesk.engine.broker.paper.lifecycle_log import LifecycleLog
from tastydesk.engine.broker.paper.market import PaperMarket
from tastydesk.engine.broker.paper.model import stable_unit
from tastydesk.engine.broker.paper.orders import ny_date
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.enums import OptionType
from tastydesk.engine.domain.events import PositionUpdated
from tastydesk.engine.domain.lifecycle import LifecycleKind
from tastydesk.engine.domain.money import CENT, ZERO

INDEX_ROOTS = frozenset({"SPX", "SPXW", "XSP", "NDX", "NDXP", "RUT", "VIX", "DJX"})
EARLY_CALL_CHANCE = 0.9
EARLY_PUT_CHANCE = 0.5
DEEP_PUT_ITM = Decimal("0.05")
DEEP_PUT_EXTRINSIC = Decimal("0.05")
DEEP_PUT_DAYS = 5
SHARES_PER_CONTRACT = 100


class Settlement:
    """Expirations, assignments, exercises and dividends of the account; see the module."""

    def __init__(self, market: PaperMarket, account: PaperAccount, log: LifecycleLog,
                 bus: EventBus, clock: Clock, seed: int) -> None:
        self._market = market
        self._account = account
        self._log = log
        self._bus = bus
        self._clock = clock
        self._seed = seed

    def advance(self, since: datetime, now: datetime, catch_up: bool = False) -> bool:
        """Book what the opens and closes in ``(since, now]`` bring; True when anything did.

        ``catch_up`` (the first step after connecting) and every close also settle positions
        whose expiration passed while nobody was stepping.
        """
        changed = False
        closed = False
        calendar = self._market.calendar
        day = ny_date(since)
        while day <= ny_date(now):
            bounds = calendar.session(day)
            if bounds is not None:
                opening, closing = bounds
                if since < opening <= now:
                    changed |= self._pay_dividends(day, now)
                if since < closing <= now:
                    closed = True
                    changed |= self._early_assignments(day, now)
                    changed |= self._expire(day, now)
            day += timedelta(days=1)
        if not (catch_up or closed):
            return changed
        # Expirations missed while the broker was disconnected (or nobody stepped).
        today = ny_date(now)
        closed_today = now >= calendar.session_close(today)
        stale = {p.expiry for p in self._account.positions()
                 if p.expiry is not None
                 and (p.expiry < today or (p.expiry == today and closed_today))}
        for expiry in sorted(stale):
            changed |= self._expire(expiry, now)
        return changed

    # -- expiration ------------------------------------------------------------------------

    def _expire(self, expiry: date, now: datetime) -> bool:
        changed = False
        for position in self._account.positions():
            if position.expiry != expiry or position.quantity == 0:
                continue
            settlement = self._market.settlement_price(position.underlying, expiry)
            intrinsic = _intrinsic(position, settlement)
            if intrinsic < CENT:
                self._remove(position, LifecycleKind.EXPIRED, ZERO, now,
                             "Removal of option due to expiration")
            elif position.underlying in INDEX_ROOTS:
                self._remove(position, LifecycleKind.CASH_SETTLED, intrinsic, now,
                             "Cash settlement of index option at expiration")
            else:
                self._deliver(position, now, early=False)
            changed = True
        return changed

    def _remove(self, position: PaperPosition, kind: LifecycleKind, price: Decimal,
                now: datetime, description: str, early: bool = False) -> None:
        """Take the option off the books at ``price`` (cash moves by its value)."""
        quantity = position.quantity
        value = price * position.multiplier * quantity
        self._account.apply(position.symbol, -quantity, price)
        self._account.cash += value
        self._log.record(kind, position.symbol, position.underlying, -quantity, price, value,
                         now, early=early, description=description)
        self._publish(position)

    def _deliver(self, position: PaperPosition, now: datetime, *, early: bool) -> None:
        """Exercise (long) or assignment (short): remove the option, deliver the shares."""
        assert position.strike is not None
        quantity = position.quantity
        call = position.option_type is OptionType.CALL
        shares = SHARES_PER_CONTRACT * quantity * (1 if call else -1)
        strike = position.strike
        long = quantity > 0
        kind = LifecycleKind.EXERCISED if long else LifecycleKind.ASSIGNED
        reason = "exercise" if long else "assignment"
        self._remove(position, kind, ZERO, now, f"Removal of option due to {reason}", early)
        ticker = position.underlying
        value = -strike * shares
        delivered = self._account.apply(ticker, shares, strike)
        self._account.cash += value
        side = "Buy" if shares > 0 else "Sell"
        self._log.record(LifecycleKind.SHARES_DELIVERED, ticker, ticker, shares, strike, value,
                         now, early=early,
                         description=f"{side} {abs(shares)} {ticker} at {strike} on {reason}")
        self._publish(delivered)

    # -- early assignment ------------------------------------------------------------------

    def _early_assignments(self, day: date, now: datetime) -> bool:
        changed = False
        next_day = day + timedelta(days=1)
        while not self._market.calendar.is_trading_day(next_day):
            next_day += timedelta(days=1)
        for position in self._account.positions():
            if (position.quantity >= 0 or position.expiry is None or position.expiry <= day
                    or position.underlying in INDEX_ROOTS):
                continue
            if self._assigned_early(position, day, next_day):
                self._deliver(position, now, early=True)
                changed = True
        return changed

    def _assigned_early(self, position: PaperPosition, day: date, next_day: date) -> bool:
        assert position.strike is not None and position.expiry is not None
        mid = self._market.mid(position.symbol)
        if mid is None:
            return False
        spot = self._market.settlement_price(position.underlying, day)
        intrinsic = _intrinsic(position, spot)
        if intrinsic < CENT:
            return False
        extrinsic = mid - intrinsic
        draw = stable_unit(f"{self._seed}:early:{position.symbol}:{day.isoformat()}")
        if position.option_type is OptionType.CALL:
            dividends = self._market.dividends
            if dividends.next_ex_date(position.underlying, next_day) != next_day:
                return False
            return (extrinsic < dividends.amount(position.underlying)
                    and draw < EARLY_CALL_CHANCE)
        return ((position.expiry - day).days <= DEEP_PUT_DAYS
                and intrinsic >= DEEP_PUT_ITM * position.strike
                and extrinsic <= DEEP_PUT_EXTRINSIC
                and draw < EARLY_PUT_CHANCE)

    # -- dividends -------------------------------------------------------------------------

    def _pay_dividends(self, day: date, now: datetime) -> bool:
        changed = False
        dividends = self._market.dividends
        for ticker, quantity in self._account.shares().items():
            if quantity == 0 or dividends.next_ex_date(ticker, day) != day:
                continue
            amount = dividends.amount(ticker)
            value = (amount * quantity).quantize(CENT)
            self._account.cash += value
            verb = "paid on" if quantity > 0 else "charged on short"
            self._log.record(LifecycleKind.DIVIDEND, ticker, ticker, 0, amount, value, now,
                             description=f"Dividend {amount} per share {verb} "
                                         f"{abs(quantity)} {ticker}")
            changed = True
        return changed

    def _publish(self, position: PaperPosition) -> None:
        self._bus.publish(PositionUpdated(self._account.broker_position(position,
                                                                        self._clock.now())))


def _intrinsic(position: PaperPosition, price: Decimal) -> Decimal:
    assert position.strike is not None
    if position.option_type is OptionType.CALL:
        return max(ZERO, price - position.strike)
    return max(ZERO, position.strike - price)
