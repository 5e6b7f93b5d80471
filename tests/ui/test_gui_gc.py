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
    threshold = gc.get_threshold()[0]
    for _ in range(threshold + 1):
        _Node()  # unreachable cycles: the youngest generation's counter passes its threshold
    assert gc.get_count()[0] > threshold
    # the collector's timer, on the GUI thread, collects the youngest generation
    qtbot.waitUntil(lambda: gc.get_count()[0] < threshold, timeout=5000)
    gc.collect()
    assert ref() is None
