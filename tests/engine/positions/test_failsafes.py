"""Confirmation and the pricing-anomaly failsafe: stops and delta breaches confirm over several
evaluations, and quotes that look wrong (crossed, inverted, zero bid, too wide) neither trigger
a rule nor price an order."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tastydesk.engine.domain.chain import Quote
from tastydesk.engine.domain.enums import ActionOutcome, OptionType, OrderPurpose, RuleType
from tastydesk.engine.domain.events import Alert, QuoteReceived
from tastydesk.engine.domain.strategy import ManagementRule
from tastydesk.engine.execution_pricing.anomaly import QuoteAnomaly
from tastydesk.engine.positions.monitored import MonitoredLeg, MonitoredPosition
from tests.engine.test_engine import paper, until_position

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
EXPIRY = date(2026, 4, 17)
D = Decimal


def stop(**kw: int) -> ManagementRule:
    return ManagementRule(RuleType.STOP_LOSS, D("100"), **kw)


def put_spread(rule: ManagementRule) -> MonitoredPosition:
    """Short the 95 put, long the 90 put, opened for a 1.00 credit."""
    legs = [MonitoredLeg("SPY   260417P00090000", ".SPY260417P90", OptionType.PUT, D("90"), EXPIRY,
                         1, 1, D("1.00")),
            MonitoredLeg("SPY   260417P00095000", ".SPY260417P95", OptionType.PUT, D("95"), EXPIRY,
                         -1, -1, D("2.00"))]
    return MonitoredPosition(1, "SPY", "test", legs, 1, D("100"), D("400"), D("400"), (rule,),
                             NOW)


def quote(mon: MonitoredPosition, long: tuple[str, str], short: tuple[str, str],
          at: datetime) -> None:
    mon.legs[0].quoted(D(long[0]), D(long[1]), at)
    mon.legs[1].quoted(D(short[0]), D(short[1]), at)


def run(mon: MonitoredPosition, long: tuple[str, str], short: tuple[str, str],
        times: int, start: datetime = NOW, step_s: int = 5) -> list[int | None]:
    out = []
    for i in range(times):
        at = start + timedelta(seconds=step_s * i)
        quote(mon, long, short, at)
        out.append(mon.evaluate(at.date(), at, 60.0))
    return out


LOSS = (("1.50", "1.60"), ("3.70", "3.80"))  # the spread costs 2.20 to close: a 120% loss


def test_stops_and_breaches_confirm_on_three_evaluations_or_ten_seconds_by_default() -> None:
    assert (stop().hold_evaluations, stop().hold_seconds) == (3, 10)
    breach = ManagementRule(RuleType.DELTA_BREACH, D("0.3"))
    assert (breach.hold_evaluations, breach.hold_seconds) == (3, 10)
    target = ManagementRule(RuleType.PROFIT_TARGET, D("50"))
    assert (target.hold_evaluations, target.hold_seconds) == (1, 0)
    assert (stop(hold_evaluations=1, hold_seconds=0).hold_evaluations,
            stop(hold_evaluations=1, hold_seconds=0).hold_seconds) == (1, 0)  # benchmarks
    # Quotes a second apart: the third evaluation confirms, long before ten seconds.
    assert run(put_spread(stop()), *LOSS, times=3, step_s=1) == [None, None, 0]
    # A quote every 10 s: ten seconds of holding confirm on the second evaluation.
    assert run(put_spread(stop()), *LOSS, times=2, step_s=10) == [None, 0]
    # Neither yet: two evaluations within 9 s.
    assert run(put_spread(stop()), *LOSS, times=2, step_s=9) == [None, None]


def test_a_single_wide_quote_does_not_trigger_a_stop() -> None:
    mon = put_spread(stop())
    run(mon, ("0.40", "0.45"), ("1.10", "1.15"), times=3)
    assert run(mon, ("0.05", "1.60"), ("1.20", "4.80"), times=1, start=NOW + timedelta(20)) == [
        None]
    assert mon.anomaly is QuoteAnomaly.WIDE
    # Even with confirmation off (one evaluation), a wide quote never acts.
    fast = put_spread(stop(hold_evaluations=1, hold_seconds=0))
    assert run(fast, ("0.05", "1.60"), ("1.20", "4.80"), times=5) == [None] * 5
    assert run(fast, *LOSS, times=1, start=NOW + timedelta(minutes=5)) == [0]  # the control


def test_inverted_or_zero_bid_quotes_never_trigger_a_rule() -> None:
    # The 90 put bid above the 95 put's ask: no market allows it. The spread looks worth less
    # than nothing: a false profit the target must not take.
    target = put_spread(ManagementRule(RuleType.PROFIT_TARGET, D("50")))
    assert run(target, ("3.90", "4.00"), ("3.70", "3.80"), times=20) == [None] * 20
    assert target.anomaly is QuoteAnomaly.INVERTED
    # The control, a real profit: the first quote is a jump from the bad ones, the next acts.
    assert run(target, ("0.05", "0.08"), ("0.30", "0.35"), times=2,
               start=NOW + timedelta(minutes=5)) == [None, 0]
    zero = put_spread(stop(hold_evaluations=1, hold_seconds=0))
    # The long put we would sell has no bid while offered at 1.60.
    assert run(zero, ("0.00", "1.60"), ("3.70", "3.80"), times=20) == [None] * 20
    assert zero.anomaly is QuoteAnomaly.ZERO_BID
    crossed = put_spread(stop(hold_evaluations=1, hold_seconds=0))
    assert run(crossed, ("1.70", "1.50"), ("3.70", "3.80"), times=20) == [None] * 20
    assert crossed.anomaly is QuoteAnomaly.CROSSED


async def test_an_inverted_quote_never_prices_a_closing_order(tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path, auto_manage=[])
    pos = await until_position(engine, driver)
    wid = pos.workflow_id
    alerts: list[Alert] = []
    engine.bus.subscribe(Alert, alerts.append)
    mon = engine.positions.get(wid)
    now = engine.clock.now()
    # Strikes priced the wrong way round (a put worth more at a lower strike, a call at a
    # higher one): inverted against its neighbour.
    ordered = sorted(mon.legs, key=lambda leg: (leg.option_type.value, leg.strike))
    for i, leg in enumerate(ordered):
        rich = (len(ordered) - i if leg.option_type is OptionType.PUT else i + 1)
        engine.bus.publish(QuoteReceived(Quote(leg.streamer_symbol, D(rich), D(rich) + D("0.05"),
                                               now)))
    await engine.tasks.drain()
    assert mon.anomaly is QuoteAnomaly.INVERTED
    assert any("quotes ignored" in a.title for a in alerts)
    result = await engine.facade.close_position(wid, "mia")
    assert result.outcome is ActionOutcome.NOT_SENT and "quotes ignored" in result.detail
    assert [o for o in (await engine.store.orders(wid)) if o.purpose is OrderPurpose.CLOSE] == []
    await engine.stop()
