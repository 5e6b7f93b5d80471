"""Every fill is recorded with the spread's mid and natural at that moment; Analytics and the
simulation report fill quality from them."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from tastydesk.engine.domain.enums import OrderPurpose
from tastydesk.engine.readmodel.execution_report import execution_summary
from tastydesk.engine.store.guard import LOOP_GUARD
from tests.engine.test_engine import paper, until_position


async def test_fills_record_the_market_and_analytics_show_it(tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path)
    position = await until_position(engine, driver)
    store = engine.store.store
    entry = next(o for o in store.orders(position.workflow_id)
                 if o.purpose is OrderPurpose.OPEN)
    events = store.order_events(entry.external_id)
    marked = [e for e in events if e.mid is not None]
    assert marked, "the event that recorded the fill carries the market"
    assert all(e.natural is not None and e.natural <= e.mid for e in marked)
    analytics = engine.facade.analytics()
    assert analytics.fill_quality_by_symbol and analytics.fill_quality_by_strategy
    assert analytics.spread_share_conceded is not None
    row = analytics.fill_quality_by_symbol[0]
    assert row.fills >= 1
    # The view agrees with the store's own figures.
    with LOOP_GUARD.permitted():  # the simulation's own summary reads the store directly
        report = execution_summary(store)["fill_quality"]
    assert report["fills_with_market"] == sum(x.fills for x in analytics.fill_quality_by_symbol)
    assert D(report["avg_fill_vs_mid"]) == analytics.avg_fill_vs_mid
    assert report["entries_sent"] >= 1 and report["entries_filled"] >= 1
    await engine.stop()
