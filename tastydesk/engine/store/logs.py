"""The audit trail (who changed what) and the error log, newest kept when a limit is given."""

from __future__ import annotations

from datetime import datetime

from tastydesk.engine.domain.enums import Actor, ErrorCategory
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.records import AuditRecord, ErrorRecord
from tastydesk.engine.store.database import Database
from tastydesk.engine.store.models import AuditRow, ErrorRow
from tastydesk.engine.store.tables import recent_rows


def _audit(r: AuditRow) -> AuditRecord:
    return AuditRecord(id=r.id, actor=r.actor, action=r.action, detail=r.detail,
                       workflow_id=None if r.workflow_id is None else WorkflowId(r.workflow_id),
                       time=r.time)


def _error(r: ErrorRow) -> ErrorRecord:
    return ErrorRecord(id=r.id, category=ErrorCategory(r.category), message=r.message, detail=r.detail,
                       workflow_id=None if r.workflow_id is None else WorkflowId(r.workflow_id),
                       time=r.time)


class LogRepository:
    """Append-only audit and error rows."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def audit(self, actor: Actor | str, action: str, detail: str, now: datetime,
              workflow_id: WorkflowId | None = None) -> None:
        with self._db.write() as s:
            s.add(AuditRow(actor=str(actor), action=action, detail=detail,
                           workflow_id=workflow_id, time=now))

    def audit_log(self, limit: int | None = None) -> list[AuditRecord]:
        return recent_rows(self._db, AuditRow, _audit, limit)

    def log_error(self, category: ErrorCategory, message: str, now: datetime, detail: str = "",
                  workflow_id: WorkflowId | None = None) -> None:
        with self._db.write() as s:
            s.add(ErrorRow(category=ErrorCategory(category).value, message=message, detail=detail,
                           workflow_id=workflow_id, time=now))

    def errors(self, limit: int | None = None) -> list[ErrorRecord]:
        return recent_rows(self._db, ErrorRow, _error, limit)
