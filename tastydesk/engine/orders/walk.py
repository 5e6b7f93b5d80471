"""Smart limit pricing: start at mid (plus an offset in our favour), then concede a step toward
the natural price each interval, never past natural or the trader's limit.

Prices are signed (credit +, debit -), so "worse for us" is always "lower": one rule serves credit
and debit orders alike.
"""

from __future__ import annotations

from decimal import Decimal

from tastydesk.engine.domain.money import CENT, round_to_tick


def floor_price(natural: Decimal, limit: Decimal | None) -> Decimal:
    """The worst price the walk may reach."""
    return natural if limit is None else max(natural, limit)


def initial_price(mid: Decimal, natural: Decimal, start_offset: Decimal,
                  limit: Decimal | None = None) -> Decimal:
    price = round_to_tick(mid + start_offset, CENT)
    return max(price, floor_price(natural, limit))


def next_price(current: Decimal, natural: Decimal, step: Decimal,
               limit: Decimal | None = None) -> Decimal | None:
    """The next, slightly worse, price; None when the walk cannot concede any further."""
    floor = floor_price(natural, limit)
    candidate = max(round_to_tick(current - step, CENT), floor)
    return candidate if candidate < current else None
