"""What the completions report reads besides enrollments: monthly counts, and an index."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Index, Integer, text
from sqlalchemy.orm import Mapped, mapped_column

from lms.db import Base
from lms.learning.models import Enrollment

NO_COUNTY = 0


class CompletionCount(Base):
    """How many enrollments completed in a month, by the learner's county and course version.

    Kept by database triggers on enrollments and users (migration 0008), in the same
    transaction as the change, so it always agrees with the enrollments: the report sums a
    few hundred of these rows instead of joining every completion to its learner.
    Completions without a `completed_at` are not counted (no code records one).
    SQLite loses triggers when a migration rebuilds a table in batch mode: a later migration
    that alters enrollments or users there must create them again.
    """

    __tablename__ = "completion_counts"

    month: Mapped[date] = mapped_column(Date, primary_key=True)  # its first day
    # NO_COUNTY for learners without one: a primary key column cannot be NULL.
    county_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    completions: Mapped[int] = mapped_column(Integer)


# Pages of the report, latest first: read in order from the index alone (the learner is
# there for the county filter), however far back the page is. Declared beside the report
# that needs it; created by migration 0008.
Index(
    "ix_enrollments_completed_latest",
    Enrollment.completed_at,
    Enrollment.id,
    Enrollment.user_id,
    sqlite_where=text("status = 'completed'"),
    postgresql_where=text("status = 'completed'"),
)
