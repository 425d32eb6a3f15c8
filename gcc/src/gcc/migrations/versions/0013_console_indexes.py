"""indexes for the console's fleet list: its sort orders and its version filter

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 02:00:00

With 100,000 organizations, sorting the fleet list by version, license or deployment type
sorted the whole fleet for each page, and the version filter read every row. Each order now
has an index per direction (never-reported and unlicensed organizations last either way, the
name breaking ties), partial on the active organizations, which reads a page without sorting.
The version order is ``semver_order_key(current_version)``, an immutable SQL function created
here that the list orders by. These columns change on a deployment report or a license edit
only: health and last seen, which heartbeats rewrite all day, stay unindexed so that those
updates remain in place (HOT, see 0002).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The key that orders semantic versions numerically (2.10.0 after 2.9.0): each part of
# major.minor.patch left-padded, then the whole text; NULL for no version (STRICT).
VERSION_ORDER_FUNCTION = """
CREATE FUNCTION semver_order_key(version character varying) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN lpad(split_part(split_part(split_part(version, '+', 1), '-', 1), '.', 1), 10, '0')
    || '.' || lpad(split_part(split_part(split_part(version, '+', 1), '-', 1), '.', 2), 10, '0')
    || '.' || lpad(split_part(split_part(split_part(version, '+', 1), '-', 1), '.', 3), 10, '0')
    || '-' || version
"""

ORDERS = {
    "version": "semver_order_key(current_version)",
    "license": "license_expires_at",
    "type": "deployment_type",
}


def upgrade() -> None:
    op.execute(VERSION_ORDER_FUNCTION)
    for name, key in ORDERS.items():
        for direction in ("ASC", "DESC"):
            op.execute(
                f"CREATE INDEX ix_organization_{name}_order_{direction.lower()} ON organization "
                f"({key} {direction} NULLS LAST, name) WHERE deleted_at IS NULL"
            )
    op.execute(
        "CREATE INDEX ix_organization_current_version ON organization (current_version) "
        "WHERE deleted_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_organization_current_version")
    for name in ORDERS:
        for direction in ("asc", "desc"):
            op.execute(f"DROP INDEX ix_organization_{name}_order_{direction}")
    op.execute("DROP FUNCTION semver_order_key(character varying)")
