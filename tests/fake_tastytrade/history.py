"""The fake account's transaction history, in tastytrade's wire format.

Trades (one row per fill), option removals (``Receive Deliver`` with sub-type ``Expiration``,
``Assignment`` or ``Exercise``, value 0, "Removal of option due to …"), the stock delivered or
received at the strike (``Receive Deliver`` with the stock action) and dividends
(``Money Movement`` / ``Dividend``), as ``GET /accounts/{n}/transactions`` serves them.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tests.fake_tastytrade import payloads as p


class Ledger:
    """Transaction rows of one account, oldest first."""

    def __init__(self, account_number: str) -> None:
        self.account_number = account_number
        self.rows: list[dict[str, Any]] = []
        self._ids = itertools.count(50001)

    def add(self, *, kind: str, sub_type: str, description: str, at: datetime,
            value: Decimal, symbol: str | None = None, underlying: str | None = None,
            instrument_type: str | None = None, action: str | None = None,
            quantity: int | None = None, price: Decimal | None = None,
            order_id: int | None = None, fees: Decimal = Decimal("0")) -> dict[str, Any]:
        row: dict[str, Any] = {
            "id": next(self._ids), "account-number": self.account_number,
            "transaction-type": kind, "transaction-sub-type": sub_type,
            "description": description, "executed-at": p.iso(at),
            "transaction-date": at.date().isoformat(), "is-estimated-fee": False,
            **p.signed(value, "value"), **p.signed(value - fees, "net-value"),
            **p.signed(-fees, "commission"), **p.signed(Decimal("0"), "clearing-fees"),
            **p.signed(Decimal("0"), "regulatory-fees"),
        }
        optional = {"symbol": symbol, "underlying-symbol": underlying,
                    "instrument-type": instrument_type, "action": action,
                    "quantity": None if quantity is None else str(quantity),
                    "price": None if price is None else p.money(price), "order-id": order_id}
        row.update({k: v for k, v in optional.items() if v is not None})
        self.rows.append(row)
        return row

    def select(self, params: Any) -> list[dict[str, Any]]:
        """Rows matching the query parameters the SDK's ``get_history`` sends."""
        rows = list(self.rows)
        types = params.getlist("types[]") or ([params["type"]] if "type" in params else [])
        if types:
            rows = [r for r in rows if r["transaction-type"] in types]
        sub_types = params.getlist("sub-type[]")
        if sub_types:
            rows = [r for r in rows if r["transaction-sub-type"] in sub_types]
        if "start-date" in params:
            start = date.fromisoformat(params["start-date"][:10])
            rows = [r for r in rows if date.fromisoformat(r["transaction-date"]) >= start]
        if "end-date" in params:
            end = date.fromisoformat(params["end-date"][:10])
            rows = [r for r in rows if date.fromisoformat(r["transaction-date"]) <= end]
        if "symbol" in params:
            rows = [r for r in rows if r.get("symbol") == params["symbol"]]
        if "underlying-symbol" in params:
            rows = [r for r in rows if r.get("underlying-symbol") == params["underlying-symbol"]]
        rows.sort(key=lambda r: (r["executed-at"], r["id"]),
                  reverse=params.get("sort", "Desc") != "Asc")
        return rows
