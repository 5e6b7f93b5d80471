"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable

WARM_UP_S = 0.3


def warm_up(func: Callable[[], object], seconds: float = WARM_UP_S) -> None:
    """Run ``func`` for ``seconds`` before anything is measured.

    A CPU coming out of idle runs at a low clock for tens of milliseconds; a micro-benchmark
    that starts timing at once reports the ramp (a third slower here), not the steady state.
    """
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        func()
