"""Keep the broker's lifecycle transactions the engine booked.

Expirations, exercises, assignments, share deliveries and dividends change positions and cash
without an order. Each one is booked once against the workflow whose position it touched; the
unique transaction id is what makes a restart (which reads the broker's transactions since the
latest one kept here) book nothing twice.

Revision ID: 0006_lifecycle_events
Revises: 0005_fill_market
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_lifecycle_events"
down_revision = "0005_fill_market"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lifecycle_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Text(), nullable=False),
        sa.Column("workflow_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("underlying", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("price", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("early", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("time", sa.Text(), nullable=False),
        sa.Column("booked_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["workflow_id"], ["workflows.id"],
                                name=op.f("fk_lifecycle_events_workflow_id_workflows"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lifecycle_events")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_lifecycle_events_transaction_id")),
    )
    op.create_index(op.f("ix_lifecycle_events_time"), "lifecycle_events", ["time"])
    op.create_index(op.f("ix_lifecycle_events_workflow_id"), "lifecycle_events",
                    ["workflow_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_lifecycle_events_workflow_id"), table_name="lifecycle_events")
    op.drop_index(op.f("ix_lifecycle_events_time"), table_name="lifecycle_events")
    op.drop_table("lifecycle_events")
