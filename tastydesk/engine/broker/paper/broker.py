"""The paper broker: a :class:`BrokerPort` that trades against the in-process paper market.

A thin port over its parts: the account (:mod:`.account`: cash, positions, marks, margin), the
order book (:mod:`.orders`), pre-trade checks (:mod:`.checks`), matching and booking on every
market step (:mod:`.matching`, with the fill model of :mod:`.fills`), expiration, exercise,
assignment and dividends by the OCC's rules (:mod:`.settlement`, reported as lifecycle
transactions by :mod:`.lifecycle_log`) and the snapshot codec (:mod:`.broker_codec`).

Behaviour that mirrors tastytrade, because the engine relies on it:

* ``place`` never deduplicates: two orders with the same external id are two orders; the engine
  prevents duplicates and resolves ambiguous outcomes with :meth:`PaperBroker.find_order`.
* ``replace`` cancels the old order (status REPLACED, ``replacing_order_id`` set) and creates a new
  order id for the unfilled remainder; replacing a finished order is rejected and changes nothing.
* Working orders hold buying power: a new order must fit in what open positions and the unfilled
  part of working orders leave (the balance itself reports NLV - requirement of positions).
* Day orders still working at the session close (an early close included) expire; GTC orders
  keep working across sessions until filled or cancelled.
* With ``strict_rules`` (the default) orders are held to tastytrade's rules (:mod:`.checks`,
  :mod:`.rules`): four legs at most, prices on the instrument's tick, nothing while the
  underlying is halted (halted orders also do not trade). Without it the broker accepts what
  it accepted before those rules, for callers that do not round to ticks yet.
* Commission is charged per contract on opening legs only, capped at ten contracts' worth per leg
  and order; closing trades, share trades and expirations are free.
* Expirations, exercises, assignments and dividends are not fills: they arrive as lifecycle
  transactions (``LifecycleOccurred``, :meth:`PaperBroker.lifecycle_events`) with
  ``PositionUpdated`` and ``BalanceUpdated``. Delivered shares are positions (the ticker,
  multiplier 1), closed with a one-leg share order or as the Equity leg of an order with the
  remaining options (priced per 100 shares, see :mod:`.checks`).

Durability: with a :class:`~tastydesk.engine.broker.paper.state.PaperState` the account is saved
inside ``place``/``replace``/``cancel`` before they return and after every step that booked
fills, expirations or settlements, so an order the broker accepted survives a killed process;
construction restores the last saved account.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tastydesk.engine.broker.paper.account import PaperAccount
from tastydesk.engine.broker.paper.broker_codec import (
    STATE_FORMAT,
    order_state,
    parse_broker,
    rng_state,
)
from tastydesk.engine.broker.paper.checks import MARKET_CLOSED, OrderChecker, bad_quantities
from tastydesk.engine.broker.paper.lifecycle_log import LifecycleLog
from tastydesk.engine.broker.paper.market import PaperMarket
from tastydesk.engine.broker.paper.matching import Matcher
from tastydesk.engine.broker.paper.orders import OrderBook, PaperOrder, ny_date, units_of
from tastydesk.engine.broker.paper.rules import rules_for
from tastydesk.engine.broker.paper.settlement import Settlement
from tastydesk.engine.broker.paper.state import PaperState
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.account import AccountInfo, Balance, BrokerPosition
from tastydesk.engine.domain.chain import Expiration, OptionChain, UnderlyingInfo
from tastydesk.engine.domain.enums import CommandOutcome, Mode, OrderStatus, StreamHealth
from tastydesk.engine.domain.events import BalanceUpdated, ConnectionChanged, OrderUpdated
from tastydesk.engine.domain.ids import BrokerOrderId, ExternalOrderId
from tastydesk.engine.domain.instruments import TimeInForce, TradingRules
from tastydesk.engine.domain.lifecycle import LifecycleEvent
from tastydesk.engine.domain.money import ZERO
from tastydesk.engine.domain.orders import (
    CommandResult,
    DryRunResult,
    OrderRequest,
    OrderSnapshot,
)
from tastydesk.engine.ports import BrokerPort

__all__ = ["BALANCE_EVERY", "MARKET_CLOSED", "PaperBroker"]

BALANCE_EVERY = timedelta(minutes=15)  # balance stream cadence while nothing changes


class PaperBroker(BrokerPort):
    """In-process broker over :class:`PaperMarket`; deterministic for a seed and a step sequence."""

    mode = Mode.PAPER

    def __init__(
        self,
        market: PaperMarket,
        bus: EventBus,
        clock: Clock,
        *,
        seed: int = 1,
        starting_cash: Decimal = Decimal("100000"),
        account_number: str = "PAPER-1",
        fees_per_contract: Decimal = Decimal("1.00"),
        state: PaperState | None = None,
        strict_rules: bool = True,
    ) -> None:
        if starting_cash < 0:
            raise ValueError(f"starting_cash: must not be negative, got {starting_cash}")
        if fees_per_contract < 0:
            raise ValueError(f"fees_per_contract: must not be negative, got {fees_per_contract}")
        self._market = market
        self._bus = bus
        self._clock = clock
        self.account_number = account_number
        self._account = PaperAccount(market, starting_cash)
        self._book = OrderBook()
        self._encoded: dict[str, tuple[tuple[OrderStatus, datetime, int, int],
                                       dict[str, Any]]] = {}  # finished orders, encoded
        self._strict = strict_rules
        self._checker = OrderChecker(market, self._account, self._book, fees_per_contract,
                                     strict_rules)
        self._matcher = Matcher(market, self._account, self._book, bus, clock, seed,
                                fees_per_contract)
        self._lifecycle = LifecycleLog(bus)
        self._settlement = Settlement(market, self._account, self._lifecycle, bus, clock, seed)
        self._balance_sent_at: datetime | None = None
        self._state = state
        self._last_step: datetime = clock.now()
        saved = state.load_broker() if state is not None else None
        if saved is not None:
            self.restore(saved)
        self._health = {"market": StreamHealth.DISCONNECTED, "account": StreamHealth.DISCONNECTED}
        self._connected = False
        self._listening = False
        self._catch_up = True
        self._last_step = clock.now()

    # -- connection ------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._connected:
            return
        if not self._listening:
            self._market.add_step_listener(self._on_step)
            self._listening = True
        self._connected = True
        self._catch_up = True  # settle what expired while disconnected at the first step
        self._last_step = self._clock.now()
        self._set_health(StreamHealth.CONNECTED, "paper market")

    async def close(self) -> None:
        if not self._connected:
            return
        self._connected = False
        self._set_health(StreamHealth.DISCONNECTED, "closed")

    def health(self) -> dict[str, StreamHealth]:
        return dict(self._health)

    def _set_health(self, health: StreamHealth, detail: str) -> None:
        now = self._clock.now()
        for stream in self._health:
            self._health[stream] = health
            self._bus.publish(ConnectionChanged(stream, health, detail, now))

    # -- account ---------------------------------------------------------------------------

    async def accounts(self) -> list[AccountInfo]:
        return [AccountInfo(self.account_number, nickname="Paper", margin=True)]

    async def balance(self) -> Balance:
        return self.current_balance()

    async def positions(self) -> list[BrokerPosition]:
        now = self._clock.now()
        return [self._account.broker_position(p, now) for p in self._account.positions()
                if p.quantity != 0]

    def current_balance(self) -> Balance:
        """Balance marked at the current quotes (synchronous, for simulations and reports)."""
        return self._account.balance(self.account_number, self._clock.now())

    @property
    def realized_pnl(self) -> Decimal:
        """Realised P&L of closed quantity, before fees."""
        return self._account.realized_pnl

    @property
    def fees_paid(self) -> Decimal:
        return self._account.fees_paid

    def unrealized_pnl(self) -> Decimal:
        """Open positions marked at mid against their average open price."""
        return self._account.unrealized_pnl()

    # -- durable state ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The paper account as JSON-serialisable data: cash, fees, open positions, the orders
        still working plus today's orders (so :meth:`find_order` answers after a restart), the
        id counters and the fill model's random state."""
        return {
            "format": STATE_FORMAT,
            "account_number": self.account_number,
            **self._account.state(),
            "orders": self._order_states(),
            "next_order_id": self._book.next_order_id,
            "next_fill_id": self._book.next_fill_id,
            "rng": rng_state(self._matcher.rng.getstate()),
            "lifecycle": self._lifecycle.state(),
            "next_lifecycle_id": self._lifecycle.next_id,
            "last_step": self._last_step.isoformat(),
            "balance_sent_at": (None if self._balance_sent_at is None
                                else self._balance_sent_at.isoformat()),
        }

    def _order_states(self) -> list[dict[str, Any]]:
        """The kept orders encoded; a finished order's encoding is reused while it is kept (a
        busy day keeps hundreds, and every fill saves the account)."""
        encoded: dict[str, tuple[tuple[OrderStatus, datetime, int, int], dict[str, Any]]] = {}
        out = []
        for record in self._book.kept():
            version = (record.status, record.updated_at, record.filled_units, len(record.fills))
            cached = self._encoded.get(record.order_id)
            state = cached[1] if cached is not None and cached[0] == version else order_state(record)
            if record.status.is_terminal:
                encoded[record.order_id] = (version, state)
            out.append(state)
        self._encoded = encoded
        return out

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`snapshot` (replaces the whole account).

        Raises ValueError naming the field when the snapshot is malformed.
        """
        parsed = parse_broker(state)
        rng = random.Random()
        try:
            rng.setstate(parsed.rng_state)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"state.rng: not a random generator state ({exc})") from exc
        self._matcher.rng = rng
        self._account.restore(parsed.cash, parsed.fees_paid, parsed.realized_closed,
                              parsed.positions, parsed.marks)
        self._book.restore(parsed.orders, parsed.next_order_id, parsed.next_fill_id)
        self._lifecycle.restore(parsed.lifecycle, parsed.next_lifecycle_id)
        self._last_step = parsed.last_step
        self._balance_sent_at = parsed.balance_sent_at

    def save_state(self) -> None:
        """Write the account to the state file now (commands and fills save on their own)."""
        self._save()

    # -- market data -----------------------------------------------------------------------

    async def option_chain(self, symbol: str, min_dte: int = 0, max_dte: int = 400) -> OptionChain:
        return self._market.chain(symbol, min_dte, max_dte)

    async def expirations(self, symbol: str) -> list[Expiration]:
        return self._market.expirations(symbol)

    async def market_metrics(self, symbols: Iterable[str]) -> dict[str, UnderlyingInfo]:
        return {s: self._market.underlying(s) for s in symbols}

    async def subscribe(self, symbols: Iterable[str]) -> None:
        self._market.subscribe(list(symbols))

    async def unsubscribe(self, symbols: Iterable[str]) -> None:
        self._market.unsubscribe(list(symbols))

    # -- orders ----------------------------------------------------------------------------

    async def dry_run(self, order: OrderRequest) -> DryRunResult:
        checked = self._checker.check(order, self._clock.now())
        return DryRunResult(
            buying_power_effect=checked.buying_power_effect,
            fees=checked.fees,
            warnings=checked.warnings,
            errors=checked.errors,
        )

    async def place(self, order: OrderRequest) -> CommandResult:
        if not self._connected:
            return CommandResult(CommandOutcome.REJECTED, None, "broker not connected")
        now = self._clock.now()
        reasons = self._checker.check(order, now).reasons()
        units, ratios = units_of(order.legs) if not bad_quantities(order.legs) else (0, ())
        record = PaperOrder(
            order_id=self._book.new_order_id(), request=order, units=units, ratios=ratios,
            status=OrderStatus.REJECTED if reasons else OrderStatus.WORKING,
            placed_at=now, updated_at=now, last_evaluated=now,
            commission_by_leg=[ZERO] * len(order.legs),
            reject_reason="; ".join(reasons) if reasons else None,
        )
        self._book.add(record)
        self._save()
        self._publish_order(record)
        if reasons:
            return CommandResult(CommandOutcome.REJECTED, record.snapshot(), record.reject_reason)
        return CommandResult(CommandOutcome.ACCEPTED, record.snapshot())

    async def replace(self, order_id: BrokerOrderId, price: Decimal) -> CommandResult:
        if not self._connected:
            return CommandResult(CommandOutcome.REJECTED, None, "broker not connected")
        old = self._book.get(order_id)
        if old is None:
            return _unknown_order(order_id)
        if old.status.is_terminal:
            return CommandResult(
                CommandOutcome.REJECTED,
                old.snapshot(),
                f"order {order_id} is {old.status.value}; only working orders can be replaced",
            )
        now = self._clock.now()
        request = OrderRequest(
            underlying=old.request.underlying,
            legs=old.remaining_legs(),
            price=price,
            external_id=old.request.external_id,
            source=old.request.source,
            time_in_force=old.request.time_in_force,
        )
        reasons = self._checker.check(request, now, replacing=old.order_id).reasons()
        if reasons:
            return CommandResult(CommandOutcome.REJECTED, old.snapshot(), "; ".join(reasons))
        new = PaperOrder(
            order_id=self._book.new_order_id(), request=request, units=old.remaining,
            ratios=old.ratios, status=OrderStatus.WORKING, placed_at=now, updated_at=now,
            last_evaluated=now, commission_by_leg=[ZERO] * len(request.legs),
            replaces_order_id=old.order_id,
        )
        old.replacing_order_id = new.order_id
        self._book.finish(old, OrderStatus.REPLACED, now)
        self._book.add(new)
        self._save()
        self._publish_order(old)
        self._publish_order(new)
        return CommandResult(CommandOutcome.ACCEPTED, new.snapshot())

    async def cancel(self, order_id: BrokerOrderId) -> CommandResult:
        if not self._connected:
            return CommandResult(CommandOutcome.REJECTED, None, "broker not connected")
        record = self._book.get(order_id)
        if record is None:
            return _unknown_order(order_id)
        if record.status.is_terminal:
            return CommandResult(
                CommandOutcome.REJECTED,
                record.snapshot(),
                f"order {order_id} is {record.status.value}; only working orders can be cancelled",
            )
        self._book.finish(record, OrderStatus.CANCELLED, self._clock.now())
        self._save()
        self._publish_order(record)
        return CommandResult(CommandOutcome.ACCEPTED, record.snapshot())

    async def trading_rules(self, symbol: str) -> TradingRules:
        """The exchange tick convention for ``symbol``'s class (:mod:`.rules`)."""
        return rules_for(symbol)

    async def lifecycle_events(self, since: datetime | None) -> list[LifecycleEvent]:
        """Expirations, exercises, assignments, deliveries and dividends after ``since``."""
        return self._lifecycle.since(since)

    async def get_order(self, order_id: BrokerOrderId) -> OrderSnapshot | None:
        record = self._book.get(order_id)
        return None if record is None else record.snapshot()

    async def find_order(self, external_id: ExternalOrderId) -> OrderSnapshot | None:
        """The most recent of today's orders with this external id (a replacement carries it on)."""
        for record in reversed(self._book.live_view(self._clock.today())):
            if record.request.external_id == external_id:
                return record.snapshot()
        return None

    async def live_orders(self) -> list[OrderSnapshot]:
        return [r.snapshot() for r in self._book.live_view(self._clock.today())]

    # -- market steps ----------------------------------------------------------------------

    def _on_step(self, now: datetime) -> None:
        if not self._connected:
            return
        changed = False
        revision = self._account.revision
        try:
            # Opens and closes first: dividends before the day's trading, expirations and
            # assignments at the close.
            changed |= self._settlement.advance(self._last_step, now, catch_up=self._catch_up)
            self._catch_up = False
            if self._book.has_working and self._market.calendar.is_open(now):
                for record in self._book.working():
                    if not (self._strict and self._market.halts.is_halted(
                            record.request.underlying, now)):
                        changed |= self._matcher.match(record, now)
            if self._book.has_working:
                changed |= self._expire_day_orders(now)
            self._last_step = max(self._last_step, now)
        finally:
            # Whatever was booked is saved before anyone acts on the events, even when a later
            # part of the step failed.
            if changed or self._account.revision != revision:
                self._save()
        sent = self._balance_sent_at
        if changed or (self._account.has_positions
                       and (sent is None or now - sent >= BALANCE_EVERY)):
            self._balance_sent_at = now
            self._bus.publish(BalanceUpdated(self.current_balance()))

    def _expire_day_orders(self, now: datetime) -> bool:
        changed = False
        for record in self._book.working():
            if record.request.time_in_force is not TimeInForce.DAY:
                continue
            close = self._market.calendar.session_close(ny_date(record.placed_at))
            if now >= close:
                self._book.finish(record, OrderStatus.EXPIRED, now)
                self._publish_order(record)
                changed = True
        return changed

    def _save(self) -> None:
        if self._state is not None:
            self._state.save_broker(self.snapshot())

    def _publish_order(self, record: PaperOrder) -> None:
        self._bus.publish(OrderUpdated(record.snapshot()))


def _unknown_order(order_id: BrokerOrderId) -> CommandResult:
    return CommandResult(CommandOutcome.REJECTED, None, f"order_id: unknown order {order_id!r}")
