"""Profit-target and stop thresholds measured against the price the position actually opened at.

Why: a proposal's max profit is figured at its mid price, but an entry walked toward natural
opens for less credit (or more debit). Measured against the mid figure, a 50 % target asks for
more than half of what was really received. Every payoff shifts by the entry cash alone, so the
max profit at the fill is the proposal's max profit moved by ``fill - mid`` (x 100): for a credit
spread it is exactly the credit received.

Conventions are those of the rule monitor: prices per spread unit and per share, signed
(credit +, debit -); a position's *mark* is its value in the same convention (a credit spread's
mark is what closing it costs, positive); ``P&L = (entry - mark) x 100``. Closing-order prices
are the mark with the opposite sign (a credit spread closes for a debit).
"""

from __future__ import annotations

from decimal import Decimal

from tastydesk.engine.domain.instruments import TickTable
from tastydesk.engine.domain.money import MULTIPLIER

_HUNDRED = Decimal(100)


def max_profit_at_fill(max_profit_at_mid: Decimal, mid: Decimal, fill: Decimal,
                       multiplier: Decimal = MULTIPLIER) -> Decimal:
    """$ max profit per spread unit at the price actually received (``fill``, signed), from the
    proposal's figure at ``mid``."""
    return max_profit_at_mid + (fill - mid) * multiplier


def profit_captured_pct(entry_price: float, mark: float | None,
                        max_profit_per_unit: float) -> float | None:
    """Share of the max profit (at the fill) captured so far, in %; the profit-target and
    partial-close rules compare it with their threshold. ``None`` without a mark or a max
    profit."""
    if mark is None or max_profit_per_unit <= 0:
        return None
    return (entry_price - mark) * 100.0 / max_profit_per_unit * 100.0


def loss_pct(entry_price: float, mark: float | None) -> float | None:
    """Loss as a % of the entry credit or debit (positive while losing); the stop-loss rule
    compares it with its threshold. ``None`` without a mark or for a zero-cost entry."""
    if mark is None or entry_price == 0:
        return None
    return (mark - entry_price) / abs(entry_price) * 100.0


def _basis(entry_price: Decimal, max_profit_per_unit: Decimal | None,
           multiplier: Decimal) -> Decimal:
    if max_profit_per_unit is not None:
        if max_profit_per_unit <= 0:
            raise ValueError(f"max_profit_per_unit: must be > 0, got {max_profit_per_unit}")
        return max_profit_per_unit / multiplier
    if entry_price <= 0:
        raise ValueError(
            f"max_profit_per_unit: required for an entry that is not a credit ({entry_price})")
    return entry_price


def _check_pct(pct: Decimal) -> None:
    if pct <= 0:
        raise ValueError(f"pct: must be > 0, got {pct}")


def profit_target_mark(entry_price: Decimal, pct: Decimal,
                       max_profit_per_unit: Decimal | None = None,
                       multiplier: Decimal = MULTIPLIER) -> Decimal:
    """The mark at which ``pct`` % of the max profit is captured (exact, not rounded).

    Without ``max_profit_per_unit`` the entry must be a credit and its max profit is the credit
    itself: ``entry x (1 - pct / 100)`` (a 1.20 credit at 50 % closes at 0.60).
    """
    _check_pct(pct)
    return entry_price - _basis(entry_price, max_profit_per_unit, multiplier) * pct / _HUNDRED


def stop_mark(entry_price: Decimal, pct: Decimal) -> Decimal:
    """The mark at which the loss reaches ``pct`` % of the entry price (exact, not rounded):
    ``entry + |entry| x pct / 100`` (a 1.20 credit at 200 % stops at 3.60)."""
    _check_pct(pct)
    if entry_price == 0:
        raise ValueError("entry_price: a stop needs a non-zero entry credit or debit")
    return entry_price + abs(entry_price) * pct / _HUNDRED


def profit_target_price(entry_price: Decimal, pct: Decimal, ticks: TickTable,
                        max_profit_per_unit: Decimal | None = None,
                        multiplier: Decimal = MULTIPLIER) -> Decimal:
    """Signed limit price of the order that closes at the profit target (a resting GTC exit),
    on tick and rounded so that a fill captures at least ``pct`` %."""
    price = -profit_target_mark(entry_price, pct, max_profit_per_unit, multiplier)
    return ticks.round(price, toward=price)


def stop_price(entry_price: Decimal, pct: Decimal, ticks: TickTable) -> Decimal:
    """Signed closing price at which the loss reaches ``pct`` %, on tick, rounded so that a close
    at this price loses no more than that (a fast exit's walk may go further, within its
    slippage)."""
    price = -stop_mark(entry_price, pct)
    return ticks.round(price, toward=price)
