"""console_sign_in: console sign-in links and sessions, the viewer role, addressed email,
the revision history of the non-essential variables, the history's listing index

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-05 12:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for name in ("console_sign_in_link", "console_session"):
        last = "expires_at" if name == "console_sign_in_link" else "last_seen_at"
        ended = "used_at" if name == "console_sign_in_link" else "ended_at"
        op.create_table(
            name,
            sa.Column("id", sa.Uuid(), nullable=False),
            sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
            sa.Column("principal_id", sa.Uuid(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column(last, sa.DateTime(timezone=True), nullable=False),
            sa.Column(ended, sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("token_hash"),
        )
        op.create_index(op.f(f"ix_{name}_principal_id"), name, ["principal_id"], unique=False)
    op.add_column(
        "notification",
        sa.Column("addressed_to", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.drop_constraint("ck_admin_role_known", "admin", type_="check")
    op.create_check_constraint(
        "ck_admin_role_known", "admin", "role IN ('admin', 'support', 'viewer')"
    )
    op.create_table(
        "non_essential_env_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("changed_by", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_non_essential_env_change_key"), "non_essential_env_change", ["key"], unique=False
    )
    op.create_index(
        "ix_deployment_history_deployed_at_id",
        "deployment_history",
        ["deployed_at", "id"],
        unique=False,
    )
    # the variables that exist already are the first revisions
    op.execute(
        "INSERT INTO non_essential_env_change (key, action, new_value, changed_by, changed_at) "
        "SELECT key, 'created', value, updated_by, updated_at FROM non_essential_env "
        "ORDER BY updated_at, key"
    )


def downgrade() -> None:
    op.drop_index("ix_deployment_history_deployed_at_id", table_name="deployment_history")
    op.drop_index(op.f("ix_non_essential_env_change_key"), table_name="non_essential_env_change")
    op.drop_table("non_essential_env_change")
    op.execute("UPDATE admin SET is_active = false WHERE role = 'viewer'")
    op.execute("UPDATE admin SET role = 'admin' WHERE role = 'viewer'")
    op.drop_constraint("ck_admin_role_known", "admin", type_="check")
    op.create_check_constraint("ck_admin_role_known", "admin", "role IN ('admin', 'support')")
    op.drop_column("notification", "addressed_to")
    op.drop_index(op.f("ix_console_session_principal_id"), table_name="console_session")
    op.drop_table("console_session")
    op.drop_index(op.f("ix_console_sign_in_link_principal_id"), table_name="console_sign_in_link")
    op.drop_table("console_sign_in_link")
