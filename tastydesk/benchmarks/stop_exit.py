"""A stop breached on one of 1,000 monitored positions: from the quote to the closing order
handed to the broker.

Why: a protective exit is only as good as its reaction time (the fastest product we know checks
stops once a second). The quote goes through the real path: the position book's rule check
(confirmation set to one evaluation), the rule action under the workflow's lock, the workflow's
transition, the fast walk's first price, the order intent committed to the store, the broker's
dry run and the placement at the paper broker, which holds the position.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tastydesk.engine.domain.ids import ExternalOrderId, WorkflowId

if TYPE_CHECKING:
    from tastydesk.engine.bootstrap import PaperDriver
    from tastydesk.engine.kernel import Kernel

POSITIONS = 1000
SAMPLES = 40
TARGET_P99_MS = 50.0
HELD_SYMBOL = "TLT"


def _p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def stop_exit_latency() -> dict[str, Any]:
    """Quote breaching a stop -> closing order placed at the broker, 1,000 positions watched."""
    return asyncio.run(_stop_exit_latency())


async def _open_short_puts(engine: Kernel, driver: PaperDriver, count: int) -> list[Any]:
    """``count`` short puts really held at the paper broker (so closing them passes its checks);
    on a low-priced name so that the paper account's buying power carries them all."""
    from tastydesk.engine.domain.enums import OrderAction
    from tastydesk.engine.domain.orders import OrderLeg, OrderRequest

    chain = await engine.broker.option_chain(HELD_SYMBOL, 20, 60)
    puts = [s.put for exp in chain.expirations for s in exp.strikes
            if s.put.quote is not None and s.put.quote.bid > Decimal("0.05")][:count]
    for i, put in enumerate(puts):
        # marketable: fills at once
        request = OrderRequest(HELD_SYMBOL, (OrderLeg(put.symbol, OrderAction.SELL_TO_OPEN, 1),),
                               Decimal("0.05"), ExternalOrderId(f"bench-open-{i}"))
        await engine.broker.place(request)
    driver.advance(60)
    await engine.tasks.drain()
    return puts


def _position(workflow_id: WorkflowId, symbol: str, streamer: str, kind: Any, strike: Decimal,
              expiry: Any, ratio: int, now: Any, rules: Any) -> Any:
    from tastydesk.engine.positions.monitored import MonitoredLeg, MonitoredPosition

    leg = MonitoredLeg(symbol=symbol, streamer_symbol=streamer, option_type=kind, strike=strike,
                       expiry=expiry, quantity=ratio, ratio=ratio, entry_price=Decimal("1.00"),
                       bid=Decimal("0.98"), ask=Decimal("1.02"), delta=-0.2, theta=0.01,
                       vega=0.05, quote_time=now)
    return MonitoredPosition(workflow_id=workflow_id, symbol=symbol.split()[0].lstrip("."),
                             strategy_name="bench", legs=[leg], units=1,
                             max_profit_per_unit=Decimal("100"), max_loss_per_unit=Decimal("400"),
                             buying_power_per_unit=Decimal("400"), rules=rules, opened_at=now)


async def _stop_exit_latency() -> dict[str, Any]:
    from tastydesk.benchmarks.workflow import _paper_engine
    from tastydesk.engine.domain.chain import Quote
    from tastydesk.engine.domain.enums import Actor, OptionType, RuleType, Trigger
    from tastydesk.engine.domain.events import QuoteReceived
    from tastydesk.engine.domain.strategy import ManagementRule

    samples: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        engine, driver = await _paper_engine(Path(tmp))
        now = engine.clock.now()
        rules = (ManagementRule(RuleType.PROFIT_TARGET, Decimal("50")),
                 ManagementRule(RuleType.STOP_LOSS, Decimal("200"), priority=2,
                                hold_evaluations=1, hold_seconds=0, auto=True))
        held = await _open_short_puts(engine, driver, SAMPLES)
        expiry = (now + timedelta(days=40)).date()
        for i in range(POSITIONS - len(held)):  # the crowd: watched, never breached
            sym = f".SYM{i % 10}{i:04d}"
            engine.positions.track(_position(WorkflowId(20_000 + i), sym, sym, OptionType.PUT,
                                             Decimal(100), expiry, -1, now, rules))
        targets = []
        for put in held:
            rec = await engine.book.create(HELD_SYMBOL, Actor.ENGINE, "bench")
            for trigger in (Trigger.SCAN, Trigger.PROPOSE, Trigger.APPROVE, Trigger.FILL):
                await engine.book.transition(rec.id, trigger, Actor.ENGINE, "bench")
            engine.positions.track(_position(rec.id, put.symbol, put.streamer_symbol,
                                             OptionType.PUT, put.strike, put.expiry, -1, now,
                                             rules))
            targets.append(put)
        handed: dict[str, float] = {}
        original = engine.broker.place

        async def timed_place(order: Any) -> Any:
            handed.setdefault(order.legs[0].symbol, time.perf_counter())
            return await original(order)

        engine.broker.place = timed_place
        for put in targets:
            # Three times the entry: a 200 % loss on the 1.00 credit.
            quote = Quote(put.streamer_symbol, Decimal("3.40"), Decimal("3.50"),
                          engine.clock.now())
            t0 = time.perf_counter()
            engine.bus.publish(QuoteReceived(quote))
            await engine.tasks.drain()
            if put.symbol in handed:
                samples.append(handed[put.symbol] - t0)
        engine.broker.place = original
        await engine.stop()
    if not samples:
        return {"positions": POSITIONS, "samples": 0, "ok": False,
                "error": "no closing order reached the broker"}
    p99_ms = _p(samples, 0.99) * 1000
    return {"positions": POSITIONS, "samples": len(samples),
            "p50_ms": round(_p(samples, 0.5) * 1000, 3), "p99_ms": round(p99_ms, 3),
            "target_p99_ms": TARGET_P99_MS, "ok": p99_ms <= TARGET_P99_MS}


BENCHMARKS = [("stop_exit_to_broker_latency_1000_positions", stop_exit_latency)]
