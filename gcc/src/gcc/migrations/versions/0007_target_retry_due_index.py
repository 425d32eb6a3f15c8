"""an index of the retries due, for the delivery pump's retry lane

Revision ID: 0007
Revises: 0009
Create Date: 2026-12-05 13:00:00

The pump claims first deliveries and retries separately; ``ix_target_due`` orders every
pending target by due time, so during a large fan-out a retry lane's claim would walk past
every first delivery still due. ``ix_target_retry_due`` holds the pending targets tried at
least once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_target_retry_due",
        "deployment_target",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text(
            "webhook_acked = false AND webhook_failed = false AND webhook_attempts > 0"
        ),
    )


def downgrade() -> None:
    op.drop_index("ix_target_retry_due", table_name="deployment_target")
