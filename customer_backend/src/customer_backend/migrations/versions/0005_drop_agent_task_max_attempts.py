"""drop agent_task.max_attempts: a failed task is scheduled again by an admin

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 03:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nothing ever read the column: the queue never claims a failed task again by itself.
    op.drop_column("agent_task", "max_attempts")


def downgrade() -> None:
    op.add_column(
        "agent_task",
        sa.Column("max_attempts", sa.Integer(), nullable=False, server_default="3"),
    )
    op.alter_column("agent_task", "max_attempts", server_default=None)
