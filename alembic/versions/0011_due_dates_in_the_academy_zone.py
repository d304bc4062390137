"""A cohort's due date ends at 23:59 in the academy's time zone, not at 23:59 UTC.

Revision ID: 0011
Revises: 0010

Enrollments keep their due date as the moment it ends (naive UTC, like every stored time).
Until now that moment was 23:59 UTC, which is 15:59 or 16:59 in California: a learner
finishing on the evening of the due date was shown as overdue. The due dates already stored
are set again from their cohort's date, in LMS_TIME_ZONE as it is when this runs.
"""

from collections.abc import Sequence
from datetime import date, datetime, time

import sqlalchemy as sa

from alembic import op
from lms import times
from lms.settings import Settings

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DUE = sa.text(
    "SELECT e.id, cc.due_on FROM enrollments e JOIN cohort_courses cc "
    "ON cc.cohort_id = e.cohort_id AND cc.course_id = e.course_id "
    "WHERE e.due_at IS NOT NULL AND cc.due_on IS NOT NULL"
)
SET = sa.text("UPDATE enrollments SET due_at = :due_at WHERE id = :id")


def upgrade() -> None:
    zone = Settings.from_env().zone
    connection = op.get_bind()
    changes = [
        {"id": row.id, "due_at": times.end_of_day(_day(row.due_on), zone)}
        for row in connection.execute(DUE)
    ]
    if changes:
        connection.execute(SET, changes)


def _day(value: object) -> date:
    # SQLite hands back the ISO text it stores; PostgreSQL a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _moment(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def downgrade() -> None:
    """Back to 23:59 UTC of the academy's calendar day."""
    zone = Settings.from_env().zone
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, due_at FROM enrollments WHERE due_at IS NOT NULL")
    )
    changes = [
        {
            "id": row.id,
            "due_at": datetime.combine(times.local_date(_moment(row.due_at), zone), time(23, 59)),
        }
        for row in rows
    ]
    if changes:
        connection.execute(SET, changes)
