"""A roll as the trader sees it before sending: the Roll ticket's edits and the engine's preview.

Why: a roll closes what is held and opens new legs chosen by the strategy's selection; the
trader checks (and may change) the new expiry, each new leg's strike, the quantity and the limit
before anything is sent. The preview is a query (nothing is saved or sent); sending the same
edits goes through the normal roll order path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from tastydesk.engine.domain.proposal import ResolvedLeg


@dataclass(frozen=True, slots=True)
class RollEdits:
    """What the trader changed on the Roll ticket; None keeps the strategy's own choice.

    ``strikes`` has one strike per new leg, in the strategy's leg order; ``limit`` is signed per
    order unit (credit +, debit -), as every price in the engine.
    """

    expiry: date | None = None
    strikes: tuple[Decimal, ...] | None = None
    quantity: int | None = None
    limit: Decimal | None = None

    def to_payload(self) -> dict[str, Any]:
        """The edits as JSON for the roll's timeline entry: a roll re-sent later (its day
        order died at the close) goes out with the trader's choices, not the strategy's."""
        out: dict[str, Any] = {}
        if self.expiry is not None:
            out["expiry"] = self.expiry.isoformat()
        if self.strikes is not None:
            out["strikes"] = [str(s) for s in self.strikes]
        if self.quantity is not None:
            out["quantity"] = self.quantity
        if self.limit is not None:
            out["limit"] = str(self.limit)
        return out

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> RollEdits:
        """Edits read back from :meth:`to_payload`."""
        strikes = data.get("strikes")
        return cls(expiry=date.fromisoformat(data["expiry"]) if "expiry" in data else None,
                   strikes=tuple(Decimal(s) for s in strikes) if strikes is not None else None,
                   quantity=int(data["quantity"]) if "quantity" in data else None,
                   limit=Decimal(data["limit"]) if "limit" in data else None)


@dataclass(frozen=True, slots=True)
class HeldLeg:
    """A leg held now, as the roll closes it (``quantity`` signed: short negative)."""

    symbol: str
    quantity: int
    bid: Decimal | None
    ask: Decimal | None


@dataclass(frozen=True, slots=True)
class RollPreview:
    """The roll the engine would send now, and what the position looks like after it.

    Prices are per order unit (``order_units`` of them make the order), signed: credit +,
    debit -. Dollar figures are for the whole position. ``problem`` says why Send would be
    refused by the pre-trade checks now (None: it would go out).
    """

    workflow_id: int
    symbol: str
    strategy_name: str
    held_units: int
    quantity: int  # units of the new position
    closing: tuple[HeldLeg, ...]  # legs the roll closes
    opening: tuple[ResolvedLeg, ...]  # every leg of the new position, in the strategy's order
    kept: tuple[str, ...]  # symbols of new legs already held (neither closed nor opened)
    expiry: date
    expirations: tuple[date, ...]  # listed expirations the ticket offers
    strikes: tuple[Decimal, ...]  # listed strikes at ``expiry``
    orders: tuple[str, ...]  # the orders the roll is sent as ("roll"; "put spread", ...)
    order_units: int
    mid: Decimal
    natural: Decimal
    limit: Decimal  # the trader's limit, or the mid
    max_loss: Decimal  # of the new position
    buying_power: Decimal  # of the new position
    buying_power_effect: Decimal  # new less current (positive: the roll uses more)
    credit_collected: Decimal  # net premium of the position's order chain so far
    credit_after: Decimal  # the same once the roll fills at its mid
    problem: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def split(self) -> bool:
        """Whether the roll goes out as more than one order (more than four legs)."""
        return len(self.orders) > 1

    @property
    def cash(self) -> Decimal:
        """Dollars the roll receives (+) or pays (-) at its mid."""
        return self.mid * 100 * self.order_units
