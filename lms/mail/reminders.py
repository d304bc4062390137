"""Due-date reminders: 7 days and 1 day before a course is due, and once when overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms import times
from lms.accounts.models import User
from lms.catalog.models import Course, CourseVersion
from lms.db import utcnow
from lms.learning.models import ACTIVE, Enrollment
from lms.mail import service as outbox
from lms.settings import Settings

# Switching reminders on must not email people about courses that were due long ago.
OVERDUE_WINDOW_DAYS = 30


def days_until(due_at: datetime, now: datetime, zone: tzinfo) -> int:
    """Calendar days from today to the due date, both as the academy's local days."""
    return (times.local_date(due_at, zone) - times.local_date(now, zone)).days


def reminder_stage(due_at: datetime, now: datetime, zone: tzinfo) -> str | None:
    """Which reminder is due today: 7 days before, 1 day before, or once overdue.

    Counted in the academy's calendar days, so a daily run sends the 1-day reminder the day
    before, whatever the hour of the run in UTC.
    """
    days_left = days_until(due_at, now, zone)
    if due_at < now:
        return "overdue" if now - due_at <= timedelta(days=OVERDUE_WINDOW_DAYS) else None
    if days_left <= 1:
        return "1d"
    if days_left <= 7:
        return "7d"
    return None


@dataclass
class ReminderReport:
    due_in_7_days: int = 0
    due_in_1_day: int = 0
    overdue: int = 0

    @property
    def total(self) -> int:
        return self.due_in_7_days + self.due_in_1_day + self.overdue


async def queue_reminders(
    db: AsyncSession, settings: Settings, now: datetime | None = None
) -> ReminderReport:
    """Queue today's due-date reminders; each is queued once per enrollment and due date.

    Only active enrollments of active people: completing, withdrawing or being deactivated
    stops them (and delivery cancels reminders queued before that happened).
    """
    now = now or utcnow()
    rows = await db.execute(
        select(Enrollment, User, Course.slug, CourseVersion.title)
        .join(User, User.id == Enrollment.user_id)
        .join(Course, Course.id == Enrollment.course_id)
        .join(CourseVersion, CourseVersion.id == Enrollment.version_id)
        .where(
            Enrollment.status == ACTIVE,
            User.active.is_(True),
            Enrollment.due_at.is_not(None),
            Enrollment.due_at <= now + timedelta(days=8),
            Enrollment.due_at >= now - timedelta(days=OVERDUE_WINDOW_DAYS + 1),
        )
        .order_by(Enrollment.id)
    )
    report = ReminderReport()
    for enrollment, user, slug, title in rows.all():
        due_at = enrollment.due_at
        if due_at is None:  # the query chose enrollments with one
            continue
        stage = reminder_stage(due_at, now, settings.zone)
        if stage is None:
            continue
        # The due date is part of the key: moving it gives the learner a fresh set.
        key = f"reminder:{stage}:{enrollment.id}:{due_at:%Y-%m-%d}"
        kind = "reminder_overdue" if stage == "overdue" else "reminder_due"
        days_left = days_until(due_at, now, settings.zone)
        if stage == "overdue":
            subject = f"Overdue: {title}"
        elif days_left <= 0:
            subject = f"Due today: {title}"
        elif days_left == 1:
            subject = f"Due tomorrow: {title}"
        else:
            subject = f"Due in {days_left} days: {title}"
        rendered = outbox.render(
            settings,
            kind,
            subject,
            name=user.name,
            course_title=title,
            due_on=times.long_date(due_at, settings.zone, weekday=True),
            days_left=days_left,
            link=f"{settings.base_url}/courses/{slug}",
        )
        if await outbox.queue(
            db, kind, user, rendered, dedupe_key=key, enrollment_id=enrollment.id
        ):
            if stage == "7d":
                report.due_in_7_days += 1
            elif stage == "1d":
                report.due_in_1_day += 1
            else:
                report.overdue += 1
    return report
