"""the application version agents report, and organizations that send no heartbeats

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-05 03:30:00

``app_version`` (spec 5.6 ``appVer``) is kept on the organization and on each version history
entry, beside the release version. ``heartbeat_enabled`` is false while a customer backend says
it sends no heartbeats (spec 13 ``heartbeatEnabled``); every existing organization sends them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "organization",
        sa.Column("app_version", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    )
    op.add_column(
        "organization",
        sa.Column("heartbeat_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.add_column(
        "version_history",
        sa.Column("app_version", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("version_history", "app_version")
    op.drop_column("organization", "heartbeat_enabled")
    op.drop_column("organization", "app_version")
