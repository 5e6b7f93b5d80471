"""Accounts, balances and broker positions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class AccountInfo:
    account_number: str
    nickname: str = ""
    margin: bool = True


@dataclass(frozen=True, slots=True)
class Balance:
    account_number: str
    net_liquidating_value: Decimal
    cash: Decimal
    buying_power: Decimal  # derivative buying power
    maintenance_requirement: Decimal = Decimal("0")
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    """One instrument at the broker. ``quantity`` is signed: short negative."""

    symbol: str
    underlying: str
    quantity: int
    average_open_price: Decimal  # per share, unsigned
    mark: Decimal | None = None
    multiplier: int = 100
    updated_at: datetime | None = None
