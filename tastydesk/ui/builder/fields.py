"""The one table of the Strategy Builder's fields.

Each row names a strategy field by its validation path, says where it sits and how it is
edited; loading, reading back, marking errors and laying out the editor all follow this table,
so adding a field to the builder is one line here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from operator import attrgetter
from typing import Any

from tastydesk.engine.domain.enums import AfterAssignment, ExecutionPreset
from tastydesk.engine.domain.strategy import EntryFilters, PricingSettings, Sizing, Strategy
from tastydesk.ui.builder.editors import (
    Biases,
    Check,
    Choice,
    Dte,
    Editor,
    Integer,
    Legs,
    Money,
    OptionalMoney,
    Rules,
    Text,
)


class Section(StrEnum):
    """Where a field is laid out."""

    GENERAL = "general"
    LEGS = "legs"
    RULES = "rules"
    FILTERS = "filters"
    SIZING = "sizing"
    PRICING = "pricing"


@dataclass(frozen=True, slots=True)
class Field:
    """One strategy field: its path (as validation names it), label, editor and place.

    ``inline`` puts the field on the previous field's row, its label between the two.
    """

    path: str
    label: str
    editor: Editor
    section: Section
    tip: str = ""
    inline: bool = False


G, F, Z, P = Section.GENERAL, Section.FILTERS, Section.SIZING, Section.PRICING


def _presets(default: str) -> tuple[tuple[str, ExecutionPreset], ...]:
    return ((f"Default ({default})", ExecutionPreset.DEFAULT),
            ("Patient", ExecutionPreset.PATIENT), ("Normal", ExecutionPreset.NORMAL),
            ("Fast", ExecutionPreset.FAST))


FIELDS: tuple[Field, ...] = (
    Field("name", "Name", Text("Unique name"), G),
    Field("priority", "Priority", Integer(1, 1000), G,
          "Lower wins when several strategies serve the same bias", inline=True),
    Field("enabled", "", Check("Enabled"), G, "Only enabled strategies are used by scans",
          inline=True),
    Field("description", "Description", Text("What the strategy does and when it fits"), G),
    Field("biases", "Bias", Biases(), G, "Market biases this strategy serves"),
    Field("dte", "DTE", Dte(), G),
    Field("legs", "Legs", Legs(), Section.LEGS),
    Field("rules", "Management rules", Rules(), Section.RULES),
    Field("after_assignment", "After an assignment",
          Choice((("Close the shares and the remaining legs", AfterAssignment.CLOSE),
                  ("Keep the shares", AfterAssignment.KEEP),
                  ("Wheel: sell a covered call", AfterAssignment.WHEEL))), Section.RULES,
          "What to propose when an assignment leaves the position holding shares"),
    Field("after_assignment_auto", "", Check("Unattended"), Section.RULES,
          "Send the after-assignment follow-up without waiting for approval while automation "
          "is armed (otherwise it waits in the approval queue)", inline=True),
    Field("filters.min_credit", "Min credit / spread", Money(0, 1000, 2, "$", step=0.05), F),
    Field("filters.min_underlying_price", "Min underlying price", Money(0, 100000, 2, "$"), F),
    Field("filters.iv_rank_min", "IV rank", Money(0, 100, 0), F),
    Field("filters.iv_rank_max", "to", Money(0, 100, 0), F, inline=True),
    Field("filters.min_liquidity", "Min liquidity (0-4)", Integer(0, 4), F),
    Field("filters.max_spread_pct", "Max bid/ask spread", Money(0, 100, 1, suffix=" %"), F),
    Field("filters.min_open_interest", "Min open interest", Integer(0, 1_000_000), F),
    Field("filters.earnings_blackout_days", "Earnings blackout",
          Integer(0, 365, " d", special="off"), F),
    Field("sizing.quantity", "Quantity", Integer(1, 10_000, " spreads"), Z),
    Field("sizing.max_buying_power", "Max buying power",
          Money(0, 10_000_000, 0, "$", step=500), Z),
    Field("pricing.start_offset", "Start from mid by", Money(0, 100, 2, "$", step=0.01), P),
    Field("pricing.max_attempts", "Max attempts", Integer(0, 20, special="auto"), P),
    Field("pricing.limit_price", "Limit price",
          OptionalMoney(Money(-10000, 10000, 2, step=0.05)), P,
          "Never worse than this price: credit positive, debit negative"),
    Field("pricing.entry_preset", "Entries", Choice(_presets("patient")), P,
          "How fast entries walk from mid to natural"),
    Field("pricing.exit_preset", "Profit and time exits", Choice(_presets("normal")), P,
          "How fast profit-target, time and manual exits walk to natural"),
    Field("pricing.protective_preset", "Protective exits",
          Choice(tuple(c for c in _presets("fast") if c[1] is not ExecutionPreset.PATIENT)), P,
          "Stop loss, delta breach and expiration risk: at natural within a few prices, then "
          "repeated at natural up to the maximum slippage in Settings"),
    Field("pricing.walk_interval_seconds", "Entry step interval",
          Integer(0, 3600, " s", special="preset"), P, "Seconds between an entry's prices"),
    Field("pricing.step_share_pct", "Entry step share",
          Integer(0, 100, " % of the spread", special="even"), P,
          "Share of the distance from mid to natural each entry step concedes"),
    Field("pricing.resting_exit", "", Check("Resting profit-target order"), P,
          "Once the entry fills, leave a good-till-cancelled closing order at the profit target "
          "at the broker, so profit is taken while the app is closed"),
)

# The nested parts of a Strategy that are edited field by field.
PARTS: dict[str, type[Any]] = {"filters": EntryFilters, "sizing": Sizing,
                               "pricing": PricingSettings}
BY_PATH: dict[str, Field] = {f.path: f for f in FIELDS}


def value_of(strategy: Strategy, path: str) -> Any:
    """The value a field shows for ``strategy``."""
    return attrgetter(path)(strategy)


def assemble(values: dict[str, Any]) -> Strategy:
    """A Strategy from field values keyed by path (not validated)."""
    top: dict[str, Any] = {}
    parts: dict[str, dict[str, Any]] = defaultdict(dict)
    for path, value in values.items():
        head, _, tail = path.partition(".")
        if tail:
            parts[head][tail] = value
        else:
            top[head] = value
    return Strategy(**top, **{name: PARTS[name](**kw) for name, kw in parts.items()})


def rows(section: Section) -> list[list[Field]]:
    """The section's fields grouped in layout rows (an inline field joins the row before)."""
    out: list[list[Field]] = []
    for field in FIELDS:
        if field.section is not section:
            continue
        if field.inline and out:
            out[-1].append(field)
        else:
            out.append([field])
    return out
