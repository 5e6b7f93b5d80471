"""Symbols as the trader reads them."""

from __future__ import annotations


def display_symbol(symbol: str) -> str:
    """OCC symbol with the root padding collapsed, for messages: ``SPY 261218P00580000``."""
    return " ".join(symbol.split())
