"""Headless simulation: the whole engine on the paper market and broker, as fast as it can go.

The same code paths as the desktop (scan, evaluate, approve by policy, smart pricing, rule-driven
closes, restarts); only the clock differs: a stepped clock advanced in fixed increments. A run is
resumable: its end time and the paper clock live in the store, so a killed run restarted with the
same data directory continues where the last durable state left it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tastydesk.engine.bootstrap import PAPER_CLOCK_KEY, PaperDriver, open_paper_engine
from tastydesk.engine.config import EngineConfig
from tastydesk.engine.domain.enums import OrderStatus, RuleType
from tastydesk.engine.domain.events import BalanceUpdated
from tastydesk.engine.domain.order_fsm import price_steps
from tastydesk.engine.kernel import Kernel
from tastydesk.engine.lifecycle.accounting import cash_check, lifecycle_counts, orphaned_workflows
from tastydesk.engine.orders.resting import is_resting
from tastydesk.engine.readmodel.execution_report import allocation_summary, execution_summary
from tastydesk.engine.store.guard import LOOP_GUARD
from tastydesk.engine.store.service import Store
from tastydesk.engine.strategies.roll_example import is_condor, order_legality, with_roll_rule
from tastydesk.paths import db_path

SIM_START = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)  # a Monday, 09:30 New York
SIM_END_KEY = "simulation_end"
SIM_CASH_KEY = "simulation_start_cash"
STARTING_CASH = Decimal("100000")  # what open_paper_engine funds a new paper account with
HOLD_STRATEGY = "Iron Condor - 45 DTE"
#: How long after an order is sent or re-priced the paper broker matches it, in a simulation.
MATCH_DELAY = timedelta(seconds=1)


def drop_rules(store: Store, name: str, rule_types: frozenset[RuleType]) -> None:
    """Take ``rule_types`` out of the stored strategy ``name`` (ValueError when unknown)."""
    strategy = store.get_strategy(name)
    if strategy is None:
        raise ValueError(f"--rules-strategy: no strategy named {name!r}")
    kept = tuple(r for r in strategy.rules if r.rule_type not in rule_types)
    store.save_strategy(dataclasses.replace(strategy, rules=kept))


async def lifecycle_facts(kernel: Kernel) -> tuple[Decimal, dict[str, int]]:
    """The paper account's cash and positions at the end of the run."""
    balance = await kernel.broker.balance()
    return balance.cash, {p.symbol: p.quantity for p in await kernel.broker.positions()}


def lifecycle_summary(kernel: Kernel, store: Store, start_cash: Decimal, cash: Decimal,
                      broker_positions: dict[str, int]) -> dict[str, Any]:
    """Lifecycle counts, workflows monitoring legs the broker no longer holds, and the cash
    check (journal plus open positions' cost against the paper account's cash change)."""
    bookings = store.lifecycle_bookings()
    monitored = {mon.workflow_id: [leg.symbol for leg in mon.legs] for mon in kernel.positions}
    orphans = orphaned_workflows(monitored, broker_positions, store.positions(open_only=True))
    return {
        "lifecycle": lifecycle_counts(bookings),
        "workflows_monitoring_missing_legs": len(orphans),
        "cash_check": cash_check(cash - start_cash, store.list_workflows(), store.orders(),
                                 store.fills(), bookings, store.journal()),
    }


async def run_simulation(data_dir: Path, *, days: int, seed: int, symbols: list[str] | None = None,
                         auto_approve: bool = False, step_minutes: float = 15.0,
                         without_rules: frozenset[RuleType] = frozenset(),
                         rules_strategy: str = HOLD_STRATEGY,
                         roll_rule: bool = False) -> dict[str, Any]:
    """Run ``days`` of simulated time; ``without_rules`` drops those rule types from the
    strategy ``rules_strategy`` (e.g. expiration_risk, to let its positions reach expiration);
    ``roll_rule`` gives the iron condor a roll rule (rolled as legal orders)."""
    wall = time.perf_counter()
    # Headless: no UI shares this loop, so set-up and the summary read the store directly; the
    # engine itself still goes through its (inline) async store, which the guard checks.
    with LOOP_GUARD.permitted():
        store = Store.open(db_path(data_dir), synchronous="NORMAL")
        if without_rules:
            drop_rules(store, rules_strategy, without_rules)
        if roll_rule:  # the iron condor rolls at 25 DTE (as legal orders) instead of exiting
            for strategy in store.list_strategies():
                if is_condor(strategy):
                    store.save_strategy(with_roll_rule(strategy))
        config = EngineConfig.from_dict(store.get_config("engine", None) or {})
        overrides: dict[str, Any] = {"auto_approve": auto_approve, "paper_seed": seed}
        if symbols:
            overrides["watchlist"] = [s.upper() for s in symbols]
        config = EngineConfig.from_dict({**config.to_dict(), **overrides})
        store.set_config("engine", config.to_dict())
        saved_end = store.get_config(SIM_END_KEY, None)
        resumed = store.get_config(PAPER_CLOCK_KEY, None) is not None and saved_end is not None
        start = datetime.fromisoformat(store.get_config(PAPER_CLOCK_KEY)) if resumed else SIM_START
        end = datetime.fromisoformat(saved_end) if resumed else SIM_START + timedelta(days=days)
        store.set_config(SIM_END_KEY, end.isoformat())
    kernel, driver = await open_paper_engine(data_dir, seed=seed, start=start, store=store,
                                            inline_store=True)
    await kernel.start(start_driver=False)
    start_cash = await kernel.store.get_config(SIM_CASH_KEY, None)
    if start_cash is None:
        start_cash = str(STARTING_CASH if not resumed else (await kernel.broker.balance()).cash)
        await kernel.store.set_config(SIM_CASH_KEY, start_cash)
    step = step_minutes * 60.0
    steps = 0
    # The broker's net liquidating value over the run: the allocation audit's account state.
    nlv: list[tuple[datetime, Decimal]] = []
    kernel.bus.subscribe(BalanceUpdated, lambda e: nlv.append(
        (kernel.clock.now(), e.balance.net_liquidating_value)))
    try:
        while kernel.clock.now() < end:
            await advance_step(kernel, driver, step)
            steps += 1
            if steps % 50 == 0:
                await kernel.store.set_config(PAPER_CLOCK_KEY, kernel.clock.now().isoformat())
                await driver.sync()  # the two files brought level (tastydesk.accounts.identity)
        await kernel.tasks.drain()
        facts = await lifecycle_facts(kernel)
        with LOOP_GUARD.permitted():
            summary = summarise(kernel, store)
            summary.update(lifecycle_summary(kernel, store, Decimal(start_cash), *facts))
            summary.update(allocation_summary(store, nlv, Decimal(start_cash),
                                              kernel.settings.config.max_allocation_pct))
        summary["order_legality"] = await order_legality(kernel.broker,
                                                         await kernel.store.orders())
    finally:
        await kernel.store.set_config(PAPER_CLOCK_KEY, kernel.clock.now().isoformat())
        await kernel.stop()
    if without_rules:  # what the run changed, so its counts can be reproduced
        summary["rules_dropped"] = {"strategy": rules_strategy,
                                    "rule_types": sorted(t.value for t in without_rules)}
    summary.update(days=days, seed=seed, resumed=resumed, steps=steps,
                   sim_start=start.isoformat(), sim_end=end.isoformat(),
                   wall_s=round(time.perf_counter() - wall, 2))
    return summary


def _walking(kernel: Kernel) -> bool:
    """Whether an order of the app's is being worked (sent, not yet ended, not a resting exit)."""
    return any(not is_resting(o) for o in kernel.orders.open_records())


async def _settle(kernel: Kernel) -> None:
    await asyncio.sleep(0)  # let the per-turn rule checks run
    await kernel.tasks.drain()


async def advance_step(kernel: Kernel, driver: PaperDriver, seconds: float) -> None:
    """Advance paper time by ``seconds``. While an order is being worked and the market is
    open, the step stops at every timer due on the way: the market (and the paper broker's
    matching) is stepped to the timer's time, the timer fires then, and the broker matches what
    it sent a moment later.

    Why: the engine's timers keep their own times, as in the desktop. Stepped in one jump, a
    price walk's two-minute timer fired at the end of the step, so each price of an entry took
    a whole step: a ten-minute walk took over an hour, drifted from its limit meanwhile and ran
    into the close. With no order working, nothing gains from the stops, so the step is one
    jump (a year's run stays about as fast).
    """
    clock, calendar = driver.clock, kernel.calendar
    target = clock.now() + timedelta(seconds=seconds)
    while _walking(kernel) and calendar.is_open(now := clock.now()):
        due = clock.next_timer()
        if due is None or not now < due < min(target, calendar.next_close(now) - MATCH_DELAY):
            break
        driver.advance((due - now).total_seconds())
        await _settle(kernel)
        driver.advance(MATCH_DELAY.total_seconds())
        await _settle(kernel)
    left = (target - clock.now()).total_seconds()
    if left > 0:
        driver.advance(left)
    await _settle(kernel)


def summarise(kernel: Kernel, store: Store) -> dict[str, Any]:
    """Stable-keyed summary of everything the store holds about the run."""
    transitions = store.transitions(None)
    triggers = Counter(t.trigger.value for t in transitions if t.trigger is not None)
    orders = store.orders()
    rule_actions = store.rule_actions()
    by_type = Counter(r.rule_type for r in rule_actions)
    journal = store.journal()
    pnl: dict[str, Decimal] = {}
    for j in journal:
        pnl[j.strategy] = pnl.get(j.strategy, Decimal(0)) + j.realised_pnl
    steps = 0
    for o in orders:
        steps += price_steps(store.order_events(o.external_id))
    closing = Counter(j.closing_rule for j in journal)
    return {
        "workflows_started": len(store.list_workflows()),
        "proposals": triggers.get("propose", 0),
        "approvals": triggers.get("approve", 0),
        "rejections": triggers.get("reject", 0),
        "orders": len(orders),
        "orders_filled": sum(1 for o in orders if o.status is OrderStatus.FILLED),
        "fills": len(store.fills()),
        "price_improvement_steps": steps,
        "rule_triggers": dict(sorted(by_type.items())),
        "positions_closed": len(journal),
        "closed_by": dict(sorted(closing.items())),
        "realised_pnl_by_strategy": {k: str(v) for k, v in sorted(pnl.items())},
        "realised_pnl": str(sum(pnl.values(), Decimal(0))),
        "open_positions": len(kernel.facade.positions()),
        "errors": len(store.errors()),
        "error_messages": [f"{e.category}: {e.message}" for e in store.errors(limit=10)],
        "integrity": store.integrity_check(),
        **execution_summary(store),
    }
