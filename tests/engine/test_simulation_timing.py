"""``simulate`` keeps the engine's timers at their own times: a 15-minute step stops at every
timer due inside it while the market is open, so an entry's price walk takes its two-minute
steps (not one step per 15 minutes, which ran entries into the close), and the report counts
the opening orders above the per-trade cap or the allocation from the records: none."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from pathlib import Path

from tastydesk.engine.domain.enums import OrderPurpose
from tastydesk.engine.simulation import run_simulation
from tastydesk.engine.store.service import Store
from tastydesk.paths import db_path


def test_price_steps_fire_at_their_own_times_and_nothing_exceeds_the_limits(
        tmp_path: Path) -> None:
    summary = asyncio.run(run_simulation(tmp_path, days=4, seed=1, auto_approve=True))
    store = Store.open(db_path(tmp_path))
    try:
        gaps = []
        for order in store.orders():
            if order.purpose is not OrderPurpose.OPEN:
                continue
            times = [e.time for e in store.order_events(order.external_id)
                     if e.detail.startswith(("placed at", "price step"))]
            gaps += [(b - a).total_seconds() for a, b in pairwise(times)]
    finally:
        store.close()
    assert gaps, "the run should walk an entry"
    # The patient walk's interval (twice it when a price was already at natural and stayed),
    # never the 900 s step.
    assert 120.0 in gaps and all(g % 120 == 0 and g < 900 for g in gaps)
    assert summary["opening_orders_above_cap_or_allocation"] == {
        "above_per_trade_cap": 0, "above_allocation": 0, "max_allocation_pct": "80"}
