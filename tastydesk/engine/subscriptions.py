"""Who needs which market stream: positions watch their legs, pending proposals theirs.

A stream is dropped only when nobody claims it any more, decided when the unsubscribe runs (not
when it was queued), so a position or proposal taking the same contract in between keeps it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from tastydesk.engine.ports import BrokerPort

Spawn = Callable[[Coroutine[Any, Any, Any], str], Any]


class StreamClaims:
    def __init__(self, broker: BrokerPort, spawn: Spawn) -> None:
        self._broker = broker
        self._spawn = spawn
        self._claims: dict[str, set[tuple[str, int]]] = defaultdict(set)

    def claim(self, kind: str, owner: int, symbols: Iterable[str]) -> None:
        for sym in symbols:
            self._claims[sym].add((kind, owner))

    def claimed(self, symbol: str, kind: str | None = None) -> bool:
        owners = self._claims.get(symbol)
        if not owners:
            return False
        return kind is None or any(k == kind for k, _ in owners)

    def release(self, kind: str, owner: int, symbols: Iterable[str], task: str) -> None:
        """Drop ``owner``'s claims; symbols no ``kind`` owner claims any more may stop."""
        idle = []
        for sym in symbols:
            owners = self._claims.get(sym)
            if owners is None:
                continue
            owners.discard((kind, owner))
            if not any(k == kind for k, _ in owners):
                idle.append(sym)
            if not owners:
                del self._claims[sym]
        if idle:
            self._spawn(self._unsubscribe_idle(idle), task)

    async def _unsubscribe_idle(self, symbols: list[str]) -> None:
        unused = [sym for sym in symbols if not self.claimed(sym)]
        if unused:
            await self._broker.unsubscribe(unused)
