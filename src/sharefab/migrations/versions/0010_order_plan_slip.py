"""orders remember when they were accepted, when the accepted plan ended and when they finished

A quote for an order that cannot be on time promises the planned delivery plus an allowance
for how far such plans have slipped lately (`market/promises.py`), read from these columns.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 09:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sharefab.kit.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("accepted_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("planned_end_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("completed_at", UTCDateTime(), nullable=True))
    op.create_index("ix_orders_planned_end_at", "orders", ["planned_end_at"])


def downgrade() -> None:
    op.drop_index("ix_orders_planned_end_at", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("completed_at")
        batch.drop_column("planned_end_at")
        batch.drop_column("accepted_at")
