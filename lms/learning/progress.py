"""The progress model: what is unlocked, done and left in an enrollment, read in one query.

`progress_facts` reads everything that decides progress (module rows, submitted attempts,
evaluations, attendance, field activities) for one enrollment or all of a person's in one
UNION ALL, and `build_progress` works the rules out from it. The learner's pages, the
cohort matrix and the quizzes all read progress here.
"""

from __future__ import annotations

import math
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
    Select,
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
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import ScalarSelect

from lms.activities.models import SIGNED_OFF, SUBMITTED, FieldActivity
from lms.catalog import service as catalog
from lms.catalog.definition import Activity, CourseDefinition, Module
from lms.certificates.models import Certificate
from lms.cohorts.models import Attendance, LiveSession
from lms.db import table_of
from lms.delivery.models import SkillScore
from lms.errors import NotFound, NotYet
from lms.learning.models import COMPLETED, WITHDRAWN, Enrollment, EvaluationResponse, ModuleProgress
from lms.links import Link
from lms.quizzes.models import FINAL, PRETEST, Attempt

# Time between two events on a module longer than this is not counted as time spent.
IDLE_LIMIT = timedelta(minutes=30)


# A module's knowledge check is the quiz target "module:<module id>" (beside "pretest"
# and "final"); these two are the only places that spell it.
MODULE_TARGET = "module:"


def module_target(module_id: str) -> str:
    return f"{MODULE_TARGET}{module_id}"


def module_of_target(target: str) -> str | None:
    """The module id of a module's knowledge-check target; None for the pre-test and final."""
    return target.removeprefix(MODULE_TARGET) if target.startswith(MODULE_TARGET) else None


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
    # Required live sessions attended: for sessions as written, the required course sessions
    # attended at least once; otherwise every session attended.
    sessions_attended: int = 0
    sessions_delivered: frozenset[str] = frozenset()  # course session ids attended
    activities: dict[str, str] = field(default_factory=dict)  # activity id -> its status
    skills_passed: frozenset[str] = frozenset()  # skill ids scored at `pass` in one session
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
        if self.course.final is None:
            return None
        allowed = self.enrollment.attempts_allowed(self.course.final.max_attempts, FINAL)
        return None if allowed is None else max(0, allowed - len(self.final_attempts))

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
    def first_final(self) -> AttemptScore | None:
        """The first graded final attempt: gain is measured on it, before any retake."""
        graded = [a for a in self.final_attempts if a.percent is not None]
        return min(graded, key=lambda a: a.id, default=None)

    @property
    def knowledge_gain(self) -> float | None:
        """First final attempt minus pre-test, once the final is passed (never the best try)."""
        first = self.first_final
        if self.pretest is None or self.pretest.percent is None or first is None:
            return None
        if not self.final_passed:
            return None
        return round((first.percent or 0) - self.pretest.percent, 1)

    def activity_open(self, activity: Activity) -> bool:
        """A field activity opens once its `after` module is complete (at once without one)."""
        return activity.after is None or self.module_state(activity.after).status == "done"

    def activity_status(self, activity: Activity) -> str:
        """locked, open (nothing sent yet), submitted, returned or signed_off."""
        status = self.activities.get(activity.id)
        if status is not None:
            return status
        return "open" if self.activity_open(activity) else "locked"

    @property
    def required_skills_passed(self) -> bool:
        return all(s.id in self.skills_passed for s in self.course.skills if s.required)

    @property
    def required_activities(self) -> list[Activity]:
        return [a for a in self.course.activities if a.required]

    @property
    def activities_signed_off(self) -> bool:
        return all(self.activities.get(a.id) == SIGNED_OFF for a in self.required_activities)

    @property
    def steps(self) -> tuple[int, int]:
        """(done, total) steps, for the progress bar."""
        c = self.course
        required = self.required_activities
        skills = [s for s in c.skills if s.required]
        total = len(self.modules) + c.live_sessions + len(required) + len(skills)
        done = sum(m.status == "done" for m in self.modules)
        done += min(self.sessions_attended, c.live_sessions)
        done += sum(self.activities.get(a.id) == SIGNED_OFF for a in required)
        done += sum(s.id in self.skills_passed for s in skills)
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
            and self.activities_signed_off
            and self.required_skills_passed
        )

    def seat_seconds_left(self, module_id: str, now: datetime) -> int:
        """Reading time still owed before the module can be completed (course seat_time)."""
        module = self.module_state(module_id).module
        needed = math.ceil(module.minutes * 60 * self.course.seat_time / 100)
        row = self.rows.get(module_id)
        spent = 0
        if row is not None:
            # The time since the last view counts too, as it would on the next view.
            since = reading_seconds(row.last_seen_at, now) if row.last_seen_at else 0
            spent = row.seconds_spent + since
        return max(0, needed - spent)

    def check_seat_time(self, module_id: str, now: datetime, doing: str) -> None:
        """Refuse `doing` (finishing, or starting the knowledge check) before the seat time."""
        left = self.seat_seconds_left(module_id, now)
        if left:
            module = self.module_state(module_id).module
            raise NotYet(
                f"This course asks you to spend at least {self.course.seat_time}% of the "
                f"module's {module.minutes} minutes reading it before you {doing}: about "
                f"{math.ceil(left / 60)} more minute{'s' if left > 60 else ''} to go. "
                "Time counts while the module page is open.",
                back=Link("learning.module", {"slug": self.course.slug, "module_id": module_id}),
                back_label=f"Back to the module: {module.title}",
            )

    @property
    def total_seconds_spent(self) -> int:
        return sum(m.seconds_spent for m in self.modules)

    def module_state(self, module_id: str) -> ModuleState:
        for state in self.modules:
            if state.module.id == module_id:
                return state
        raise NotFound("This course has no such module.")

    @property
    def next_step(self) -> tuple[str, Link | None]:
        """What to do next, as (words, link)."""
        slug = self.course.slug
        course = Link("learning.course", {"slug": slug})
        if self.enrollment.status == COMPLETED:
            return "Completed", course
        if self.enrollment.status == WITHDRAWN:
            return "Withdrawn", course
        if self.pretest_needed:
            return "Take the pre-test", Link("quizzes.pretest", {"slug": slug})
        for state in self.modules:
            if state.status in ("in_progress", "failed", "available"):
                verb = "Start" if state.status == "available" else "Resume"
                return (
                    f"{verb}: Module {state.number}, {state.module.title}",
                    Link("learning.module", {"slug": slug, "module_id": state.module.id}),
                )
        if self.final_available:
            return "Take the final assessment", Link("quizzes.final", {"slug": slug})
        if not self.final_passed:
            return "No final assessment attempts left: contact your trainer", None
        if self.evaluation_available:
            return "Complete the course evaluation", Link("learning.evaluation", {"slug": slug})
        for activity in self.required_activities:
            status = self.activity_status(activity)
            link = Link("activities.activity", {"slug": slug, "activity_id": activity.id})
            if status in ("open", "returned"):
                verb = "Send again" if status == "returned" else "Do the field activity"
                return f"{verb}: {activity.title}", link
        if self.sessions_attended < self.course.live_sessions:
            return (
                f"Attend the live sessions ({self.sessions_attended} of "
                f"{self.course.live_sessions} recorded by your trainer)",
                None,
            )
        if not self.required_skills_passed:
            return "Your trainer scores the course's skills at a live session", None
        for activity in self.required_activities:
            if self.activity_status(activity) == SUBMITTED:
                link = Link("activities.activity", {"slug": slug, "activity_id": activity.id})
                return f"Waiting for sign-off: {activity.title}", link
        return "Completed", course


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
    # enrollment id -> field activity id -> status
    activities: dict[int, dict[str, str]] = field(default_factory=dict)
    # (user id, course id) -> course session ids attended
    delivered: dict[tuple[int, int], set[str]] = field(default_factory=dict)
    # (user id, course id) -> (skill id, session id) -> (total score, criteria scored)
    skills: dict[tuple[int, int], dict[tuple[str, int], tuple[int, int]]] = field(
        default_factory=dict
    )

    def progress(self, enrollment: Enrollment, course: CourseDefinition) -> Progress:
        return build_progress(
            enrollment,
            course,
            self.modules.get(enrollment.id, {}),
            self.attempts.get(enrollment.id, []),
            enrollment.id in self.evaluated,
            self.attended.get((enrollment.user_id, enrollment.course_id), 0),
            self.activities.get(enrollment.id, {}),
            self.delivered.get((enrollment.user_id, enrollment.course_id), set()),
            self.skills.get((enrollment.user_id, enrollment.course_id), {}),
        )


@cache
def _facts_query(whose: str) -> CompoundSelect:
    """The UNION ALL behind progress_facts, for one "enrollment" or every enrollment of one
    "person", built once.

    The parameters are single values, not lists: PostgreSQL then settles on one plan for
    the prepared statement after a few runs. With array parameters it planned the query
    afresh on every run, which took twice as long as running it.
    """
    owned: BindParameter[int] | ScalarSelect[int]
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
    attempts: Select[*tuple[Any, ...]] = select(
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
            LiveSession.course_session,
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
        .group_by(Attendance.user_id, LiveSession.course_id, LiveSession.course_session)
    )
    skills = (
        select(
            literal_column("'k'"),
            SkillScore.user_id,
            SkillScore.skill_id,
            text_,
            LiveSession.course_id,
            func.sum(SkillScore.score),
            cast(func.count(), Float),
            flag,
            moment,
        )
        .join(LiveSession, LiveSession.id == SkillScore.session_id)
        .where(SkillScore.user_id == bindparam("user", type_=Integer), attended_course)
        .group_by(SkillScore.user_id, LiveSession.course_id, SkillScore.skill_id, LiveSession.id)
    )
    activities = select(
        literal_column("'f'"),
        FieldActivity.enrollment_id,
        FieldActivity.activity_id,
        FieldActivity.status,
        integer,
        integer,
        real,
        flag,
        moment,
    ).where(of(FieldActivity.enrollment_id))
    return union_all(modules, attempts, evaluations, attendance, activities, skills)


async def progress_facts(
    db: AsyncSession, whose: str, params: dict[str, Any], seen: dict[str, Any] | None = None
) -> Facts:
    """Module progress, submitted attempts, evaluations, attendance, field activities and
    skill scores in one query.

    The six kinds of rows come back as one UNION ALL, told apart by their first column,
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
        elif kind == "f":
            facts.activities.setdefault(owner, {})[key] = status
        elif kind == "k":
            scored = facts.skills.setdefault((owner, number), {})
            scored[(key, len(scored))] = (extra, int(percent or 0))
        else:
            course_key = (owner, number)
            facts.attended[course_key] = facts.attended.get(course_key, 0) + extra
            if key:
                facts.delivered.setdefault(course_key, set()).add(key)
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
    activities: dict[str, str] | None = None,
    delivered: set[str] | None = None,
    skills: dict[tuple[str, int], tuple[int, int]] | None = None,
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
        sessions_attended=_sessions_counted(course, sessions_attended, delivered or set()),
        sessions_delivered=frozenset(delivered or ()),
        activities=activities or {},
        skills_passed=_skills_passed(course, skills or {}),
        rows=rows,
    )


def _sessions_counted(course: CourseDefinition, attended: int, delivered: set[str]) -> int:
    """Sessions as written count once each, the required ones only; a course without them
    counts every session attended."""
    if not course.sessions:
        return attended
    return sum(1 for s in course.sessions if s.required and s.id in delivered)


def _skills_passed(
    course: CourseDefinition, scored: dict[tuple[str, int], tuple[int, int]]
) -> frozenset[str]:
    """The skills scored at their pass mark, every criterion, in one session."""
    passed = set()
    for skill in course.skills:
        for (skill_id, _), (total, criteria) in scored.items():
            if (
                skill_id == skill.id
                and criteria >= len(skill.criteria)
                and total >= skill.pass_score
            ):
                passed.add(skill.id)
    return frozenset(passed)


def reading_seconds(last_seen: datetime, now: datetime) -> int:
    """The time since the last view, as reading time: none after a break over IDLE_LIMIT."""
    gap = now - last_seen
    return int(gap.total_seconds()) if timedelta(0) < gap <= IDLE_LIMIT else 0


# Every time a module page opens: one UPDATE, without loading the row first, adding
# reading_seconds() since the last view.
_MP = table_of(ModuleProgress).c
RECORD_VIEW = (
    update(table_of(ModuleProgress))
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
RECORD_VIEW_IN_SQL = RECORD_VIEW.values(seconds_spent=_MP.seconds_spent + _GAP, last_seen_at=_NOW)


@cache
def _facts_and_view_query() -> CompoundSelect:
    """progress_facts' query, recording a module page view as it reads (PostgreSQL only)."""
    return _facts_query("enrollment").add_cte(RECORD_VIEW_IN_SQL.cte("seen"))


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


async def of_person(db: AsyncSession, user_id: int) -> list[Progress]:
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
