"""The strategy library the engine trades from: kept in memory, saved through the async store.

Every strategy is validated here before it is stored (a strategy that would not load back is
refused with its field errors); every change is announced with ``StrategiesChanged``.
"""

from __future__ import annotations

from tastydesk.engine.audit import AuditTrail
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.events import StrategiesChanged
from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.errors import EngineError
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.strategies.codec import strategy_to_dict
from tastydesk.engine.strategies.validation import parse_strategy


class StrategyLibrary:
    def __init__(self, strategies: list[Strategy], store: AsyncStore, audit: AuditTrail,
                 bus: EventBus, clock: Clock) -> None:
        self._strategies = {s.name: s for s in strategies}
        self._store = store
        self._audit = audit
        self._bus = bus
        self._clock = clock

    def get(self, name: str | None) -> Strategy | None:
        return self._strategies.get(name or "")

    def all(self) -> list[Strategy]:
        """By priority, then name (the order the scanner tries them in)."""
        return sorted(self._strategies.values(), key=lambda s: (s.priority, s.name))

    def values(self) -> list[Strategy]:
        """In library order (insertion), as candidate selection expects."""
        return list(self._strategies.values())

    async def load(self) -> None:
        self._strategies = {s.name: s for s in await self._store.list_strategies()}

    async def save(self, strategy: Strategy, user: str) -> None:
        parse_strategy(strategy_to_dict(strategy))  # raises with every field error
        await self._store.save_strategy(strategy)
        self._strategies[strategy.name] = strategy
        await self._audit.audit(user, "strategy_saved", strategy.name)
        self._changed()

    async def delete(self, name: str, user: str) -> None:
        if name not in self._strategies:
            raise EngineError(f"strategy: no strategy named {name!r}")
        await self._store.delete_strategy(name)
        self._strategies.pop(name, None)
        await self._audit.audit(user, "strategy_deleted", name)
        self._changed()

    async def restore_defaults(self, user: str) -> None:
        await self._store.restore_default_strategies()
        await self.load()
        await self._audit.audit(user, "strategies_restored", "defaults restored")
        self._changed()

    def _changed(self) -> None:
        self._bus.publish(StrategiesChanged(tuple(sorted(self._strategies)), self._clock.now()))
