"""named operators, their sign-in links and sessions, the audit trail, organization search

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-05 12:45:00

Operators sign in to the console with one-time links (only the token's hash is kept) and hold
a session row per browser (consolekit's field sets; ``principal_id`` is the operator). Every
change through the console, the operator API or a command adds an ``audit_entry`` naming who
made it. The console's organization search matches any part of a name: a trigram index
(pg_trgm, a trusted extension the database owner may create) answers it without reading the
whole table.
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


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "operator",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", _string(320), nullable=False),
        sa.Column("name", _string(200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "operator_sign_in_link",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", _string(64), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(
        "ix_operator_sign_in_link_principal_id", "operator_sign_in_link", ["principal_id"]
    )
    op.create_table(
        "operator_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", _string(64), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_operator_session_principal_id", "operator_session", ["principal_id"])
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=32), nullable=False),
        sa.Column("actor", _string(320), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=True),
        sa.Column("action", _string(64), nullable=False),
        sa.Column("organization_name", _string(63), nullable=True),
        sa.Column("release_version", _string(100), nullable=True),
        sa.Column("escalation_id", sa.Uuid(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.ForeignKeyConstraint(["operator_id"], ["operator.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_entry_occurred", "audit_entry", ["occurred_at", "id"])
    op.create_index("ix_audit_entry_actor", "audit_entry", ["actor", "occurred_at"])
    op.create_index(
        "ix_audit_entry_organization", "audit_entry", ["organization_name", "occurred_at"]
    )
    op.create_index("ix_audit_entry_release", "audit_entry", ["release_version", "occurred_at"])
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_organization_name_trgm",
        "organization",
        ["name"],
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_organization_name_trgm", table_name="organization")
    op.drop_table("audit_entry")
    op.drop_table("operator_session")
    op.drop_table("operator_sign_in_link")
    op.drop_table("operator")
