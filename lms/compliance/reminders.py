"""Reminders of plan requirements: due soon and overdue to the person, once per due date,
and a weekly digest of overdue team members to each supervisor, through the outbox.

Each reminder's dedupe key names the requirement and its due date, so a rerun the same day,
or two hosts running at once, queue it once (the outbox's unique key decides), and an
extension (a new due date) gives the person a fresh reminder. `service.refresh` cancels a
queued reminder whose requirement has since been met or re-dated.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms import times
from lms.accounts.models import User
from lms.catalog.models import TrainingPlan
from lms.compliance.models import (
    DIGEST_KIND,
    DUE_SOON_DAYS,
    DUE_SOON_KIND,
    OVERDUE_KIND,
    Requirement,
    reminder_key,
)
from lms.compliance.service import titles_by_slug
from lms.mail import service as outbox
from lms.settings import Settings


@dataclass
class RequirementReminders:
    due_soon: int = 0
    overdue: int = 0
    digests: int = 0


async def queue_requirement_reminders(
    db: AsyncSession, settings: Settings, today: date
) -> RequirementReminders:
    """Queue what today calls for; safe to run again (nothing is queued twice)."""
    report = RequirementReminders()
    rows = (
        await db.execute(
            select(Requirement, User, TrainingPlan.title)
            .join(User, User.id == Requirement.user_id)
            .join(TrainingPlan, TrainingPlan.id == Requirement.plan_id)
            .where(
                Requirement.met_on.is_(None),
                Requirement.due_on.is_not(None),
                Requirement.due_on <= today + timedelta(days=DUE_SOON_DAYS),
                User.active.is_(True),
            )
            .order_by(Requirement.due_on, Requirement.id)
        )
    ).all()
    titles = await titles_by_slug(db, {row.course_slug for row, _, _ in rows})
    overdue_by_supervisor: dict[int, list[tuple[User, str, date]]] = defaultdict(list)
    for row, person, plan_title in rows:
        assert row.due_on is not None  # the query chose rows with one
        title = titles.get(row.course_slug, row.course_slug)
        late = row.due_on < today
        kind = OVERDUE_KIND if late else DUE_SOON_KIND
        days_left = (row.due_on - today).days
        if late:
            subject = f"Overdue required training: {title}"
            if person.supervisor_id is not None:
                overdue_by_supervisor[person.supervisor_id].append((person, title, row.due_on))
        elif days_left == 0:
            subject = f"Required training due today: {title}"
        else:
            subject = (
                f"Required training due in {days_left} day{'s' if days_left != 1 else ''}: {title}"
            )
        rendered = outbox.render(
            settings,
            kind,
            subject,
            name=person.name,
            course_title=title,
            plan_title=plan_title,
            due_on=times.long_date(row.due_on, settings.zone, weekday=True),
            days_left=days_left,
            link=f"{settings.base_url}/courses/{row.course_slug}",
        )
        if await outbox.queue(db, kind, person, rendered, dedupe_key=reminder_key(kind, row)):
            if late:
                report.overdue += 1
            else:
                report.due_soon += 1
    report.digests = await _queue_digests(db, settings, today, overdue_by_supervisor)
    return report


async def _queue_digests(
    db: AsyncSession,
    settings: Settings,
    today: date,
    overdue: dict[int, list[tuple[User, str, date]]],
) -> int:
    """One digest a week to each supervisor with anyone overdue (ISO week in the key)."""
    if not overdue:
        return 0
    supervisors = (
        await db.scalars(select(User).where(User.id.in_(overdue), User.active.is_(True)))
    ).all()
    year, week, _ = today.isocalendar()
    queued = 0
    for supervisor in supervisors:
        found = sorted(overdue[supervisor.id], key=lambda item: (item[2], item[0].name))
        people = len({person.id for person, _, _ in found})
        rendered = outbox.render(
            settings,
            DIGEST_KIND,
            f"Your team: {people} {'person has' if people == 1 else 'people have'} "
            "overdue required training",
            name=supervisor.name,
            items=[
                (person.name, title, times.show_date(due, settings.zone))
                for person, title, due in found
            ],
            link=f"{settings.base_url}/team",
        )
        key = f"{DIGEST_KIND}:{supervisor.id}:{year}-W{week:02d}"
        if await outbox.queue(db, DIGEST_KIND, supervisor, rendered, dedupe_key=key):
            queued += 1
    return queued
