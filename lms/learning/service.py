"""Enrollment and progress rules: who may enroll, what is unlocked, when a course is complete."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    Boolean,
    ColumnElement,
    CompoundSelect,
    DateTime,
    Float,
    Integer,
    String,
    bindparam,
    case,
    cast,
    extract,
    func,
    literal_column,
    null,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload
from sqlalchemy.orm.attributes import set_committed_value

from lms import audit
from lms.accounts.models import User
from lms.catalog import service as catalog
from lms.catalog.definition import CourseDefinition, Module
from lms.catalog.models import Course
from lms.certificates import service as certificates
from lms.certificates.models import Certificate
from lms.cohorts.models import Attendance, LiveSession
from lms.db import add_once, utcnow
from lms.errors import Conflict, Forbidden, InvalidInput, NotFound
from lms.learning.models import (
    ACTIVE,
    COMPLETED,
    WITHDRAWN,
    Enrollment,
    EvaluationResponse,
    ModuleProgress,
)
from lms.quizzes.models import FINAL, PRETEST, Attempt
from lms.settings import Settings

# Time between two events on a module longer than this is not counted as time spent.
IDLE_LIMIT = timedelta(minutes=30)


def module_target(module_id: str) -> str:
    return f"module:{module_id}"


STATE_LABELS = {
    "locked": "Locked",
    "available": "Not started",
    "in_progress": "In progress",
    "failed": "Knowledge check not passed yet",
    "done": "Complete",
}


@dataclass
class ModuleState:
    module: Module
    number: int
    status: str  # locked, available, in_progress, failed, done
    best_percent: float | None = None
    attempts: int = 0
    seconds_spent: int = 0

    @property
    def label(self) -> str:
        return STATE_LABELS[self.status]


@dataclass
class Progress:
    """Everything a page needs to know about one enrollment's progress."""

    enrollment: Enrollment
    course: CourseDefinition
    modules: list[ModuleState]
    pretest: AttemptScore | None
    final_attempts: list[AttemptScore] = field(default_factory=list)
    evaluation_done: bool = False
    sessions_attended: int = 0
    rows: dict[str, ModuleRow] = field(default_factory=dict)  # module id -> progress row
    certificate: Certificate | None = None  # the current one; read by `dashboard` only

    @property
    def pretest_needed(self) -> bool:
        return self.course.pretest and self.pretest is None

    @property
    def modules_done(self) -> bool:
        return all(m.status == "done" for m in self.modules)

    @property
    def final_passed(self) -> bool:
        return self.course.final is None or any(a.passed for a in self.final_attempts)

    @property
    def best_final(self) -> AttemptScore | None:
        graded = [a for a in self.final_attempts if a.percent is not None]
        return max(graded, key=lambda a: a.percent or 0, default=None)

    @property
    def final_attempts_left(self) -> int | None:
        if self.course.final is None or self.course.final.max_attempts is None:
            return None
        return max(0, self.course.final.max_attempts - len(self.final_attempts))

    @property
    def final_available(self) -> bool:
        return (
            self.course.final is not None
            and not self.pretest_needed
            and self.modules_done
            and not self.final_passed
            and self.final_attempts_left != 0
        )

    @property
    def evaluation_available(self) -> bool:
        return (
            self.course.evaluation is not None
            and not self.evaluation_done
            and self.modules_done
            and self.final_passed
        )

    @property
    def knowledge_gain(self) -> float | None:
        best = self.best_final
        if self.pretest is None or self.pretest.percent is None or best is None:
            return None
        if not best.passed:
            return None
        return round((best.percent or 0) - self.pretest.percent, 1)

    @property
    def steps(self) -> tuple[int, int]:
        """(done, total) steps, for the progress bar."""
        c = self.course
        total = len(self.modules) + c.live_sessions
        done = sum(m.status == "done" for m in self.modules)
        done += min(self.sessions_attended, c.live_sessions)
        if c.pretest:
            total += 1
            done += self.pretest is not None
        if c.final:
            total += 1
            done += self.final_passed
        if c.evaluation:
            total += 1
            done += self.evaluation_done
        return done, total

    @property
    def percent(self) -> int:
        done, total = self.steps
        return round(100 * done / total) if total else 100

    @property
    def complete(self) -> bool:
        return (
            self.modules_done
            and self.final_passed
            and (self.course.evaluation is None or self.evaluation_done)
            and self.sessions_attended >= self.course.live_sessions
        )

    def module_state(self, module_id: str) -> ModuleState:
        for state in self.modules:
            if state.module.id == module_id:
                return state
        raise NotFound("This course has no such module.")

    @property
    def next_step(self) -> tuple[str, str | None]:
        """What to do next, as (words, link)."""
        slug = self.course.slug
        if self.enrollment.status == COMPLETED:
            return "Completed", f"/courses/{slug}"
        if self.enrollment.status == WITHDRAWN:
            return "Withdrawn", f"/courses/{slug}"
        if self.pretest_needed:
            return "Take the pre-test", f"/courses/{slug}/pretest"
        for state in self.modules:
            if state.status in ("in_progress", "failed", "available"):
                verb = "Start" if state.status == "available" else "Resume"
                return (
                    f"{verb}: Module {state.number}, {state.module.title}",
                    f"/courses/{slug}/modules/{state.module.id}",
                )
        if self.final_available:
            return "Take the final assessment", f"/courses/{slug}/final"
        if not self.final_passed:
            return "No final assessment attempts left: contact your trainer", None
        if self.evaluation_available:
            return "Complete the course evaluation", f"/courses/{slug}/evaluation"
        if self.sessions_attended < self.course.live_sessions:
            return (
                f"Attend the live sessions ({self.sessions_attended} of "
                f"{self.course.live_sessions} recorded by your trainer)",
                None,
            )
        return "Completed", f"/courses/{slug}"


class ModuleRow(NamedTuple):
    """The columns of a learner's progress in one module that progress pages need."""

    status: str
    seconds_spent: int
    last_seen_at: datetime | None  # None where only the status was read (the matrix)


class AttemptScore(NamedTuple):
    """The columns of a submitted attempt that progress pages need (not its question layout)."""

    id: int
    enrollment_id: int
    target: str
    percent: float | None
    passed: bool | None
    submitted_at: datetime | None  # None where only the scores were read (the matrix)


@dataclass
class Facts:
    """What decides the progress of some enrollments, read by progress_facts."""

    modules: dict[int, dict[str, ModuleRow]]  # enrollment id -> module id -> row
    attempts: dict[int, list[AttemptScore]]  # enrollment id -> submitted attempts, oldest first
    evaluated: set[int]  # enrollment ids with an evaluation response
    attended: dict[tuple[int, int], int]  # (user id, course id) -> live sessions attended

    def progress(self, enrollment: Enrollment, course: CourseDefinition) -> Progress:
        return build_progress(
            enrollment,
            course,
            self.modules.get(enrollment.id, {}),
            self.attempts.get(enrollment.id, []),
            enrollment.id in self.evaluated,
            self.attended.get((enrollment.user_id, enrollment.course_id), 0),
        )


@cache
def _facts_query(whose: str) -> CompoundSelect:
    """The UNION ALL behind progress_facts, for one "enrollment" or every enrollment of one
    "person", built once.

    The parameters are single values, not lists: PostgreSQL then settles on one plan for
    the prepared statement after a few runs. With array parameters it planned the query
    afresh on every run, which took twice as long as running it.
    """
    if whose == "enrollment":
        owned = bindparam("enrollment", type_=Integer)
        attended_course = LiveSession.course_id == bindparam("course", type_=Integer)
    else:
        owned = (
            select(Enrollment.id)
            .where(Enrollment.user_id == bindparam("user", type_=Integer))
            .scalar_subquery()
        )
        attended_course = true()
    text_, integer, real, flag, moment = (
        cast(null(), String),
        cast(null(), Integer),
        cast(null(), Float),
        cast(null(), Boolean),
        cast(null(), DateTime),
    )

    def of(column: Any) -> ColumnElement[bool]:
        return column == owned if whose == "enrollment" else column.in_(owned)

    modules = select(
        literal_column("'m'"),
        ModuleProgress.enrollment_id,
        ModuleProgress.module_id,
        ModuleProgress.status,
        ModuleProgress.seconds_spent,
        integer,
        real,
        flag,
        ModuleProgress.last_seen_at,
    ).where(of(ModuleProgress.enrollment_id))
    attempts = select(
        literal_column("'a'"),
        Attempt.enrollment_id,
        Attempt.target,
        text_,
        Attempt.id,
        integer,
        Attempt.percent,
        Attempt.passed,
        Attempt.submitted_at,
    ).where(of(Attempt.enrollment_id), Attempt.submitted_at.is_not(None))
    evaluations = select(
        literal_column("'e'"),
        EvaluationResponse.enrollment_id,
        text_,
        text_,
        integer,
        integer,
        real,
        flag,
        moment,
    ).where(of(EvaluationResponse.enrollment_id))
    attendance = (
        select(
            literal_column("'s'"),
            Attendance.user_id,
            text_,
            text_,
            LiveSession.course_id,
            func.count(),
            real,
            flag,
            moment,
        )
        .join(LiveSession, LiveSession.id == Attendance.session_id)
        .where(
            Attendance.user_id == bindparam("user", type_=Integer),
            Attendance.present.is_(True),
            attended_course,
        )
        .group_by(Attendance.user_id, LiveSession.course_id)
    )
    return union_all(modules, attempts, evaluations, attendance)


async def progress_facts(
    db: AsyncSession, whose: str, params: dict[str, Any], seen: dict[str, Any] | None = None
) -> Facts:
    """Module progress, submitted attempts, evaluations and attendance in one query.

    The four kinds of rows come back as one UNION ALL, told apart by their first column,
    because on a busy server a page's cost is its number of queries.
    """
    if seen is None:
        rows = await db.execute(_facts_query(whose), params)
    else:  # a module page view on PostgreSQL, recorded by the same statement
        rows = await db.execute(_facts_and_view_query(), {**params, **seen})
    facts = Facts({}, {}, set(), {})
    for kind, owner, key, status, number, extra, percent, passed, at in rows.all():
        if kind == "m":
            facts.modules.setdefault(owner, {})[key] = ModuleRow(status, number, at)
        elif kind == "a":
            score = AttemptScore(number, owner, key, percent, passed, at)
            facts.attempts.setdefault(owner, []).append(score)
        elif kind == "e":
            facts.evaluated.add(owner)
        else:
            facts.attended[(owner, number)] = extra
    for attempts_of in facts.attempts.values():
        attempts_of.sort()  # by id: the order they were started
    return facts


async def progress_of(
    db: AsyncSession, enrollment: Enrollment, seen: dict[str, Any] | None = None
) -> Progress:
    course = await catalog.get_definition(db, enrollment.version_id)
    params = {
        "enrollment": enrollment.id,
        "user": enrollment.user_id,
        "course": enrollment.course_id,
    }
    facts = await progress_facts(db, "enrollment", params, seen)
    return facts.progress(enrollment, course)


def build_progress(
    enrollment: Enrollment,
    course: CourseDefinition,
    rows: dict[str, ModuleRow],
    attempts: list[AttemptScore],
    evaluation_done: bool,
    sessions_attended: int,
) -> Progress:
    by_target: dict[str, list[AttemptScore]] = {}
    for attempt in attempts:
        by_target.setdefault(attempt.target, []).append(attempt)
    pretest = next(iter(by_target.get(PRETEST, [])), None)
    gate_open = not course.pretest or pretest is not None
    states: list[ModuleState] = []
    previous_done = True
    for number, module in enumerate(course.modules, start=1):
        row = rows.get(module.id)
        tries = by_target.get(module_target(module.id), [])
        best = None
        for attempt in tries:  # a loop, not max(): this runs for every cell of a matrix
            if attempt.percent is not None and (best is None or attempt.percent > best):
                best = attempt.percent
        if row is not None and row.status == "done":
            status = "done"
        elif not gate_open or (course.sequential and not previous_done):
            status = "locked"
        elif tries:
            status = "failed"
        elif row is not None:
            status = "in_progress"
        else:
            status = "available"
        states.append(
            ModuleState(module, number, status, best, len(tries), row.seconds_spent if row else 0)
        )
        previous_done = status == "done"
    return Progress(
        enrollment=enrollment,
        course=course,
        modules=states,
        pretest=pretest,
        final_attempts=by_target.get(FINAL, []),
        evaluation_done=evaluation_done,
        sessions_attended=sessions_attended,
        rows=rows,
    )


async def find_enrollment(db: AsyncSession, user_id: int, course_id: int) -> Enrollment | None:
    """The person's current (not completed) enrollment, else their latest completed one."""
    query = (
        select(Enrollment)
        .where(Enrollment.user_id == user_id, Enrollment.course_id == course_id)
        .order_by((Enrollment.status == COMPLETED).asc(), Enrollment.id.desc())
        .limit(1)
    )
    return await db.scalar(query)


async def get_active_enrollment(db: AsyncSession, user: User, course: Course) -> Enrollment:
    enrollment = await find_enrollment(db, user.id, course.id)
    if enrollment is None or enrollment.status == WITHDRAWN:
        raise Forbidden("Enroll in this course first.")
    return enrollment


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
_DASHBOARD = (
    select(Enrollment, Certificate)
    .outerjoin(
        Certificate,
        (Certificate.enrollment_id == Enrollment.id) & Certificate.is_current.is_(True),
    )
    .where(Enrollment.user_id == bindparam("user_id"))
    .order_by(Enrollment.enrolled_at.desc())
    .options(raiseload(Enrollment.course))  # the course's definition says all a page needs
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


async def completed_slugs(db: AsyncSession, user_id: int) -> set[str]:
    query = (
        select(Course.slug)
        .join(Enrollment, Enrollment.course_id == Course.id)
        .where(Enrollment.user_id == user_id, Enrollment.status == COMPLETED)
    )
    return set((await db.scalars(query)).all())


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
        existing.status, existing.withdrawn_at, existing.last_activity_at = ACTIVE, None, now
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
        if found is None:
            raise
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
    return [
        found[s].current_version.title if s in found and found[s].current_version else s
        for s in slugs
    ]


async def withdraw(db: AsyncSession, enrollment: Enrollment, by: User) -> None:
    if enrollment.status != ACTIVE:
        raise Conflict("Only an enrollment in progress can be withdrawn.")
    enrollment.status, enrollment.withdrawn_at = WITHDRAWN, utcnow()
    audit.record(db, by, "enrollment.withdraw", "enrollment", enrollment.id)


def _require_active(enrollment: Enrollment) -> None:
    if enrollment.status == WITHDRAWN:
        raise Forbidden("You withdrew from this course. Enroll again to continue.")


def reading_seconds(last_seen: datetime, now: datetime) -> int:
    """The time since the last view, as reading time: none after a break over IDLE_LIMIT."""
    gap = now - last_seen
    return int(gap.total_seconds()) if timedelta(0) < gap <= IDLE_LIMIT else 0


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
    in_one = enrollment.status != COMPLETED and db.bind.dialect.name == "postgresql"
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
        await db.execute(_SEEN, seen)
    return progress


async def record_activity(db: AsyncSession, enrollment: Enrollment, now: datetime) -> None:
    """Set the enrollment's last activity with one UPDATE, not a unit-of-work flush."""
    await db.execute(_ACTIVE_AT, {"enrollment": enrollment.id, "now": now})
    set_committed_value(enrollment, "last_activity_at", now)


_ACTIVE_AT = (
    update(Enrollment.__table__)
    .where(Enrollment.__table__.c.id == bindparam("enrollment"))
    .values(last_activity_at=bindparam("now"))
)


# Every time a module page opens: one UPDATE, without loading the row first, adding
# reading_seconds() since the last view.
_MP = ModuleProgress.__table__.c
_SEEN = (
    update(ModuleProgress.__table__)
    .where(_MP.enrollment_id == bindparam("enrollment"), _MP.module_id == bindparam("module"))
    .values(seconds_spent=_MP.seconds_spent + bindparam("added"), last_seen_at=bindparam("now"))
)
# The same on PostgreSQL, with reading_seconds() worked out in SQL, to run with the query
# that reads progress.
_NOW = bindparam("now", type_=DateTime)
_GAP = case(
    (
        (_MP.last_seen_at < _NOW) & (_MP.last_seen_at >= bindparam("idle_since", type_=DateTime)),
        cast(func.floor(extract("epoch", _NOW - _MP.last_seen_at)), Integer),
    ),
    else_=0,
)
_SEEN_IN_SQL = _SEEN.values(seconds_spent=_MP.seconds_spent + _GAP, last_seen_at=_NOW)


@cache
def _facts_and_view_query() -> CompoundSelect:
    """progress_facts' query, recording a module page view as it reads (PostgreSQL only)."""
    return _facts_query("enrollment").add_cte(_SEEN_IN_SQL.cte("seen"))


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
    enrollment.last_activity_at = now
    await db.flush()
    await check_completion(db, settings, enrollment)


async def submit_evaluation(
    db: AsyncSession, settings: Settings, enrollment: Enrollment, form: dict[str, list[str]]
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
        values = [v.strip() for v in form.get(question.id, []) if v.strip()]
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
    enrollment.last_activity_at = utcnow()
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
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    enrollment.status, enrollment.completed_at = COMPLETED, now
    await certificates.issue_if_automatic(db, settings, enrollment)
    return True


async def enrollments_of(db: AsyncSession, user_id: int) -> list[Enrollment]:
    query = (
        select(Enrollment)
        .where(Enrollment.user_id == user_id)
        .order_by(Enrollment.enrolled_at.desc())
    )
    return list((await db.scalars(query)).unique().all())


async def dashboard(db: AsyncSession, user_id: int) -> list[Progress]:
    """Progress and current certificate of every enrollment of a person, in two queries."""
    found = (await db.execute(_DASHBOARD, {"user_id": user_id})).unique().all()
    if not found:
        return []
    enrollments = [e for e, _ in found]
    facts = await progress_facts(db, "person", {"user": user_id})
    definitions = await catalog.get_definitions(db, {e.version_id for e in enrollments})
    progresses = []
    for enrollment, certificate in found:
        progress = facts.progress(enrollment, definitions[enrollment.version_id])
        progress.certificate = certificate
        progresses.append(progress)
    return progresses


async def catalog_courses(
    db: AsyncSession, text: str = "", audience: str = ""
) -> list[tuple[Course, CourseDefinition]]:
    query = select(Course).where(Course.status == "active", Course.current_version_id.is_not(None))
    courses = (await db.scalars(query.order_by(Course.slug))).unique().all()
    definitions = await catalog.get_definitions(db, {c.current_version_id for c in courses})
    found = []
    needle = text.strip().lower()
    for course in courses:
        definition = definitions[course.current_version_id]
        if audience and definition.audience and audience not in definition.audience:
            continue
        haystack = " ".join(
            [definition.title, definition.summary, *definition.tags, *definition.audience]
        ).lower()
        if needle and not all(word in haystack for word in needle.split()):
            continue
        found.append((course, definition))
    found.sort(key=lambda pair: pair[1].title)
    return found


async def audiences(db: AsyncSession) -> list[str]:
    query = select(Course.current_version_id).where(
        Course.status == "active", Course.current_version_id.is_not(None)
    )
    version_ids = set((await db.scalars(query)).all())
    definitions = await catalog.get_definitions(db, version_ids)
    return sorted({a for d in definitions.values() for a in d.audience})
