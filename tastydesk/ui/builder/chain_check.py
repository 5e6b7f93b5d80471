"""Reading a chain check's answer: which strategy field a failed preview points at.

Save builds a proposal on the chosen symbol's chain. A failure that names something the
strategy decides (a leg's strike rule, the DTE range, the minimum credit) is put on that field
and stops the save; a failure of the market itself (no quote, a stale quote, no bid) says
nothing about the strategy, so it is reported without blocking.
"""

from __future__ import annotations

import re

from tastydesk.engine.strategies.validation import FieldError

_LEG = re.compile(r"^leg (\d+) \([^)]*\): (.+)$", re.DOTALL)
_LEG_FIELD = re.compile(r"^(selection(?:\.\w+)?|ratio): ")
_MARKET = ("no quote", "quote for", "no valid market", "bid is zero", "no implied volatility",
           "underlying.price")


def chain_error(message: str, symbol: str) -> FieldError | None:
    """The field a preview failure on ``symbol`` names, or None for a market problem."""
    text = " ".join(message.split())
    leg = _LEG.match(text)
    if leg:
        index, reason = int(leg.group(1)) - 1, leg.group(2)
        if reason.startswith(_MARKET):
            return None
        named = _LEG_FIELD.match(reason)
        if named:
            part = named.group(1)
        elif "expiration" in reason:
            part = "expiry_offset_days"
        else:
            part = "selection"
        return FieldError(f"legs[{index}].{part}", f"on {symbol}: {reason}")
    if text.startswith(_MARKET):
        return None
    if "expiration" in text or text.startswith("dte"):
        return FieldError("dte", f"on {symbol}: {text}")
    if text.startswith("credit ") and "below minimum" in text:
        return FieldError("filters.min_credit", f"on {symbol}: {text}")
    if text.startswith("quantity:"):
        return FieldError("sizing.quantity", f"on {symbol}: {text.partition(': ')[2]}")
    if text.startswith("strategy.legs:"):
        return FieldError("legs", f"on {symbol}: {text.partition(': ')[2]}")
    return None
