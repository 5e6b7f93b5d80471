"""Option math throughput on a realistic 10,000-contract chain.

The chain spans strikes from 50 % to 150 % of spot and 1 to 365 days to expiry, calls and puts,
with a skewed volatility surface; implied vol is solved from the model's own prices, so the ~10 %
of contracts without meaningful vega (deep in or out of the money near expiry) are included.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from tastydesk.benchmarks.timing import warm_up
from tastydesk.engine.pricing.bsm import bsm_greeks, bsm_price
from tastydesk.engine.pricing.iv import implied_vol

CHAIN_SIZE = 10_000
GREEKS_TARGET = 10_000_000
IV_TARGET = 1_500_000
_REPEATS = 25


def _chain(seed: int = 42) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    spot = 500.0
    strike = spot * rng.uniform(0.5, 1.5, CHAIN_SIZE)
    t = rng.integers(1, 366, CHAIN_SIZE) / 365.0
    log_m = np.log(strike / spot)
    vol = np.clip(0.2 - 0.25 * log_m / np.sqrt(t) * 0.2 + 0.3 * log_m**2, 0.05, 1.5)
    is_call = rng.random(CHAIN_SIZE) < 0.5
    return {"spot": np.full(CHAIN_SIZE, spot), "strike": strike, "t": t, "vol": vol,
            "is_call": is_call}


def _time(func: Callable[[], object]) -> list[float]:
    warm_up(func)
    samples = []
    for _ in range(_REPEATS):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return samples


def _figures(samples: list[float], target: int) -> dict[str, object]:
    """Median decides; the best run shows what a quiet machine does (others may share it)."""
    seconds = statistics.median(samples)
    rate = CHAIN_SIZE / seconds
    return {"contracts_per_s": round(rate), "ms_per_chain": round(seconds * 1e3, 3),
            "best_ms_per_chain": round(min(samples) * 1e3, 3),
            "target_contracts_per_s": target, "ok": rate >= target}


def greeks_10k_chain() -> dict[str, object]:
    c = _chain()
    samples = _time(lambda: bsm_greeks(c["spot"], c["strike"], c["t"], 0.04, 0.013, c["vol"],
                                       c["is_call"]))
    return _figures(samples, GREEKS_TARGET)


def implied_vol_10k_chain() -> dict[str, object]:
    c = _chain()
    price = bsm_price(c["spot"], c["strike"], c["t"], 0.04, 0.013, c["vol"], c["is_call"])
    samples = _time(lambda: implied_vol(price, c["spot"], c["strike"], c["t"], 0.04, 0.013,
                                        c["is_call"]))
    figures = _figures(samples, IV_TARGET)
    iv = implied_vol(price, c["spot"], c["strike"], c["t"], 0.04, 0.013, c["is_call"])
    solved = ~np.isnan(iv)
    figures["no_iv_fraction"] = round(float(1.0 - solved.mean()), 4)
    figures["max_abs_vol_error"] = float(np.max(np.abs(iv[solved] - c["vol"][solved])))
    return figures


BENCHMARKS = [
    ("greeks_10k_chain", greeks_10k_chain),
    ("implied_vol_10k_chain", implied_vol_10k_chain),
]
