"""The paper market's underlying model: per-symbol profiles and seeded price/volatility paths.

Each underlying follows geometric Brownian motion whose volatility is an exponential
Ornstein-Uhlenbeck factor (mean-reverting, negatively correlated with returns, so volatility rises
when price drops), driven partly by one common market factor (so betas are real), plus rare
jumps and earnings gaps. Every piece has a closed-form transition over any interval, so stepping
by a minute or by a day are both exact in distribution; time only runs while the market is open
(an overnight share of the daily variance is released as a gap at the open).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

TRADING_DAYS = 252
SESSION_SECONDS = 6.5 * 3600
OVERNIGHT_VARIANCE_SHARE = 0.2  # of a day's variance, released as a gap at the open
REALIZED_TO_IMPLIED = 0.9  # realized volatility runs below implied (variance risk premium)
VOL_MEAN_REVERSION = 4.0  # per year of trading time: vol shocks half-life about two months
VOL_OF_VOL = 0.75  # of the log-vol factor (stationary sd about 0.27)
SPOT_VOL_CORRELATION = -0.7


@dataclass(frozen=True, slots=True)
class Profile:
    """Static character of one underlying."""

    symbol: str
    price: float  # starting price
    vol: float  # long-run 30-day implied volatility
    beta: float
    liquidity: int  # 0..4
    dividend_yield: float
    etf: bool
    skew: float  # vol change per standard deviation of moneyness (negative: puts richer)
    smile: float  # curvature per squared standard deviation
    jumps_per_year: float
    jump_mean: float
    jump_sd: float
    earnings_move: float  # standard deviation of the earnings gap; 0 for ETFs
    penny: bool  # quoted in pennies at every price (penny-pilot ETFs)


PROFILES: dict[str, Profile] = {
    p.symbol: p
    for p in (
        Profile("SPY", 590.0, 0.16, 1.00, 4, 0.012, True, -0.14, 0.025, 1.0, -0.03, 0.03, 0.0,
                True),
        Profile("QQQ", 510.0, 0.20, 1.15, 4, 0.006, True, -0.13, 0.025, 1.0, -0.035, 0.035, 0.0,
                True),
        Profile("IWM", 225.0, 0.22, 1.20, 4, 0.012, True, -0.11, 0.025, 1.0, -0.035, 0.035,
                0.0, True),
        Profile("AAPL", 230.0, 0.26, 1.15, 4, 0.005, False, -0.08, 0.03, 2.0, -0.01, 0.04, 0.045,
                False),
        Profile("MSFT", 420.0, 0.24, 0.95, 4, 0.008, False, -0.08, 0.03, 2.0, -0.01, 0.04, 0.045,
                False),
        Profile("NVDA", 135.0, 0.50, 1.80, 4, 0.0003, False, -0.06, 0.03, 3.0, -0.01, 0.06,
                0.08, False),
        Profile("AMZN", 200.0, 0.32, 1.25, 4, 0.0, False, -0.07, 0.03, 2.0, -0.01, 0.05, 0.065,
                False),
        Profile("TSLA", 340.0, 0.60, 2.00, 4, 0.0, False, -0.04, 0.03, 3.0, 0.0, 0.07, 0.09,
                False),
        Profile("GLD", 245.0, 0.15, 0.10, 3, 0.0, True, 0.02, 0.02, 0.5, 0.0, 0.03, 0.0, False),
        Profile("TLT", 92.0, 0.16, -0.20, 3, 0.04, True, -0.02, 0.02, 0.5, 0.0, 0.025, 0.0,
                False),
    )
}

MARKET_VOL = PROFILES["SPY"].vol * REALIZED_TO_IMPLIED


def stable_unit(text: str) -> float:
    """A stable pseudo-random number in [0, 1) from text (Python's hash() is salted per run)."""
    return zlib.crc32(text.encode()) / 2**32


def profile_for(symbol: str) -> Profile:
    """The profile of a known underlying, or a stable synthetic one for any other ticker."""
    known = PROFILES.get(symbol)
    if known is not None:
        return known
    u = [stable_unit(f"{symbol}:{i}") for i in range(4)]
    vol = 0.22 + 0.4 * u[1]
    return Profile(symbol, round(20 + 380 * u[0], 2), vol, round(0.6 + 1.2 * u[2], 2),
                   1 + int(3 * u[3]), 0.0, False, -0.07, 0.03, 2.0, -0.01, 0.05, vol / 6, False)


class UnderlyingModel:
    """State of every underlying (log price, log-vol factor) advanced from one seeded stream.

    Plain floats rather than numpy arrays: with ten names, a minute step costs a few
    microseconds this way, where numpy's per-call overhead would cost tens.
    """

    def __init__(self, profiles: list[Profile], rate: float, rng: np.random.Generator) -> None:
        self.profiles = profiles
        self.rate = rate
        self.rng = rng
        self.n = len(profiles)
        self.base_vol = [p.vol for p in profiles]
        self.div = [p.dividend_yield for p in profiles]
        self.market_corr = [
            min(max(p.beta * MARKET_VOL / (p.vol * REALIZED_TO_IMPLIED), -0.95), 0.97)
            for p in profiles
        ]
        self.idio_weight = [math.sqrt(1.0 - c * c) for c in self.market_corr]
        self.jump_rate = [p.jumps_per_year for p in profiles]
        self.jump_mean = [p.jump_mean for p in profiles]
        self.jump_sd = [p.jump_sd for p in profiles]
        self.jump_comp = [
            p.jumps_per_year * (math.exp(p.jump_mean + 0.5 * p.jump_sd**2) - 1.0) for p in profiles
        ]
        self.log_spot = [math.log(p.price) for p in profiles]
        self.vol_factor = [0.0] * self.n
        self._vol_indep = math.sqrt(1.0 - SPOT_VOL_CORRELATION**2)

    def implied_atm(self, i: int) -> float:
        """30-day at-the-money implied volatility of underlying ``i``, earnings excluded."""
        return self.base_vol[i] * math.exp(self.vol_factor[i])

    def spot(self, i: int) -> float:
        return math.exp(self.log_spot[i])

    def advance(self, tau: float) -> None:
        """Move every path forward by ``tau`` years of trading time (exact for the OU factor)."""
        if tau <= 0.0:
            return
        n = self.n
        z = self.rng.standard_normal(2 * n + 1).tolist()
        u = self.rng.random(n).tolist()
        market = z[0]
        sqrt_tau = math.sqrt(tau)
        decay = math.exp(-VOL_MEAN_REVERSION * tau)
        spread = VOL_OF_VOL * math.sqrt((1.0 - decay * decay) / (2.0 * VOL_MEAN_REVERSION))
        log_spot, vol_factor = self.log_spot, self.vol_factor
        for i in range(n):
            shock = self.market_corr[i] * market + self.idio_weight[i] * z[1 + i]
            vol_shock = SPOT_VOL_CORRELATION * shock + self._vol_indep * z[1 + n + i]
            sigma = self.base_vol[i] * math.exp(vol_factor[i]) * REALIZED_TO_IMPLIED
            drift = self.rate - self.div[i] - 0.5 * sigma * sigma - self.jump_comp[i]
            log_spot[i] += drift * tau + sigma * sqrt_tau * shock
            vol_factor[i] = vol_factor[i] * decay + spread * vol_shock
            jumps = _poisson(self.jump_rate[i] * tau, u[i])
            if jumps:
                size = self.rng.standard_normal()
                log_spot[i] += jumps * self.jump_mean[i] + math.sqrt(jumps) * self.jump_sd[i] * size
                # A jump scares the market: implied vol spikes, then mean-reverts.
                vol_factor[i] += 0.25 * jumps

    def gap(self, earnings_moves: list[float]) -> None:
        """The opening gap: the overnight share of a day's variance plus any earnings surprise."""
        self.advance(OVERNIGHT_VARIANCE_SHARE / TRADING_DAYS)
        if any(earnings_moves):
            surprise = self.rng.standard_normal(self.n).tolist()
            for i, move in enumerate(earnings_moves):
                if move > 0:
                    self.log_spot[i] += move * surprise[i] - 0.5 * move * move
                    # Implied volatility is crushed once the event is out.
                    self.vol_factor[i] -= 0.5 * max(self.vol_factor[i], 0.0)


def _poisson(mean: float, u: float) -> int:
    """Inverse-CDF Poisson draw from one uniform (exact; the loop rarely runs for small means)."""
    p = math.exp(-mean)
    cdf = p
    k = 0
    while u > cdf and k < 100:
        k += 1
        p *= mean / k
        cdf += p
    return k


def intraday_tau(seconds: float) -> float:
    """Trading-time years for ``seconds`` of an open session (the overnight share excluded)."""
    return seconds / SESSION_SECONDS * (1.0 - OVERNIGHT_VARIANCE_SHARE) / TRADING_DAYS
