"""agent task retryable

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:02:05.286557
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("agent_task", sa.Column("retryable", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("agent_task", "retryable")
