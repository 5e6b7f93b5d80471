"""Keep the broker's fee figure for each order.

The dry run before every order returns the broker's own fee calculation; the journal charges a
closed trade the fees of the orders that opened and closed it (pro rata for partial fills)
instead of a flat per-contract estimate. Orders written before this revision have no figure and
fall back to the estimate.

Revision ID: 0003_order_fees
Revises: 0002_order_checks
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_order_fees"
down_revision = "0002_order_checks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("fees", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders", recreate="always") as batch:
        batch.drop_column("fees")
