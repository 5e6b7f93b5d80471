"""The trend signal behind a symbol's bias: the 20-day against the 50-day moving average.

One formula for both markets, so bias and confidence mean the same on paper and live: the paper
market feeds it its daily closes, the tastytrade adapter the closes of DXLink daily candles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

FAST_DAYS = 20
SLOW_DAYS = 50
VOL_SCALE = 0.25  # a moving-average spread of a quarter of the annual vol saturates the signal


def trend_signal(closes: Sequence[float], vol: float) -> float:
    """Signed trend strength in -1..1 from daily closes, oldest first, the latest price last.

    ``tanh((MA20 - MA50) / MA50 / (0.25 * vol))`` with ``vol`` the annualised volatility the
    spread is measured against; with fewer than 50 closes each average uses what there is.
    No closes, a non-positive price or volatility give 0 (no signal).
    """
    if not closes or vol <= 0:
        return 0.0
    fast = closes[-FAST_DAYS:]
    slow = closes[-SLOW_DAYS:]
    ma_fast = sum(fast) / len(fast)
    ma_slow = sum(slow) / len(slow)
    if ma_slow <= 0:
        return 0.0
    return math.tanh((ma_fast - ma_slow) / ma_slow / (VOL_SCALE * vol))
