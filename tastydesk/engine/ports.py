"""The broker port: the one interface through which the engine reaches any broker.

Contract for implementations
----------------------------
* Every method is a coroutine that never blocks the event loop.
* Streams are delivered by publishing immutable events on the :class:`EventBus` given at
  construction, on the loop thread: ``QuoteReceived`` / ``GreeksReceived`` for subscribed symbols,
  ``OrderUpdated`` / ``FillReceived`` / ``PositionUpdated`` / ``BalanceUpdated`` from the account
  stream, ``ConnectionChanged`` on health changes and ``StreamGap`` after a reconnect (the engine
  then re-syncs over REST).
* Order commands return a classified :class:`CommandResult`: ``ACCEPTED`` with the broker's order,
  ``REJECTED`` only on definitive evidence (with the broker's reason), or ``UNKNOWN`` (timeout,
  disconnect, 5xx, rate limit). An UNKNOWN outcome must be resolved by :meth:`find_order`,
  never by sending the order again. Implementations never retry ``place`` themselves.
* ``replace`` follows tastytrade: the old order is cancelled and a new order id is returned; a
  rejected replace leaves the original working at its old price.
* Prices are Decimal and signed: credit positive, debit negative.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tastydesk.engine.domain.account import AccountInfo, Balance, BrokerPosition
from tastydesk.engine.domain.chain import Expiration, OptionChain, UnderlyingInfo
from tastydesk.engine.domain.enums import Mode, StreamHealth
from tastydesk.engine.domain.ids import BrokerOrderId, ExternalOrderId
from tastydesk.engine.domain.instruments import TradingRules
from tastydesk.engine.domain.lifecycle import LifecycleEvent
from tastydesk.engine.domain.orders import CommandResult, DryRunResult, OrderRequest, OrderSnapshot

if TYPE_CHECKING:
    from tastydesk.engine.tasks import TaskSupervisor


class BrokerPort(ABC):
    mode: Mode

    @abstractmethod
    async def connect(self) -> None:
        """Open sessions and streams; returns once the broker can take requests."""

    @abstractmethod
    async def close(self) -> None:
        """Stop streams and release connections."""

    @abstractmethod
    async def accounts(self) -> list[AccountInfo]: ...

    @abstractmethod
    async def balance(self) -> Balance: ...

    @abstractmethod
    async def positions(self) -> list[BrokerPosition]: ...

    @abstractmethod
    async def option_chain(self, symbol: str, min_dte: int = 0, max_dte: int = 400) -> OptionChain:
        """Chain with the latest known quotes and greeks for expirations in the DTE window."""

    async def expirations(self, symbol: str) -> list[Expiration]:
        """Listed expirations, ascending, without strikes or quotes.

        Far cheaper than :meth:`option_chain`: the engine picks a strategy's expirations from it
        and then asks for just that slice of the chain. This default reads the whole chain;
        brokers with a cheaper listing override it.
        """
        chain = await self.option_chain(symbol, 0, 2000)
        return [replace(e, strikes=()) for e in chain.expirations]

    @abstractmethod
    async def market_metrics(self, symbols: Iterable[str]) -> dict[str, UnderlyingInfo]:
        """Underlying price, IV rank, IV, beta, liquidity, earnings for each symbol."""

    @abstractmethod
    async def subscribe(self, symbols: Iterable[str]) -> None:
        """Stream quotes (and greeks, for option streamer symbols) for these symbols."""

    @abstractmethod
    async def unsubscribe(self, symbols: Iterable[str]) -> None: ...

    @abstractmethod
    async def dry_run(self, order: OrderRequest) -> DryRunResult: ...

    @abstractmethod
    async def place(self, order: OrderRequest) -> CommandResult: ...

    @abstractmethod
    async def replace(self, order_id: BrokerOrderId, price: Decimal) -> CommandResult: ...

    @abstractmethod
    async def cancel(self, order_id: BrokerOrderId) -> CommandResult: ...

    @abstractmethod
    async def get_order(self, order_id: BrokerOrderId) -> OrderSnapshot | None: ...

    @abstractmethod
    async def find_order(self, external_id: ExternalOrderId) -> OrderSnapshot | None:
        """Today's order carrying this external identifier, in any status, or None."""

    @abstractmethod
    async def live_orders(self) -> list[OrderSnapshot]:
        """Orders created or updated today, any status (tastytrade's live-orders semantics)."""

    async def trading_rules(self, symbol: str) -> TradingRules:
        """Tick tables, legs per order and multiplier for ``symbol``'s options, as the broker
        enforces them. The default is the exchange convention for penny-program names."""
        return TradingRules(symbol.upper())

    async def lifecycle_events(self, since: datetime | None) -> list[LifecycleEvent]:
        """Expirations, exercises, assignments, deliveries and dividends after ``since`` (all
        known ones when None), oldest first. Start-up reconciliation reads them to book what
        happened while the app was closed; live ones also arrive as ``LifecycleOccurred``."""
        return []

    @abstractmethod
    def health(self) -> dict[str, StreamHealth]:
        """Health per stream name ("market", "account")."""


@runtime_checkable
class TimeDriver(Protocol):
    """Moves simulated time forward (paper mode); the kernel starts and stops it with itself."""

    def start(self, tasks: TaskSupervisor) -> None:
        """Start advancing time in the background (real time x the clock's speed), as a
        service of ``tasks`` so its failure is reported like any other task's."""

    async def stop(self) -> None:
        """Stop advancing and keep the simulated world's latest state."""

    def advance(self, seconds: float) -> None:
        """Advance simulated time by ``seconds`` at once (headless runs and tests)."""
