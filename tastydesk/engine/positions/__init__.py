"""Positions: the position book (monitored positions, rule checks), actions on positions,
and what an order's end means for its workflow (settlement)."""
