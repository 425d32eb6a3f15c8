"""maintenance_change: maintenance mode switched by admins outside a deployment

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 03:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "maintenance_change",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("changed_by", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["agent_task.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_maintenance_change_changed_at", "maintenance_change", ["changed_at"], unique=False
    )
    op.create_index(
        op.f("ix_maintenance_change_task_id"), "maintenance_change", ["task_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_maintenance_change_task_id"), table_name="maintenance_change")
    op.drop_index("ix_maintenance_change_changed_at", table_name="maintenance_change")
    op.drop_table("maintenance_change")
