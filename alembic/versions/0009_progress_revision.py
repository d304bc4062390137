"""A revision number on each enrollment that changes with anything its progress is made of.

Revision ID: 0009
Revises: 0008

The progress matrix keeps each enrollment's summary in the worker, keyed by the enrollment
and this number, so that a cohort seen again reads 250 enrollments and not their 3,000
module rows and attempts. Triggers raise the number in the transaction that changes module
progress, a submitted attempt, the evaluation or attendance, so no code path can forget.

SQLite drops triggers when a migration rebuilds a table in batch mode: a later migration
that rebuilds module_progress, attempts, evaluation_responses or attendance must create
them again (SQLITE below).
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUMP = "UPDATE enrollments SET progress_revision = progress_revision + 1 WHERE id = {}"
# Attendance counts toward every enrollment of the person in the session's course.
BUMP_ATTENDANCE = (
    "UPDATE enrollments SET progress_revision = progress_revision + 1 "
    "WHERE user_id = {row}.user_id "
    "AND course_id = (SELECT course_id FROM live_sessions WHERE id = {row}.session_id)"
)

# (trigger, event, table, condition): what changes a learner's progress.
CHANGES = [
    ("progress_revision_module_insert", "INSERT", "module_progress", ""),
    ("progress_revision_module_status", "UPDATE OF status", "module_progress", ""),
    ("progress_revision_module_delete", "DELETE", "module_progress", ""),
    (
        "progress_revision_attempt_insert",
        "INSERT",
        "attempts",
        "NEW.submitted_at IS NOT NULL",
    ),
    (
        "progress_revision_attempt_submit",
        "UPDATE OF submitted_at, percent, passed",
        "attempts",
        "",
    ),
    ("progress_revision_attempt_delete", "DELETE", "attempts", ""),
    ("progress_revision_evaluation_insert", "INSERT", "evaluation_responses", ""),
    ("progress_revision_evaluation_delete", "DELETE", "evaluation_responses", ""),
    ("progress_revision_attendance_insert", "INSERT", "attendance", ""),
    ("progress_revision_attendance_present", "UPDATE OF present", "attendance", ""),
    ("progress_revision_attendance_delete", "DELETE", "attendance", ""),
]


def _bump(table: str, row: str) -> str:
    if table == "attendance":
        return BUMP_ATTENDANCE.format(row=row)
    return BUMP.format(f"{row}.enrollment_id")


def _sqlite() -> list[str]:
    statements = []
    for name, event, table, condition in CHANGES:
        row = "OLD" if event == "DELETE" else "NEW"
        when = f"WHEN {condition}" if condition else ""
        statements.append(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} {when} BEGIN {_bump(table, row)}; END"
        )
    return statements


def _postgresql() -> list[str]:
    statements = []
    for kind in ("enrollment", "attendance"):
        table = "attendance" if kind == "attendance" else "module_progress"
        statements.append(
            f"""
            CREATE FUNCTION progress_revision_{kind}() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    {_bump(table, "OLD")};
                ELSE
                    {_bump(table, "NEW")};
                END IF;
                RETURN NULL;
            END $$
            """
        )
    for name, event, table, condition in CHANGES:
        kind = "attendance" if table == "attendance" else "enrollment"
        when = f"WHEN ({condition})" if condition else ""
        statements.append(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW {when} "
            f"EXECUTE FUNCTION progress_revision_{kind}()"
        )
    return statements


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column(
        "enrollments",
        sa.Column("progress_revision", sa.Integer(), server_default="0", nullable=False),
    )
    for statement in _postgresql() if dialect == "postgresql" else _sqlite():
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, _, table, _ in CHANGES:
        op.execute(f"DROP TRIGGER {name}" + (f" ON {table}" if dialect == "postgresql" else ""))
    if dialect == "postgresql":
        op.execute("DROP FUNCTION progress_revision_enrollment()")
        op.execute("DROP FUNCTION progress_revision_attendance()")
    # Not batch mode: on SQLite that rebuilds enrollments and drops 0008's triggers with it.
    op.execute("ALTER TABLE enrollments DROP COLUMN progress_revision")
