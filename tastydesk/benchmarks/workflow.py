"""Engine benchmarks: rule decisions per market event, approval latency, a year of simulation."""

from __future__ import annotations

import asyncio
import gc
import statistics
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tastydesk.engine.domain.ids import WorkflowId


def _p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def _paper_engine(tmp: Path) -> Any:
    from tastydesk.engine.bootstrap import open_paper_engine
    from tastydesk.engine.clock import RealClock
    from tastydesk.engine.simulation import SIM_START

    # Approvals expire on the trader's (real) clock, as in the app, not on paper time.
    engine, driver = await open_paper_engine(tmp, seed=7, start=SIM_START + timedelta(hours=1),
                                             wall=RealClock())
    await engine.start(start_driver=False)
    return engine, driver


def rule_decision_latency() -> dict[str, Any]:
    """Market event -> rule decision with 1,000 monitored positions (4 legs each, 10 symbols)."""
    return asyncio.run(_rule_decision_latency())


async def _rule_decision_latency() -> dict[str, Any]:
    from tastydesk.engine.domain.chain import Quote
    from tastydesk.engine.domain.enums import OptionType, RuleType
    from tastydesk.engine.domain.events import QuoteReceived
    from tastydesk.engine.domain.strategy import ManagementRule
    from tastydesk.engine.positions.monitored import MonitoredLeg, MonitoredPosition

    with tempfile.TemporaryDirectory() as tmp:
        engine, _ = await _paper_engine(Path(tmp))
        now = engine.clock.now()
        expiry = (now + timedelta(days=40)).date()
        rules = (ManagementRule(RuleType.PROFIT_TARGET, Decimal("50")),
                 ManagementRule(RuleType.STOP_LOSS, Decimal("200"), priority=2),
                 ManagementRule(RuleType.TIME_EXIT, Decimal("21"), priority=3),
                 ManagementRule(RuleType.DELTA_BREACH, Decimal("0.30"), priority=4))
        symbols: list[str] = []
        for i in range(1000):
            legs = []
            for j, (kind, ratio) in enumerate(((OptionType.PUT, -1), (OptionType.PUT, 1),
                                               (OptionType.CALL, -1), (OptionType.CALL, 1))):
                sym = f".SYM{i % 10}{i:04d}{j}"
                symbols.append(sym)
                legs.append(MonitoredLeg(symbol=sym, streamer_symbol=sym, option_type=kind,
                                         strike=Decimal(100 + j), expiry=expiry, quantity=ratio,
                                         ratio=ratio, entry_price=Decimal("1.00"),
                                         bid=Decimal("0.95"), ask=Decimal("1.05"), delta=0.1,
                                         theta=0.01, vega=0.05, quote_time=now))
            mon = MonitoredPosition(workflow_id=WorkflowId(10_000 + i), symbol=f"SYM{i % 10}",
                                    strategy_name="bench", legs=legs, units=1,
                                    max_profit_per_unit=Decimal("100"),
                                    max_loss_per_unit=Decimal("400"),
                                    buying_power_per_unit=Decimal("400"), rules=rules,
                                    opened_at=now)
            engine.positions.track(mon)
        gc.freeze()  # steady state: the positions exist at start-up, which the kernel freezes
        samples = []
        publish = engine.bus.publish
        flush = engine.positions.flush_checks
        for n in range(20_000):
            sym = symbols[(n * 7919) % len(symbols)]
            event = QuoteReceived(Quote(sym, Decimal("0.98"), Decimal("1.04"), now))
            t0 = time.perf_counter()
            publish(event)  # updates the leg and queues the position's check for this loop turn
            flush()  # the queued rule check: the decision
            samples.append(time.perf_counter() - t0)
        await engine.stop()
    p99_ms = _p(samples, 0.99) * 1000
    return {"positions": 1000, "events": len(samples),
            "p50_ms": round(_p(samples, 0.5) * 1000, 4), "p99_ms": round(p99_ms, 4),
            "target_p99_ms": 1.0, "ok": p99_ms <= 1.0}


def approval_latency() -> dict[str, Any]:
    """Approval to order handed to the broker (re-check, decision, intent, dry run, place)."""
    return asyncio.run(_approval_latency())


async def _approval_latency() -> dict[str, Any]:
    from tastydesk.engine.config import EngineConfig

    samples: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        engine, driver = await _paper_engine(Path(tmp))
        await engine.facade.update_config(EngineConfig.from_dict({
            **engine.settings.config.to_dict(), "max_workflows_total": 100, "max_workflows_per_symbol": 10,
            "min_confidence": 0.0}), "bench")
        broker = engine.broker
        original = broker.place
        handed: dict[str, float] = {}

        async def timed_place(order: Any) -> Any:
            handed[order.external_id] = time.perf_counter()
            return await original(order)

        broker.place = timed_place
        for _ in range(6):
            await engine.facade.scan_now()
            await engine.tasks.drain()
            for pending in engine.facade.pending():
                t0 = time.perf_counter()
                before = set(handed)
                await engine.facade.approve(pending.workflow_id, "bench")
                new = set(handed) - before
                if new:
                    samples.append(handed[new.pop()] - t0)
            await engine.tasks.drain()
            driver.advance(3600)
            await engine.tasks.drain()
        await engine.stop()
    if not samples:
        return {"error": "no proposals were generated", "ok": False}
    p99_ms = _p(samples, 0.99) * 1000
    return {"approvals": len(samples), "p50_ms": round(statistics.median(samples) * 1000, 2),
            "p99_ms": round(p99_ms, 2), "target_p99_ms": 50, "ok": p99_ms <= 50}


def simulate_year() -> dict[str, Any]:
    """``simulate`` of one year on 10 symbols with auto-approval."""
    from tastydesk.engine.simulation import run_simulation

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = asyncio.run(run_simulation(Path(tmp), days=365, seed=1, auto_approve=True))
        wall = time.perf_counter() - t0
    return {"wall_s": round(wall, 1), "target_s": 60, "positions_closed":
            summary["positions_closed"], "orders": summary["orders"], "errors": summary["errors"],
            "ok": wall <= 60 and not summary["errors"]}


BENCHMARKS = [
    ("rule_decision_latency_1000_positions", rule_decision_latency),
    ("approval_to_broker_latency", approval_latency),
    ("simulate_one_year_10_symbols", simulate_year),
]
