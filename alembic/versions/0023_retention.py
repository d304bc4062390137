"""Retention: training records younger than the retention period (4 years) cannot be deleted.

Providers keep attendance rosters and CE records for 4 years, and counties keep training
records at least as long. The application deletes none of these rows; the database refuses
to, so that neither a future code path nor a hand-typed statement can: a BEFORE DELETE
trigger on each table refuses a row whose newest moment is within the period. People are
never deleted while they have records (a trigger on users refuses it, as the foreign keys do
where they are checked); they are deactivated.

The period is the one row of `retention_policy` (4 years; a missing row counts as 4). The
application never writes it. SQLite drops a table's triggers when a migration rebuilds the
table in batch mode: a later migration that does so must create this table's trigger again.

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each kept table, and the moments its rows carry: a row's age runs from the newest one.
GUARDED = {
    "enrollments": ("enrolled_at", "completed_at", "withdrawn_at", "last_activity_at"),
    "module_progress": ("opened_at", "last_seen_at", "completed_at"),
    "attempts": ("started_at", "submitted_at"),
    "attempt_answers": ("saved_at",),
    "evaluation_responses": ("submitted_at",),
    "attendance": ("recorded_at",),
    "certificates": ("issued_at", "revoked_at", "superseded_at"),
    "transcripts": ("issued_at",),
    "field_activities": ("submitted_at", "decided_at"),
    "field_activity_steps": ("at",),
    "skill_scores": ("scored_at",),
    "fidelity_logs": ("recorded_at",),
}
MESSAGE = (
    "retention: {table} younger than the retention period cannot be deleted"
    " (deactivate the person instead)"
)
YEARS = "COALESCE((SELECT years FROM retention_policy), 4)"
# A person stays while any record of theirs does. The foreign keys say so too, but SQLite
# checks them only on connections that turn them on (the app's do; a hand-opened shell does not).
HAS_RECORDS = " OR ".join(
    f"EXISTS (SELECT 1 FROM {table} WHERE user_id = OLD.id)"  # noqa: S608  (names written here)
    for table in ("enrollments", "certificates", "attendance", "transcripts")
)
PERSON_MESSAGE = "retention: a person with training records cannot be deleted (deactivate them)"


def upgrade() -> None:
    policy = op.create_table(
        "retention_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("years", sa.Integer(), nullable=False, server_default="4"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_policy")),
        sa.CheckConstraint("id = 1", name=op.f("ck_retention_policy_one_row")),
    )
    op.bulk_insert(policy, [{"id": 1, "years": 4}])
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, moments in GUARDED.items():
        message = MESSAGE.format(table=table.replace("_", " "))
        if postgresql:
            newest = f"GREATEST({', '.join('OLD.' + m for m in moments)})"
            op.execute(
                f"CREATE FUNCTION retention_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN IF {newest} > now() AT TIME ZONE 'UTC' - make_interval(years => {YEARS}) "
                f"THEN RAISE EXCEPTION '{message}'; END IF; RETURN OLD; END $$"
            )
            op.execute(
                f"CREATE TRIGGER retention_{table} BEFORE DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION retention_{table}()"
            )
        else:
            # SQLite keeps times as ISO text, which orders as the times do; max() of several
            # is NULL if any is, so each empty one counts as the earliest.
            empty_first = ", ".join(f"COALESCE(OLD.{m}, '')" for m in moments)
            newest = f"max({empty_first}, '')"
            op.execute(
                f"CREATE TRIGGER retention_{table} BEFORE DELETE ON {table} "
                f"WHEN {newest} > datetime('now', printf('%+d years', -{YEARS})) "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
    if postgresql:
        op.execute(
            "CREATE FUNCTION keep_people_with_records() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF {HAS_RECORDS} THEN RAISE EXCEPTION '{PERSON_MESSAGE}'; END IF; "
            "RETURN OLD; END $$"
        )
        op.execute(
            "CREATE TRIGGER keep_people_with_records BEFORE DELETE ON users "
            "FOR EACH ROW EXECUTE FUNCTION keep_people_with_records()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER keep_people_with_records BEFORE DELETE ON users WHEN {HAS_RECORDS} "
            f"BEGIN SELECT RAISE(ABORT, '{PERSON_MESSAGE}'); END"
        )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("DROP TRIGGER keep_people_with_records ON users")
        op.execute("DROP FUNCTION keep_people_with_records()")
    else:
        op.execute("DROP TRIGGER keep_people_with_records")
    for table in GUARDED:
        if postgresql:
            op.execute(f"DROP TRIGGER retention_{table} ON {table}")
            op.execute(f"DROP FUNCTION retention_{table}()")
        else:
            op.execute(f"DROP TRIGGER retention_{table}")
    op.drop_table("retention_policy")
