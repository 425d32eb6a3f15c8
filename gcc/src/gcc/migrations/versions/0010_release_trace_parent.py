"""release.trace_parent: the trace a release's publication started

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-05 13:00:00

The W3C ``traceparent`` of the span that published the release. Each webhook delivery runs in a
span under it and sends it on, so the customer's intake, download, agent task and reports join
the same trace. Releases published before have none; their deliveries start a trace of their own.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "release",
        sa.Column("trace_parent", sqlmodel.sql.sqltypes.AutoString(length=55), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("release", "trace_parent")
