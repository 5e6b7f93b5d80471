"""Keep each order's time in force.

A DAY order dies at the close and a GTC order works across sessions; the order record (and the
``orders`` export) must say which one was sent. Orders written before this revision were all
DAY orders (the only kind that existed), so existing rows get 'Day'.

Revision ID: 0004_order_time_in_force
Revises: 0003_order_fees
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_order_time_in_force"
down_revision = "0003_order_fees"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("time_in_force", sa.Text(), nullable=False,
                                      server_default="Day"))


def downgrade() -> None:
    with op.batch_alter_table("orders", recreate="always") as batch:
        batch.drop_column("time_in_force")
