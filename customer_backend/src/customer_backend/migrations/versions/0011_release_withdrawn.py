"""releases GCC withdrew

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 02:00:00

``withdrawn_at`` marks a release GCC withdrew (its ``release.withdrawn`` webhook or the updates
poll): it cannot be scheduled again. ``withdraw_reason`` and ``rollback_version`` are what GCC
said: why, and the version to roll back to.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "scheduled_deployment",
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column("scheduled_deployment", sa.Column("withdraw_reason", sa.Text(), nullable=True))
    op.add_column(
        "scheduled_deployment",
        sa.Column("rollback_version", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("scheduled_deployment", "rollback_version")
    op.drop_column("scheduled_deployment", "withdraw_reason")
    op.drop_column("scheduled_deployment", "withdrawn_at")
