"""plan changes say whether a resource's calendar changed or only what takes its time

``plan_changes.calendar`` is false when a transaction changed only a resource's bookings or
downtimes: a live plan then reloads just those, not its windows and details
(``market/changes.py``, ``market/live.py``). Rows written before this revision count as
calendar changes (a full reload, as before).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plan_changes") as batch:
        batch.add_column(
            sa.Column("calendar", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("plan_changes") as batch:
        batch.drop_column("calendar")
