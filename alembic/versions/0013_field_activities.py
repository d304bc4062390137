"""Field activities: a learner's work on the job, submitted, returned and signed off.

Revision ID: 0013
Revises: 0012

One row per enrollment and activity (its state, and a revision that moves with every step,
so that a second sign-off of the same submission changes nothing), every step kept beside
it, and submitted files in the database like course files. A change of state changes the
learner's progress, so it raises the enrollment's progress_revision as 0009's triggers do.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUMP = "UPDATE enrollments SET progress_revision = progress_revision + 1 WHERE id = {}"
TRIGGERS = [
    ("progress_revision_activity_insert", "INSERT"),
    ("progress_revision_activity_status", "UPDATE OF status"),
    ("progress_revision_activity_delete", "DELETE"),
]


def upgrade() -> None:
    op.create_table(
        "field_activity_files",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "field_activities",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "enrollment_id",
            sa.Integer(),
            sa.ForeignKey("enrollments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("activity_id", sa.String(100), nullable=False),
        sa.Column("reviewer", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("first_submitted_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime()),
        sa.Column("decided_by_id", sa.Integer(), sa.ForeignKey("users.id")),
        sa.Column("scores", sa.JSON()),
        sa.UniqueConstraint("enrollment_id", "activity_id"),
    )
    op.create_index("ix_field_activities_status", "field_activities", ["status", "submitted_at"])
    op.create_table(
        "field_activity_steps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "field_activity_id",
            sa.Integer(),
            sa.ForeignKey("field_activities.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("reflection", sa.Text()),
        sa.Column("comment", sa.Text()),
        sa.Column("scores", sa.JSON()),
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("field_activity_files.id")),
    )
    op.create_index(
        "ix_field_activity_steps_field_activity_id", "field_activity_steps", ["field_activity_id"]
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, event in TRIGGERS:
        if postgresql:  # 0009's function bumps the enrollment a row names
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON field_activities FOR EACH ROW "
                "EXECUTE FUNCTION progress_revision_enrollment()"
            )
        else:
            row = "OLD" if event == "DELETE" else "NEW"
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON field_activities "
                f"BEGIN {BUMP.format(f'{row}.enrollment_id')}; END"
            )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER {name}" + (" ON field_activities" if postgresql else ""))
    op.drop_table("field_activity_steps")
    op.drop_table("field_activities")
    op.drop_table("field_activity_files")
