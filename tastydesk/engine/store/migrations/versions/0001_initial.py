"""Initial schema.

Revision ID: 0001_initial
Revises:
Create Date: 2026-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

T = sa.Text


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), primary_key=True)


def _fk(column: str, target: str, ondelete: str | None = None,
        nullable: bool = False) -> sa.Column[int]:
    return sa.Column(column, sa.Integer(), sa.ForeignKey(target, ondelete=ondelete),
                     nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "strategies", _id(),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("body", T(), nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("updated_at", T(), nullable=False),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "workflows", _id(),
        sa.Column("symbol", T(), nullable=False),
        sa.Column("strategy_name", T()),
        sa.Column("state", T(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", T(), nullable=False),
        sa.Column("updated_at", T(), nullable=False),
        sa.Column("cooldown_until", T()),
        sa.Column("rules_paused", sa.Boolean(), nullable=False),
        sa.Column("rule_overrides", T(), nullable=False),
        sa.Column("proposal_id", sa.Integer()),
        sa.Column("error", T()),
    )
    op.create_index("ix_workflows_state", "workflows", ["state"])
    op.create_table(
        "workflow_transitions", _id(),
        _fk("workflow_id", "workflows.id", "CASCADE"),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_state", T()),
        sa.Column("to_state", T(), nullable=False),
        sa.Column("trigger", T()),
        sa.Column("actor", T(), nullable=False),
        sa.Column("reason", T(), nullable=False),
        sa.Column("payload", T(), nullable=False),
        sa.Column("time", T(), nullable=False),
        sa.UniqueConstraint("workflow_id", "seq"),
    )
    op.create_table(
        "proposals", _id(),
        _fk("workflow_id", "workflows.id", "CASCADE"),
        sa.Column("body", T(), nullable=False),
        sa.Column("status", T(), nullable=False),
        sa.Column("created_at", T(), nullable=False),
        sa.Column("expires_at", T()),
    )
    op.create_index("ix_proposals_workflow_id", "proposals", ["workflow_id"])
    op.create_table(
        "decisions", _id(),
        _fk("proposal_id", "proposals.id", "CASCADE"),
        sa.Column("decision", T(), nullable=False),
        sa.Column("user", T(), nullable=False),
        sa.Column("reason", T(), nullable=False),
        sa.Column("price", T()),
        sa.Column("quantity", sa.Integer()),
        sa.Column("time", T(), nullable=False),
    )
    op.create_index("ix_decisions_proposal_id", "decisions", ["proposal_id"])
    op.create_table(
        "orders", _id(),
        _fk("workflow_id", "workflows.id"),
        _fk("proposal_id", "proposals.id", nullable=True),
        sa.Column("purpose", T(), nullable=False),
        sa.Column("external_id", T(), nullable=False),
        sa.Column("broker_order_id", T()),
        sa.Column("status", T(), nullable=False),
        sa.Column("underlying", T(), nullable=False),
        sa.Column("price", T(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("filled_quantity", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("legs", T(), nullable=False),
        sa.Column("created_at", T(), nullable=False),
        sa.Column("updated_at", T(), nullable=False),
        sa.Column("reject_reason", T()),
        sa.UniqueConstraint("external_id"),
        sa.UniqueConstraint("proposal_id", "purpose", "attempt"),
    )
    op.create_index("ix_orders_workflow_id", "orders", ["workflow_id"])
    op.create_table(
        "order_events", _id(),
        _fk("order_id", "orders.id", "CASCADE"),
        sa.Column("status", T(), nullable=False),
        sa.Column("broker_order_id", T()),
        sa.Column("price", T()),
        sa.Column("filled_quantity", sa.Integer()),
        sa.Column("detail", T(), nullable=False),
        sa.Column("time", T(), nullable=False),
    )
    op.create_index("ix_order_events_order_id", "order_events", ["order_id"])
    op.create_table(
        "fills", _id(),
        sa.Column("fill_id", T(), nullable=False),
        _fk("order_id", "orders.id", "CASCADE"),
        _fk("workflow_id", "workflows.id"),
        sa.Column("symbol", T(), nullable=False),
        sa.Column("action", T(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("price", T(), nullable=False),
        sa.Column("time", T(), nullable=False),
        sa.UniqueConstraint("fill_id"),
    )
    op.create_index("ix_fills_order_id", "fills", ["order_id"])
    op.create_table(
        "positions", _id(),
        _fk("workflow_id", "workflows.id", "CASCADE"),
        sa.Column("symbol", T(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("avg_open_price", T(), nullable=False),
        sa.Column("opened_at", T(), nullable=False),
        sa.Column("closed_at", T()),
        sa.Column("realised_pnl", T(), nullable=False),
    )
    op.create_index("ix_positions_workflow_id", "positions", ["workflow_id"])
    op.create_table(
        "rule_actions", _id(),
        _fk("workflow_id", "workflows.id", "CASCADE"),
        sa.Column("rule_type", T(), nullable=False),
        sa.Column("action", T(), nullable=False),
        sa.Column("detail", T(), nullable=False),
        sa.Column("status", T(), nullable=False),
        sa.Column("time", T(), nullable=False),
    )
    op.create_index("ix_rule_actions_workflow_id", "rule_actions", ["workflow_id"])
    op.create_table(
        "journal", _id(),
        _fk("workflow_id", "workflows.id"),
        sa.Column("strategy", T(), nullable=False),
        sa.Column("symbol", T(), nullable=False),
        sa.Column("entry_price", T(), nullable=False),
        sa.Column("exit_price", T(), nullable=False),
        sa.Column("fees", T(), nullable=False),
        sa.Column("realised_pnl", T(), nullable=False),
        sa.Column("opened_at", T(), nullable=False),
        sa.Column("closed_at", T(), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("closing_rule", T(), nullable=False),
    )
    op.create_index("ix_journal_workflow_id", "journal", ["workflow_id"])
    op.create_table(
        "audit_log", _id(),
        sa.Column("actor", T(), nullable=False),
        sa.Column("action", T(), nullable=False),
        sa.Column("detail", T(), nullable=False),
        _fk("workflow_id", "workflows.id", "SET NULL", nullable=True),
        sa.Column("time", T(), nullable=False),
    )
    op.create_table(
        "error_log", _id(),
        sa.Column("category", T(), nullable=False),
        sa.Column("message", T(), nullable=False),
        sa.Column("detail", T(), nullable=False),
        _fk("workflow_id", "workflows.id", "SET NULL", nullable=True),
        sa.Column("time", T(), nullable=False),
    )
    op.create_table(
        "metrics", _id(),
        sa.Column("name", T(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("time", T(), nullable=False),
    )
    op.create_index("ix_metrics_name_time", "metrics", ["name", "time"])
    op.create_table(
        "config",
        sa.Column("key", T(), primary_key=True),
        sa.Column("value", T(), nullable=False),
    )


def downgrade() -> None:
    for table in ("config", "metrics", "error_log", "audit_log", "journal", "rule_actions",
                  "positions", "fills", "order_events", "orders", "decisions", "proposals",
                  "workflow_transitions", "workflows", "strategies"):
        op.drop_table(table)
