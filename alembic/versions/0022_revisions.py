"""Revisions: a number each change to derived data raises, so that a worker knows whether a
figure it keeps (the compliance report's totals) still holds.

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    revisions = op.create_table(
        "revisions",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_revisions")),
    )
    op.bulk_insert(revisions, [{"name": "requirements", "number": 0}])


def downgrade() -> None:
    op.drop_table("revisions")
