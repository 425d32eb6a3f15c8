"""an escalation records the version of its release

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 18:00:00

Escalations name their release's version in the operators' list and in the emails. Recording
it when the escalation is raised lets the escalations domain answer from its own table instead
of joining the releases' one; existing rows take it from their release.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "escalation",
        sa.Column("release_version", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    )
    op.execute(
        "UPDATE escalation SET release_version = release.version "
        "FROM release WHERE release.id = escalation.release_id"
    )


def downgrade() -> None:
    op.drop_column("escalation", "release_version")
