"""The broker of an account opened read-only: no session, no quotes, no order.

When an account's state files are refused (damaged, missing, foreign or older partner), the
trader may still look at what the app database holds: positions, orders, journal, history.
That engine must not reach any broker: a tastytrade session could send, and the paper broker
would open (and write) the very ``paper.db`` that was refused. This port answers every query
with "nothing" and refuses every order command, so even a path that slipped past the facade's
read-only refusal could not send. See :func:`tastydesk.engine.bootstrap.open_read_only_engine`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from tastydesk.engine.domain.account import AccountInfo, Balance, BrokerPosition
from tastydesk.engine.domain.chain import OptionChain, UnderlyingInfo
from tastydesk.engine.domain.enums import CommandOutcome, Mode, StreamHealth
from tastydesk.engine.domain.ids import BrokerOrderId, ExternalOrderId
from tastydesk.engine.domain.orders import CommandResult, DryRunResult, OrderRequest, OrderSnapshot
from tastydesk.engine.ports import BrokerPort

ZERO = Decimal("0")


class ReadOnlyBroker(BrokerPort):
    """A broker port that holds nothing and sends nothing; ``reason`` says why."""

    def __init__(self, mode: Mode, reason: str) -> None:
        self.mode = mode
        self._reason = reason
        self.refused: list[str] = []  # every order command refused, for the record

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def accounts(self) -> list[AccountInfo]:
        return []

    async def balance(self) -> Balance:
        return Balance("", ZERO, ZERO, ZERO, updated_at=datetime.now(UTC))

    async def positions(self) -> list[BrokerPosition]:
        return []

    async def option_chain(self, symbol: str, min_dte: int = 0, max_dte: int = 400) -> OptionChain:
        """An empty chain: positions are shown without marks (no market data read-only)."""
        return OptionChain(UnderlyingInfo(symbol, ZERO), (), datetime.now(UTC))

    async def market_metrics(self, symbols: Iterable[str]) -> dict[str, UnderlyingInfo]:
        return {}

    async def subscribe(self, symbols: Iterable[str]) -> None:
        return None

    async def unsubscribe(self, symbols: Iterable[str]) -> None:
        return None

    def _refuse(self, what: str) -> CommandResult:
        self.refused.append(what)
        return CommandResult(CommandOutcome.REJECTED, None, f"read-only: {self._reason}")

    async def dry_run(self, order: OrderRequest) -> DryRunResult:
        self.refused.append(f"dry run {order.external_id}")
        return DryRunResult(ZERO, ZERO, errors=(f"read-only: {self._reason}",))

    async def place(self, order: OrderRequest) -> CommandResult:
        return self._refuse(f"place {order.external_id}")

    async def replace(self, order_id: BrokerOrderId, price: Decimal) -> CommandResult:
        return self._refuse(f"replace {order_id}")

    async def cancel(self, order_id: BrokerOrderId) -> CommandResult:
        return self._refuse(f"cancel {order_id}")

    async def get_order(self, order_id: BrokerOrderId) -> OrderSnapshot | None:
        return None

    async def find_order(self, external_id: ExternalOrderId) -> OrderSnapshot | None:
        return None

    async def live_orders(self) -> list[OrderSnapshot]:
        return []

    def health(self) -> dict[str, StreamHealth]:
        return {"market": StreamHealth.DISCONNECTED, "account": StreamHealth.DISCONNECTED}
