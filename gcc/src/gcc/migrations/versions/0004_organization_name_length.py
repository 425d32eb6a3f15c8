"""an organization's name column is as long as the contract allows

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 18:20:00

Contracts and columns take their lengths from one constant (``contracts.limits`` and
``contracts.primitives``). An organization name is at most 63 characters by the contract, which
every organization was created through, so no stored name is longer.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        "organization",
        "name",
        existing_type=sa.VARCHAR(length=100),
        type_=sqlmodel.sql.sqltypes.AutoString(length=63),
        existing_nullable=False,
    )


def downgrade() -> None:
    op.alter_column(
        "organization",
        "name",
        existing_type=sqlmodel.sql.sqltypes.AutoString(length=63),
        type_=sa.VARCHAR(length=100),
        existing_nullable=False,
    )
