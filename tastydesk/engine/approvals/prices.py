"""A waiting proposal's prices now: mid and natural per spread from the streamed quotes of its
legs, or from a fresh chain when a leg's quote is missing or older than the trader allows.

Quotes that fail the pricing-anomaly failsafe (a zero bid on a leg to be sold, a crossed or
inverted market, a spread far too wide for its price) price nothing: the approval is held with
the reason instead of being sent at a price the market never offered."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.chain import Quote
from tastydesk.engine.domain.enums import Side
from tastydesk.engine.domain.pricer import PricedLeg, SpreadPrice, spread_price
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.execution_pricing.anomaly import LegQuote, QuoteAnomaly, quote_anomaly
from tastydesk.engine.ports import BrokerPort


async def current_spread_price(proposal: TradeProposal, streamed: Mapping[str, Quote | None],
                               broker: BrokerPort, clock: Clock,
                               max_age_seconds: float) -> SpreadPrice | QuoteAnomaly | None:
    """Streamed quotes when every leg has a fresh one; otherwise the chain is fetched. None
    when a leg still has no fresh quote (the market cannot be priced); the anomaly when the
    quotes fail the failsafe (they must not price the order)."""
    now = clock.now()
    quotes = [streamed.get(leg.streamer_symbol) for leg in proposal.legs]
    if all(q is not None and (now - q.time).total_seconds() <= max_age_seconds for q in quotes):
        return _price(proposal, quotes)  # type: ignore[arg-type]
    today = clock.today()
    max_dte = (max(leg.expiry for leg in proposal.legs) - today).days
    min_dte = (min(leg.expiry for leg in proposal.legs) - today).days
    chain = await broker.option_chain(proposal.underlying, max(0, min_dte), max_dte)
    fetched = []
    for leg in proposal.legs:
        contract = chain.contract(leg.symbol)
        if contract is None or contract.quote is None:
            return None
        if (now - contract.quote.time).total_seconds() > max_age_seconds:
            return None
        fetched.append(contract.quote)
    return _price(proposal, fetched)


def net_price(price: Decimal) -> str:
    """A signed net price as the trader reads it: ``2.84 cr`` or ``1.20 db``."""
    return f"{abs(price):.2f} {'cr' if price > 0 else 'db'}"


def opening_anomaly(proposal: TradeProposal, quotes: list[Quote]) -> QuoteAnomaly | None:
    """Why the legs' quotes must not price the opening order (legs sold +1, bought -1), or
    None."""
    unit = proposal.quantity
    found = quote_anomaly([LegQuote(1 if leg.side is Side.SELL else -1, leg.quantity // unit,
                                    q.bid, q.ask, leg.option_type, leg.strike, leg.expiry)
                           for leg, q in zip(proposal.legs, quotes, strict=True)])
    return None if found is QuoteAnomaly.NO_QUOTE else found


def _price(proposal: TradeProposal, quotes: list[Quote]) -> SpreadPrice | QuoteAnomaly:
    unit = proposal.quantity
    anomaly = opening_anomaly(proposal, quotes)
    if anomaly is not None:
        return anomaly
    return spread_price([PricedLeg(leg.side, leg.quantity // unit, q.bid, q.ask)
                         for leg, q in zip(proposal.legs, quotes, strict=True)],
                        mids=[q.mid for q in quotes])
