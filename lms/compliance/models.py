"""Tables for each person's plan requirements (kept current) and the extensions granted."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from lms.db import Base, utcnow

# A requirement's status on a given day (see `Requirement.status_on`).
MET, ON_TRACK, DUE_SOON, OVERDUE, NO_DATE = "met", "on_track", "due_soon", "overdue", "no_date"
STATUSES = {
    OVERDUE: "Overdue",
    DUE_SOON: "Due soon",
    ON_TRACK: "On track",
    MET: "Met",
    NO_DATE: "No start date",
}
DUE_SOON_DAYS = 30
# The outbox kinds of requirement reminders (see compliance/reminders.py).
DUE_SOON_KIND, OVERDUE_KIND, DIGEST_KIND = "requirement_due", "requirement_overdue", "team_overdue"
PERSONAL_KINDS = (DUE_SOON_KIND, OVERDUE_KIND)


def status_of(met_on: date | None, due_on: date | None, today: date) -> str:
    """A requirement's status on `today` (compliance.service.status_column says it in SQL)."""
    if met_on is not None:
        return MET
    if due_on is None:
        return NO_DATE
    if due_on < today:
        return OVERDUE
    return DUE_SOON if (due_on - today).days <= DUE_SOON_DAYS else ON_TRACK


class Requirement(Base):
    """One person's requirement from one plan, as of their latest completion of its course.

    Derived: rewritten (by `compliance.service.refresh`) whenever what it is made of changes:
    the person's dates, classification or county, a completion, an extension, or the plan.
    Keeping it as rows is what lets the compliance report filter, sort and count 20,000
    people in SQL; the status for a day is read from `due_on` and `met_on`.
    """

    __tablename__ = "requirements"
    __table_args__ = (
        UniqueConstraint("user_id", "plan_id", "course_slug"),
        Index("ix_requirements_due_on", "due_on"),
        Index("ix_requirements_plan_id", "plan_id", "due_on"),
        # The compliance report lists open requirements by due date (migration 0021).
        Index(
            "ix_requirements_open_due",
            "due_on",
            "id",
            postgresql_where=text("met_on IS NULL"),
            sqlite_where=text("met_on IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("training_plans.id"))
    position: Mapped[int] = mapped_column(Integer)  # its place in the plan's list
    course_slug: Mapped[str] = mapped_column(String(100))
    # When the current cycle is due (after any extension); None when the person has no date
    # for the plan to count from. For a recurring requirement already met, the next due date.
    due_on: Mapped[date | None] = mapped_column(Date)
    first_due_on: Mapped[date | None] = mapped_column(Date)  # before extensions
    met_on: Mapped[date | None] = mapped_column(Date)  # a one-off requirement, met
    late: Mapped[bool] = mapped_column(Boolean, default=False)  # met after its due date
    last_completed_on: Mapped[date | None] = mapped_column(Date)
    extended: Mapped[bool] = mapped_column(Boolean, default=False)

    def status_on(self, today: date) -> str:
        return status_of(self.met_on, self.due_on, today)


class RequirementExtension(Base):
    """A new due date for one person's requirement, for one due date, with its reason."""

    __tablename__ = "requirement_extensions"
    __table_args__ = (UniqueConstraint("user_id", "plan_id", "course_slug", "due_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("training_plans.id"))
    course_slug: Mapped[str] = mapped_column(String(100))
    due_on: Mapped[date] = mapped_column(Date)  # the due date it replaces
    extended_to: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


def reminder_key(kind: str, row: Requirement) -> str:
    """A personal reminder's dedupe key: one per requirement and due date."""
    due = row.due_on.isoformat() if row.due_on else "none"
    return f"{kind}:{row.user_id}:{row.plan_id}:{row.course_slug}:{due}"
