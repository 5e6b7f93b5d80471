"""A rule that fires while the market is closed (or in the session's last moments) queues its
order for the next open and says so; early closes are honoured."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from tastydesk.engine.clock import NEW_YORK, MarketCalendar
from tastydesk.engine.domain.enums import OrderPurpose, RuleType
from tastydesk.engine.domain.events import Alert
from tastydesk.engine.positions.session_gate import queued_message, queued_until
from tests.engine.test_engine import paper, until_position

EARLY = date(2026, 11, 27)  # the day after Thanksgiving closes at 13:00
CAL = MarketCalendar([date(2026, 11, 26)], {EARLY: time(13, 0)})


def ny(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), NEW_YORK)


def test_an_early_close_at_one_is_honoured() -> None:
    monday_open = ny(date(2026, 11, 30), 9, 30)
    assert queued_until(CAL, ny(EARLY, 12, 0)) is None
    assert queued_until(CAL, ny(EARLY, 12, 59, 30)) == monday_open
    assert queued_until(CAL, ny(EARLY, 13, 30)) == monday_open
    assert queued_message("stop loss", CAL, ny(EARLY, 13, 30), monday_open) == (
        "market closed: stop loss queued for the open at 09:30 ET (Mon 2026-11-30)")
    # An ordinary day at the same hour trades on.
    assert queued_until(CAL, ny(date(2026, 11, 24), 13, 30)) is None


def test_the_last_seconds_and_the_night_wait_for_the_open() -> None:
    tuesday = ny(date(2026, 11, 24), 9, 30)
    assert queued_until(CAL, ny(date(2026, 11, 23), 15, 59, 59)) == tuesday
    assert queued_until(CAL, ny(date(2026, 11, 23), 20, 0)) == tuesday
    assert queued_until(CAL, ny(date(2026, 11, 24), 8, 0)) == tuesday
    assert queued_until(CAL, ny(date(2026, 11, 25), 16, 30)) == ny(EARLY, 9, 30)  # holiday


async def _stop_fires_at(tmp_path: Path, when: Any) -> tuple[Any, Any, int, list[Alert]]:
    engine, driver = await paper(tmp_path)
    pos = await until_position(engine, driver)
    wid = pos.workflow_id
    at = when(engine.calendar, engine.clock.now())
    driver.market.step(at)
    driver.clock.advance(at)
    await engine.tasks.drain()
    alerts: list[Alert] = []
    engine.bus.subscribe(Alert, alerts.append)
    mon = engine.positions.get(wid)
    index = next(i for i, r in enumerate(mon.rules) if r.rule_type is RuleType.STOP_LOSS)
    mon.acting = True  # as a rule check does before handing the rule on
    engine.actions.rule_due(mon, index)
    await engine.tasks.drain()
    return engine, driver, wid, alerts


async def _sent_at_the_next_open(engine: Any, driver: Any, wid: int, alerts: list[Alert]) -> None:
    now = engine.clock.now()
    opening = engine.calendar.next_open(engine.calendar.next_close(now)
                                        if engine.calendar.is_open(now) else now)
    closes = [o for o in (await engine.store.orders(wid)) if o.purpose is OrderPurpose.CLOSE]
    assert closes == []  # nothing sent while the market is closed
    text = f"stop loss queued for the open at 09:30 ET ({opening.astimezone(NEW_YORK):%a %Y-%m-%d})"
    actions = [a for a in engine.facade.rule_actions(wid) if a.rule_type == "stop_loss"]
    assert actions and text in actions[-1].status
    assert any(text in a.message for a in alerts)
    for _ in range(3):
        driver.advance(600)
        await engine.tasks.drain()
    closes = [o for o in (await engine.store.orders(wid)) if o.purpose is OrderPurpose.CLOSE]
    assert len(closes) == 1 and closes[0].created_at == opening
    await engine.stop()


async def test_a_stop_at_3_59_59_pm_is_sent_at_the_next_open(tmp_path: Path) -> None:
    def last_second(cal: MarketCalendar, now: datetime) -> datetime:
        return cal.next_close(now) - timedelta(seconds=1)

    engine, driver, wid, alerts = await _stop_fires_at(tmp_path, last_second)
    assert engine.clock.now().astimezone(NEW_YORK).time() == time(15, 59, 59)
    assert any("market closing at 16:00 ET" in a.message for a in alerts)
    await _sent_at_the_next_open(engine, driver, wid, alerts)


async def test_a_stop_after_the_close_is_sent_at_the_next_open(tmp_path: Path) -> None:
    def evening(cal: MarketCalendar, now: datetime) -> datetime:
        return cal.next_close(now) + timedelta(hours=2)

    engine, driver, wid, alerts = await _stop_fires_at(tmp_path, evening)
    assert any("market closed: stop loss queued for the open at 09:30 ET" in a.message
               for a in alerts)
    await _sent_at_the_next_open(engine, driver, wid, alerts)
