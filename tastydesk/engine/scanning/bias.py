"""Scanning: a symbol's delta bias, the confidence in it, and the strategy entry filters.

Bias method (documented for the trader, configurable in Settings):

    score = trend_weight * trend  -  portfolio_weight * clamp(symbol_bwd / 100, -1, 1)

``trend`` is the market signal in -1..1 (positive: the underlying trends up); ``symbol_bwd`` is the
portfolio's beta-weighted delta already held in that symbol (SPY-equivalent shares): being long
delta pushes the bias toward bearish/neutral, so new trades lean against existing exposure.
|score| above ``bias_threshold`` gives a directional bias, otherwise neutral. Confidence starts at
0.5, grows with the strength of the signal and with IV rank (premium selling pays best when
implied volatility is rich), and is cut when earnings are near.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tastydesk.engine.config import EngineConfig
from tastydesk.engine.domain.chain import UnderlyingInfo
from tastydesk.engine.domain.enums import Bias
from tastydesk.engine.domain.strategy import Strategy


@dataclass(frozen=True, slots=True)
class BiasAssessment:
    bias: Bias
    score: float
    confidence: float
    reasons: tuple[str, ...]


def assess_bias(info: UnderlyingInfo, symbol_bwd: float, config: EngineConfig,
                today: date) -> BiasAssessment:
    exposure = max(-1.0, min(1.0, symbol_bwd / 100.0))
    score = config.trend_weight * info.trend - config.portfolio_weight * exposure
    if score > config.bias_threshold:
        bias = Bias.BULLISH
    elif score < -config.bias_threshold:
        bias = Bias.BEARISH
    else:
        bias = Bias.NEUTRAL
    reasons = [
        f"trend {info.trend:+.2f} x weight {config.trend_weight:.2f}",
        f"portfolio beta-weighted delta in {info.symbol} {symbol_bwd:+.0f}"
        f" x weight {config.portfolio_weight:.2f}",
        f"score {score:+.2f} vs threshold ±{config.bias_threshold:.2f} -> {bias.value}",
    ]
    strength = min(1.0, abs(score) / max(config.bias_threshold, 1e-9))
    if bias is Bias.NEUTRAL:
        strength = 1.0 - strength  # a score near zero is a confident neutral
    ivr = float(info.iv_rank)
    confidence = 0.5 + 0.25 * strength + 0.25 * (ivr / 100.0)
    reasons.append(f"IV rank {ivr:.0f}")
    if info.earnings is not None and 0 <= (info.earnings - today).days <= 7:
        confidence -= 0.2
        reasons.append(f"earnings on {info.earnings.isoformat()}: confidence reduced")
    confidence = max(0.0, min(1.0, confidence))
    reasons.append(f"confidence {confidence:.2f}")
    return BiasAssessment(bias, score, confidence, tuple(reasons))


def filter_failures(strategy: Strategy, info: UnderlyingInfo, today: date) -> list[str]:
    """Why a strategy's entry filters reject this underlying now (empty: it passes)."""
    f = strategy.filters
    out = []
    if info.price < f.min_underlying_price:
        out.append(f"price {info.price} below minimum {f.min_underlying_price}")
    if not f.iv_rank_min <= info.iv_rank <= f.iv_rank_max:
        out.append(f"IV rank {info.iv_rank:.0f} outside {f.iv_rank_min}-{f.iv_rank_max}")
    if info.liquidity < f.min_liquidity:
        out.append(f"liquidity {info.liquidity} below {f.min_liquidity}")
    if f.earnings_blackout_days and info.earnings is not None:
        days = (info.earnings - today).days
        if 0 <= days <= f.earnings_blackout_days:
            out.append(f"earnings in {days} days (blackout {f.earnings_blackout_days})")
    return out


def candidate_strategies(strategies: list[Strategy], bias: Bias) -> list[Strategy]:
    """Enabled strategies serving ``bias``: by priority, then the most specific first (a strategy
    made only for this bias before one that also serves another), then by name."""
    return sorted((s for s in strategies if s.enabled and bias in s.biases),
                  key=lambda s: (s.priority, len(s.biases), s.name))
