"""phased rollouts: rings, waves, rollouts and withdrawn releases

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 02:00:00

Each organization belongs to a rollout ring (``general`` unless placed elsewhere). Each
deployment target records its wave, when that wave was notified and the organization's health
then; existing targets are wave 0, notified when they were created. ``rollout`` holds the plan
and state of a release published with one. A withdrawn release keeps when and why, and the
version its customers roll back to.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "organization",
        sa.Column(
            "ring",
            sqlmodel.sql.sqltypes.AutoString(length=40),
            server_default="general",
            nullable=False,
        ),
    )
    op.add_column(
        "deployment_target", sa.Column("wave", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "deployment_target",
        sa.Column("wave_notified_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "deployment_target",
        sa.Column("health_before", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    )
    op.execute("UPDATE deployment_target SET wave_notified_at = created_at")
    op.create_index(
        "ix_target_waiting",
        "deployment_target",
        ["release_id"],
        postgresql_where=sa.text("wave_notified_at IS NULL"),
    )
    op.add_column("release", sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("release", sa.Column("withdraw_reason", sa.Text(), nullable=True))
    op.add_column(
        "release",
        sa.Column("rollback_version", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    )
    op.create_table(
        "rollout",
        sa.Column("release_id", sa.Uuid(), nullable=False),
        sa.Column("plan", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("current_wave", sa.Integer(), nullable=False),
        sa.Column("notified_at", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("halts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["release.id"]),
        sa.PrimaryKeyConstraint("release_id"),
    )


def downgrade() -> None:
    op.drop_table("rollout")
    op.drop_column("release", "rollback_version")
    op.drop_column("release", "withdraw_reason")
    op.drop_column("release", "withdrawn_at")
    op.drop_index("ix_target_waiting", table_name="deployment_target")
    op.drop_column("deployment_target", "health_before")
    op.drop_column("deployment_target", "wave_notified_at")
    op.drop_column("deployment_target", "wave")
    op.drop_column("organization", "ring")
