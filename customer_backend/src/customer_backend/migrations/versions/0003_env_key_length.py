"""a non-essential variable's key column is as long as the contract allows

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 18:20:00

Contracts and columns take their lengths from one constant (``contracts.primitives``). An
environment variable name is at most 128 characters by the contract, which every variable was
created through (a release's new variables or an admin's), so no stored key is longer.
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
    op.alter_column(
        "non_essential_env",
        "key",
        existing_type=sa.VARCHAR(length=200),
        type_=sqlmodel.sql.sqltypes.AutoString(length=128),
        existing_nullable=False,
    )


def downgrade() -> None:
    op.alter_column(
        "non_essential_env",
        "key",
        existing_type=sqlmodel.sql.sqltypes.AutoString(length=128),
        type_=sa.VARCHAR(length=200),
        existing_nullable=False,
    )
