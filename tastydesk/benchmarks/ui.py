"""Desktop benchmarks: start-up to the first window, and UI responsiveness under a quote storm.

``ui_startup`` launches the real app in a subprocess (offscreen, paper mode, its modules compiled
once beforehand as an installed app's are) and reads the time
from the start of the app (its own clock) to the first painted window (the splash) and to the
painted main window with the engine opened, and the main window's time from the launch (seen
from outside, so nothing done before the app's clock starts can hide).
``ui_stream_lag`` builds a paper engine holding open positions, shows the main window over it,
then publishes 10,000 quotes per second for the legs of every monitored position on the engine's
bus and measures how late a 10 ms Qt timer fires (event-loop lag) and the peak RSS.
``ui_command_stall`` measures the same lag while the trader's commands run (see its docstring).
"""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tastydesk.engine.domain.ids import ExternalOrderId

STARTUP_TARGET_S = 1.0
LAG_TARGET_MS = 50.0
RSS_TARGET_MB = 400.0
QUOTES_PER_S = 10_000
TARGET_POSITIONS = 500
STREAM_SECONDS = 5.0
LAUNCH_TIMEOUT_S = 120.0
BUILD_BUDGET_S = 240.0  # wall time allowed for opening and adopting the positions


def _launch(data_dir: Path, bytecode: Path) -> tuple[float, float, float]:
    """(first window, main window) on the app's own clock, which starts when the app begins to
    run (after the interpreter and the command line), and the main window as seen from here,
    from the launch: the time the trader waits. The probe's lines are read as they come.

    Compiled modules are kept in ``bytecode``, as an installed app keeps them (installers
    compile at install time), whatever the environment says about writing them: otherwise
    every launch would also time the compilation of every module it imports."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TASTYDESK_STARTUP_PROBE": "1",
           "PYTHONPYCACHEPREFIX": str(bytecode)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    figures: dict[str, float] = {}
    # stderr goes to a file, not a pipe: a chatty stderr cannot block the app while it runs.
    with tempfile.TemporaryFile("w+") as errors:
        started = time.perf_counter()
        with subprocess.Popen([sys.executable, "-m", "tastydesk", "--data-dir", str(data_dir),
                               "--paper"], env=env, stdout=subprocess.PIPE, stderr=errors,
                              text=True) as proc:
            watchdog = threading.Timer(LAUNCH_TIMEOUT_S, proc.kill)
            watchdog.start()
            try:
                assert proc.stdout is not None
                for line in proc.stdout:
                    key, _, value = line.strip().partition(" ")
                    if key == "main-window-s":
                        figures["from-launch-s"] = time.perf_counter() - started
                    if key in ("first-window-s", "main-window-s"):
                        figures[key] = float(value)
            finally:
                watchdog.cancel()
        errors.seek(0)
        err = errors.read()
    if len(figures) == 3:
        return figures["first-window-s"], figures["main-window-s"], figures["from-launch-s"]
    raise RuntimeError(f"app did not report its first window (exit {proc.returncode}, "
                       f"{time.perf_counter() - started:.1f} s): {err.strip()[-400:]}")


def bench_startup() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tastydesk-bench-") as tmp:
        base = Path(tmp)
        bytecode = base / "bytecode"
        _launch(base / "install", bytecode)  # compiles what the app imports, as installing does
        cold = _launch(base / "data", bytecode)  # a first run: creates the database
        warm = [_launch(base / "data", bytecode) for _ in range(3)]
    first = sorted(w[0] for w in warm)
    main = sorted(w[1] for w in warm)
    launch = sorted(w[2] for w in warm)
    return {"first_window_s": round(first[1], 3), "main_window_s": round(main[1], 3),
            "main_window_from_launch_s": round(launch[1], 3),
            "first_run_first_window_s": round(cold[0], 3),
            "first_run_main_window_s": round(cold[1], 3),
            "first_run_main_window_from_launch_s": round(cold[2], 3),
            "target": f"first window <= {STARTUP_TARGET_S} s",
            "ok": first[1] <= STARTUP_TARGET_S}


def bench_stream_lag() -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)  # closing the window must not stop the loop
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory(prefix="tastydesk-bench-") as tmp, loop:
        return loop.run_until_complete(_stream_lag(Path(tmp), app))


async def open_with_positions(base: Path, want: int) -> tuple[Any, Any]:
    """An engine monitoring ``want`` positions.

    Opening hundreds of positions through scan -> approve -> fill takes minutes (about ten per
    scan), so the positions are opened at the paper broker as put spreads, one per expiration
    and symbol, and taken into monitoring through the engine's adoption path, each with its
    strategy's rules: the same monitored state a filled workflow has.
    """
    from datetime import UTC, datetime
    from decimal import Decimal

    from tastydesk.engine.bootstrap import open_paper_engine
    from tastydesk.engine.clock import RealClock
    from tastydesk.engine.config import EngineConfig
    from tastydesk.engine.domain.enums import OrderAction
    from tastydesk.engine.domain.orders import OrderLeg, OrderRequest
    from tastydesk.engine.store.service import Store
    from tastydesk.paths import db_path

    store = Store.open(db_path(base))
    symbols = ["SPY", "QQQ", "IWM", "DIA", "AAPL", "MSFT", "NVDA", "AMZN", "TSLA", "GLD",
               "TLT", "META", "GOOGL", "AMD", "NFLX", "JPM", "XLE", "XLF", "SMH", "EEM",
               "KRE", "BA", "DIS", "COST", "UBER"]
    config = EngineConfig.from_dict({
        "watchlist": symbols, "max_workflows_total": want, "max_workflows_per_symbol": 20,
        "max_allocation_pct": "100", "max_portfolio_bwd": "1000000", "paper_seed": 3,
        "scan_interval_minutes": 1440})
    await asyncio.to_thread(store.set_config, "engine", config.to_dict())
    start = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    # Approvals expire on the trader's (real) clock, as in the app, not on paper time.
    engine, driver = await open_paper_engine(base, seed=3, start=start, store=store,
                                             starting_cash=Decimal("2000000"), wall=RealClock())
    await engine.start(start_driver=False)
    await engine.facade.set_automation(False, "benchmark")  # positions are watched; nothing acts on them
    broker = engine.broker
    per_symbol = -(-want // len(symbols)) + 3  # spare: not every symbol lists enough strikes
    spreads: list[tuple[str, str]] = []
    for symbol in symbols:
        chain = await broker.option_chain(symbol, 7, 400)
        placed = 0
        for exp in chain.expirations:
            if placed >= per_symbol:
                break
            puts = [s.put for s in exp.strikes if s.put.quote is not None
                    and s.put.greeks is not None and 0.15 <= abs(s.put.greeks.delta) <= 0.35]
            for k in range(0, len(puts) - 1, 2):  # disjoint pairs: (1st, 2nd), (3rd, 4th), ...
                if placed >= per_symbol:
                    break
                short, long_ = puts[-1 - k], puts[-2 - k]
                price = (short.quote.bid - long_.quote.ask - Decimal("0.05")).quantize(
                    Decimal("0.01"))
                if price <= 0:
                    continue
                order = OrderRequest(symbol, (OrderLeg(short.symbol, OrderAction.SELL_TO_OPEN, 1),
                                              OrderLeg(long_.symbol, OrderAction.BUY_TO_OPEN, 1)),
                                     price, ExternalOrderId(f"bench-{symbol}-{exp.date}-{k}"))
                await broker.place(order)
                spreads.append((short.symbol, long_.symbol))
                placed += 1
    deadline = time.monotonic() + BUILD_BUDGET_S
    held: set[str] = set()
    for _ in range(30):
        driver.advance(60.0)
        await engine.tasks.drain()
        held = {p.symbol for p in await broker.positions()}
        if all(a in held and b in held for a, b in spreads) or time.monotonic() > deadline:
            break
    strategy = "Put Credit Spread - 30 DTE"
    for short_sym, long_sym in spreads:
        if len(engine.facade.positions()) >= want or time.monotonic() > deadline:
            break
        if short_sym in held and long_sym in held:
            await engine.facade.adopt_position([short_sym, long_sym], strategy, "benchmark")
    await engine.tasks.drain()
    return engine, driver


async def _stream_lag(base: Path, app: Any) -> dict[str, Any]:
    from decimal import Decimal

    from PySide6.QtCore import QTimer

    from tastydesk.engine.domain.chain import Quote, parse_occ, streamer_symbol
    from tastydesk.engine.domain.events import QuoteReceived
    from tastydesk.ui.main_window import MainWindow

    build_started = time.perf_counter()
    engine, _driver = await open_with_positions(base, TARGET_POSITIONS)
    build_s = time.perf_counter() - build_started
    positions = engine.facade.positions()
    legs = [(leg.symbol, leg.mark or leg.entry_price) for p in positions for leg in p.legs]
    if not legs:
        await engine.stop()
        return {"error": "no open positions could be built", "ok": False}
    symbols = []
    for occ, mark in legs:
        root, expiry, option_type, strike = parse_occ(occ)
        symbols.append((streamer_symbol(root, expiry, option_type, strike), mark))
    window = MainWindow(engine.facade, tray_available=False)
    window.resize(1600, 1000)
    window.show()
    await asyncio.sleep(0.3)  # let the window paint (never processEvents() inside a coroutine)

    lags: list[float] = []
    expected = [time.perf_counter() + 0.01]
    timer = QTimer()
    timer.setInterval(10)

    def on_timer() -> None:
        now = time.perf_counter()
        lags.append(max(0.0, now - expected[0]) * 1000)
        expected[0] = now + 0.01

    timer.timeout.connect(on_timer)
    timer.start()
    bus = engine.bus
    clock = engine.clock
    batch = QUOTES_PER_S // 100  # published every 10 ms
    sent = 0
    i = 0
    started = time.perf_counter()
    tick = Decimal("0.01")
    next_batch = started
    while time.perf_counter() - started < STREAM_SECONDS:
        now = clock.now()
        for _ in range(batch):
            symbol, mark = symbols[i % len(symbols)]
            i += 1
            bid = max(tick, mark - tick * (1 + i % 3))
            bus.publish(QuoteReceived(Quote(symbol, bid, bid + tick * 4, now)))
        sent += batch
        # Paced by deadline (one batch every 10 ms), not by a fixed pause after the work.
        next_batch += 0.01
        await asyncio.sleep(max(0.0, next_batch - time.perf_counter()))
    elapsed = time.perf_counter() - started
    timer.stop()
    window.close()
    await engine.stop()
    lags.sort()
    p99 = lags[int(len(lags) * 0.99) - 1] if lags else float("nan")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "positions": len(positions), "legs": len(symbols), "build_s": round(build_s, 1),
        "quotes_per_s": round(sent / elapsed), "lag_p50_ms": round(lags[len(lags) // 2], 2),
        "lag_p99_ms": round(p99, 2), "lag_max_ms": round(lags[-1], 2),
        "peak_rss_mb": round(rss_mb, 1),
        "target": f"p99 <= {LAG_TARGET_MS} ms, RSS <= {RSS_TARGET_MB} MB, "
                  f"{TARGET_POSITIONS} positions",
        "ok": (p99 <= LAG_TARGET_MS and rss_mb <= RSS_TARGET_MB
               and len(positions) >= TARGET_POSITIONS),
    }


BENCHMARKS = [("ui_startup", bench_startup), ("ui_stream_lag", bench_stream_lag)]
