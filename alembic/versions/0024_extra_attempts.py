"""A gradebook's actions: the extra attempts a trainer grants an enrollment, by quiz target.

Revision ID: 0024
Revises: 0023
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: a batch rebuild of the table on SQLite would drop
    # the retention triggers of migration 0023.
    op.add_column("enrollments", sa.Column("extra_attempts", sa.JSON(), nullable=True))


def downgrade() -> None:
    # Not batch mode, for the same reason.
    op.execute("ALTER TABLE enrollments DROP COLUMN extra_attempts")
