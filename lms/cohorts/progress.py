"""The progress matrix: every member of a cohort by every module, in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, cached_property
from typing import NamedTuple

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from lms.accounts.models import County, User
from lms.catalog import service as catalog
from lms.catalog.definition import CourseDefinition
from lms.catalog.models import Course
from lms.cohorts.models import Cohort, CohortCourse, CohortMember
from lms.db import utcnow
from lms.learning.models import COMPLETED, Enrollment
from lms.learning.service import STATE_LABELS, ModuleState, Progress, progress_facts

IDLE_DAYS = 14  # no activity for this long makes an unfinished learner "at risk"
# How a module's state shows in a matrix cell (its words are there too, for screen readers).
MARKS = {"done": "✓", "failed": "✗", "in_progress": "…", "available": "·", "locked": "–"}
CELL = Markup(
    '<td class="cell-{}"><span aria-hidden="true">{}</span>'
    '<span class="visually-hidden">{}</span>{}</td>'
)
NO_CELL = Markup('<td class="cell-none"></td>')


def cell(state: ModuleState | None) -> Markup:
    """One cell of the matrix: a mark for the eye, the state in words, the best score.

    Written here rather than in the template because a 250-learner matrix has 1,750 cells
    of only a few hundred kinds: each kind is made once and then reused.
    """
    if state is None:
        return NO_CELL
    best = None if state.best_percent is None else round(state.best_percent)
    return _cell(state.status, best)


@cache
def _cell(status: str, best: int | None) -> Markup:
    score = "" if best is None else f" {best}%"
    return CELL.format(status, MARKS[status], STATE_LABELS[status], score)


class Learner(NamedTuple):
    """A cohort member, as the matrix and its exports show them."""

    id: int
    name: str
    email: str


@dataclass
class MatrixRow:
    learner: Learner
    county: str
    progress: Progress | None  # None: not enrolled in this course
    due_at: datetime | None
    now: datetime = field(default_factory=utcnow)
    cells: list[Markup] = field(default_factory=list)  # one per module column

    # Sorting, filtering, counting and the page all ask for these; work each out once.
    @cached_property
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

    @cached_property
    def overdue(self) -> bool:
        return (
            self.due_at is not None
            and self.due_at < self.now
            and self.status in ("in progress", "not started")
        )

    @cached_property
    def at_risk(self) -> bool:
        """Unfinished and idle for two weeks, or due within a week and under half done."""
        if self.status not in ("in progress", "not started") or self.progress is None:
            return False
        now = self.now
        idle = self.last_activity is None or now - self.last_activity > timedelta(days=IDLE_DAYS)
        rushed = (
            self.due_at is not None
            and self.due_at - now < timedelta(days=7)
            and self.progress.percent < 50
        )
        failing = any(m.status == "failed" and m.attempts >= 2 for m in self.progress.modules)
        return idle or rushed or failing

    @cached_property
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
    """Progress of every member in one course, in the same two queries for any cohort size."""
    query = (
        select(User.id, User.name, User.email, County.name, CohortCourse.due_on, Enrollment)
        .join(CohortMember, CohortMember.user_id == User.id)
        .outerjoin(County, County.id == User.county_id)
        .outerjoin(
            CohortCourse,
            (CohortCourse.cohort_id == cohort.id) & (CohortCourse.course_id == course.id),
        )
        .outerjoin(
            Enrollment, (Enrollment.user_id == User.id) & (Enrollment.course_id == course.id)
        )
        .options(raiseload(Enrollment.course))  # the matrix knows its course
        .where(CohortMember.cohort_id == cohort.id)
        .order_by(Enrollment.id)
    )
    learners: dict[int, tuple[Learner, str]] = {}
    enrollments: dict[int, Enrollment] = {}  # each member's latest enrollment in the course
    assigned_on = None  # the cohort's due date for the course: the same on every row
    for user_id, name, email, county, due_on, enrollment in (await db.execute(query)).all():
        assigned_on = due_on
        learners[user_id] = (Learner(user_id, name, email), county or "")
        if enrollment is not None:
            enrollments[user_id] = enrollment
    facts = await progress_facts(
        db, [e.id for e in enrollments.values()], list(learners), [course.id]
    )
    definitions = await catalog.get_definitions(
        db, {e.version_id for e in enrollments.values()} | {course.current_version_id}
    )
    assigned_due = None
    if assigned_on is not None:
        assigned_due = datetime.combine(assigned_on, datetime.max.time()).replace(microsecond=0)
    now = utcnow()
    width = len(definitions[course.current_version_id].modules)
    result = []
    for user_id, (learner, county) in learners.items():
        enrollment = enrollments.get(user_id)
        progress = None
        if enrollment is not None:
            progress = facts.progress(enrollment, definitions[enrollment.version_id])
        due = enrollment.due_at if enrollment and enrollment.due_at else assigned_due
        # The current version's modules are the columns; an older version's may be fewer.
        states = progress.modules[:width] if progress else []
        cells = [cell(state) for state in states] + [NO_CELL] * (width - len(states))
        result.append(MatrixRow(learner, county, progress, due, now, cells))
    result = [r for r in result if FILTERS.get(show, FILTERS[""])(r)]
    result.sort(key=SORTS.get(sort, SORTS["name"]))
    return Matrix(cohort, course, definitions[course.current_version_id], result)
