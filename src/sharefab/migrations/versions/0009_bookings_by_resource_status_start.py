"""bookings indexed by resource, status and start: a resource's work orders over a span

Starting a work order early, rework and idle pull read a resource's bookings in some states
over a span. Without this index SQLite chose the one on (status, starts_at) and walked every
done booking that started before the span's end, on every resource: on a copy of a simulated
size-M run after four weeks (10,597 done bookings) 6.8 ms a read, against 0.04 ms with it.
The single-column index on resource_id is covered by the new one and goes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 20:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_bookings_resource_id_status_starts_at",
        "bookings",
        ["resource_id", "status", "starts_at"],
    )
    op.drop_index("ix_bookings_resource_id", table_name="bookings")


def downgrade() -> None:
    op.create_index("ix_bookings_resource_id", "bookings", ["resource_id"])
    op.drop_index("ix_bookings_resource_id_status_starts_at", table_name="bookings")
