"""Durable workflow transitions per second on a store holding 10,000 workflows.

Each transition is an fsync'd commit (WAL, synchronous=FULL): one per transaction as the engine
does for a lone event, and grouped 100 per transaction as it does when many arrive together.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tastydesk.engine.domain.enums import Actor, Trigger
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.records import TransitionRequest
from tastydesk.engine.store.service import Store

WORKFLOWS = 10_000
SINGLE = 2_000
GROUPED = 20_000
GROUP = 100
NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def _with_store(body: Callable[[Store, list[WorkflowId]], dict[str, object]]) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="tastydesk-bench-") as tmp:
        store = Store.open(Path(tmp) / "bench.db")
        try:
            ids = store.create_workflows((f"S{i:05d}" for i in range(WORKFLOWS)), Actor.ENGINE,
                                         "benchmark", NOW)
            return body(store, ids)
        finally:
            store.close()


def _trigger(round_no: int) -> Trigger:
    return Trigger.SCAN if round_no % 2 == 0 else Trigger.NO_CANDIDATE


def bench_single() -> dict[str, object]:
    def body(store: Store, ids: list[WorkflowId]) -> dict[str, object]:
        start = time.perf_counter()
        for i in range(SINGLE):
            store.transition(ids[i % len(ids)], _trigger(i // len(ids)), Actor.ENGINE, "bench",
                             NOW)
        elapsed = time.perf_counter() - start
        rate = SINGLE / elapsed
        return {"transitions": SINGLE, "transitions_per_s": round(rate), "target": 2_000,
                "ok": rate >= 2_000 and not store.integrity_check()}

    return _with_store(body)


def bench_grouped() -> dict[str, object]:
    def body(store: Store, ids: list[WorkflowId]) -> dict[str, object]:
        start = time.perf_counter()
        for batch in range(0, GROUPED, GROUP):
            store.transition_many([
                TransitionRequest(ids[i % len(ids)], _trigger(i // len(ids)), Actor.ENGINE,
                                  "bench", NOW)
                for i in range(batch, batch + GROUP)])
        elapsed = time.perf_counter() - start
        rate = GROUPED / elapsed
        return {"transitions": GROUPED, "per_transaction": GROUP,
                "transitions_per_s": round(rate), "target": 10_000,
                "ok": rate >= 10_000 and not store.integrity_check()}

    return _with_store(body)


BENCHMARKS = [("store_transitions_single", bench_single),
              ("store_transitions_grouped", bench_grouped)]
