"""Activity log model: alerts raised on the bus, audit records and error records in one list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tastydesk.engine.domain.events import Alert
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.records import AuditRecord, ErrorRecord
from tastydesk.ui import format as fmt
from tastydesk.ui.models.base import RIGHT, Column, KeyedTableModel

CLOCK_WIDTH = 130  # "Mon 14:54:45 ET" and the sort arrow


@dataclass(frozen=True, slots=True)
class ActivityEntry:
    """One line of the activity log, whatever its source."""

    key: str  # "alert:<n>", "audit:<id>", "error:<id>"
    source: str  # alert | audit | error
    time: datetime
    level: str  # info | warning | error
    category: str
    title: str
    detail: str
    workflow_id: WorkflowId | None = None


def from_alert(alert: Alert, serial: int) -> ActivityEntry:
    return ActivityEntry(f"alert:{serial}", "alert", alert.time, alert.level, alert.category,
                         alert.title, alert.message, alert.workflow_id)


def from_audit(record: AuditRecord) -> ActivityEntry:
    return ActivityEntry(f"audit:{record.id}", "audit", record.time, "info", record.actor,
                         record.action, record.detail, record.workflow_id)


def from_error(record: ErrorRecord) -> ActivityEntry:
    return ActivityEntry(f"error:{record.id}", "error", record.time, "error", record.category,
                         record.message, record.detail, record.workflow_id)


LEVEL_MARK = {"info": "\u2139 info", "warning": "\u26a0 warn", "error": "\u2716 error"}

ACTIVITY_COLUMNS: list[Column[ActivityEntry]] = [
    # Like the toolbar clock: weekday and time with the zone (New York unless the trader chose
    # local time); the full date is in the tooltip.
    Column("time", "Time", lambda e: e.time, fmt.clock_time,
           sort_key=lambda e: e.time.timestamp(), width=CLOCK_WIDTH,
           tooltip=lambda e: fmt.timestamp(e.time),
           header_tip="Times in New York time (ET), the market's clock, unless Settings shows "
                      "local time"),
    Column("level", "Level", lambda e: e.level, lambda lv: LEVEL_MARK.get(lv, lv), width=70),
    Column("source", "Source", lambda e: e.source, width=56),
    Column("category", "Category", lambda e: e.category, width=80),
    Column("workflow", "#", lambda e: e.workflow_id, lambda w: "" if w is None else str(w),
           align=RIGHT, width=36),
    Column("title", "What", lambda e: e.title, width=220),
    Column("detail", "Detail", lambda e: e.detail, tooltip=lambda e: e.detail or None),
]


def activity_model(parent: Any = None) -> KeyedTableModel[ActivityEntry]:
    return KeyedTableModel(ACTIVITY_COLUMNS, key=lambda e: e.key, parent=parent)
