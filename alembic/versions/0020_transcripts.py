"""Training transcripts: each one issued, with its own serial, what it printed and its PDF.

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transcripts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("serial", sa.String(32), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("learner_name", sa.String(200), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("total_hours", sa.Float(), nullable=False),
        sa.Column("total_ce_hours", sa.Float(), nullable=False),
        sa.Column("verify_url", sa.String(300), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("issued_by_id", sa.Integer(), sa.ForeignKey("users.id")),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_transcripts_user_id", "transcripts", ["user_id"])


def downgrade() -> None:
    op.drop_table("transcripts")
