"""JSON bodies in tastytrade's wire format (kebab-case, string money, separate ``*-effect``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

BALANCE_FIELDS = (
    "cash-balance", "long-equity-value", "short-equity-value", "long-derivative-value",
    "short-derivative-value", "long-futures-value", "short-futures-value",
    "long-futures-derivative-value", "short-futures-derivative-value",
    "long-margineable-value", "short-margineable-value", "margin-equity",
    "equity-buying-power", "derivative-buying-power", "day-trading-buying-power",
    "futures-margin-requirement", "available-trading-funds", "maintenance-requirement",
    "maintenance-call-value", "reg-t-call-value", "day-trading-call-value",
    "day-equity-call-value", "net-liquidating-value", "cash-available-to-withdraw",
    "day-trade-excess", "pending-cash", "long-cryptocurrency-value",
    "short-cryptocurrency-value", "cryptocurrency-margin-requirement",
    "unsettled-cryptocurrency-fiat-amount", "closed-loop-available-balance",
    "equity-offering-margin-requirement", "long-bond-value", "bond-margin-requirement",
    "used-derivative-buying-power", "reg-t-margin-requirement",
    "futures-overnight-margin-requirement", "futures-intraday-margin-requirement",
    "maintenance-excess", "pending-margin-interest", "effective-cryptocurrency-buying-power",
)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.001")), "f")


def signed(value: Decimal, key: str) -> dict[str, str]:
    """``{key: abs, key-effect: Credit|Debit|None}`` for a signed amount."""
    effect = "None" if value == 0 else ("Debit" if value < 0 else "Credit")
    return {key: money(abs(value)), f"{key}-effect": effect}


def account(number: str, now: datetime) -> dict[str, Any]:
    return {
        "account-number": number, "opened-at": iso(now), "nickname": "Individual",
        "account-type-name": "Individual", "is-closed": False, "day-trader-status": False,
        "is-firm-error": False, "is-firm-proprietary": False, "is-futures-approved": False,
        "margin-or-cash": "Margin", "is-foreign": False, "created-at": iso(now),
        "suitable-options-level": "No Restrictions",
    }


def customer() -> dict[str, Any]:
    return {"id": "me", "first-name": "Test", "last-name": "Trader", "email": "t@example.com"}


def balance(number: str, cash: Decimal, nlv: Decimal, bp: Decimal, maint: Decimal,
            now: datetime) -> dict[str, Any]:
    body: dict[str, Any] = dict.fromkeys(BALANCE_FIELDS, "0.0")
    body.update({
        "account-number": number, "cash-balance": money(cash),
        "net-liquidating-value": money(nlv), "derivative-buying-power": money(bp),
        "equity-buying-power": money(bp), "maintenance-requirement": money(maint),
        "snapshot-date": now.date().isoformat(), "updated-at": iso(now),
        "pending-cash-effect": "None",
    })
    return body


def position(number: str, symbol: str, underlying: str, quantity: int, avg: Decimal,
             mark: Decimal, now: datetime, multiplier: int = 100) -> dict[str, Any]:
    """A position row; ``multiplier`` 1 makes it a stock position."""
    return {
        "account-number": number, "symbol": symbol,
        "instrument-type": "Equity Option" if multiplier != 1 else "Equity",
        "underlying-symbol": underlying, "quantity": str(abs(quantity)),
        "quantity-direction": "Zero" if quantity == 0 else ("Short" if quantity < 0 else "Long"),
        "close-price": money(mark), "average-open-price": money(avg),
        "multiplier": str(multiplier),
        "cost-effect": "Credit" if quantity < 0 else "Debit", "is-suppressed": False,
        "is-frozen": False, "realized-day-gain": "0.0", "realized-day-gain-effect": "None",
        "realized-today": "0.0", "realized-today-effect": "None", "created-at": iso(now),
        "updated-at": iso(now), "mark": money(mark), "mark-price": money(mark),
    }


def buying_power_effect(change: Decimal, current: Decimal) -> dict[str, Any]:
    body: dict[str, Any] = {"is-spread": True, "impact": money(abs(change)),
                            "effect": "Debit" if change < 0 else "Credit"}
    body |= signed(change, "change-in-buying-power")
    body |= signed(-change, "change-in-margin-requirement")
    body |= signed(current, "current-buying-power")
    body |= signed(current + change, "new-buying-power")
    body |= signed(-change, "isolated-order-margin-requirement")
    return body


def fees(legs: int, contracts: int) -> dict[str, Any]:
    commission = Decimal("1.00") * contracts
    clearing = Decimal("0.10") * contracts
    regulatory = Decimal("0.02") * contracts
    body: dict[str, Any] = {}
    body |= signed(-commission, "commission")
    body |= signed(-clearing, "clearing-fees")
    body |= signed(-regulatory, "regulatory-fees")
    body |= signed(Decimal("0"), "proprietary-index-option-fees")
    body |= signed(-(commission + clearing + regulatory), "total-fees")
    return body


def error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def market_metric(symbol: str, iv: float, now: datetime, earnings: date | None,
                  beta: str = "1.05", dividends: dict[str, Any] | None = None) -> dict[str, Any]:
    """A market-metrics item; ``dividends`` adds the dividend-* fields."""
    body: dict[str, Any] = {
        "symbol": symbol, "implied-volatility-index": f"{iv:.4f}",
        "implied-volatility-index-rank": "0.345", "tw-implied-volatility-index-rank": "0.345",
        "implied-volatility-percentile": "0.41", "liquidity-rating": 4, "beta": beta,
        "beta-updated-at": iso(now), "corr-spy-3month": "0.8",
        "market-cap": "1000000000", "updated-at": iso(now), "dividend-yield": "0.013",
        "historical-volatility-30-day": f"{iv * 0.9:.4f}",
        **(dividends or {}),
    }
    if earnings is not None:
        body["earnings"] = {"estimated": True, "late-flag": 0, "visible": True,
                            "expected-report-date": earnings.isoformat()}
    return body


def market_data(symbol: str, instrument_type: str, bid: Decimal, ask: Decimal,
                now: datetime) -> dict[str, Any]:
    mid = (bid + ask) / 2
    return {
        "symbol": symbol, "instrument-type": instrument_type, "updated-at": iso(now),
        "bid": money(bid), "ask": money(ask), "mid": money(mid), "mark": money(mid),
        "last": money(mid), "bid-size": "10", "ask-size": "12", "close-price-type": "Regular",
        "summary-date": now.date().isoformat(), "prev-close-date": now.date().isoformat(),
        "prev-close-price-type": "Regular", "halt-start-time": -1, "halt-end-time": -1,
        "volume": "1000", "open-interest": "500",
    }
