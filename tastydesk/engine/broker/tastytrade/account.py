"""The account as the adapter last saw it: orders, fills, positions, balance.

REST reads and account-streamer notifications both land here; each change is published once on
the bus (a late or duplicate notification changes nothing), and after a stream gap
:meth:`AccountBook.resync` brings everything back to the broker's REST state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from tastydesk.engine.broker.tastytrade import mapping
from tastydesk.engine.broker.tastytrade.errors import BrokerPayloadError, TastytradeAdapterError
from tastydesk.engine.broker.tastytrade.session import RestClient
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.account import AccountInfo, Balance, BrokerPosition
from tastydesk.engine.domain.events import (
    BalanceUpdated,
    FillReceived,
    OrderUpdated,
    PositionUpdated,
)
from tastydesk.engine.domain.ids import BrokerOrderId
from tastydesk.engine.domain.orders import OrderSnapshot

log = logging.getLogger(__name__)


class AccountBook:
    """Cached orders, positions and balance of the chosen account, kept in step with tastytrade."""

    def __init__(self, rest: RestClient, bus: EventBus, clock: Clock,
                 wanted_account: str | None) -> None:
        self._rest = rest
        self._bus = bus
        self._clock = clock
        self._wanted = wanted_account
        self._account: Any = None
        self._orders: dict[BrokerOrderId, OrderSnapshot] = {}
        self._fill_ids: set[str] = set()
        self._positions: dict[str, BrokerPosition] = {}
        self._balance: Balance | None = None
        self._position_listeners: list[Callable[[BrokerPosition], None]] = []
        self._cash_listeners: list[Callable[[Balance], None]] = []

    @property
    def account(self) -> Any:
        """The SDK ``Account`` in use (None before :meth:`choose`)."""
        return self._account

    @property
    def account_number(self) -> str | None:
        return self._account.account_number if self._account is not None else None

    def on_position_change(self, listener: Callable[[BrokerPosition], None]) -> None:
        """Call ``listener`` when the account stream reports a position's quantity changed
        (marks alone do not count)."""
        self._position_listeners.append(listener)

    def on_cash_change(self, listener: Callable[[Balance], None]) -> None:
        """Call ``listener`` when the account stream reports a new cash balance (trades,
        dividends, deposits move cash; marks do not)."""
        self._cash_listeners.append(listener)

    def cached_order(self, order_id: BrokerOrderId) -> OrderSnapshot | None:
        return self._orders.get(order_id)

    def held(self, symbol: str) -> BrokerPosition | None:
        return self._positions.get(symbol)

    # ------------------------------------------------------------------ reads
    async def choose(self) -> None:
        """Read the login's accounts and keep the wanted one (the first when none is named)."""
        from tastytrade import Account

        session = self._rest.session
        accounts = await self._rest.call("accounts", lambda: Account.get(session),
                                         idempotent=True)
        if not accounts:
            raise TastytradeAdapterError("this tastytrade login has no open accounts")
        if self._wanted is None:
            self._account = accounts[0]
            return
        for account in accounts:
            if account.account_number == self._wanted:
                self._account = account
                return
        raise TastytradeAdapterError(
            f"account_number: {self._wanted!r} is not an open account of this login")

    async def accounts(self) -> list[AccountInfo]:
        from tastytrade import Account

        session = self._rest.session
        raw = await self._rest.read("accounts", lambda: Account.get(session))
        return [mapping.account_info(a) for a in raw]

    async def balance(self) -> Balance:
        raw = await self._rest.read("balance",
                                    lambda: self._account.get_balances(self._rest.session))
        result = mapping.balance(raw)
        self.apply_balance(result, publish=True)
        return result

    async def positions(self) -> list[BrokerPosition]:
        raw = await self._rest.read("positions",
                                    lambda: self._account.get_positions(self._rest.session))
        return [mapping.position(p) for p in raw]

    async def live_orders(self) -> list[OrderSnapshot]:
        raw = await self._rest.read("live orders",
                                    lambda: self._account.get_live_orders(self._rest.session))
        return snapshots(raw)

    async def resync(self, *, publish: bool = True) -> None:
        """Bring cached orders, positions and balance up to the broker's REST state."""
        for snap in await self.live_orders():
            self.apply_order(snap, publish=publish)
        positions = await self.positions()
        present = {p.symbol for p in positions}
        for symbol, old in list(self._positions.items()):
            if symbol not in present:
                self.apply_position(
                    BrokerPosition(symbol=old.symbol, underlying=old.underlying, quantity=0,
                                   average_open_price=old.average_open_price, mark=old.mark,
                                   multiplier=old.multiplier, updated_at=self._clock.now()),
                    publish=publish)
        for pos in positions:
            self.apply_position(pos, publish=publish)
        raw = await self._rest.read("balance",
                                    lambda: self._account.get_balances(self._rest.session))
        self.apply_balance(mapping.balance(raw), publish=publish)

    # ------------------------------------------------------------------ state changes
    def apply_order(self, snap: OrderSnapshot, *, publish: bool) -> None:
        old = self._orders.get(snap.order_id)
        if old is not None:
            if old.status.is_terminal and not snap.status.is_terminal:
                return  # a late event from before the terminal state
            if snap.filled_quantity < old.filled_quantity:
                return
            if old.updated_at and snap.updated_at and snap.updated_at < old.updated_at:
                return
        self._orders[snap.order_id] = snap
        new_fills = [f for f in snap.fills if f.fill_id not in self._fill_ids]
        self._fill_ids.update(f.fill_id for f in new_fills)
        if not publish:
            return
        for fill in new_fills:
            self._bus.publish(FillReceived(fill))
        if old is None or (old.status, old.filled_quantity, old.price, old.reject_reason) != \
                (snap.status, snap.filled_quantity, snap.price, snap.reject_reason):
            self._bus.publish(OrderUpdated(snap))

    def apply_position(self, pos: BrokerPosition, *, publish: bool) -> None:
        old = self._positions.get(pos.symbol)
        if pos.quantity == 0:
            self._positions.pop(pos.symbol, None)
        else:
            self._positions[pos.symbol] = pos
        if publish and (old is None or (old.quantity, old.average_open_price, old.mark) !=
                        (pos.quantity, pos.average_open_price, pos.mark)):
            if old is None and pos.quantity == 0:
                return
            self._bus.publish(PositionUpdated(pos))

    def apply_balance(self, bal: Balance, *, publish: bool) -> None:
        old = self._balance
        self._balance = bal
        if publish and (old is None or (old.net_liquidating_value, old.cash, old.buying_power,
                                        old.maintenance_requirement) !=
                        (bal.net_liquidating_value, bal.cash, bal.buying_power,
                         bal.maintenance_requirement)):
            self._bus.publish(BalanceUpdated(bal))

    # ------------------------------------------------------------------ account-stream input
    def on_order_event(self, raw: Any) -> None:
        try:
            self.apply_order(mapping.order_snapshot(raw), publish=True)
        except BrokerPayloadError as exc:
            log.error("%s (skipped)", exc)

    def on_balance_event(self, raw: Any) -> None:
        try:
            bal = mapping.balance(raw)
        except BrokerPayloadError as exc:
            log.error("%s (skipped)", exc)
            return
        old = self._balance
        self.apply_balance(bal, publish=True)
        if old is not None and old.cash != bal.cash:
            for listener in self._cash_listeners:
                listener(bal)

    def on_position_event(self, raw: Any) -> None:
        try:
            pos = mapping.position(raw)
        except BrokerPayloadError as exc:
            log.error("%s (skipped)", exc)
            return
        old = self._positions.get(pos.symbol)
        self.apply_position(pos, publish=True)
        if (old.quantity if old is not None else 0) != pos.quantity:
            for listener in self._position_listeners:
                listener(pos)


def snapshots(raw: Iterable[Any]) -> list[OrderSnapshot]:
    """Every parsable order of an SDK list; a bad one is reported and skipped."""
    out = []
    for order in raw:
        try:
            out.append(mapping.order_snapshot(order))
        except BrokerPayloadError as exc:
            log.error("%s (skipped)", exc)
    return out
