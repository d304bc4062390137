"""An index for a reviewer's recent decisions (the sign-offs queue read every decided row).

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_field_activities_decided_by", "field_activities", ["decided_by_id", "decided_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_field_activities_decided_by", "field_activities")
