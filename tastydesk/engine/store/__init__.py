"""Durable storage on SQLite: strategies, workflows and their transition log, orders, fills.

Layout: :mod:`models` states the schema once (ORM tables; Alembic migrations follow it);
:mod:`tables` derives the hot path's plain SQL from those tables; :mod:`database` opens the file
and owns its transactions; one repository per concern (:mod:`workflows`, :mod:`proposals`,
:mod:`orders`, :mod:`positions`, :mod:`journal`, :mod:`logs`, :mod:`settings`, :mod:`checks`)
shares that database; :class:`Store` composes them for synchronous callers and
:class:`AsyncStore` for the event loop (one writer thread); :mod:`guard` can refuse synchronous
calls made on the loop.
"""

from tastydesk.engine.store.errors import (
    ConcurrentTransition,
    DuplicateOrderIntent,
    NotFound,
    StoreError,
    SyncCallOnEventLoop,
)
from tastydesk.engine.store.service import AsyncStore, Store

__all__ = [
    "AsyncStore",
    "ConcurrentTransition",
    "DuplicateOrderIntent",
    "NotFound",
    "Store",
    "StoreError",
    "SyncCallOnEventLoop",
]
