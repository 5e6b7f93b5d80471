"""Guard order quantities with CHECK constraints and index broker order ids.

The broker's account stream reports orders by its own id, so the store looks orders up by
``broker_order_id`` on every status change. SQLite cannot add a CHECK constraint in place, so the
orders table is rebuilt (batch mode, copy and rename); the migration runner keeps foreign keys off
while that happens so the rebuild cannot cascade into order_events and fills.

Revision ID: 0002_order_checks
Revises: 0001_initial
Create Date: 2026-01-12
"""

from __future__ import annotations

from alembic import op

revision = "0002_order_checks"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", recreate="always") as batch:
        batch.create_check_constraint("quantity_positive", "quantity >= 1")
        batch.create_check_constraint("filled_not_negative", "filled_quantity >= 0")
    op.create_index("ix_orders_broker_order_id", "orders", ["broker_order_id"])


def downgrade() -> None:
    op.drop_index("ix_orders_broker_order_id", table_name="orders")
    with op.batch_alter_table("orders", recreate="always") as batch:
        batch.drop_constraint("ck_orders_quantity_positive", type_="check")
        batch.drop_constraint("ck_orders_filled_not_negative", type_="check")
