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

Shares (delivered by assignment or exercise, or bought outright) require Reg-T's 50 % of their
market value, long or short. Shares do not cover short calls here: a covered call is measured as
its shares plus a naked call, which overstates its requirement (a conservative simplification).
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
SHARE_REQUIREMENT_PCT = Decimal("0.50")


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


def share_requirement(shares: dict[str, int], spots: dict[str, Decimal]) -> Decimal:
    """Requirement in dollars of share positions (``shares``: ticker -> signed quantity)."""
    total = ZERO
    for ticker, quantity in shares.items():
        if quantity:
            if ticker not in spots:
                raise ValueError(f"spots: no price for {ticker!r}")
            total += SHARE_REQUIREMENT_PCT * spots[ticker] * abs(quantity)
    return total


def underlying_requirement(lines: list[Holding], spot: Decimal) -> Decimal:
    """Requirement in dollars of the option lines of one underlying."""
    active = [h for h in lines if h.quantity != 0]
    key = tuple((h.option_type, h.strike, h.quantity) for h in active)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _plan(active)
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        _PLANS[key] = plan
    if not plan.naked_calls and not plan.naked_puts:
        return _risk_from_plan(active, plan.all_lines, plan.worst_all)
    call_req = (_naked_from_plan(active, plan.naked_calls, spot)
                + _risk_from_plan(active, plan.covered_calls, plan.worst_calls))
    put_req = (_naked_from_plan(active, plan.naked_puts, spot)
               + _risk_from_plan(active, plan.covered_puts, plan.worst_puts))
    if plan.naked_calls and plan.naked_puts:
        if call_req >= put_req:
            return call_req + _premium_from_plan(active, plan.naked_puts)
        return put_req + _premium_from_plan(active, plan.naked_calls)
    return max(call_req, put_req)


_Lines = tuple[tuple[int, int], ...]  # (index into the active lines, signed quantity)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a requirement depends on besides marks and spot: which contracts are naked and the
    worst expiry payoff of each covered group. Positions change far less often than marks, so a
    plan is kept per shape (types, strikes, quantities) and re-evaluated at new marks."""

    all_lines: _Lines
    worst_all: Decimal
    naked_calls: _Lines
    covered_calls: _Lines
    worst_calls: Decimal
    naked_puts: _Lines
    covered_puts: _Lines
    worst_puts: Decimal


_PLANS: dict[tuple[tuple[OptionType, Decimal, int], ...], _Plan] = {}
_MAX_PLANS = 4096


def _plan(active: list[Holding]) -> _Plan:
    # Index-tagged copies with a zero mark: the existing pairing logic then yields the structure.
    tagged = [Holding(str(i), h.underlying, h.option_type, h.strike, h.expiry, h.quantity, ZERO)
              for i, h in enumerate(active)]
    calls = [h for h in tagged if h.option_type is OptionType.CALL]
    puts = [h for h in tagged if h.option_type is OptionType.PUT]
    naked_calls, covered_calls = _split_naked(calls, highest_risk_first=False)
    naked_puts, covered_puts = _split_naked(puts, highest_risk_first=True)

    def lines(group: list[Holding]) -> _Lines:
        return tuple((int(h.symbol), h.quantity) for h in group)

    return _Plan(lines(tagged), _worst(tagged), lines(naked_calls), lines(covered_calls),
                 _worst(covered_calls), lines(naked_puts), lines(covered_puts),
                 _worst(covered_puts))


def _worst(group: list[Holding]) -> Decimal:
    """Lowest payoff at expiry over zero and the strikes.

    Above the highest strike the payoff moves with the net call quantity, which is never short
    in a group measured this way, so zero and the strikes bound the minimum.
    """
    if not group:
        return ZERO
    return min(_payoff(group, price) for price in {ZERO, *(h.strike for h in group)})


def _risk_from_plan(active: list[Holding], group: _Lines, worst: Decimal) -> Decimal:
    if not group:
        return ZERO
    value_now = sum((active[i].mark * MULTIPLIER * q for i, q in group), ZERO)
    return max(ZERO, value_now - worst)


def _naked_from_plan(active: list[Holding], group: _Lines, spot: Decimal) -> Decimal:
    return _naked_requirement([_with_quantity(active[i], q) for i, q in group], spot)


def _premium_from_plan(active: list[Holding], group: _Lines) -> Decimal:
    return sum((active[i].mark * MULTIPLIER * -q for i, q in group), ZERO)


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
