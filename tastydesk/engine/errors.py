"""Errors the engine raises for the trader to read."""

from __future__ import annotations


class EngineError(RuntimeError):
    """A command could not be carried out; the message says why, for the trader."""
