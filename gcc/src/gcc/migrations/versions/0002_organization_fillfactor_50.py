"""organization pages keep half their room free

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 21:20:00

The health classification rewrites every organization whose state changed in one statement;
after an outage of GCC's API that is nearly the whole fleet at once. PostgreSQL updates a row in
place (HOT, no index entries) only when its page has room for the new version: with 70% of a
page filled, about half of such a mass update found none, and 100,000 organizations took over a
second instead of about 0.4 s. The new setting applies to pages written from now on; a
``VACUUM FULL organization`` in a maintenance window rewrites the existing ones.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE organization SET (fillfactor = 50)")


def downgrade() -> None:
    op.execute("ALTER TABLE organization SET (fillfactor = 70)")
