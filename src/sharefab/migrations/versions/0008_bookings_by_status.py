"""bookings indexed by status: the live ones are found without walking the cancelled ones

A booking moved to another provider leaves its old work order cancelled, so over weeks the
cancelled and done bookings far outnumber the live ones (in a simulated size-M cluster after
six weeks: 337,000 cancelled, 42,000 done, 5,000 committed). The live plan's reloads, the
re-optimisation's read of every committed booking and idle pull's candidates now start from
the status; an order's bookings (the index on order_id becomes one on order_id and status)
skip the cancelled ones in the index.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 08:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_bookings_status_resource_id", "bookings", ["status", "resource_id"])
    op.create_index("ix_bookings_status_starts_at", "bookings", ["status", "starts_at"])
    # an order's bookings with the status in the index: the cancelled ones are skipped there
    op.create_index("ix_bookings_order_id_status", "bookings", ["order_id", "status"])
    op.drop_index("ix_bookings_order_id", table_name="bookings")


def downgrade() -> None:
    op.create_index("ix_bookings_order_id", "bookings", ["order_id"])
    op.drop_index("ix_bookings_order_id_status", table_name="bookings")
    op.drop_index("ix_bookings_status_starts_at", table_name="bookings")
    op.drop_index("ix_bookings_status_resource_id", table_name="bookings")
