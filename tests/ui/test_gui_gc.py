"""Cycles are collected on the GUI thread only, never by a worker thread's allocation."""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any


class _Node:
    def __init__(self) -> None:
        self.me = self


def test_a_worker_thread_never_collects_and_the_gui_timer_does(qtbot: Any, gui_gc: Any) -> None:
    assert not gc.isenabled()
    node = _Node()
    ref = weakref.ref(node)
    del node
    collected_on: list[str] = []

    def churn() -> None:  # far past every threshold: with automatic collection this collects
        junk = [[i] for i in range(200_000)]
        del junk
        collected_on.append(threading.current_thread().name)

    worker = threading.Thread(target=churn, name="worker")
    worker.start()
    worker.join()
    assert collected_on == ["worker"] and ref() is not None  # the worker left the cycle alone
    for _ in range(gc.get_threshold()[0] + 1):
        _Node()  # unreachable cycles: the counters pass the thresholds
    qtbot.waitUntil(lambda: ref() is None, timeout=5000)  # the timer on the GUI thread did
