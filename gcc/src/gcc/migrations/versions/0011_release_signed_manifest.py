"""the signed manifest of each release

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 13:00:00

``signed_manifest`` holds the Ed25519-signed release manifest GCC signs at publish; releases
published before it stay null (unsigned).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "release",
        sa.Column("signed_manifest", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("release", "signed_manifest")
