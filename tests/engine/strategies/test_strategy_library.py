"""The strategy library refuses an invalid strategy itself, before the store is reached."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tastydesk.engine.audit import AuditTrail
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import SimClock
from tastydesk.engine.domain.events import StrategiesChanged
from tastydesk.engine.domain.strategy import DteRange
from tastydesk.engine.store.service import AsyncStore, Store
from tastydesk.engine.strategies.defaults import DEFAULT_STRATEGIES
from tastydesk.engine.strategies.library import StrategyLibrary
from tastydesk.engine.strategies.validation import StrategyValidationError

NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
STORE_PACKAGE = Path(__file__).resolve().parents[3] / "tastydesk" / "engine" / "store"


async def test_save_refuses_an_invalid_strategy_before_the_store(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "tastydesk.db")
    astore = AsyncStore(store)  # the writer thread, as in the app
    bus, clock = EventBus(), SimClock(NOW)
    library = StrategyLibrary(await astore.list_strategies(), astore,
                              AuditTrail(astore, bus, clock), bus, clock)
    announced: list[StrategiesChanged] = []
    bus.subscribe(StrategiesChanged, announced.append)
    bad = dataclasses.replace(DEFAULT_STRATEGIES[0], name="Backwards DTE",
                              dte=DteRange(min=45, target=30, max=20))
    with pytest.raises(StrategyValidationError, match="dte") as refused:
        await library.save(bad, "alice")
    # Raised by the library's own check: no frame of the store is on the way.
    assert not [entry for entry in refused.traceback
                if STORE_PACKAGE in Path(str(entry.path)).parents], refused.traceback
    assert library.get("Backwards DTE") is None and announced == []
    assert "Backwards DTE" not in {s.name for s in await astore.list_strategies()}
    assert await astore.audit_log() == []
    await astore.close()
