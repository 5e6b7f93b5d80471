"""Keep the spread's mid and natural at the moment an order filled.

Fill quality (the average fill against mid and the share of the spread conceded) can only be
measured against the market of that moment, which is gone a second later. The order event that
records a fill carries both; rows written before this revision have none (their fills are left
out of the fill-quality figures).

Revision ID: 0005_fill_market
Revises: 0004_order_time_in_force
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_fill_market"
down_revision = "0004_order_time_in_force"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("order_events", sa.Column("mid", sa.Text(), nullable=True))
    op.add_column("order_events", sa.Column("natural", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_events", recreate="always") as batch:
        batch.drop_column("natural")
        batch.drop_column("mid")
