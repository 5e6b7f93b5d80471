"""Turning untrusted strategy data (JSON, the builder, the database) into a valid Strategy.

Every problem is reported as a :class:`FieldError` whose ``path`` names the field
(``legs[2].selection.value``, ``dte.min``, ``rules[0].threshold``); all problems are collected in
one pass so an editor can show them together. Arbitrary input never raises anything else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from tastydesk.engine.domain.enums import (
    AfterAssignment,
    Bias,
    DeltaScope,
    ExecutionPreset,
    ExpiryChoice,
    OptionType,
    RuleAction,
    RuleType,
    SelectionMethod,
    Side,
)
from tastydesk.engine.domain.instruments import MAX_OPTION_LEGS
from tastydesk.engine.domain.strategy import (
    DteRange,
    EntryFilters,
    ManagementRule,
    PricingSettings,
    Sizing,
    Strategy,
    StrategyLeg,
    StrikeSelection,
)
from tastydesk.engine.strategies.fields import MISSING as _MISSING
from tastydesk.engine.strategies.fields import (
    FieldError,
    FieldReader,
    StrategyValidationError,
)
from tastydesk.engine.strategies.fields import at_least as _at_least
from tastydesk.engine.strategies.fields import between_inclusive as _between_inclusive

__all__ = ["SCHEMA_VERSION", "FieldError", "StrategyValidationError", "parse_strategy",
           "validate_strategy_dict"]

SCHEMA_VERSION = 1
# tastytrade takes at most four legs per order: a strategy's opening order must fit in one.
MAX_LEGS = MAX_OPTION_LEGS
MAX_DTE = 730
MAX_NAME = 80
MAX_DESCRIPTION = 2000
PARTIAL_PCTS = frozenset({25, 50, 75})


def validate_strategy_dict(data: object) -> list[FieldError]:
    """All problems in ``data``; an empty list means :func:`parse_strategy` will succeed."""
    return _Parser().strategy(data)[1]


def parse_strategy(data: object) -> Strategy:
    """Build a Strategy from a JSON-like mapping or raise :class:`StrategyValidationError`."""
    strategy, errors = _Parser().strategy(data)
    if errors or strategy is None:
        raise StrategyValidationError(errors or [FieldError("$", "not a strategy")])
    return strategy


class _Parser:
    """The strategy's sections, read through one :class:`FieldReader`."""

    def __init__(self) -> None:
        self.fields = FieldReader()

    @property
    def errors(self) -> list[FieldError]:
        return self.fields.errors

    def err(self, path: str, message: str) -> None:
        self.fields.err(path, message)

    # -- sections ---------------------------------------------------------------------------

    def strategy(self, data: object) -> tuple[Strategy | None, list[FieldError]]:
        try:
            result = self._strategy(data)
        except RecursionError:
            self.err("$", "nested too deeply")
            result = None
        return (None if self.errors else result), self.errors

    def _strategy(self, data: object) -> Strategy | None:
        allowed = frozenset({"schema_version", "name", "description", "legs", "dte", "biases",
                             "filters", "sizing", "pricing", "rules", "priority", "enabled",
                             "after_assignment", "after_assignment_auto"})
        obj = self.fields.mapping(data, "", allowed)
        if obj is None:
            return None
        version = self.fields.integer(obj, "schema_version", "", SCHEMA_VERSION, lo=1)
        if version is not _MISSING and version > SCHEMA_VERSION:
            self.err("schema_version", f"version {version} is newer than this tastydesk supports "
                                       f"({SCHEMA_VERSION}); update tastydesk to read it")
            return None
        name = self.fields.string(obj, "name", "", max_len=MAX_NAME, non_empty=True)
        description = self.fields.string(obj, "description", "", "", max_len=MAX_DESCRIPTION)
        priority = self.fields.integer(obj, "priority", "", 1, lo=1, hi=1000)
        enabled = self.fields.boolean(obj, "enabled", "", True)
        biases = self.biases(obj.get("biases", _MISSING))
        dte = self.dte(obj.get("dte", _MISSING))
        legs = self.legs(obj.get("legs", _MISSING))
        filters = self.filters(obj.get("filters", {}))
        sizing = self.sizing(obj.get("sizing", {}))
        pricing = self.pricing(obj.get("pricing", {}))
        rules = self.rules(obj.get("rules", []))
        after = self.fields.enum(obj, "after_assignment", "", AfterAssignment,
                                 AfterAssignment.CLOSE)
        after_auto = self.fields.boolean(obj, "after_assignment_auto", "", False)
        if (pricing is not _MISSING and rules is not _MISSING and pricing.resting_exit
                and not any(r.rule_type is RuleType.PROFIT_TARGET and r.enabled for r in rules)):
            self.err("pricing.resting_exit", "needs an enabled profit_target rule (the resting "
                                             "order is placed at its price), got none")
        if self.errors:
            return None
        return Strategy(name=name.strip(), legs=legs, dte=dte, biases=biases,
                        description=description, filters=filters, sizing=sizing, pricing=pricing,
                        rules=rules, priority=priority, enabled=enabled, after_assignment=after,
                        after_assignment_auto=after_auto)

    def biases(self, value: object) -> Any:
        if value is _MISSING:
            self.err("biases", "is required")
            return _MISSING
        if not isinstance(value, list | tuple | set | frozenset):
            self.err("biases", f"must be a list of biases, got {type(value).__name__}")
            return _MISSING
        out: set[Bias] = set()
        for i, item in enumerate(value):
            bias = self.fields.enum_value(item, f"biases[{i}]", Bias)
            if bias is _MISSING:
                continue
            if bias in out:
                self.err(f"biases[{i}]", f"duplicate bias {bias.value}")
            out.add(bias)
        if not value:
            self.err("biases", "must name at least one bias")
        return frozenset(out)

    def dte(self, value: object) -> Any:
        if value is _MISSING:
            self.err("dte", "is required")
            return _MISSING
        obj = self.fields.mapping(value, "dte", frozenset({"min", "target", "max", "prefer_monthly"}))
        if obj is None:
            return _MISSING
        lo = self.fields.integer(obj, "min", "dte", lo=0, hi=MAX_DTE)
        target = self.fields.integer(obj, "target", "dte", lo=0, hi=MAX_DTE)
        hi = self.fields.integer(obj, "max", "dte", lo=0, hi=MAX_DTE)
        monthly = self.fields.boolean(obj, "prefer_monthly", "dte", True)
        if _MISSING in (lo, target, hi, monthly):
            return _MISSING
        if lo > target:
            self.err("dte.min", f"must not exceed dte.target ({target}), got {lo}")
        if target > hi:
            self.err("dte.max", f"must be at least dte.target ({target}), got {hi}")
        return DteRange(min=lo, target=target, max=hi, prefer_monthly=monthly)

    def legs(self, value: object) -> Any:
        if value is _MISSING:
            self.err("legs", "is required")
            return _MISSING
        if not isinstance(value, list | tuple):
            self.err("legs", f"must be a list of legs, got {type(value).__name__}")
            return _MISSING
        if not value:
            self.err("legs", "must have at least one leg")
            return _MISSING
        if len(value) > MAX_LEGS:
            self.err("legs", f"must have at most {MAX_LEGS} legs (the most an order may carry), "
                             f"got {len(value)}")
            return _MISSING
        legs = [self.leg(item, i, value) for i, item in enumerate(value)]
        if any(leg is _MISSING for leg in legs):
            return _MISSING
        self.structure(legs)
        return tuple(legs)

    def leg(self, value: object, index: int, all_legs: list[Any] | tuple[Any, ...]) -> Any:
        path = f"legs[{index}]"
        obj = self.fields.mapping(value, path, frozenset({"option_type", "side", "selection", "ratio",
                                                   "expiry", "expiry_offset_days"}))
        if obj is None:
            return _MISSING
        before = len(self.errors)
        option_type = self.fields.enum(obj, "option_type", path, OptionType)
        side = self.fields.enum(obj, "side", path, Side)
        ratio = self.fields.integer(obj, "ratio", path, 1, lo=1, hi=100)
        expiry = self.fields.enum(obj, "expiry", path, ExpiryChoice, ExpiryChoice.STRATEGY)
        offset = self.fields.integer(obj, "expiry_offset_days", path, 0, lo=0, hi=MAX_DTE)
        if expiry is ExpiryChoice.OFFSET and offset == 0:
            self.err(f"{path}.expiry_offset_days", "must be at least 1 when expiry is offset")
        elif expiry is ExpiryChoice.STRATEGY and offset not in (0, _MISSING):
            self.err(f"{path}.expiry_offset_days", "must be 0 unless expiry is offset")
        selection = self.selection(obj.get("selection", _MISSING), index, all_legs)
        if len(self.errors) > before:
            return _MISSING
        return StrategyLeg(option_type=option_type, side=side, selection=selection, ratio=ratio,
                           expiry=expiry, expiry_offset_days=offset)

    def selection(self, value: object, index: int, all_legs: list[Any] | tuple[Any, ...]) -> Any:
        path = f"legs[{index}].selection"
        if value is _MISSING:
            self.err(path, "is required")
            return _MISSING
        obj = self.fields.mapping(value, path, frozenset({"method", "value", "reference_leg"}))
        if obj is None:
            return _MISSING
        method = self.fields.enum(obj, "method", path, SelectionMethod)
        if method is _MISSING:
            return _MISSING
        checks: dict[SelectionMethod, Callable[[Decimal], str | None]] = {
            SelectionMethod.DELTA: lambda v: None if 0 < v < 1 else
            "delta must be between 0 and 1 (exclusive)",
            SelectionMethod.PERCENT: lambda v: None if -100 < v < 100 else
            "percent from spot must be between -100 and 100",
            SelectionMethod.PREMIUM: lambda v: None if v > 0 else "premium must be positive",
            SelectionMethod.WIDTH: lambda v: None if v > 0 else "width must be positive",
            SelectionMethod.LEG_OFFSET: lambda v: None if v != 0 else
            "offset from the reference leg must not be zero",
        }
        needs_value = method is not SelectionMethod.ATM
        number = self.fields.decimal(obj, "value", path, _MISSING if needs_value else Decimal("0"),
                              check=checks.get(method))
        ref = obj.get("reference_leg")
        ref_path = f"{path}.reference_leg"
        if method in (SelectionMethod.LEG_OFFSET, SelectionMethod.WIDTH):
            if ref is None:
                self.err(ref_path, f"is required for {method.value} selection")
                return _MISSING
            if isinstance(ref, bool) or not isinstance(ref, int):
                self.err(ref_path, f"must be a leg index, got {ref!r:.40}")
                return _MISSING
            if not 0 <= ref < index:
                self.err(ref_path, f"must point to an earlier leg (0..{index - 1}), got {ref}"
                         if index else "the first leg cannot refer to another leg")
                return _MISSING
            if method is SelectionMethod.WIDTH:
                self.width_partner(all_legs, index, ref, ref_path)
        elif ref is not None:
            self.err(ref_path, f"must be empty for {method.value} selection")
            return _MISSING
        if number is _MISSING:
            return _MISSING
        return StrikeSelection(method=method, value=number, reference_leg=ref)

    def width_partner(self, raw_legs: list[Any] | tuple[Any, ...], index: int, ref: int,
                      ref_path: str) -> None:
        """A WIDTH leg is the protective wing of its reference leg: same type, opposite side."""
        mine, theirs = raw_legs[index], raw_legs[ref]
        if not isinstance(mine, Mapping) or not isinstance(theirs, Mapping):
            return
        if mine.get("option_type") != theirs.get("option_type"):
            self.err(ref_path, "a width leg must be the same option type as its reference leg")
        elif mine.get("side") == theirs.get("side"):
            self.err(ref_path, "a width leg must be on the opposite side of its reference leg "
                               "(one sold, one bought)")

    def structure(self, legs: list[StrategyLeg]) -> None:
        seen: dict[StrategyLeg, int] = {}
        for i, leg in enumerate(legs):
            if leg in seen:
                self.err(f"legs[{i}]", f"duplicates legs[{seen[leg]}]")
            else:
                seen[leg] = i
        if len(legs) == 2:
            a, b = legs
            same_expiry = (a.expiry, a.expiry_offset_days) == (b.expiry, b.expiry_offset_days)
            if a.option_type is b.option_type and same_expiry and a.side is b.side:
                self.err("legs", f"a two-leg {a.option_type.value} vertical needs one sold and one "
                                 f"bought leg; both are {a.side.value}")

    def filters(self, value: object) -> Any:
        path = "filters"
        keys = frozenset({"min_credit", "min_underlying_price", "iv_rank_min", "iv_rank_max",
                          "min_liquidity", "max_spread_pct", "min_open_interest",
                          "earnings_blackout_days"})
        obj = self.fields.mapping(value, path, keys)
        if obj is None:
            return _MISSING
        d = EntryFilters()
        non_negative = _at_least(Decimal("0"))
        rank = _between_inclusive(Decimal("0"), Decimal("100"), "IV rank")
        f = {
            "min_credit": self.fields.decimal(obj, "min_credit", path, d.min_credit, non_negative),
            "min_underlying_price": self.fields.decimal(obj, "min_underlying_price", path,
                                                 d.min_underlying_price, non_negative),
            "iv_rank_min": self.fields.decimal(obj, "iv_rank_min", path, d.iv_rank_min, rank),
            "iv_rank_max": self.fields.decimal(obj, "iv_rank_max", path, d.iv_rank_max, rank),
            "min_liquidity": self.fields.integer(obj, "min_liquidity", path, d.min_liquidity, 0, 4),
            "max_spread_pct": self.fields.decimal(
                obj, "max_spread_pct", path, d.max_spread_pct,
                lambda v: None if 0 < v <= 100 else "must be a positive percent up to 100"),
            "min_open_interest": self.fields.integer(obj, "min_open_interest", path,
                                              d.min_open_interest, 0),
            "earnings_blackout_days": self.fields.integer(obj, "earnings_blackout_days", path,
                                                   d.earnings_blackout_days, 0, 365),
        }
        if _MISSING in f.values():
            return _MISSING
        if f["iv_rank_min"] > f["iv_rank_max"]:
            self.err("filters.iv_rank_min",
                     f"must not exceed filters.iv_rank_max ({f['iv_rank_max']}), "
                     f"got {f['iv_rank_min']}")
            return _MISSING
        return EntryFilters(**f)

    def sizing(self, value: object) -> Any:
        obj = self.fields.mapping(value, "sizing", frozenset({"quantity", "max_buying_power"}))
        if obj is None:
            return _MISSING
        d = Sizing()
        quantity = self.fields.integer(obj, "quantity", "sizing", d.quantity, 1, 10_000)
        bp = self.fields.decimal(obj, "max_buying_power", "sizing", d.max_buying_power,
                          lambda v: None if v > 0 else "must be positive")
        if _MISSING in (quantity, bp):
            return _MISSING
        return Sizing(quantity=quantity, max_buying_power=bp)

    def pricing(self, value: object) -> Any:
        path = "pricing"
        obj = self.fields.mapping(value, path, frozenset({
            "start_offset", "step", "interval_seconds", "max_attempts", "limit_price",
            "entry_preset", "exit_preset", "protective_preset", "walk_interval_seconds",
            "step_share_pct", "resting_exit"}))
        if obj is None:
            return _MISSING
        d = PricingSettings()
        # Older files' fixed "step" and "interval_seconds" (prices now step by a share of the
        # spread) are still checked for type so a typo is named, then dropped.
        self.fields.decimal(obj, "step", path, Decimal("0.01"),
                            lambda v: None if v > 0 else "must be positive")
        self.fields.integer(obj, "interval_seconds", path, 600, 1, 86_400)
        p = {
            "start_offset": self.fields.decimal(obj, "start_offset", path, d.start_offset,
                                         _at_least(Decimal("0"))),
            "max_attempts": self.fields.integer(obj, "max_attempts", path, d.max_attempts, 0, 20),
            "limit_price": self.fields.decimal(obj, "limit_price", path, None, nullable=True),
            "entry_preset": self.fields.enum(obj, "entry_preset", path, ExecutionPreset,
                                             d.entry_preset),
            "exit_preset": self.fields.enum(obj, "exit_preset", path, ExecutionPreset,
                                            d.exit_preset),
            "protective_preset": self.fields.enum(obj, "protective_preset", path,
                                                  ExecutionPreset, d.protective_preset),
            "walk_interval_seconds": self.fields.integer(obj, "walk_interval_seconds", path,
                                                         d.walk_interval_seconds, 0, 3600),
            "step_share_pct": self.fields.integer(obj, "step_share_pct", path,
                                                  d.step_share_pct, 0, 100),
            "resting_exit": self.fields.boolean(obj, "resting_exit", path, d.resting_exit),
        }
        if _MISSING in p.values():
            return _MISSING
        if p["protective_preset"] is ExecutionPreset.PATIENT:
            # Minutes between prices while a stop is losing money: never for a protective exit.
            self.err("pricing.protective_preset",
                     "must be default, normal or fast (a stop must not wait minutes between "
                     "prices), got patient")
            return _MISSING
        return PricingSettings(**p)

    def rules(self, value: object) -> Any:
        if not isinstance(value, list | tuple):
            self.err("rules", f"must be a list of rules, got {type(value).__name__}")
            return _MISSING
        if len(value) > 32:
            self.err("rules", f"must have at most 32 rules, got {len(value)}")
            return _MISSING
        rules = [self.rule(item, i) for i, item in enumerate(value)]
        if any(r is _MISSING for r in rules):
            return _MISSING
        priorities: dict[int, int] = {}
        for i, rule in enumerate(rules):
            if rule.priority in priorities:
                self.err(f"rules[{i}].priority", f"priority {rule.priority} is already used by "
                                                 f"rules[{priorities[rule.priority]}]")
            priorities.setdefault(rule.priority, i)
        return tuple(rules)

    def rule(self, value: object, index: int) -> Any:
        path = f"rules[{index}]"
        keys = frozenset({"rule_type", "threshold", "action", "priority", "enabled", "close_pct",
                          "delta_scope", "hold_evaluations", "hold_seconds", "auto",
                          "strike_distance_pct"})
        obj = self.fields.mapping(value, path, keys)
        if obj is None:
            return _MISSING
        before = len(self.errors)
        rule_type = self.fields.enum(obj, "rule_type", path, RuleType)
        d_action = RuleAction.CLOSE
        if rule_type is RuleType.PARTIAL_CLOSE:
            d_action = RuleAction.PARTIAL_CLOSE
        elif rule_type is RuleType.ROLL:
            d_action = RuleAction.ROLL
        action = self.fields.enum(obj, "action", path, RuleAction, d_action)
        threshold = self.fields.decimal(obj, "threshold", path,
                                 check=_THRESHOLDS.get(rule_type) if rule_type else None)
        priority = self.fields.integer(obj, "priority", path, 1, 1, 1000)
        enabled = self.fields.boolean(obj, "enabled", path, True)
        partial = rule_type is RuleType.PARTIAL_CLOSE or action is RuleAction.PARTIAL_CLOSE
        close_pct = self.fields.integer(obj, "close_pct", path, 50 if partial else 100, 1, 100)
        scope = self.fields.enum(obj, "delta_scope", path, DeltaScope, DeltaScope.SHORT_LEG)
        # Absent: the rule type's confirmation (stops and delta breaches 3 evaluations, 10 s).
        holds = (self.fields.integer(obj, "hold_evaluations", path, lo=1, hi=1000)
                 if "hold_evaluations" in obj else 0)
        hold_s = (self.fields.integer(obj, "hold_seconds", path, lo=0, hi=86_400)
                  if "hold_seconds" in obj else -1)
        auto = self.fields.boolean(obj, "auto", path, False)
        near = self.fields.decimal(obj, "strike_distance_pct", path, Decimal("0"),
                                   check=_distance)
        if len(self.errors) > before:
            return _MISSING
        if rule_type is RuleType.PARTIAL_CLOSE and action is not RuleAction.PARTIAL_CLOSE:
            self.err(f"{path}.action", "a partial_close rule must use the partial_close action")
        elif action is RuleAction.PARTIAL_CLOSE and rule_type is not RuleType.PARTIAL_CLOSE:
            self.err(f"{path}.action", "the partial_close action needs a partial_close rule")
        if action is RuleAction.ROLL and rule_type not in ROLLING_RULES:
            self.err(f"{path}.action", "the roll action needs a roll, expiration_risk or "
                                       "ex_dividend rule")
        if near and rule_type is not RuleType.EXPIRATION_RISK:
            self.err(f"{path}.strike_distance_pct", "applies to expiration_risk rules only")
        if partial and close_pct not in PARTIAL_PCTS:
            self.err(f"{path}.close_pct", f"must be 25, 50 or 75 for a partial close, "
                                          f"got {close_pct}")
        elif not partial and close_pct != 100:
            self.err(f"{path}.close_pct", f"must be 100 unless the rule closes partially, "
                                          f"got {close_pct}")
        if len(self.errors) > before:
            return _MISSING
        return ManagementRule(rule_type=rule_type, threshold=threshold, action=action,
                              priority=priority, enabled=enabled, close_pct=close_pct,
                              delta_scope=scope, hold_evaluations=holds, hold_seconds=hold_s,
                              auto=auto, strike_distance_pct=near)


ROLLING_RULES = frozenset({RuleType.ROLL, RuleType.EXPIRATION_RISK, RuleType.EX_DIVIDEND})


def _distance(v: Decimal) -> str | None:
    return None if 0 <= v <= 50 else "must be a percent of the underlying between 0 and 50"


def _percent(v: Decimal) -> str | None:
    return None if 0 < v <= 100 else "must be a positive percent up to 100"


def _dte_threshold(v: Decimal) -> str | None:
    if v != v.to_integral_value() or not 0 <= v <= MAX_DTE:
        return f"must be a whole number of days between 0 and {MAX_DTE}"
    return None


_THRESHOLDS: dict[RuleType, Callable[[Decimal], str | None]] = {
    RuleType.PROFIT_TARGET: _percent,
    RuleType.PARTIAL_CLOSE: _percent,
    RuleType.STOP_LOSS: lambda v: None if 0 < v <= 10_000 else
    "must be a positive percent of the entry price (at most 10000)",
    RuleType.TIME_EXIT: _dte_threshold,
    RuleType.ROLL: _dte_threshold,
    RuleType.EXPIRATION_RISK: lambda v: None if v == v.to_integral_value() and 1 <= v <= 30
    else "must be a whole number of days between 1 and 30",
    RuleType.EX_DIVIDEND: lambda v: None if v == v.to_integral_value() and 0 <= v <= 30
    else "must be a whole number of days between 0 and 30",
    RuleType.DELTA_BREACH: lambda v: None if 0 < v < 1 else
    "delta must be between 0 and 1 (exclusive)",
}
