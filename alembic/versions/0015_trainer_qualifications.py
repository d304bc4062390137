"""Qualified trainers: who may deliver which course, and an admin's audited override.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trainer_qualifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("courses.id"), nullable=False),
        sa.Column("basis", sa.String(30), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("until", sa.Date()),
        sa.Column("note", sa.Text()),
        sa.Column("recorded_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("user_id", "course_id"),
    )
    op.create_index("ix_trainer_qualifications_user_id", "trainer_qualifications", ["user_id"])
    op.add_column("cohort_trainers", sa.Column("override_reason", sa.Text()))
    if op.get_bind().dialect.name == "sqlite":
        # ADD COLUMN takes REFERENCES on SQLite, not Alembic's separate ADD CONSTRAINT; a
        # database downgraded past here keeps the column (see downgrade): use it again.
        columns = sa.inspect(op.get_bind()).get_columns("cohort_trainers")
        if "override_by_id" not in {c["name"] for c in columns}:
            op.execute(
                "ALTER TABLE cohort_trainers ADD COLUMN override_by_id INTEGER "
                "REFERENCES users (id)"
            )
    else:
        op.add_column(
            "cohort_trainers",
            sa.Column("override_by_id", sa.Integer(), sa.ForeignKey("users.id")),
        )


def downgrade() -> None:
    # DROP COLUMN refuses a column with a foreign key on SQLite, so there override_by_id
    # stays, emptied and unused, and a later upgrade finds it (as 0012 does).
    op.execute("UPDATE cohort_trainers SET override_by_id = NULL")
    op.execute("ALTER TABLE cohort_trainers DROP COLUMN override_reason")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("cohort_trainers", "override_by_id")
    op.drop_table("trainer_qualifications")
