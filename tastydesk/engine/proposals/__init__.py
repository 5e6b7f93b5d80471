"""Trade proposals: resolve a strategy on a chain, price it and measure its risk and reward."""

from __future__ import annotations

from tastydesk.engine.proposals.builder import build_proposal
from tastydesk.engine.proposals.curves import curve_vol, pnl_at, pnl_curve
from tastydesk.engine.proposals.payoff import ExpiryPayoff, expiry_payoff

__all__ = ["ExpiryPayoff", "build_proposal", "curve_vol", "expiry_payoff", "pnl_at", "pnl_curve"]
