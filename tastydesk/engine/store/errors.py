"""Errors raised by the store; each message names the row or field at fault."""

from __future__ import annotations


class StoreError(RuntimeError):
    """Base class for store failures the caller can act on."""


class NotFound(StoreError, LookupError):
    """A row looked up by id or key does not exist."""


class DuplicateOrderIntent(StoreError):
    """An order with the same (proposal, purpose, attempt) or external id already exists."""


class ConcurrentTransition(StoreError):
    """The workflow changed between reading its state and writing the transition."""


class MigrationError(StoreError):
    """The schema could not be brought up to date, or the result failed its checks."""


class SyncCallOnEventLoop(StoreError):
    """A synchronous store call was made on a thread running an event loop (guard switched on)."""
