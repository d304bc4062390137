"""Continuing-education credit on certificates: the CE hours, categories and approval
statement a completion earned, and the license the learner held, as printed.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def columns() -> list[sa.Column[object]]:
    return [
        sa.Column("ce_hours", sa.Float()),
        sa.Column("ce_categories", sa.JSON()),
        sa.Column("ce_approval", sa.Text()),
        sa.Column("license_type", sa.String(40)),
        sa.Column("license_number", sa.String(40)),
    ]


def upgrade() -> None:
    for column in columns():
        op.add_column("certificates", column)


def downgrade() -> None:
    for column in reversed(columns()):
        op.execute(f"ALTER TABLE certificates DROP COLUMN {column.name}")
