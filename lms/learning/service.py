"""Enrollment rules and what a learner does: who may enroll, opening and finishing modules,
the evaluation, and when a course is complete (the progress model is in `progress`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload
from sqlalchemy.orm.attributes import set_committed_value

from lms import audit
from lms.accounts.models import User
from lms.catalog import service as catalog
from lms.catalog.models import Course
from lms.certificates import service as certificates
from lms.compliance import service as compliance
from lms.db import add_once, dialect_name, table_of, utcnow
from lms.errors import Conflict, Forbidden, InvalidInput, NotFound
from lms.forms import Answers
from lms.learning.models import (
    ACTIVE,
    COMPLETED,
    WITHDRAWN,
    Enrollment,
    EvaluationResponse,
    ModuleProgress,
)
from lms.learning.progress import (
    IDLE_LIMIT,
    RECORD_VIEW,
    Progress,
    progress_of,
    reading_seconds,
)
from lms.settings import Settings


async def find_enrollment(db: AsyncSession, user_id: int, course_id: int) -> Enrollment | None:
    """The person's current (not completed) enrollment, else their latest completed one."""
    query = (
        select(Enrollment)
        .where(Enrollment.user_id == user_id, Enrollment.course_id == course_id)
        .order_by((Enrollment.status == COMPLETED).asc(), Enrollment.id.desc())
        .limit(1)
    )
    return await db.scalar(query)


# The queries behind the pages a learner opens most, built once rather than per request.
_ENROLLMENT_BY_SLUG = (
    # The course's id tells a missing course from a missing enrollment; the enrollment is
    # the only object built (its course's definition says all a page needs).
    select(Course.id, Enrollment)
    .outerjoin(
        Enrollment,
        (Enrollment.course_id == Course.id) & (Enrollment.user_id == bindparam("user_id")),
    )
    .options(raiseload(Enrollment.course))
    .where(Course.slug == bindparam("slug"))
    .order_by((Enrollment.status == COMPLETED).asc(), Enrollment.id.desc())
    .limit(1)
)


async def get_enrollment(db: AsyncSession, user: User, slug: str) -> Enrollment:
    """get_course, then get_active_enrollment, in one query (pages a learner opens often)."""
    params = {"user_id": user.id, "slug": slug}
    found = (await db.execute(_ENROLLMENT_BY_SLUG, params)).first()
    if found is None:
        raise NotFound(f"There is no course called '{slug}'.")
    _, enrollment = found
    if enrollment is None or enrollment.status == WITHDRAWN:
        raise Forbidden("Enroll in this course first.")
    return enrollment


# The status is written into the statement, not sent as a parameter: PostgreSQL cannot tell
# how selective a parameter's status is, and planned this afresh on every catalog page.
_COMPLETED_SLUGS = (
    select(Course.slug)
    .join(Enrollment, Enrollment.course_id == Course.id)
    .where(
        Enrollment.user_id == bindparam("user_id"),
        Enrollment.status == literal(COMPLETED, literal_execute=True),
    )
)


async def completed_slugs(db: AsyncSession, user_id: int) -> set[str]:
    return set((await db.scalars(_COMPLETED_SLUGS, {"user_id": user_id})).all())


async def check_enrollable(
    db: AsyncSession, learner: User, course: Course, by: User | None = None
) -> Enrollment | None:
    """The learner's enrollment in the course if any; raises the reason `enroll` would refuse.

    Changes nothing, so a page can say who would be refused before anyone acts.
    """
    version = course.current_version
    if course.status != "active" or version is None:
        raise Conflict("This course is not open for enrollment.")
    definition = await catalog.get_definition(db, version.id)
    staff = by is not None and (by.is_trainer or by.is_admin)
    if not staff:
        if not learner.is_learner:
            raise Forbidden("Only people with the learner role can enroll in courses.")
        if definition.enrollment == "assigned":
            raise Forbidden(
                "Learners cannot enroll themselves in this course: your trainer or an "
                "administrator enrolls you."
            )
    existing = await find_enrollment(db, learner.id, course.id)
    if existing is not None and existing.status == ACTIVE:
        return existing
    if (
        existing is not None
        and existing.status == COMPLETED
        and not (definition.certificate.valid_for_months)
    ):
        raise Conflict("This course is already completed; there is nothing to retake.")
    done = await completed_slugs(db, learner.id)
    missing = [p for p in definition.prerequisites if p not in done]
    if missing:
        titles = await _titles(db, missing)
        raise Forbidden(
            "Complete the prerequisite course"
            + ("s" if len(missing) > 1 else "")
            + " first: "
            + "; ".join(titles)
            + "."
        )
    return existing


async def enroll(
    db: AsyncSession, learner: User, course: Course, by: User | None = None
) -> tuple[Enrollment, bool]:
    """Enroll `learner` (by themselves, or by a trainer or admin `by`).

    Returns the enrollment and whether anything changed; enrolling twice changes nothing.
    """
    existing = await check_enrollable(db, learner, course, by)
    if existing is not None and existing.status == ACTIVE:
        return existing, False
    version = course.current_version
    assert version is not None  # check_enrollable refuses a course without one
    now = utcnow()
    if existing is not None and existing.status == WITHDRAWN:
        existing.status, existing.withdrawn_at = ACTIVE, None
        await record_activity(db, existing, now)
        audit.record(db, by or learner, "enrollment.reactivate", "enrollment", existing.id)
        return existing, True
    enrollment = Enrollment(
        user_id=learner.id,
        course_id=course.id,
        version_id=version.id,
        status=ACTIVE,
        enrolled_at=now,
        enrolled_by_id=by.id if by else learner.id,
        last_activity_at=now,
    )
    if not await add_once(db, enrollment):
        # Another request enrolled the same person a moment ago: theirs stands.
        found = await find_enrollment(db, learner.id, course.id)
        if found is None:  # a unique constraint refused it, yet there is no enrollment
            raise Conflict("The enrollment could not be saved; try again.")
        return found, False
    if by is not None and by.id != learner.id:
        audit.record(
            db,
            by,
            "enrollment.create",
            "enrollment",
            enrollment.id,
            after={"user_id": learner.id, "course": course.slug},
        )
    return enrollment, True


async def _titles(db: AsyncSession, slugs: list[str]) -> list[str]:
    query = select(Course).where(Course.slug.in_(slugs))
    found = {c.slug: c for c in (await db.scalars(query)).unique().all()}
    titles = []
    for slug in slugs:
        version = found[slug].current_version if slug in found else None
        titles.append(version.title if version else slug)
    return titles


async def withdraw(db: AsyncSession, enrollment: Enrollment, by: User) -> None:
    if enrollment.status != ACTIVE:
        raise Conflict("Only an enrollment in progress can be withdrawn.")
    enrollment.status, enrollment.withdrawn_at = WITHDRAWN, utcnow()
    audit.record(db, by, "enrollment.withdraw", "enrollment", enrollment.id)


def _require_active(enrollment: Enrollment) -> None:
    if enrollment.status == WITHDRAWN:
        raise Forbidden("You withdrew from this course. Enroll again to continue.")


def _count_time(row: ModuleProgress, now: datetime) -> None:
    added = reading_seconds(row.last_seen_at, now)
    if added:  # a row made just now has no seconds_spent until it is flushed
        row.seconds_spent += added
    row.last_seen_at = now


async def open_module(db: AsyncSession, enrollment: Enrollment, module_id: str) -> Progress:
    """Record that the learner opened a module; refuse a locked one."""
    _require_active(enrollment)
    now = utcnow()
    # Every module page view records the time spent and when the module was last read, on
    # its module_progress row alone: the enrollment's last activity counts that row's
    # last_seen_at too (cohorts.progress), so a view writes one row, not two. On PostgreSQL
    # the query that reads progress makes the update (a data-modifying CTE): one statement,
    # not two. A refused view rolls back with the request.
    in_one = enrollment.status != COMPLETED and dialect_name(db) == "postgresql"
    seen = None
    if in_one:
        seen = {"enrollment": enrollment.id, "module": module_id, "now": now}
        seen["idle_since"] = now - IDLE_LIMIT
    progress = await progress_of(db, enrollment, seen)
    state = progress.module_state(module_id)
    if state.status == "locked":
        if progress.pretest_needed:
            raise Forbidden("Take the pre-test before the first module.")
        raise Forbidden("This module is locked: complete the modules before it first, in order.")
    if enrollment.status == COMPLETED:
        return progress  # reading again after completion is fine; nothing to record
    row = progress.rows.get(module_id)
    if row is None:
        opened = ModuleProgress(
            enrollment_id=enrollment.id, module_id=module_id, opened_at=now, last_seen_at=now
        )
        await add_once(db, opened)  # False when opened in another tab at the same moment
        if state.status == "available":
            state.status = "in_progress"
    elif not in_one:
        added = reading_seconds(row.last_seen_at or now, now)
        seen = {"enrollment": enrollment.id, "module": module_id, "added": added, "now": now}
        await db.execute(RECORD_VIEW, seen)
    return progress


async def record_activity(db: AsyncSession, enrollment: Enrollment, now: datetime) -> None:
    """Set the enrollment's last activity (the only place that does), with one UPDATE.

    Not a unit-of-work flush: a quiz save runs this on every autosave.
    """
    await db.execute(_ACTIVE_AT, {"enrollment": enrollment.id, "now": now})
    set_committed_value(enrollment, "last_activity_at", now)


_ACTIVE_AT = (
    update(table_of(Enrollment))
    .where(table_of(Enrollment).c.id == bindparam("enrollment"))
    .values(last_activity_at=bindparam("now"))
)


async def mark_done(
    db: AsyncSession, settings: Settings, enrollment: Enrollment, module_id: str
) -> None:
    """A module without a knowledge check is complete when the learner says so."""
    _require_active(enrollment)
    progress = await progress_of(db, enrollment)
    state = progress.module_state(module_id)
    if state.module.quiz is not None:
        raise InvalidInput("This module is complete when its knowledge check is passed.")
    row = await db.get(ModuleProgress, (enrollment.id, module_id))
    if row is None or state.status == "locked":
        raise Forbidden("Open the module before marking it done.")
    progress.check_seat_time(module_id, utcnow(), "mark it done")
    await complete_module(db, settings, enrollment, module_id)


async def complete_module(
    db: AsyncSession, settings: Settings, enrollment: Enrollment, module_id: str
) -> None:
    now = utcnow()
    row = await db.get(ModuleProgress, (enrollment.id, module_id))
    if row is None:
        row = ModuleProgress(
            enrollment_id=enrollment.id, module_id=module_id, opened_at=now, last_seen_at=now
        )
        db.add(row)
    if row.status != "done":
        _count_time(row, now)
        row.status, row.completed_at = "done", now
    await record_activity(db, enrollment, now)
    await db.flush()
    await check_completion(db, settings, enrollment)


async def submit_evaluation(
    db: AsyncSession, settings: Settings, enrollment: Enrollment, form: Answers
) -> None:
    _require_active(enrollment)
    progress = await progress_of(db, enrollment)
    evaluation = progress.course.evaluation
    if evaluation is None:
        raise NotFound("This course has no evaluation.")
    if progress.evaluation_done:
        return  # submitted already (a double click); the first one stands
    if not progress.evaluation_available:
        raise Forbidden("The evaluation opens when the modules and the final assessment are done.")
    answers: dict[str, Any] = {}
    missing = []
    for question in evaluation.questions:
        values = [v.strip() for v in form.by_question.get(question.id, []) if v.strip()]
        value: Any = values[0] if values else None
        if value is not None:
            if question.type == "likert" and value not in {"1", "2", "3", "4", "5"}:
                raise InvalidInput(f"Choose one of the five options for: {question.prompt}")
            if question.type == "single" and value not in question.choices:
                raise InvalidInput(f"Choose one of the listed options for: {question.prompt}")
            if question.type == "text" and len(value) > 5000:
                raise InvalidInput("Comments can be at most 5,000 characters.")
            answers[question.id] = int(value) if question.type == "likert" else value
        elif question.required:
            missing.append(question.prompt)
    if missing:
        raise InvalidInput("Please answer: " + "; ".join(missing))
    response = EvaluationResponse(
        enrollment_id=enrollment.id, version_id=enrollment.version_id, answers=answers
    )
    if not await add_once(db, response):
        return  # the same evaluation was sent a moment ago (a double click)
    await record_activity(db, enrollment, utcnow())
    await check_completion(db, settings, enrollment)


async def check_completion(db: AsyncSession, settings: Settings, enrollment: Enrollment) -> bool:
    """Record completion the first time the course's rules are met; never undo it.

    Courses whose certificates are issued automatically get theirs at this moment.
    """
    if enrollment.status != ACTIVE:
        return False
    progress = await progress_of(db, enrollment)
    if not progress.complete:
        return False
    now = utcnow()
    result = await db.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment.id, Enrollment.status == ACTIVE)
        .values(status=COMPLETED, completed_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult
        return False
    enrollment.status, enrollment.completed_at = COMPLETED, now
    await certificates.issue_if_automatic(db, settings, enrollment)
    await compliance.refresh(db, settings.zone, [enrollment.user_id])  # a requirement met
    return True


async def enrollments_of(db: AsyncSession, user_id: int) -> list[Enrollment]:
    query = (
        select(Enrollment)
        .where(Enrollment.user_id == user_id)
        .order_by(Enrollment.enrolled_at.desc())
    )
    return list((await db.scalars(query)).unique().all())
