"""Durable storage on SQLite: strategies, workflows and their transition log, orders, fills."""

from tastydesk.engine.store.errors import (
    ConcurrentTransition,
    DuplicateOrderIntent,
    NotFound,
    StoreError,
)
from tastydesk.engine.store.service import AsyncStore, Store

__all__ = [
    "AsyncStore",
    "ConcurrentTransition",
    "DuplicateOrderIntent",
    "NotFound",
    "Store",
    "StoreError",
]
