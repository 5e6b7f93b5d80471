"""The trade journal, rule actions and metrics: what analytics reads back."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.records import JournalRecord, RuleActionRecord
from tastydesk.engine.store.database import Database
from tastydesk.engine.store.errors import NotFound
from tastydesk.engine.store.models import JournalRow, MetricRow, WorkflowRow
from tastydesk.engine.store.tables import RULE_ACTIONS, decode_time, require_workflow
from tastydesk.engine.store.types import encode_datetime


def _journal(row: JournalRow) -> JournalRecord:
    return JournalRecord(id=row.id, workflow_id=WorkflowId(row.workflow_id), strategy=row.strategy,
                         symbol=row.symbol, entry_price=row.entry_price,
                         exit_price=row.exit_price, fees=row.fees, realised_pnl=row.realised_pnl,
                         opened_at=row.opened_at, closed_at=row.closed_at,
                         duration_s=row.duration_s, closing_rule=row.closing_rule)


def _rule_action(row: Any) -> RuleActionRecord:
    r = RULE_ACTIONS.values(row)
    return RuleActionRecord(id=r.id, workflow_id=WorkflowId(r.workflow_id), rule_type=r.rule_type,
                            action=r.action, detail=r.detail, status=r.status,
                            time=decode_time(r.time))


class JournalRepository:
    """Closed trades, the actions rules took, and time series of engine metrics."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add_journal(self, workflow_id: WorkflowId, strategy: str, symbol: str, entry_price: Decimal,
                    exit_price: Decimal, fees: Decimal, realised_pnl: Decimal,
                    opened_at: datetime, closed_at: datetime, closing_rule: str) -> JournalRecord:
        if closed_at < opened_at:
            raise ValueError(f"closed_at {closed_at.isoformat()} is before opened_at "
                             f"{opened_at.isoformat()}")
        with self._db.write() as s:
            if s.scalar(select(1).where(WorkflowRow.id == workflow_id)) is None:
                raise NotFound(f"workflow {workflow_id} does not exist")
            row = JournalRow(workflow_id=workflow_id, strategy=strategy, symbol=symbol,
                             entry_price=entry_price, exit_price=exit_price, fees=fees,
                             realised_pnl=realised_pnl, opened_at=opened_at, closed_at=closed_at,
                             duration_s=int((closed_at - opened_at).total_seconds()),
                             closing_rule=closing_rule)
            s.add(row)
            s.flush()
            return _journal(row)

    def journal(self) -> list[JournalRecord]:
        with self._db.read() as s:
            return [_journal(r) for r in s.scalars(select(JournalRow).order_by(JournalRow.id))]

    def add_rule_action(self, workflow_id: WorkflowId, rule_type: str, action: str, detail: str,
                        status: str, now: datetime) -> RuleActionRecord:
        with self._db.raw_write() as raw:
            require_workflow(raw, workflow_id)
            cur = raw.execute(RULE_ACTIONS.insert, RULE_ACTIONS.params(
                workflow_id=workflow_id, rule_type=str(rule_type), action=str(action),
                detail=detail, status=status, time=encode_datetime(now)))
        assert cur.lastrowid is not None
        return RuleActionRecord(id=cur.lastrowid, workflow_id=workflow_id,
                                rule_type=str(rule_type), action=str(action), detail=detail,
                                status=status, time=now)

    def rule_actions(self, workflow_id: WorkflowId | None = None) -> list[RuleActionRecord]:
        sql = RULE_ACTIONS.select
        params: tuple[Any, ...] = ()
        if workflow_id is not None:
            sql += " WHERE workflow_id=?"
            params = (workflow_id,)
        with self._db.raw_read() as raw:
            rows = raw.execute(sql + " ORDER BY id", params).fetchall()
        return [_rule_action(r) for r in rows]

    def record_metric(self, name: str, value: float, now: datetime) -> None:
        with self._db.write() as s:
            s.add(MetricRow(name=name, value=float(value), time=now))

    def metrics(self, name: str, since: datetime | None = None) -> list[tuple[datetime, float]]:
        stmt = select(MetricRow.time, MetricRow.value).where(MetricRow.name == name)
        if since is not None:
            stmt = stmt.where(MetricRow.time >= since)
        with self._db.read() as s:
            return [(t, v) for t, v in s.execute(stmt.order_by(MetricRow.time, MetricRow.id))]
