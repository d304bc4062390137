"""Qualified trainers: who may deliver which course, since when, on what basis, until when.

Only a trainer qualified for a course on the day can be put on a cohort of it (the cohort's
trainers deliver its sessions); an admin may override, giving a reason, and the override is
kept on the cohort's trainer row, shown on the cohort and audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms import audit
from lms.accounts.models import User
from lms.catalog.models import Course, CourseVersion
from lms.cohorts.models import QUALIFICATION_BASES, TrainerQualification
from lms.db import add_once
from lms.errors import Conflict, InvalidInput
from lms.forms import Fields, long_text, parse_date, required_id, text

LAPSING_DAYS = 60


@dataclass(frozen=True)
class QualificationForm:
    trainer_id: int
    course_id: int
    basis: str
    since: date
    until: date | None
    note: str

    @classmethod
    def from_form(cls, data: Fields) -> QualificationForm:
        trainer_id = required_id(data, "trainer", "Choose the trainer.")
        course_id = required_id(data, "course", "Choose the course.")
        basis = text(data, "basis")
        if basis not in QUALIFICATION_BASES:
            raise InvalidInput(
                "Choose the basis: completed the course, observed delivering it, or "
                "co-facilitated it.",
                "basis",
            )
        since = parse_date(text(data, "since"), "Qualified since", "since")
        if since is None:
            raise InvalidInput("Give the date the trainer qualified.", "since")
        until = parse_date(text(data, "until"), "Qualified until", "until")
        if until is not None and until < since:
            raise InvalidInput("“Until” is before “since”.", "until")
        note = long_text(data, "note", 1000, "The note")
        return cls(trainer_id, course_id, basis, since, until, note)


async def record(db: AsyncSession, admin: User, form: QualificationForm) -> TrainerQualification:
    """Record a qualification, or renew the trainer's existing one for the course."""
    trainer = await db.get(User, form.trainer_id)
    if trainer is None or not trainer.is_trainer:
        raise InvalidInput("Only people with the trainer role can be qualified.", "trainer")
    if await db.get(Course, form.course_id) is None:
        raise InvalidInput("Choose a course from the list.", "course")
    found = await db.scalar(
        select(TrainerQualification).where(
            TrainerQualification.user_id == form.trainer_id,
            TrainerQualification.course_id == form.course_id,
        )
    )
    before = None
    if found is None:
        found = TrainerQualification(
            user_id=form.trainer_id,
            course_id=form.course_id,
            basis=form.basis,
            since=form.since,
            recorded_by_id=admin.id,
        )
        if not await add_once(db, found):  # recorded a moment ago by the same form
            raise Conflict("This qualification was recorded a moment ago: open the page again.")
    else:
        before = _snapshot(found)
    found.basis, found.since, found.until = form.basis, form.since, form.until
    found.note, found.recorded_by_id = form.note or None, admin.id
    await db.flush()
    audit.record(db, admin, "trainer.qualify", "user", form.trainer_id, before, _snapshot(found))
    return found


def _snapshot(q: TrainerQualification) -> dict[str, object]:
    return {
        "course_id": q.course_id,
        "basis": q.basis,
        "since": q.since.isoformat(),
        "until": q.until.isoformat() if q.until else None,
    }


def holds(q: TrainerQualification, on: date) -> bool:
    return q.since <= on and (q.until is None or on <= q.until)


@dataclass(frozen=True)
class Gap:
    """A trainer put on a course they are not qualified to deliver on the day."""

    trainer: User
    course_id: int
    course_title: str
    why: str

    def __str__(self) -> str:
        return f"{self.trainer.name} is not qualified to deliver {self.course_title} ({self.why})"


async def gaps(
    db: AsyncSession, trainer_ids: Iterable[int], course_ids: Iterable[int], on: date
) -> list[Gap]:
    """Each trainer and course with no qualification holding on the day."""
    trainers, courses = sorted(set(trainer_ids)), sorted(set(course_ids))
    if not trainers or not courses:
        return []
    held = {
        (q.user_id, q.course_id): q
        for q in (
            await db.scalars(
                select(TrainerQualification).where(
                    TrainerQualification.user_id.in_(trainers),
                    TrainerQualification.course_id.in_(courses),
                )
            )
        ).all()
    }
    people = {u.id: u for u in (await db.scalars(select(User).where(User.id.in_(trainers))))}
    titles = dict(
        (
            await db.execute(
                select(Course.id, CourseVersion.title)
                .join(CourseVersion, CourseVersion.id == Course.current_version_id)
                .where(Course.id.in_(courses))
            )
        ).all()
    )
    found = []
    for trainer_id in trainers:
        for course_id in courses:
            q = held.get((trainer_id, course_id))
            if q is not None and holds(q, on):
                continue
            if q is None:
                why = "no qualification recorded"
            elif q.since > on:
                why = f"qualified from {q.since:%b %-d, %Y}"
            else:
                why = f"lapsed {q.until:%b %-d, %Y}" if q.until else "not current"
            title = titles.get(course_id, f"course {course_id}")
            found.append(Gap(people[trainer_id], course_id, title, why))
    return found


@dataclass(frozen=True)
class Row:
    qualification: TrainerQualification
    trainer: User
    course_title: str
    recorded_by: str


async def listing(db: AsyncSession) -> list[Row]:
    recorder = User.__table__.alias("recorder")
    rows = (
        await db.execute(
            select(TrainerQualification, User, CourseVersion.title, recorder.c.name)
            .join(User, User.id == TrainerQualification.user_id)
            .join(Course, Course.id == TrainerQualification.course_id)
            .outerjoin(CourseVersion, CourseVersion.id == Course.current_version_id)
            .join(recorder, recorder.c.id == TrainerQualification.recorded_by_id)
            .order_by(User.name, CourseVersion.title)
        )
    ).all()
    return [Row(q, trainer, title or "", by) for q, trainer, title, by in rows]


def lapsing(rows: Iterable[Row], today: date) -> list[Row]:
    """Qualifications that hold today and end within LAPSING_DAYS, soonest first."""
    horizon = today + timedelta(days=LAPSING_DAYS)
    soon = [
        r
        for r in rows
        if r.qualification.until is not None
        and holds(r.qualification, today)
        and r.qualification.until <= horizon
    ]
    return sorted(soon, key=lambda r: r.qualification.until or today)
