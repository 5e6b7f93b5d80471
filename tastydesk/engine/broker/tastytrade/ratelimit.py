"""Client-side pacing of REST calls and the retry policy for idempotent reads.

tastytrade publishes no quota and answers 429 without headers; repeated failures can lead to an
IP block, so the adapter paces itself and backs off with jitter. Only reads are retried: an order
command with an ambiguous outcome is resolved by lookup, never by sending it again.
"""

from __future__ import annotations

import asyncio
import random
import time


class RateLimiter:
    """Token bucket: ``rate`` requests per second on average, bursts up to ``burst``."""

    def __init__(self, rate: float = 10.0, burst: int = 10) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


class Backoff:
    """Exponential backoff with jitter: ``initial * 2**attempt``, capped, times U(0.5, 1)."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0,
                 rng: random.Random | None = None) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError(f"backoff needs 0 < initial <= maximum, got {initial}, {maximum}")
        self.initial = initial
        self.maximum = maximum
        self._rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        base = min(self.maximum, self.initial * (2 ** max(0, attempt)))
        return base * (0.5 + self._rng.random() / 2)
