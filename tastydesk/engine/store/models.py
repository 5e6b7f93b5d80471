"""The schema as typed ORM classes. These rows never leave the store; it returns records.

Every constraint is named (the naming convention) so later batch migrations can find and alter it.
``workflows.proposal_id`` is a plain integer, not a foreign key: proposals already reference their
workflow, and a cycle of foreign keys would make both tables impossible to rebuild in a migration.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tastydesk.engine.store.types import DecimalText, JsonText, UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        Decimal: DecimalText(),
        datetime: UtcDateTime(),
        dict[str, Any]: JsonText(),
        Any: JsonText(),
        str: Text(),
    }


class StrategyRow(Base):
    __tablename__ = "strategies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    body: Mapped[dict[str, Any]]
    builtin: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime]


class WorkflowRow(Base):
    __tablename__ = "workflows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    symbol: Mapped[str]
    strategy_name: Mapped[str | None]
    state: Mapped[str] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    cooldown_until: Mapped[datetime | None]
    rules_paused: Mapped[bool] = mapped_column(default=False)
    rule_overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    proposal_id: Mapped[int | None]
    error: Mapped[str | None]


class TransitionRow(Base):
    __tablename__ = "workflow_transitions"
    __table_args__ = (UniqueConstraint("workflow_id", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    seq: Mapped[int]
    from_state: Mapped[str | None]
    to_state: Mapped[str]
    trigger: Mapped[str | None]
    actor: Mapped[str]
    reason: Mapped[str]
    payload: Mapped[dict[str, Any]]
    time: Mapped[datetime]


class ProposalRow(Base):
    __tablename__ = "proposals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True)
    body: Mapped[dict[str, Any]]
    status: Mapped[str]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]


class DecisionRow(Base):
    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str]
    user: Mapped[str]
    reason: Mapped[str]
    price: Mapped[Decimal | None]
    quantity: Mapped[int | None]
    time: Mapped[datetime]


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("proposal_id", "purpose", "attempt"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("filled_quantity >= 0", name="filled_not_negative"),
        Index(None, "broker_order_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id"), index=True)
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"))
    purpose: Mapped[str]
    external_id: Mapped[str] = mapped_column(unique=True)
    broker_order_id: Mapped[str | None]
    status: Mapped[str]
    underlying: Mapped[str]
    price: Mapped[Decimal]
    quantity: Mapped[int]
    filled_quantity: Mapped[int] = mapped_column(default=0)
    attempt: Mapped[int] = mapped_column(default=0)
    legs: Mapped[Any]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    reject_reason: Mapped[str | None]
    fees: Mapped[Decimal | None]  # the broker's dry-run figure for the whole order
    time_in_force: Mapped[str] = mapped_column(server_default="Day")  # TimeInForce value


class OrderEventRow(Base):
    __tablename__ = "order_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    status: Mapped[str]
    broker_order_id: Mapped[str | None]
    price: Mapped[Decimal | None]
    filled_quantity: Mapped[int | None]
    detail: Mapped[str]
    time: Mapped[datetime]
    mid: Mapped[Decimal | None]  # the spread's mid per unit when this event recorded a fill
    natural: Mapped[Decimal | None]  # and its natural


class FillRow(Base):
    __tablename__ = "fills"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fill_id: Mapped[str] = mapped_column(unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id"))
    symbol: Mapped[str]
    action: Mapped[str]
    quantity: Mapped[int]
    price: Mapped[Decimal]
    time: Mapped[datetime]


class PositionRow(Base):
    __tablename__ = "positions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True)
    symbol: Mapped[str]
    quantity: Mapped[int]
    avg_open_price: Mapped[Decimal]
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    realised_pnl: Mapped[Decimal]


class LifecycleRow(Base):
    """A broker lifecycle transaction the engine booked (unique per transaction id, so a
    restart that reads it again never books it twice)."""

    __tablename__ = "lifecycle_events"
    __table_args__ = (Index(None, "time"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transaction_id: Mapped[str] = mapped_column(unique=True)
    workflow_id: Mapped[int | None] = mapped_column(
        ForeignKey("workflows.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str]
    symbol: Mapped[str]
    underlying: Mapped[str]
    quantity: Mapped[int]
    price: Mapped[Decimal]
    value: Mapped[Decimal]
    early: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str]
    time: Mapped[datetime]
    booked_at: Mapped[datetime]


class RuleActionRow(Base):
    __tablename__ = "rule_actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True)
    rule_type: Mapped[str]
    action: Mapped[str]
    detail: Mapped[str]
    status: Mapped[str]
    time: Mapped[datetime]


class JournalRow(Base):
    __tablename__ = "journal"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id"), index=True)
    strategy: Mapped[str]
    symbol: Mapped[str]
    entry_price: Mapped[Decimal]
    exit_price: Mapped[Decimal]
    fees: Mapped[Decimal]
    realised_pnl: Mapped[Decimal]
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime]
    duration_s: Mapped[int]
    closing_rule: Mapped[str]


class AuditRow(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str]
    action: Mapped[str]
    detail: Mapped[str]
    workflow_id: Mapped[int | None] = mapped_column(
        ForeignKey("workflows.id", ondelete="SET NULL"))
    time: Mapped[datetime]


class ErrorRow(Base):
    __tablename__ = "error_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str]
    message: Mapped[str]
    detail: Mapped[str]
    workflow_id: Mapped[int | None] = mapped_column(
        ForeignKey("workflows.id", ondelete="SET NULL"))
    time: Mapped[datetime]


class MetricRow(Base):
    __tablename__ = "metrics"
    __table_args__ = (Index(None, "name", "time"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str]
    value: Mapped[float] = mapped_column(Float)  # FLOAT, as the migrations declare it
    time: Mapped[datetime]


class ConfigRow(Base):
    __tablename__ = "config"
    key: Mapped[str] = mapped_column(primary_key=True)
    value: Mapped[Any]
