"""trace_parent on deployments, agent tasks and outbox reports: one trace per release

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 13:00:00

The W3C ``traceparent`` each row continues: a deployment the release's (from GCC's webhook,
then its download), an agent task its deployment's (the poll hands it to the agent), an outbox
report the span that wrote it (sent to GCC with it). Rows written before have none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("scheduled_deployment", "agent_task", "gcc_outbox")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("trace_parent", sqlmodel.sql.sqltypes.AutoString(length=55), nullable=True),
        )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_column(table, "trace_parent")
