"""Margin requirement and fees of the paper account.

The requirement of an underlying's option positions is measured *from their current marks*, so
that derivative buying power = net liquidating value - requirement reproduces tastytrade's
buying-power effects when a trade opens at mid:

* defined risk (no side is net short): the largest loss at expiry relative to today's value,
  e.g. width - credit for a credit vertical, the debit for a long option;
* net short calls or puts (naked): Reg-T style per uncovered short contract,
  ``max(20 % of the underlying - out-of-the-money amount, 10 % of the strike) + premium``.
  The covered remainder of that side keeps its defined-risk measure; when both sides carry naked
  shorts (a strangle), the larger side counts plus the premium of the other side, as Reg-T does.

Expirations are ignored when pairing legs, so a calendar counts as defined risk (its debit).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tastydesk.engine.domain.enums import OptionType
from tastydesk.engine.domain.money import MULTIPLIER, ZERO

NAKED_UNDERLYING_PCT = Decimal("0.20")
NAKED_MIN_STRIKE_PCT = Decimal("0.10")


@dataclass(frozen=True, slots=True)
class Holding:
    """One option line of a portfolio (held or hypothetical). ``quantity`` is signed."""

    symbol: str
    underlying: str
    option_type: OptionType
    strike: Decimal
    expiry: date
    quantity: int
    mark: Decimal  # per share


def requirement(holdings: Iterable[Holding], spots: dict[str, Decimal]) -> Decimal:
    """Total requirement in dollars of every underlying's option lines."""
    by_underlying: dict[str, list[Holding]] = {}
    for h in holdings:
        if h.quantity != 0:
            by_underlying.setdefault(h.underlying, []).append(h)
    total = ZERO
    for underlying, lines in by_underlying.items():
        if underlying not in spots:
            raise ValueError(f"spots: no underlying price for {underlying!r}")
        total += underlying_requirement(lines, spots[underlying])
    return total


def underlying_requirement(lines: list[Holding], spot: Decimal) -> Decimal:
    """Requirement in dollars of the option lines of one underlying."""
    calls = [h for h in lines if h.option_type is OptionType.CALL and h.quantity != 0]
    puts = [h for h in lines if h.option_type is OptionType.PUT and h.quantity != 0]
    naked_calls, covered_calls = _split_naked(calls, highest_risk_first=False)
    naked_puts, covered_puts = _split_naked(puts, highest_risk_first=True)
    if not naked_calls and not naked_puts:
        return _defined_risk(calls + puts)
    call_req = _naked_requirement(naked_calls, spot) + _defined_risk(covered_calls)
    put_req = _naked_requirement(naked_puts, spot) + _defined_risk(covered_puts)
    if naked_calls and naked_puts:
        if call_req >= put_req:
            return call_req + _premium(naked_puts)
        return put_req + _premium(naked_calls)
    return max(call_req, put_req)


def _split_naked(
    lines: list[Holding], *, highest_risk_first: bool
) -> tuple[list[Holding], list[Holding]]:
    # Short contracts beyond the side's long contracts are naked. The riskiest shorts are the
    # lowest-strike calls and the highest-strike puts; those are taken as the naked ones.
    net = sum(h.quantity for h in lines)
    if net >= 0:
        return [], list(lines)
    excess = -net
    shorts = sorted(
        (h for h in lines if h.quantity < 0),
        key=lambda h: -h.strike if highest_risk_first else h.strike,
    )
    naked: list[Holding] = []
    remaining = {id(h): h.quantity for h in lines}
    for h in shorts:
        if excess == 0:
            break
        take = min(excess, -h.quantity)
        naked.append(_with_quantity(h, -take))
        remaining[id(h)] += take
        excess -= take
    covered = [_with_quantity(h, remaining[id(h)]) for h in lines if remaining[id(h)] != 0]
    return naked, covered


def _with_quantity(h: Holding, quantity: int) -> Holding:
    return Holding(h.symbol, h.underlying, h.option_type, h.strike, h.expiry, quantity, h.mark)


def _naked_requirement(naked: list[Holding], spot: Decimal) -> Decimal:
    total = ZERO
    for h in naked:
        otm = h.strike - spot if h.option_type is OptionType.CALL else spot - h.strike
        otm = max(ZERO, otm)
        per_share = max(NAKED_UNDERLYING_PCT * spot - otm, NAKED_MIN_STRIKE_PCT * h.strike) + h.mark
        total += per_share * MULTIPLIER * -h.quantity
    return total


def _premium(naked: list[Holding]) -> Decimal:
    return sum((h.mark * MULTIPLIER * -h.quantity for h in naked), ZERO)


def _defined_risk(lines: list[Holding]) -> Decimal:
    """Worst loss at expiry relative to today's marked value (both sides at once)."""
    if not lines:
        return ZERO
    value_now = sum((h.mark * MULTIPLIER * h.quantity for h in lines), ZERO)
    prices = {ZERO, *(h.strike for h in lines)}
    worst = min(_payoff(lines, price) for price in prices)
    # Above the highest strike the payoff moves with the net call quantity, which is not short
    # here, so the strikes and zero bound the minimum.
    return max(ZERO, value_now - worst)


def _payoff(lines: list[Holding], price: Decimal) -> Decimal:
    total = ZERO
    for h in lines:
        if h.option_type is OptionType.CALL:
            intrinsic = max(ZERO, price - h.strike)
        else:
            intrinsic = max(ZERO, h.strike - price)
        total += intrinsic * MULTIPLIER * h.quantity
    return total


def opening_commission(contracts: int, per_contract: Decimal, already_charged: Decimal) -> Decimal:
    """tastytrade-style commission on an opening leg: per contract, capped at ten per leg.

    Closing legs and expirations are free, as at tastytrade.
    """
    cap = per_contract * 10
    return max(ZERO, min(per_contract * contracts, cap - already_charged))
