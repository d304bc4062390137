"""My team: a supervisor's supervisees and where each stands in their courses.

A supervisor is anyone another person names (users.supervisor_id); the page shows only
those people, so what a supervisor can see is decided by one query's WHERE clause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.accounts.models import User
from lms.activities import service as activities
from lms.catalog import service as catalog
from lms.compliance import service as compliance
from lms.learning.models import ACTIVE, COMPLETED, Enrollment, ModuleProgress


@dataclass(frozen=True)
class CourseLine:
    """One enrollment of a supervisee, as the team page shows it."""

    course_title: str
    status: str
    modules_done: int
    modules: int
    due_at: datetime | None
    completed_at: datetime | None
    overdue: bool


@dataclass
class Supervisee:
    person: User
    courses: list[CourseLine] = field(default_factory=list)
    waiting: int = 0  # field activities waiting for the supervisor's sign-off
    required: dict[str, int] = field(default_factory=dict)  # plan requirements by status

    @property
    def overdue(self) -> int:
        return sum(1 for c in self.courses if c.overdue)


async def team(db: AsyncSession, supervisor: User, now: datetime, today: date) -> list[Supervisee]:
    """The supervisor's active supervisees with their enrollments, what waits for their
    sign-off and their plan requirements by status, in five statements (`today` is the
    academy's, for the requirements)."""
    people = (
        await db.scalars(
            select(User)
            .where(User.supervisor_id == supervisor.id, User.active.is_(True))
            .order_by(User.name, User.id)
        )
    ).all()
    rows = {p.id: Supervisee(p) for p in people}
    if not rows:
        return []
    # Counted for the team's enrollments only: grouping every module row in the academy
    # first made this page cost as much as the whole database.
    theirs = select(Enrollment.id).where(Enrollment.user_id.in_(rows))
    done = (
        select(ModuleProgress.enrollment_id, func.count().label("done"))
        .where(ModuleProgress.status == "done", ModuleProgress.enrollment_id.in_(theirs))
        .group_by(ModuleProgress.enrollment_id)
        .subquery()
    )
    # Columns, not Enrollment objects: each of those joins its course and current version.
    found = (
        await db.execute(
            select(
                Enrollment.user_id,
                Enrollment.version_id,
                Enrollment.status,
                Enrollment.due_at,
                Enrollment.completed_at,
                func.coalesce(done.c.done, 0),
            )
            .outerjoin(done, done.c.enrollment_id == Enrollment.id)
            .where(Enrollment.user_id.in_(rows))
            .order_by(Enrollment.enrolled_at.desc())
        )
    ).all()
    for person_id, count in (await activities.waiting_counts(db, supervisor.id)).items():
        if person_id in rows:
            rows[person_id].waiting = count
    for person_id, counts in (await compliance.team_counts(db, list(rows), today)).items():
        rows[person_id].required = counts
    definitions = await catalog.get_definitions(db, {row.version_id for row in found})
    for user_id, version_id, status, due_at, completed_at, modules_done in found:
        course = definitions[version_id]
        overdue = bool(status == ACTIVE and due_at and due_at < now)
        rows[user_id].courses.append(
            CourseLine(
                course.title,
                status,
                min(modules_done, len(course.modules)),
                len(course.modules),
                due_at,
                completed_at if status == COMPLETED else None,
                overdue,
            )
        )
    return list(rows.values())
