"""Runtime configuration of the engine: every parameter the Settings dialog edits.

Stored as JSON in the database's config table (never secrets); validated on load and on edit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from tastydesk.engine.domain.enums import RuleType

DEFAULT_WATCHLIST = ("SPY", "QQQ", "IWM", "AAPL", "MSFT", "NVDA", "AMZN", "TSLA", "GLD", "TLT")


class ConfigError(ValueError):
    """Invalid configuration; ``errors`` maps each field name to its reason."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


@dataclass(frozen=True, slots=True)
class EngineConfig:
    watchlist: tuple[str, ...] = DEFAULT_WATCHLIST
    scan_interval_minutes: int = 30  # scheduled scans while the market is open
    max_workflows_per_symbol: int = 2
    max_workflows_total: int = 20
    max_allocation_pct: Decimal = Decimal("80")  # of buying power
    max_portfolio_bwd: Decimal = Decimal("500")  # |beta-weighted delta| above which new trades are blocked
    reject_cooldown_minutes: int = 60
    restart_cooldown_minutes: int = 60
    approval_expiry_minutes: int = 5  # real (wall-clock) minutes, whatever the paper speed
    reprice_tolerance: Decimal = Decimal("0.05")  # $ the mid may move past the trader's limit
    # $ per share a fast exit (re-priced at natural until filled) may go past the natural at its
    # trigger when the market runs away
    max_exit_slippage: Decimal = Decimal("0.50")
    max_quote_age_seconds: int = 120
    min_confidence: float = 0.5
    trend_weight: float = 0.6  # bias score = trend_weight*trend - portfolio_weight*normalised delta
    portfolio_weight: float = 0.4
    bias_threshold: float = 0.25  # |score| above which the bias is directional
    auto_manage: tuple[RuleType, ...] = (RuleType.STOP_LOSS, RuleType.TIME_EXIT)
    notify: tuple[str, ...] = ("pending", "fill", "rule", "error", "risk")
    auto_approve: bool = False  # simulate/self-test only; the desktop never enables it by default
    paper_seed: int = 1
    paper_speed: float = 60.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, tuple):
                value = [str(v) for v in value]
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineConfig:
        """Build and validate; unknown keys are ignored, bad values raise :class:`ConfigError`."""
        errors: dict[str, str] = {}
        kwargs: dict[str, Any] = {}
        defaults = cls()
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            raw = data[f.name]
            default = getattr(defaults, f.name)
            try:
                if isinstance(default, bool):
                    if not isinstance(raw, bool):
                        raise ValueError("must be true or false")
                    kwargs[f.name] = raw
                elif isinstance(default, int):
                    if isinstance(raw, bool) or int(raw) != float(raw):
                        raise ValueError("must be a whole number")
                    kwargs[f.name] = int(raw)
                elif isinstance(default, float):
                    kwargs[f.name] = float(raw)
                elif isinstance(default, Decimal):
                    kwargs[f.name] = Decimal(str(raw))
                elif f.name == "auto_manage":
                    kwargs[f.name] = tuple(RuleType(v) for v in raw)
                elif isinstance(default, tuple):
                    if isinstance(raw, str):
                        raw = [p for p in raw.replace(",", " ").split() if p]
                    kwargs[f.name] = tuple(str(v).strip().upper() if f.name == "watchlist"
                                           else str(v) for v in raw)
            except (ValueError, TypeError, InvalidOperation) as exc:
                errors[f.name] = str(exc) or "invalid value"
        if errors:
            raise ConfigError(errors)
        config = dataclasses.replace(defaults, **kwargs)
        config.validate()
        return config

    def validate(self) -> None:
        errors: dict[str, str] = {}
        if not self.watchlist:
            errors["watchlist"] = "must name at least one symbol"
        for sym in self.watchlist:
            if not sym.replace("/", "").replace(".", "").isalnum() or len(sym) > 10:
                errors["watchlist"] = f"{sym!r} is not a ticker symbol"
        checks: list[tuple[str, bool, str]] = [
            ("scan_interval_minutes", 1 <= self.scan_interval_minutes <= 1440, "must be 1..1440"),
            ("max_workflows_per_symbol", 1 <= self.max_workflows_per_symbol <= 20, "must be 1..20"),
            ("max_workflows_total", 1 <= self.max_workflows_total <= 500, "must be 1..500"),
            ("max_allocation_pct", Decimal(0) < self.max_allocation_pct <= 100, "must be 0..100"),
            ("max_portfolio_bwd", self.max_portfolio_bwd > 0, "must be positive"),
            ("reject_cooldown_minutes", 0 <= self.reject_cooldown_minutes <= 100000, "must be >= 0"),
            ("restart_cooldown_minutes", 0 <= self.restart_cooldown_minutes <= 100000,
             "must be >= 0"),
            ("approval_expiry_minutes", 1 <= self.approval_expiry_minutes <= 10080,
             "must be 1..10080"),
            ("reprice_tolerance", self.reprice_tolerance >= 0, "must be >= 0"),
            ("max_exit_slippage", Decimal(0) <= self.max_exit_slippage <= Decimal(100),
             "must be 0..100 ($ per share)"),
            ("max_quote_age_seconds", 1 <= self.max_quote_age_seconds <= 3600, "must be 1..3600"),
            ("min_confidence", 0.0 <= self.min_confidence <= 1.0, "must be 0..1"),
            ("bias_threshold", 0.0 < self.bias_threshold < 1.0, "must be between 0 and 1"),
            ("paper_speed", 1.0 <= self.paper_speed <= 100000.0, "must be 1..100000"),
        ]
        for name, ok, reason in checks:
            if not ok:
                errors[name] = reason
        if errors:
            raise ConfigError(errors)


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """Published on the bus when the configuration is replaced (applied without a restart)."""

    config: EngineConfig
    changed: tuple[str, ...] = field(default=())
