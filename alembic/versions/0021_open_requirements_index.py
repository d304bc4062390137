"""An index on open requirements' due dates: the compliance report lists them in that order.

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_requirements_open_due",
        "requirements",
        ["due_on", "id"],
        postgresql_where=sa.text("met_on IS NULL"),
        sqlite_where=sa.text("met_on IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_requirements_open_due", "requirements")
