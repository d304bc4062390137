"""What is emailed to whom and why: rendering, queueing, due-date reminders, the outbox list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms import times
from lms.accounts.models import TOKEN_HOURS, User
from lms.catalog.models import Course, CourseVersion
from lms.certificates.models import Certificate
from lms.db import add_once, utcnow
from lms.errors import Conflict, NotFound
from lms.learning.models import ACTIVE, Enrollment
from lms.mail.models import CANCELLED, FAILED, QUEUED, STATUSES, OutboxMessage
from lms.settings import Settings

SITE_NAME = "SOP Learning"
KINDS = ("invitation", "password_reset", "certificate_issued", "reminder_due", "reminder_overdue")
REMINDER_KINDS = ("reminder_due", "reminder_overdue")
# Switching reminders on must not email people about courses that were due long ago.
OVERDUE_WINDOW_DAYS = 30


@lru_cache
def _environment(templates_dir: Path, time_zone: str) -> Environment:
    # Text bodies are not HTML: only the .html templates are autoescaped.
    env = Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # The same time filters as the pages: an email says its times in the academy's zone.
    env.filters.update(times.filters(ZoneInfo(time_zone)))
    return env


@dataclass
class Rendered:
    subject: str
    text: str
    html: str


def one_line(value: str, limit: int) -> str:
    """Header-safe: a name or title with line breaks cannot add headers to an email."""
    return " ".join(value.split())[:limit]


def render(settings: Settings, kind: str, subject: str, **context: Any) -> Rendered:
    """Render templates/mail/<kind>.txt and .html with what every email shares."""
    assert kind in KINDS, kind
    env = _environment(settings.templates_dir, settings.time_zone)
    subject = one_line(subject, 300)
    shared = {"site_name": SITE_NAME, "base_url": settings.base_url, "subject": subject}
    return Rendered(
        subject=subject,
        text=env.get_template(f"mail/{kind}.txt").render(**shared, **context),
        html=env.get_template(f"mail/{kind}.html").render(**shared, **context),
    )


async def queue(
    db: AsyncSession,
    kind: str,
    to: User,
    rendered: Rendered,
    dedupe_key: str | None = None,
    enrollment_id: int | None = None,
) -> OutboxMessage | None:
    """Add an email to the outbox in the caller's transaction; None if already queued."""
    if dedupe_key and await db.scalar(
        select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
    ):
        return None
    message = OutboxMessage(
        kind=kind,
        to_address=to.email,
        to_name=one_line(to.name, 200),
        subject=rendered.subject,
        text_body=rendered.text,
        html_body=rendered.html,
        dedupe_key=dedupe_key,
        user_id=to.id,
        enrollment_id=enrollment_id,
        status=QUEUED,
        created_at=utcnow(),
        next_attempt_at=utcnow(),
    )
    if not await add_once(db, message):
        return None  # the same notice was queued a moment ago by another request or host
    return message


async def _cancel_unsent(db: AsyncSession, user_id: int, kind: str) -> None:
    """A new link replaces the old one: an email still carrying the old link is not sent."""
    await db.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.user_id == user_id,
            OutboxMessage.kind == kind,
            OutboxMessage.status == QUEUED,
        )
        .values(status=CANCELLED, last_error="Replaced by a newer link.")
        .execution_options(synchronize_session=False)
    )


async def queue_invitation(
    db: AsyncSession,
    settings: Settings,
    user: User,
    token: str,
    invited_by: User | None,
    cohort_name: str | None = None,
) -> OutboxMessage | None:
    """Invite a new person to set their password (token from accounts.create_token "invite")."""
    await _cancel_unsent(db, user.id, "invitation")
    rendered = render(
        settings,
        "invitation",
        f"You have been invited to {SITE_NAME}",
        name=user.name,
        email=user.email,
        link=f"{settings.base_url}/account/set-password/{token}",
        invited_by=invited_by.name if invited_by else None,
        cohort_name=cohort_name,
        days=TOKEN_HOURS["invite"] // 24,
        # When the link stops working, as accounts.create_token set it a moment ago.
        until=utcnow() + timedelta(hours=TOKEN_HOURS["invite"]),
    )
    return await queue(db, "invitation", user, rendered)


async def queue_password_reset(
    db: AsyncSession, settings: Settings, user: User, token: str
) -> OutboxMessage | None:
    """Send a link to choose a new password (token from accounts.create_token "reset")."""
    await _cancel_unsent(db, user.id, "password_reset")
    rendered = render(
        settings,
        "password_reset",
        f"Reset your {SITE_NAME} password",
        name=user.name,
        email=user.email,
        link=f"{settings.base_url}/account/set-password/{token}",
        hours=TOKEN_HOURS["reset"],
        until=utcnow() + timedelta(hours=TOKEN_HOURS["reset"]),
    )
    return await queue(db, "password_reset", user, rendered)


async def queue_certificate_issued(
    db: AsyncSession, settings: Settings, certificate: Certificate
) -> OutboxMessage | None:
    """Tell the learner their certificate is ready, with its public verification link."""
    learner = await db.get(User, certificate.user_id)
    if learner is None or not learner.active:
        return None
    rendered = render(
        settings,
        "certificate_issued",
        f"Your certificate for {certificate.course_title}",
        name=certificate.learner_name,
        course_title=certificate.course_title,
        serial=certificate.serial,
        verify_url=certificate.verify_url,
        hours=certificate.hours,
        expires_at=certificate.expires_at,
        my_learning=f"{settings.base_url}/",
    )
    return await queue(
        db,
        "certificate_issued",
        learner,
        rendered,
        dedupe_key=f"certificate:{certificate.serial}",
        enrollment_id=certificate.enrollment_id,
    )


def long_date(moment: datetime, zone: tzinfo) -> str:
    """ "Friday, May 15, 2026": the academy's local day of a due date, weekday first."""
    day = times.local_date(moment, zone)
    return f"{day:%A, %B} {day.day}, {day.year}"


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
        due_at: datetime = enrollment.due_at
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
        rendered = render(
            settings,
            kind,
            subject,
            name=user.name,
            course_title=title,
            due_on=long_date(due_at, settings.zone),
            days_left=days_left,
            link=f"{settings.base_url}/courses/{slug}",
        )
        if await queue(db, kind, user, rendered, dedupe_key=key, enrollment_id=enrollment.id):
            if stage == "7d":
                report.due_in_7_days += 1
            elif stage == "1d":
                report.due_in_1_day += 1
            else:
                report.overdue += 1
    return report


async def search_outbox(
    db: AsyncSession, status: str = "", kind: str = "", text: str = "", limit: int = 200
) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if status in STATUSES:
        query = query.where(OutboxMessage.status == status)
    if kind in KINDS:
        query = query.where(OutboxMessage.kind == kind)
    if text.strip():
        pattern = f"%{text.strip().lower()}%"
        query = query.where(
            or_(
                OutboxMessage.to_address.like(pattern),
                func.lower(OutboxMessage.subject).like(pattern),
            )
        )
    return list((await db.scalars(query.limit(limit))).all())


async def outbox_counts(db: AsyncSession) -> dict[str, int]:
    rows = await db.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    found = {status: count for status, count in rows.all()}
    return {status: found.get(status, 0) for status in STATUSES}


async def get_message(db: AsyncSession, message_id: int) -> OutboxMessage:
    message = await db.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound("There is no such message in the outbox.")
    return message


async def send_again(db: AsyncSession, message: OutboxMessage) -> None:
    """Give a failed message a fresh set of attempts (after the address or server is fixed)."""
    if message.status != FAILED:
        raise Conflict("Only a failed message can be sent again.")
    message.status, message.attempts, message.next_attempt_at = QUEUED, 0, utcnow()
