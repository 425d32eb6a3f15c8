"""admin roles (admin, support) and the audit of essential configuration changes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 18:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Roles were free text: anything but support was an admin, and stays one.
    op.execute("UPDATE admin SET role = 'admin' WHERE role NOT IN ('admin', 'support')")
    op.create_check_constraint("ck_admin_role_known", "admin", "role IN ('admin', 'support')")
    op.add_column(
        "essential_config_version",
        sa.Column("author_role", sa.String(length=16), nullable=True),
    )
    for column in ("added_keys", "changed_keys", "removed_keys"):
        op.add_column(
            "essential_config_version",
            sa.Column(column, postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        )


def downgrade() -> None:
    for column in ("removed_keys", "changed_keys", "added_keys", "author_role"):
        op.drop_column("essential_config_version", column)
    op.drop_constraint("ck_admin_role_known", "admin", type_="check")
