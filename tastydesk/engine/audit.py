"""The audit trail and the error log: written through the store, announced on the bus.

The read model follows the announcements, so no view reads these logs back from SQLite.
"""

from __future__ import annotations

from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.enums import Actor, ErrorCategory
from tastydesk.engine.domain.events import AuditRecorded, ErrorRecorded
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.records import AuditRecord, ErrorRecord
from tastydesk.engine.store.service import AsyncStore


class AuditTrail:
    def __init__(self, store: AsyncStore, bus: EventBus, clock: Clock) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock

    async def audit(self, actor: Actor | str, action: str, detail: str,
                    workflow_id: WorkflowId | None = None) -> None:
        now = self._clock.now()
        await self._store.audit(actor, action, detail, now, workflow_id)
        # Numbered by the read model, which continues after the stored log.
        self._bus.publish(AuditRecorded(AuditRecord(0, str(actor), action, detail, workflow_id,
                                                    now)))

    async def error(self, category: ErrorCategory, message: str, detail: str = "",
                    workflow_id: WorkflowId | None = None) -> None:
        now = self._clock.now()
        await self._store.log_error(category, message, now, detail=detail,
                                    workflow_id=workflow_id)
        self._bus.publish(ErrorRecorded(ErrorRecord(0, category, message, detail, workflow_id,
                                                    now)))
