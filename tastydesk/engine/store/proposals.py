"""Proposals awaiting a decision, and the decision log (approve, reject, modify)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from tastydesk.engine.domain.enums import Decision, ProposalStatus
from tastydesk.engine.domain.ids import ProposalId, WorkflowId
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.records import DecisionRecord, ProposalRecord
from tastydesk.engine.store import codec
from tastydesk.engine.store.database import Database
from tastydesk.engine.store.errors import NotFound
from tastydesk.engine.store.models import DecisionRow
from tastydesk.engine.store.tables import (
    DECISIONS,
    PROPOSALS,
    decode_time,
    recent_rows,
    require_aware,
    require_workflow,
)
from tastydesk.engine.store.types import (
    decode_datetime,
    decode_json,
    encode_datetime,
    encode_decimal,
    encode_json,
)

DECISION_VALUES = frozenset(Decision)
_SELECT_PROPOSAL = PROPOSALS.where("id=?")
_SET_STATUS = PROPOSALS.update(("status",), "id=?")
_PROPOSAL_EXISTS = PROPOSALS.pick(("id",), "WHERE id=?")


def _decision(row: DecisionRow) -> DecisionRecord:
    return DecisionRecord(id=row.id, proposal_id=ProposalId(row.proposal_id), decision=Decision(row.decision),
                          user=row.user, reason=row.reason, time=row.time, price=row.price,
                          quantity=row.quantity)


class ProposalRepository:
    """Stored proposals (the exact TradeProposal, as JSON) and the decisions taken on them."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def save_proposal(self, workflow_id: WorkflowId, proposal: TradeProposal,
                      expires_at: datetime | None) -> ProposalId:
        require_aware("expires_at", expires_at)
        body = encode_json(codec.proposal_to_json(proposal))
        with self._db.raw_write() as raw:
            require_workflow(raw, workflow_id)
            cur = raw.execute(PROPOSALS.insert, PROPOSALS.params(
                workflow_id=workflow_id, body=body, status=ProposalStatus.PENDING,
                created_at=encode_datetime(proposal.created_at),
                expires_at=encode_datetime(expires_at)))
            assert cur.lastrowid is not None
            return ProposalId(cur.lastrowid)

    def get_proposal(self, proposal_id: ProposalId) -> ProposalRecord:
        with self._db.raw_read() as raw:
            row = raw.execute(_SELECT_PROPOSAL, (proposal_id,)).fetchone()
        if row is None:
            raise NotFound(f"proposal {proposal_id} does not exist")
        p = PROPOSALS.values(row)
        return ProposalRecord(id=ProposalId(p.id), workflow_id=WorkflowId(p.workflow_id),
                              proposal=codec.proposal_from_json(decode_json(p.body)),
                              status=ProposalStatus(p.status), created_at=decode_time(p.created_at),
                              expires_at=decode_datetime(p.expires_at))

    def set_proposal_status(self, proposal_id: ProposalId, status: ProposalStatus) -> None:
        status = ProposalStatus(status)
        with self._db.raw_write() as raw:
            cur = raw.execute(_SET_STATUS, (status.value, proposal_id))
            if cur.rowcount != 1:
                raise NotFound(f"proposal {proposal_id} does not exist")

    def record_decision(self, proposal_id: ProposalId, decision: Decision, user: str,
                        reason: str, now: datetime, price: Decimal | None = None,
                        quantity: int | None = None) -> DecisionRecord:
        if decision not in DECISION_VALUES:
            raise ValueError(f"decision must be one of {', '.join(sorted(DECISION_VALUES))}, "
                             f"got {decision!r}")
        decision = Decision(decision)
        if quantity is not None and quantity < 1:
            raise ValueError(f"quantity must be at least 1, got {quantity}")
        values = DECISIONS.params(proposal_id=proposal_id, decision=decision, user=user,
                                  reason=reason, price=encode_decimal(price), quantity=quantity,
                                  time=encode_datetime(now))
        with self._db.raw_write() as raw:
            if raw.execute(_PROPOSAL_EXISTS, (proposal_id,)).fetchone() is None:
                raise NotFound(f"proposal {proposal_id} does not exist")
            cur = raw.execute(DECISIONS.insert, values)
            assert cur.lastrowid is not None
        return DecisionRecord(id=cur.lastrowid, proposal_id=proposal_id, decision=decision,
                              user=user, reason=reason, time=now, price=price,
                              quantity=quantity)

    def decisions(self, limit: int | None = None) -> list[DecisionRecord]:
        return recent_rows(self._db, DecisionRow, _decision, limit)
