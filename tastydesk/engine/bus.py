"""Typed, synchronous publish/subscribe on the loop thread.

Market events are the hot path (millions per second are possible), so publishing is a dict lookup
and a loop over a tuple: no queue, no thread hop, no task per event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

E = TypeVar("E")
Handler = Callable[[Any], None]


class Subscription:
    """Handle returned by :meth:`EventBus.subscribe`; call :meth:`dispose` to stop receiving."""

    __slots__ = ("_bus", "_event_type", "_handler")

    def __init__(self, bus: EventBus, event_type: type, handler: Handler) -> None:
        self._bus = bus
        self._event_type = event_type
        self._handler = handler

    def dispose(self) -> None:
        self._bus._remove(self._event_type, self._handler)


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type, tuple[Handler, ...]] = {}

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> Subscription:
        self._handlers[event_type] = (*self._handlers.get(event_type, ()), handler)
        return Subscription(self, event_type, handler)

    def _remove(self, event_type: type, handler: Handler) -> None:
        handlers = self._handlers.get(event_type, ())
        self._handlers[event_type] = tuple(h for h in handlers if h is not handler)

    def publish(self, event: object) -> None:
        """Deliver ``event`` to every handler of its exact type; a failing handler is logged."""
        for handler in self._handlers.get(type(event), ()):
            try:
                handler(event)
            except Exception:
                log.exception("event handler %r failed on %s", handler, type(event).__name__)
