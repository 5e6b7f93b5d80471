from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tastydesk.engine.broker.paper.broker import PaperBroker
from tastydesk.engine.broker.paper.market import PaperMarket
from tastydesk.engine.broker.paper.state import (
    MARKET_CORE,
    MARKET_HISTORY,
    MARKET_SERIES,
    PaperState,
)
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import NEW_YORK, MarketCalendar, SimClock
from tastydesk.engine.domain.enums import CommandOutcome, OrderAction, OrderStatus
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest

D = Decimal
CALENDAR = MarketCalendar([])
# Monday 5 January 2026, 10:00 New York.
START = datetime(2026, 1, 5, 10, 0, tzinfo=NEW_YORK).astimezone(UTC)
SYMBOLS = ("SPY", "QQQ", "AAPL", "TSLA")


class Paper:
    """A market and a broker on one clock, optionally backed by a state file."""

    def __init__(self, path: Path | None, start: datetime = START, seed: int = 5) -> None:
        self.state = PaperState(path) if path is not None else None
        self.clock = SimClock(start)
        self.bus = EventBus()
        self.market = PaperMarket(self.bus, self.clock, CALENDAR, seed=seed, symbols=SYMBOLS,
                                  state=self.state)
        if self.market.now > self.clock.now():
            self.clock.advance(self.market.now)
        self.broker = PaperBroker(self.market, self.bus, self.clock, seed=seed + 1,
                                  state=self.state)

    def step(self, minutes: float = 1) -> None:
        t = self.clock.now() + timedelta(minutes=minutes)
        self.clock.advance(t)
        self.market.step(t)

    def close(self) -> None:
        if self.state is not None:
            self.state.close()


def vertical(paper: Paper, credit_offset: Decimal, external_id: str, qty: int = 1
             ) -> OrderRequest:
    """A SPY put credit spread about 3 % out of the money, priced at mid + ``credit_offset``."""
    exp = paper.market.chain("SPY", 20, 50).expirations[0]
    spot = paper.market.spot("SPY")
    short = min(exp.strikes, key=lambda s: abs(s.price - spot * D("0.97")))
    long = min(exp.strikes, key=lambda s: abs(s.price - (short.price - 5)))
    s_q, l_q = short.put.quote, long.put.quote
    assert s_q is not None and l_q is not None
    mid = ((s_q.bid + s_q.ask) / 2 - (l_q.bid + l_q.ask) / 2).quantize(D("0.01"))
    return OrderRequest("SPY", (OrderLeg(short.put.symbol, OrderAction.SELL_TO_OPEN, qty),
                                OrderLeg(long.put.symbol, OrderAction.BUY_TO_OPEN, qty)),
                        max(mid + credit_offset, D("0.01")), external_id)


def prices(market: PaperMarket, symbols: list[str]) -> list[object]:
    out: list[object] = [market.spot(s) for s in SYMBOLS]
    for sym in symbols:
        c = market.contract(sym)
        assert c is not None
        out.append((c.quote, c.greeks.price if c.greeks else None))
    return out


def some_options(market: PaperMarket) -> list[str]:
    out = []
    for sym in SYMBOLS:
        for exp in market.chain(sym, 5, 60).expirations[:2]:
            out += [exp.strikes[len(exp.strikes) // 2].call.symbol, exp.strikes[3].put.symbol]
    return out


# -- market ---------------------------------------------------------------------------------


def test_market_snapshot_restores_and_steps_on_like_a_market_that_never_stopped() -> None:
    a = Paper(None)
    options = some_options(a.market)
    for _ in range(30):
        a.step(7)
    a.step(60 * 20)  # through the close and the overnight gap
    snap = json.loads(json.dumps(a.market.snapshot()))  # survives JSON unchanged
    assert snap == a.market.snapshot()

    b = Paper(None, start=START + timedelta(hours=1))  # restore replaces its state
    b.market.restore(snap)
    assert b.market.now == a.market.now
    b.clock.advance(a.clock.now())
    assert prices(b.market, options) == prices(a.market, options)
    assert ([e.date for e in b.market.chain("SPY", 0, 90).expirations]
            == [e.date for e in a.market.chain("SPY", 0, 90).expirations])
    for minutes in (1, 5, 30, 60 * 24, 3, 60 * 70):
        a.step(minutes)
        b.step(minutes)
        assert prices(b.market, options) == prices(a.market, options)
    assert b.market.snapshot() == a.market.snapshot()


def test_market_restore_rejects_another_seed_or_malformed_state() -> None:
    a = Paper(None)
    a.step(5)
    snap = a.market.snapshot()
    other = Paper(None, seed=6)
    with pytest.raises(ValueError, match="seed"):
        other.market.restore(snap)
    broken = json.loads(json.dumps(snap))
    del broken["core"]["rng"]
    with pytest.raises(ValueError, match="malformed"):
        a.market.restore(broken)
    short = json.loads(json.dumps(snap))
    short["core"]["log_spot"] = short["core"]["log_spot"][:2]
    with pytest.raises(ValueError, match="4 entries"):
        a.market.restore(short)


def test_market_state_file_with_another_seed_starts_afresh(tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    a = Paper(tmp_path / "paper.db")
    a.step(5)
    a.market.save_state()
    a.close()
    state = PaperState(tmp_path / "paper.db")
    with caplog.at_level(logging.WARNING):
        fresh = PaperMarket(EventBus(), SimClock(START), CALENDAR, seed=99, symbols=SYMBOLS,
                            state=state)
    assert fresh.now == START and "not restored" in caplog.text
    state.close()


def test_market_saves_at_most_once_a_simulated_minute_and_only_when_moved(tmp_path: Path
                                                                          ) -> None:
    a = Paper(tmp_path / "paper.db")
    conn = sqlite3.connect(tmp_path / "paper.db")

    def saved_at() -> str:
        row = conn.execute("SELECT body FROM part WHERE name = 'market/core'").fetchone()
        return "" if row is None else json.loads(row[0])["now"]

    a.step(1)
    first = saved_at()
    assert first == a.market.now.isoformat()
    a.step(0.25)
    assert saved_at() == first  # 15 s later: not yet
    a.step(1)
    assert saved_at() == a.market.now.isoformat()
    a.step(60 * 7)  # to the close and past it: the market stops moving
    closed_at = saved_at()
    a.step(60)
    a.step(60)
    assert saved_at() == closed_at
    conn.close()
    a.close()


# -- broker ---------------------------------------------------------------------------------


async def test_orders_positions_cash_and_prices_come_back_after_a_restart(tmp_path: Path
                                                                          ) -> None:
    path = tmp_path / "paper.db"
    a = Paper(path)
    await a.broker.connect()
    options = some_options(a.market)
    filled = await a.broker.place(vertical(a, D("-0.30"), "ext-fill"))
    assert filled.outcome is CommandOutcome.ACCEPTED
    a.step(1)
    resting = await a.broker.place(vertical(a, D("0.60"), "ext-rest"))
    assert resting.outcome is CommandOutcome.ACCEPTED and resting.order is not None
    a.step(1)
    before = {
        "positions": await a.broker.positions(),
        "balance": a.broker.current_balance(),
        "fees": a.broker.fees_paid,
        "orders": await a.broker.live_orders(),
        "prices": prices(a.market, options),
        "now": a.market.now,
    }
    assert before["positions"] and before["balance"].cash != D("100000")
    a.close()
    del a

    b = Paper(path, start=START)  # the app starts again, its clock at the last stored time
    await b.broker.connect()
    assert b.market.now == before["now"] and b.clock.now() == before["now"]
    assert await b.broker.positions() == before["positions"]
    assert b.broker.current_balance() == before["balance"]
    assert b.broker.fees_paid == before["fees"]
    assert await b.broker.live_orders() == before["orders"]
    assert prices(b.market, options) == before["prices"]
    found = await b.broker.find_order("ext-rest")
    assert found is not None and found.order_id == resting.order.order_id
    assert found.status is OrderStatus.WORKING
    # Ids continue: a new order never reuses an id from before the restart.
    again = await b.broker.place(vertical(b, D("-0.30"), "ext-after"))
    assert again.order is not None
    assert int(again.order.order_id) > int(resting.order.order_id)
    b.close()


async def test_a_restored_world_steps_on_exactly_like_the_one_that_never_stopped() -> None:
    a = Paper(None)
    await a.broker.connect()
    await a.broker.place(vertical(a, D("-0.20"), "o1", qty=3))
    a.step(1)
    await a.broker.place(vertical(a, D("0.05"), "o2", qty=4))  # rests: random partial fills
    a.step(1)
    b = Paper(None)
    b.market.restore(json.loads(json.dumps(a.market.snapshot())))
    b.broker.restore(json.loads(json.dumps(a.broker.snapshot())))
    b.clock.advance(a.clock.now())
    await b.broker.connect()
    assert b.broker.snapshot() == a.broker.snapshot()
    for _ in range(40):
        a.step(1)
        b.step(1)
    assert a.broker.snapshot() == b.broker.snapshot()
    assert await a.broker.live_orders() == await b.broker.live_orders()
    assert a.broker.realized_pnl == b.broker.realized_pnl


def test_broker_restore_rejects_malformed_state() -> None:
    a = Paper(None)
    snap = a.broker.snapshot()
    for field, value in (("cash", "lots"), ("rng", [3, [1, 2], None]), ("format", 9)):
        broken = {**snap, field: value}
        with pytest.raises(ValueError, match="state"):
            a.broker.restore(broken)


# -- crashes --------------------------------------------------------------------------------


def _child(path: Path, write_fd: int, seed: int) -> None:
    """Place, replace, cancel and step until killed; report each acknowledged order id."""
    async def run() -> None:
        paper = Paper(path, seed=3)
        await paper.broker.connect()
        rng = random.Random(seed)
        os.write(write_fd, b"ready\n")
        k = 0
        while True:
            k += 1
            offset = D(rng.choice(["-0.30", "0.40", "0.90"]))
            result = await paper.broker.place(vertical(paper, offset, f"x{seed}-{k}"))
            if result.order is not None:
                os.write(write_fd, f"{result.order.order_id}\n".encode())
                if rng.random() < 0.3 and result.outcome is CommandOutcome.ACCEPTED:
                    await paper.broker.cancel(result.order.order_id)
            paper.step(rng.choice([0.5, 1, 3]))

    try:
        asyncio.run(run())
    finally:
        os._exit(1)


def _kill_during_work(path: Path, seed: int, delay: float) -> list[str]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child process
        os.close(read_fd)
        _child(path, write_fd, seed)
    os.close(write_fd)
    buf = b""
    deadline = time.monotonic() + 30
    while b"ready\n" not in buf and time.monotonic() < deadline:
        chunk = os.read(read_fd, 4096)
        if not chunk:
            break
        buf += chunk
    assert b"ready\n" in buf, "child never became ready"
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    while chunk := os.read(read_fd, 65536):
        buf += chunk
    os.close(read_fd)
    return [line for line in buf.decode().split("\n")[1:] if line]


def test_an_order_acknowledged_before_a_kill_survives_it(tmp_path: Path) -> None:
    rng = random.Random(11)

    async def reopen(path: Path, acknowledged: list[str]) -> None:
        paper = Paper(path, seed=3)  # the file opens and both halves restore
        await paper.broker.connect()
        assert paper.market.now >= START
        for order_id in acknowledged:
            assert await paper.broker.get_order(order_id) is not None, (path.name, order_id)
        assert paper.broker.current_balance().cash >= 0
        paper.step(1)  # and it steps on
        paper.close()

    total = 0
    for trial in range(10):
        path = tmp_path / f"paper-{trial}.db"
        acknowledged = _kill_during_work(path, trial, rng.uniform(0.15, 0.6))
        total += len(acknowledged)
        asyncio.run(reopen(path, acknowledged))
    assert total > 10  # the children really were placing orders when they were killed


def test_the_state_file_must_be_a_state_file(tmp_path: Path) -> None:
    bad = tmp_path / "paper.db"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ValueError, match="path"):
        PaperState(bad)


# -- worlds saved by earlier versions ------------------------------------------------------------

WORLD_FORMAT_1 = Path(__file__).parent / "data" / "world_format1.json"


async def test_a_world_saved_before_the_split_loads_and_continues_identically(tmp_path) -> None:
    """``data/world_format1.json``: a SPY world saved by the paper broker before it was split
    into parts (no time in force, no lifecycle transactions), with what that version showed
    after 90 more one-minute steps. It must load and continue to the same numbers."""
    saved = json.loads(WORLD_FORMAT_1.read_text())
    with PaperState(tmp_path / "paper.db") as state:
        market_parts = {MARKET_CORE: saved["market"]["core"],
                        MARKET_HISTORY: saved["market"]["history"]}
        market_parts.update({MARKET_SERIES + name: body
                             for name, body in saved["market"]["series"].items()})
        state.save(market_parts)
        state.save_broker(saved["broker"])
    state = PaperState(tmp_path / "paper.db")
    clock = SimClock(datetime.fromisoformat(saved["market"]["core"]["now"]))
    bus = EventBus()
    market = PaperMarket(bus, clock, MarketCalendar([]), seed=7, symbols=("SPY",), state=state)
    broker = PaperBroker(market, bus, clock, seed=3, state=state)
    await broker.connect()
    assert [[p.symbol, p.quantity, str(p.average_open_price)]
            for p in await broker.positions()] == saved["positions"]
    assert [[o.order_id, o.external_id, o.status.value]
            for o in await broker.live_orders()] == saved["orders"]
    short = saved["positions"][0][0]
    for _ in range(90):
        t = clock.now() + timedelta(minutes=1)
        market.step(t)
        clock.advance(t)
    after = saved["after_90_minutes"]
    assert str(market.spot("SPY")) == after["spot"]
    assert str(market.mid(short)) == after["short_mid"]
    assert str(broker.current_balance().cash) == after["cash"]
    assert [[o.order_id, o.status.value, o.filled_quantity]
            for o in await broker.live_orders()] == after["orders"]
    assert await broker.lifecycle_events(None) == []
    state.close()


# -- write-behind ---------------------------------------------------------------------------------


def test_write_behind_saves_off_the_caller_in_order_and_counts_only_committed_saves(
        tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Event

    state = PaperState(tmp_path / "paper.db")
    writer = ThreadPoolExecutor(max_workers=1)
    gate = Event()
    writer.submit(gate.wait)  # the writer thread is busy: saves must not wait for it
    state.write_behind(writer.submit)
    body = {"cash": 0}
    t0 = time.perf_counter()
    for n in range(50):
        body["cash"] = n  # the caller keeps changing its state: each save is taken as it was
        state.save({"broker": body})
    assert time.perf_counter() - t0 < 1.0
    assert state.generation() == 0  # nothing committed yet, so nothing to record as seen
    gate.set()
    assert state.load_broker() == {"cash": 49}  # a read waits for the queue; the newest won
    assert state.generation() == 50
    state.save({"broker": {"cash": 50}})
    state.close()  # flushes
    writer.shutdown()
    with PaperState(tmp_path / "paper.db") as again:
        assert again.load_broker() == {"cash": 50}
        assert again.generation() == 51


def test_a_save_after_the_writer_stopped_commits_on_the_caller(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    writer = ThreadPoolExecutor(max_workers=1)
    with PaperState(tmp_path / "paper.db") as state:
        state.write_behind(writer.submit)
        state.save({"broker": {"cash": 1}})
        writer.shutdown(wait=True)
        state.save({"broker": {"cash": 2}})
        assert state.load_broker() == {"cash": 2}
