"""live plan: the plan clock and its change log; operations that may pause at a shift end

Every transaction that changes bookings, capacity windows, downtimes or resources advances the
single-row plan clock and logs the resources it touched under the new version, so each
process's in-memory live plan reloads just those (``market/changes.py``, ``market/live.py``).
The clock's row lock serialises those commits, so versions are seen in commit order.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sharefab.kit.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_clock")),
    )
    op.execute("INSERT INTO plan_clock (id, version) VALUES (1, 0)")
    op.create_table(
        "plan_changes",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("version", "resource_id", name=op.f("pk_plan_changes")),
    )
    with op.batch_alter_table("operations") as batch:
        batch.add_column(
            sa.Column("interruptible", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("bookings") as batch:
        batch.add_column(sa.Column("moved_from_resource_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("moved_from_starts_at", sharefab.kit.types.UTCDateTime(), nullable=True)
        )
        batch.add_column(sa.Column("moved_reason", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("moved_at", sharefab.kit.types.UTCDateTime(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # a re-optimisation moves bookings in place in any order: overlaps are checked at the
        # end of its transaction (SET CONSTRAINTS ... DEFERRED), at once everywhere else
        op.execute("ALTER TABLE bookings DROP CONSTRAINT ex_bookings_no_overlap")
        op.execute(
            "ALTER TABLE bookings ADD CONSTRAINT ex_bookings_no_overlap "
            "EXCLUDE USING gist (resource_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
            "WHERE (status <> 'cancelled') DEFERRABLE INITIALLY IMMEDIATE"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE bookings DROP CONSTRAINT ex_bookings_no_overlap")
        op.execute(
            "ALTER TABLE bookings ADD CONSTRAINT ex_bookings_no_overlap "
            "EXCLUDE USING gist (resource_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
            "WHERE (status <> 'cancelled')"
        )
    with op.batch_alter_table("bookings") as batch:
        for column in (
            "moved_at",
            "moved_reason",
            "moved_from_starts_at",
            "moved_from_resource_id",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("operations") as batch:
        batch.drop_column("interruptible")
    op.drop_table("plan_changes")
    op.drop_table("plan_clock")
