"""Live sessions as written: which course session a cohort's session delivers, fidelity
logs and observations of it, and skills scored in it.

Revision ID: 0014
Revises: 0013

A skill score changes the learner's progress (a required skill counts toward completion),
so it raises the enrollments' progress_revision as attendance does (0009's attendance
function reads the same two columns, session_id and user_id).
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUMP = (
    "UPDATE enrollments SET progress_revision = progress_revision + 1 "
    "WHERE user_id = {row}.user_id "
    "AND course_id = (SELECT course_id FROM live_sessions WHERE id = {row}.session_id)"
)
TRIGGERS = [
    ("progress_revision_skill_insert", "INSERT"),
    ("progress_revision_skill_score", "UPDATE OF score"),
    ("progress_revision_skill_delete", "DELETE"),
]


def upgrade() -> None:
    # Plain ADD COLUMN (no batch rebuild): rebuilding live_sessions would drop the triggers
    # of the tables that name it.
    op.add_column("live_sessions", sa.Column("course_session", sa.String(100)))
    op.create_table(
        "fidelity_logs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "session_id",
            sa.Integer(),
            sa.ForeignKey("live_sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("segments", sa.JSON(), nullable=False),
        sa.Column("checklist", sa.JSON()),
        sa.Column("comment", sa.Text()),
        sa.Column("as_written", sa.Integer(), nullable=False),
        sa.Column("segment_count", sa.Integer(), nullable=False),
        sa.UniqueConstraint("session_id", "recorded_by_id"),
    )
    op.create_index("ix_fidelity_logs_session_id", "fidelity_logs", ["session_id"])
    op.create_table(
        "skill_scores",
        sa.Column(
            "session_id",
            sa.Integer(),
            sa.ForeignKey("live_sessions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("skill_id", sa.String(100), primary_key=True),
        sa.Column("criterion_id", sa.String(100), primary_key=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("scored_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_skill_scores_user_id", "skill_scores", ["user_id"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, event in TRIGGERS:
        if postgresql:
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON skill_scores FOR EACH ROW "
                "EXECUTE FUNCTION progress_revision_attendance()"
            )
        else:
            row = "OLD" if event == "DELETE" else "NEW"
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON skill_scores "
                f"BEGIN {BUMP.format(row=row)}; END"
            )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER {name}" + (" ON skill_scores" if postgresql else ""))
    op.drop_table("skill_scores")
    op.drop_table("fidelity_logs")
    # Not batch mode on SQLite: that would rebuild live_sessions (see upgrade).
    op.execute("ALTER TABLE live_sessions DROP COLUMN course_session")
