"""Order commands and lookups on tastytrade: dry run, place, replace, cancel, find.

Commands are never retried: an ambiguous outcome (timeout, 5xx, 429, garbage) comes back as
UNKNOWN and is resolved with :meth:`OrderDesk.find_order` by the order's external identifier.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from tastydesk.engine.broker.tastytrade import mapping
from tastydesk.engine.broker.tastytrade.account import AccountBook, snapshots
from tastydesk.engine.broker.tastytrade.errors import (
    BrokerPayloadError,
    BrokerUnavailable,
    Failure,
    FailureKind,
)
from tastydesk.engine.broker.tastytrade.session import CallFailed, RestClient
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.enums import CommandOutcome, OrderStatus
from tastydesk.engine.domain.ids import BrokerOrderId, ExternalOrderId
from tastydesk.engine.domain.orders import (
    CommandResult,
    DryRunResult,
    OrderRequest,
    OrderSnapshot,
)

log = logging.getLogger(__name__)


class OrderDesk:
    """Sends orders for the book's account and records what tastytrade answers."""

    def __init__(self, rest: RestClient, book: AccountBook, clock: Clock) -> None:
        self._rest = rest
        self._book = book
        self._clock = clock

    async def dry_run(self, order: OrderRequest) -> DryRunResult:
        sdk_order = mapping.request_order(order)
        account, session = self._book.account, self._rest.session
        try:
            response = await self._rest.call(
                "dry run", lambda: account.place_order(session, sdk_order, dry_run=True),
                idempotent=True)
        except CallFailed as exc:
            if exc.failure.kind is FailureKind.REJECTED:
                return DryRunResult(buying_power_effect=Decimal("0"), fees=Decimal("0"),
                                    errors=(exc.failure.reason,))
            raise BrokerUnavailable(f"dry run failed: {exc.failure.reason}") from None
        return mapping.dry_run_result(response)

    async def place(self, order: OrderRequest) -> CommandResult:
        sdk_order = mapping.request_order(order)
        account, session = self._book.account, self._rest.session
        try:
            response = await self._rest.call(
                "place", lambda: account.place_order(session, sdk_order, dry_run=False),
                idempotent=False)
            snapshot = mapping.order_snapshot(response.order)
        except CallFailed as exc:
            return _failed(exc.failure)
        except BrokerPayloadError as exc:
            return CommandResult(CommandOutcome.UNKNOWN, None, f"unparsable response: {exc}")
        self._book.apply_order(snapshot, publish=True)
        if snapshot.status is OrderStatus.REJECTED:
            return CommandResult(CommandOutcome.REJECTED, snapshot,
                                 snapshot.reject_reason or "rejected by tastytrade")
        return CommandResult(CommandOutcome.ACCEPTED, snapshot)

    async def replace(self, order_id: BrokerOrderId, price: Decimal) -> CommandResult:
        number = order_number(order_id)
        if price == 0:
            raise ValueError("price: must not be zero (credit positive, debit negative)")
        try:
            raw_current = await self._raw_order(order_id, number)
        except BrokerUnavailable as exc:
            return CommandResult(CommandOutcome.REJECTED, None, f"replace not sent: {exc}")
        if raw_current is None:
            return CommandResult(CommandOutcome.REJECTED, None, f"order {order_id} not found")
        current = mapping.order_snapshot(raw_current)
        if current.status.is_terminal:
            return CommandResult(CommandOutcome.REJECTED, current,
                                 f"order {order_id} is {current.status.value}")
        # The replacement keeps the order's time in force: a GTC order stays GTC.
        sdk_order = mapping.limit_order(current.legs, price, current.external_id,
                                        current.source or "tastydesk",
                                        mapping.time_in_force(raw_current))
        account, session = self._book.account, self._rest.session
        try:
            raw = await self._rest.call(
                "replace", lambda: account.replace_order(session, number, sdk_order),
                idempotent=False)
            snapshot = mapping.order_snapshot(raw)
        except CallFailed as exc:
            if exc.failure.kind is FailureKind.REJECTED:
                return CommandResult(CommandOutcome.REJECTED, current, exc.failure.reason)
            return _failed(exc.failure)
        except BrokerPayloadError as exc:
            return CommandResult(CommandOutcome.UNKNOWN, None, f"unparsable response: {exc}")
        self._book.apply_order(snapshot, publish=True)
        return CommandResult(CommandOutcome.ACCEPTED, snapshot)

    async def cancel(self, order_id: BrokerOrderId) -> CommandResult:
        number = order_number(order_id)
        account, session = self._book.account, self._rest.session
        try:
            await self._rest.call("cancel", lambda: account.delete_order(session, number),
                                  idempotent=False)
        except CallFailed as exc:
            if exc.failure.kind is not FailureKind.REJECTED:
                return _failed(exc.failure)
            current = await self._quiet_get(order_id)
            return CommandResult(CommandOutcome.REJECTED, current, exc.failure.reason)
        snapshot = await self._quiet_get(order_id)
        if snapshot is not None:
            self._book.apply_order(snapshot, publish=True)
        return CommandResult(CommandOutcome.ACCEPTED, snapshot)

    async def get_order(self, order_id: BrokerOrderId) -> OrderSnapshot | None:
        raw = await self._raw_order(order_id, order_number(order_id))
        return None if raw is None else mapping.order_snapshot(raw)

    async def _raw_order(self, order_id: BrokerOrderId, number: int) -> Any:
        account, session = self._book.account, self._rest.session
        try:
            return await self._rest.call("get order",
                                         lambda: account.get_order(session, number),
                                         idempotent=True)
        except CallFailed as exc:
            if exc.failure.kind is FailureKind.REJECTED:
                return None  # 404 record_not_found and other definitive "no such order"
            raise BrokerUnavailable(f"get order {order_id} failed: "
                                    f"{exc.failure.reason}") from None

    async def find_order(self, external_id: ExternalOrderId) -> OrderSnapshot | None:
        if not external_id:
            raise ValueError("external_id: must not be empty")
        matches = [o for o in await self._book.live_orders() if o.external_id == external_id]
        if not matches:
            today = self._clock.today()
            account, session = self._book.account, self._rest.session
            raw = await self._rest.read("order history", lambda: account.get_order_history(
                session, per_page=200, page_offset=None, start_date=today))
            matches = [o for o in snapshots(raw) if o.external_id == external_id]
        if not matches:
            return None
        return max(matches, key=lambda o: int(o.order_id) if o.order_id.isdigit() else 0)

    async def _quiet_get(self, order_id: BrokerOrderId) -> OrderSnapshot | None:
        try:
            return await self.get_order(order_id)
        except (BrokerUnavailable, BrokerPayloadError) as exc:
            log.warning("could not read order %s: %s", order_id, exc)
            return self._book.cached_order(order_id)


def order_number(order_id: BrokerOrderId) -> int:
    try:
        return int(str(order_id).strip())
    except ValueError:
        raise ValueError(f"order_id: tastytrade order ids are numeric, got {order_id!r}") from None


def _failed(failure: Failure) -> CommandResult:
    if failure.kind is FailureKind.REJECTED:
        return CommandResult(CommandOutcome.REJECTED, None, failure.reason)
    return CommandResult(CommandOutcome.UNKNOWN, None, failure.reason)
