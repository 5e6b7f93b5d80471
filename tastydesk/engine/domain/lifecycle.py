"""What happens to a position at the broker without an order: expiration, exercise, assignment,
share delivery and dividends.

Both brokers report them the way tastytrade does (a Receive Deliver transaction per removal or
delivery, a dividend transaction): the paper broker from its OCC-rule settlement, the tastytrade
adapter from the transaction history and account-streamer position updates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tastydesk.engine.domain.ids import WorkflowId


class LifecycleKind(StrEnum):
    EXPIRED = "expired"  # option removed worthless at expiration
    ASSIGNED = "assigned"  # short option removed by assignment (early or at expiration)
    EXERCISED = "exercised"  # long option removed by exercise
    SHARES_DELIVERED = "shares_delivered"  # stock received or delivered by assignment/exercise
    CASH_SETTLED = "cash_settled"  # index option settled in cash
    DIVIDEND = "dividend"  # cash paid (long shares) or charged (short shares) on the ex-date
    # Not a broker transaction: the trader took the broker's quantity for a leg the app held
    # differently (the reconciliation gate), booked at an estimated price.
    RECONCILED = "reconciled"


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """One broker transaction that changed a position or cash without an order.

    ``quantity`` is the signed change of the position in ``symbol`` (closing a short option: +1
    per contract; shares delivered short: -100 per contract). ``value`` is the signed cash effect
    (received +, paid -); ``price`` the strike for a delivery, the amount per share for a dividend.
    """

    transaction_id: str
    kind: LifecycleKind
    symbol: str  # OCC symbol for options, ticker for shares
    underlying: str
    quantity: int
    price: Decimal
    value: Decimal
    time: datetime
    early: bool = False  # assignment before the expiration date
    description: str = ""


@dataclass(frozen=True, slots=True)
class LifecycleOccurred:
    """Bus event: the broker reported a lifecycle transaction (past tense)."""

    event: LifecycleEvent


#: Options settle 100 shares per contract; a share position is priced per share.
OPTION_MULTIPLIER = 100
OCC_SYMBOL_LENGTH = 21


def is_option_symbol(symbol: str) -> bool:
    """True for an OCC option symbol (21 characters), False for a ticker (shares)."""
    return len(symbol) == OCC_SYMBOL_LENGTH


def multiplier_for(symbol: str) -> int:
    """Dollars per point of price for one unit of ``symbol``: 100 for an option, 1 for shares."""
    return OPTION_MULTIPLIER if is_option_symbol(symbol) else 1


@dataclass(frozen=True, slots=True)
class LifecycleBooking:
    """A lifecycle transaction as the engine booked it: against a workflow's position, or
    against none (``workflow_id`` None: the app held nothing it explains)."""

    event: LifecycleEvent
    workflow_id: WorkflowId | None
    booked_at: datetime
