"""The progress matrix: every member of a cohort by every module, in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.accounts.models import User
from lms.catalog import service as catalog
from lms.catalog.definition import CourseDefinition
from lms.catalog.models import Course
from lms.cohorts.models import Attendance, Cohort, CohortCourse, CohortMember, LiveSession
from lms.db import utcnow
from lms.learning.models import COMPLETED, Enrollment, EvaluationResponse, ModuleProgress
from lms.learning.service import Progress, build_progress
from lms.quizzes.models import Attempt

IDLE_DAYS = 14  # no activity for this long makes an unfinished learner "at risk"


class AttemptScore(NamedTuple):
    """The columns of an attempt the matrix needs (not its question layout)."""

    id: int
    enrollment_id: int
    target: str
    percent: float | None
    passed: bool | None
    submitted_at: datetime


@dataclass
class MatrixRow:
    learner: User
    county: str
    progress: Progress | None  # None: not enrolled in this course
    due_at: datetime | None

    @property
    def status(self) -> str:
        if self.progress is None:
            return "not enrolled"
        status = self.progress.enrollment.status
        if status == COMPLETED:
            return "completed"
        if status == "withdrawn":
            return "withdrawn"
        done, _ = self.progress.steps
        return "in progress" if done else "not started"

    @property
    def last_activity(self) -> datetime | None:
        return self.progress.enrollment.last_activity_at if self.progress else None

    @property
    def overdue(self) -> bool:
        return (
            self.due_at is not None
            and self.due_at < utcnow()
            and self.status in ("in progress", "not started")
        )

    @property
    def at_risk(self) -> bool:
        """Unfinished and idle for two weeks, or due within a week and under half done."""
        if self.status not in ("in progress", "not started") or self.progress is None:
            return False
        now = utcnow()
        idle = self.last_activity is None or now - self.last_activity > timedelta(days=IDLE_DAYS)
        rushed = (
            self.due_at is not None
            and self.due_at - now < timedelta(days=7)
            and self.progress.percent < 50
        )
        failing = any(m.status == "failed" and m.attempts >= 2 for m in self.progress.modules)
        return idle or rushed or failing

    @property
    def percent(self) -> int:
        return self.progress.percent if self.progress else 0


@dataclass
class Matrix:
    cohort: Cohort
    course: Course
    definition: CourseDefinition
    rows: list[MatrixRow]

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for row in self.rows:
            found[row.status] = found.get(row.status, 0) + 1
        return found


SORTS = {
    "name": lambda r: r.learner.name.lower(),
    "progress": lambda r: (-r.percent, r.learner.name.lower()),
    "activity": lambda r: (r.last_activity or datetime.min, r.learner.name.lower()),
    "county": lambda r: (r.county, r.learner.name.lower()),
    "status": lambda r: (r.status, r.learner.name.lower()),
}
FILTERS = {
    "": lambda r: True,
    "overdue": lambda r: r.overdue,
    "at-risk": lambda r: r.at_risk,
    "completed": lambda r: r.status == "completed",
    "not-started": lambda r: r.status in ("not started", "not enrolled"),
    "in-progress": lambda r: r.status == "in progress",
}


async def build_matrix(
    db: AsyncSession, cohort: Cohort, course: Course, sort: str = "name", show: str = ""
) -> Matrix:
    """Progress of every member in one course, in the same few queries for any cohort size."""
    members = (
        (
            await db.execute(
                select(User)
                .join(CohortMember, CohortMember.user_id == User.id)
                .where(CohortMember.cohort_id == cohort.id)
            )
        )
        .scalars()
        .unique()
        .all()
    )
    member_ids = [m.id for m in members]
    assignment = await db.get(CohortCourse, (cohort.id, course.id))
    enrollments = await latest_enrollments(db, member_ids, course.id)
    enrollment_ids = [e.id for e in enrollments.values()]
    rows: dict[int, dict[str, ModuleProgress]] = {}
    for row in (
        await db.scalars(
            select(ModuleProgress).where(ModuleProgress.enrollment_id.in_(enrollment_ids))
        )
    ).all():
        rows.setdefault(row.enrollment_id, {})[row.module_id] = row
    attempts: dict[int, list[Any]] = {}
    for score in await attempt_scores(db, enrollment_ids):
        attempts.setdefault(score.enrollment_id, []).append(score)
    evaluated = set(
        (
            await db.scalars(
                select(EvaluationResponse.enrollment_id).where(
                    EvaluationResponse.enrollment_id.in_(enrollment_ids)
                )
            )
        ).all()
    )
    attended = await attendance_counts(db, member_ids, course.id)
    definitions = await catalog.get_definitions(
        db, {e.version_id for e in enrollments.values()} | {course.current_version_id}
    )
    result = []
    for member in members:
        enrollment = enrollments.get(member.id)
        progress = None
        if enrollment is not None:
            progress = build_progress(
                enrollment,
                definitions[enrollment.version_id],
                rows.get(enrollment.id, {}),
                attempts.get(enrollment.id, []),
                enrollment.id in evaluated,
                attended.get(member.id, 0),
            )
        due = enrollment.due_at if enrollment and enrollment.due_at else None
        if due is None and assignment and assignment.due_on:
            due = datetime.combine(assignment.due_on, datetime.max.time()).replace(microsecond=0)
        county = member.county.name if member.county else ""
        result.append(MatrixRow(member, county, progress, due))
    result = [r for r in result if FILTERS.get(show, FILTERS[""])(r)]
    result.sort(key=SORTS.get(sort, SORTS["name"]))
    return Matrix(cohort, course, definitions[course.current_version_id], result)


async def latest_enrollments(
    db: AsyncSession, user_ids: list[int], course_id: int
) -> dict[int, Enrollment]:
    """Each person's current enrollment in the course (their latest, if several)."""
    found: dict[int, Enrollment] = {}
    query = (
        select(Enrollment)
        .where(Enrollment.user_id.in_(user_ids), Enrollment.course_id == course_id)
        .order_by(Enrollment.id)
    )
    for enrollment in (await db.scalars(query)).unique().all():
        found[enrollment.user_id] = enrollment
    return found


async def attempt_scores(db: AsyncSession, enrollment_ids: list[int]) -> list[AttemptScore]:
    query = (
        select(
            Attempt.id,
            Attempt.enrollment_id,
            Attempt.target,
            Attempt.percent,
            Attempt.passed,
            Attempt.submitted_at,
        )
        .where(Attempt.enrollment_id.in_(enrollment_ids), Attempt.submitted_at.is_not(None))
        .order_by(Attempt.id)
    )
    return [AttemptScore(*row) for row in (await db.execute(query)).all()]


async def attendance_counts(
    db: AsyncSession, user_ids: list[int], course_id: int
) -> dict[int, int]:
    query = (
        select(Attendance.user_id, func.count())
        .join(LiveSession, LiveSession.id == Attendance.session_id)
        .where(
            Attendance.user_id.in_(user_ids),
            Attendance.present.is_(True),
            LiveSession.course_id == course_id,
        )
        .group_by(Attendance.user_id)
    )
    return {user_id: count for user_id, count in (await db.execute(query)).all()}
