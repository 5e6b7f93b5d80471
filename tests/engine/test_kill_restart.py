"""SIGKILL the headless engine at random moments, restart it on the same data, many times.

Afterwards: no duplicate orders at the broker, no lost or stuck workflows, no integrity error.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tastydesk.engine.store.service import Store

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 6


def _simulate(data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tastydesk", "simulate", "--days", "90", "--seed", "4",
         "--auto-approve", "--json", "--data-dir", str(data_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})


def _paper_clock(data_dir: Path) -> str | None:
    """The simulation's saved clock, read without taking part in the writer's transactions."""
    db = data_dir / "tastydesk.db"
    if not db.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2)
        try:
            row = conn.execute("SELECT value FROM config WHERE key = 'paper_clock'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


def _wait_until_stepping(proc: subprocess.Popen[str], data_dir: Path, before: str | None) -> None:
    """Wait until the run has moved the paper clock, so the kill lands mid-simulation."""
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        now = _paper_clock(data_dir)
        if now is not None and now != before:
            return
        time.sleep(0.05)


def test_sigkill_at_random_moments_then_restart(tmp_path: Path) -> None:
    rng = random.Random(11)
    kills = 0
    for _ in range(TRIALS):
        before = _paper_clock(tmp_path)
        proc = _simulate(tmp_path)
        _wait_until_stepping(proc, tmp_path, before)
        time.sleep(rng.uniform(0.05, 0.8))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
    assert kills >= TRIALS // 2, "the simulation finished too early to be killed"
    final = _simulate(tmp_path)
    out, err = final.communicate(timeout=600)
    assert final.returncode == 0, out[-3000:] + err[-3000:]
    summary = json.loads(out)
    assert summary["resumed"] is True
    assert summary["integrity"] == []
    assert summary["errors"] == 0, summary["error_messages"]

    store = Store.open(tmp_path / "tastydesk.db")
    try:
        assert store.integrity_check() == []
        orders = store.orders()
        assert orders, "the runs placed orders"
        # One intent per external id, and the broker never holds two live orders for one intent.
        assert len({o.external_id for o in orders}) == len(orders)
        from tastydesk.engine.broker.paper.state import PaperState

        paper = PaperState(tmp_path / "paper.db")
        broker_state = paper.load_broker()
        paper.close()
        assert broker_state is not None
        broker_orders = broker_state["orders"]
        live_per_intent = Counter(o.get("external_id") for o in broker_orders
                                  if o.get("status") not in ("REPLACED", "CANCELLED", "REJECTED",
                                                             "EXPIRED"))
        assert all(n <= 1 for n in live_per_intent.values()), live_per_intent
        # No workflow is stuck executing or closing without an order working for it.
        open_orders = {o.workflow_id for o in orders if not o.status.is_terminal}
        for wf in store.list_workflows():
            if wf.state.value in ("EXECUTING", "CLOSING"):
                assert wf.id in open_orders, f"workflow {wf.id} stuck in {wf.state}"
    finally:
        store.close()
