"""The progress matrix: every member of a cohort by every module, in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import cache
from typing import Any, NamedTuple

from markupsafe import Markup, escape
from sqlalchemy import Select, String, bindparam, case, cast, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms import times
from lms.accounts.models import County, User
from lms.activities.models import FieldActivity
from lms.catalog import service as catalog
from lms.catalog.definition import CourseDefinition
from lms.catalog.models import Course
from lms.cohorts.models import Attendance, Cohort, CohortCourse, CohortMember, LiveSession
from lms.db import among, dialect_name, utcnow
from lms.delivery.models import SkillScore
from lms.learning.models import COMPLETED, Enrollment, EvaluationResponse, ModuleProgress
from lms.learning.progress import (
    STATE_LABELS,
    AttemptScore,
    ModuleRow,
    ModuleState,
    build_progress,
)
from lms.quizzes.models import Attempt

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


class Summary(NamedTuple):
    """What a row shows of one enrollment's progress, worked out by build_progress."""

    started: bool  # a step done
    percent: int
    statuses: tuple[str, ...]  # each module column's state, "" past an older version's last
    cells: str  # those states as the row's cells, in HTML
    failing: bool  # a knowledge check not passed in two tries
    best_final: float | None


# Summaries are a pure function of the facts the matrix query reads (a version's content
# never changes), so a worker keeps the ones it has worked out: looking at a cohort again,
# sorted or filtered another way, only works out the rows whose facts changed. Bounded:
# about 1 KB each.
_summaries: dict[tuple[Any, ...], Summary] = {}
MAX_SUMMARIES = 20_000
_rows: dict[tuple[Any, ...], MatrixRow] = {}  # and the rows made from them, the same way


def summarize(
    definition: CourseDefinition,
    width: int,
    enrollment: Enrollment,
    modules: str | None,
    attempts: str | None,
    evaluated: bool,
    attended: str | None,
    activities: str | None = None,
    skills: str | None = None,
) -> Summary:
    sessions = attended.split(_SEP) if attended else []
    progress = build_progress(
        enrollment,
        definition,
        _module_rows(modules),
        _scores(enrollment.id, attempts),
        evaluated,
        len(sessions),
        _activity_states(activities),
        {s for s in sessions if s != _NO_COURSE_SESSION},
        _skill_totals(skills),
    )
    states = progress.modules[:width]  # an older version may have fewer modules
    statuses = tuple(s.status for s in states) + ("",) * (width - len(states))
    cells = "".join([cell(state) for state in states] + [NO_CELL] * (width - len(states)))
    done, _ = progress.steps
    best = progress.best_final
    failing = any(m.status == "failed" and m.attempts >= 2 for m in progress.modules)
    return Summary(done > 0, progress.percent, statuses, cells, failing, best and best.percent)


def _module_rows(joined: str | None) -> dict[str, ModuleRow]:
    rows = {}
    for item in joined.split(_SEP) if joined else ():
        module_id, _, status = item.partition(_ITEM)
        rows[module_id] = ModuleRow(status, 0, None)
    return rows


def _skill_totals(joined: str | None) -> dict[tuple[str, int], tuple[int, int]]:
    """(skill id, session id) -> (total score, criteria scored), from "skill session score"."""
    totals: dict[tuple[str, int], tuple[int, int]] = {}
    for item in joined.split(_SEP) if joined else ():
        skill_id, session, score = item.split(_ITEM)
        total, count = totals.get((skill_id, int(session)), (0, 0))
        totals[(skill_id, int(session))] = (total + int(score), count + 1)
    return totals


def _activity_states(joined: str | None) -> dict[str, str]:
    states = {}
    for item in joined.split(_SEP) if joined else ():
        activity_id, _, status = item.partition(_ITEM)
        states[activity_id] = status
    return states


def _scores(enrollment_id: int, joined: str | None) -> list[AttemptScore]:
    scores = []
    for item in joined.split(_SEP) if joined else ():
        target, percent, passed = item.split(_ITEM)
        score = float(percent) if percent else None
        scores.append(
            AttemptScore(0, enrollment_id, target, score, passed == "1" if passed else None, None)
        )
    return scores


@dataclass(slots=True)
class MatrixRow:
    """One member's row, as the page, its sorting and filtering, and the exports read it."""

    learner: Learner
    county: str
    status: str
    percent: int
    statuses: tuple[str, ...]  # each module column's state ("" when not enrolled)
    best_final: float | None
    last_activity: datetime | None
    completed_at: datetime | None
    due_at: datetime | None
    overdue: bool
    at_risk: bool
    html: Markup  # the row as the page shows it: 250 rows through the template cost 5x more
    minutes_spent: int = 0  # reading time on the course's modules, by the idle rule


OVERDUE = Markup('<span class="badge bad">Overdue</span>')
AT_RISK = Markup('<span class="badge muted">At risk</span>')


def row_status(enrollment_status: str | None, summary: Summary | None) -> str:
    if enrollment_status is None or summary is None:
        return "not enrolled"
    if enrollment_status == COMPLETED:
        return "completed"
    if enrollment_status == "withdrawn":
        return "withdrawn"
    return "in progress" if summary.started else "not started"


def is_at_risk(
    summary: Summary, last: datetime | None, due_at: datetime | None, now: datetime
) -> bool:
    """Unfinished and idle for two weeks, due within a week and under half done, or a
    knowledge check not passed in two tries."""
    idle = last is None or now - last > timedelta(days=IDLE_DAYS)
    rushed = due_at is not None and due_at - now < timedelta(days=7) and summary.percent < 50
    return idle or rushed or summary.failing


def flags(
    status: str, summary: Summary | None, last: datetime | None, due: datetime | None, now: datetime
) -> tuple[bool, bool]:
    """(overdue, at risk)."""
    if status not in ("in progress", "not started") or summary is None:
        return False, False
    return (due is not None and due < now), is_at_risk(summary, last, due, now)


def matrix_row(
    cohort_id: int,
    learner: Learner,
    county: str,
    status: str,
    summary: Summary | None,
    last: datetime | None,
    completed_at: datetime | None,
    due_at: datetime | None,
    overdue: bool,
    at_risk: bool,
    width: int,
    zone: tzinfo,
    seconds_spent: int = 0,
) -> MatrixRow:
    percent = summary.percent if summary else 0
    cells = summary.cells if summary else NO_CELL * width
    best = summary.best_final if summary else None
    final = "" if best is None else f"{round(best)}%"
    minutes = round(seconds_spent / 60)
    badges = " ".join(f for f, on in ((OVERDUE, overdue), (AT_RISK, at_risk)) if on)
    # An f-string with escape() on every text: Markup.format is ten times slower. The link is
    # the address of the route gradebook.learner, written out here (services know no routes);
    # test_cohorts checks that the two agree.
    html = Markup(  # noqa: S704  (every text in it is escaped)
        f'<tr><th scope="row"><a href="/cohorts/{cohort_id}/learners/{learner.id}">'
        f'{escape(learner.name)}</a><br><span class="hint">{escape(county)}</span></th>'
        f'<td>{status}<br><span class="hint">{percent}%</span></td>{cells}<td>{final}</td>'
        f"<td>{minutes} min</td><td>{times.show_date(last, zone) if last else '—'}</td>"
        f"<td>{badges}</td></tr>\n"
    )
    statuses = summary.statuses if summary else ("",) * width
    return MatrixRow(
        learner,
        county,
        status,
        percent,
        statuses,
        best,
        last,
        completed_at,
        due_at,
        overdue,
        at_risk,
        html,
        minutes,
    )


@dataclass
class Matrix:
    cohort: Cohort
    course: Course
    definition: CourseDefinition
    rows: list[MatrixRow]

    def rows_html(self) -> Markup:
        return Markup("".join([row.html for row in self.rows]))  # noqa: S704  (Markup already)

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


# Each member's row comes from the enrollment alone (MEMBERS_QUERY); what their progress is
# made of is read only for the enrollments whose revision this worker has not summarised
# (FACTS_QUERY). Sent as rows, a 250-learner cohort's 1,200 module rows and 1,500 attempts
# cost more to transfer and decode than to find, so the database joins each enrollment's into
# two short strings: one row per enrollment.
_SEP, _ITEM = ",", " "
_NO_COURSE_SESSION = "-"  # a session attended that names no course session as written


MEMBERS_QUERY = (
    select(
        User.id.label("user_id"),
        User.name,
        User.email,
        County.name.label("county"),
        CohortCourse.due_on,
        Enrollment.id.label("enrollment_id"),
        Enrollment.status,
        Enrollment.version_id,
        Enrollment.due_at,
        Enrollment.last_activity_at,
        Enrollment.completed_at,
        Enrollment.progress_revision,
        # Reading a module page is activity too, kept on its module row alone.
        select(func.max(ModuleProgress.last_seen_at))
        .where(ModuleProgress.enrollment_id == Enrollment.id)
        .scalar_subquery()
        .label("last_read"),
        # Reading time changes on every module view, without a new progress revision: read
        # here, not among the cached facts.
        select(func.sum(ModuleProgress.seconds_spent))
        .where(ModuleProgress.enrollment_id == Enrollment.id)
        .scalar_subquery()
        .label("seconds_spent"),
    )
    .join(CohortMember, CohortMember.user_id == User.id)
    .outerjoin(County, County.id == User.county_id)
    .outerjoin(
        CohortCourse,
        (CohortCourse.cohort_id == bindparam("cohort_id"))
        & (CohortCourse.course_id == bindparam("course_id")),
    )
    .outerjoin(
        Enrollment,
        (Enrollment.user_id == User.id) & (Enrollment.course_id == bindparam("course_id")),
    )
    .where(CohortMember.cohort_id == bindparam("cohort_id"))
    .order_by(Enrollment.id)
)


@cache
def _facts_query(dialect: str) -> Select[Any]:
    modules = (
        select(
            func.aggregate_strings(
                ModuleProgress.module_id + literal(_ITEM) + ModuleProgress.status, _SEP
            )
        )
        .where(ModuleProgress.enrollment_id == Enrollment.id)
        .scalar_subquery()
    )
    passed = case((Attempt.passed.is_(True), "1"), (Attempt.passed.is_(False), "0"), else_="")
    score = func.coalesce(cast(Attempt.percent, String), "")
    attempts = (
        select(
            func.aggregate_strings(
                Attempt.target + literal(_ITEM) + score + literal(_ITEM) + passed, _SEP
            )
        )
        .where(Attempt.enrollment_id == Enrollment.id, Attempt.submitted_at.is_not(None))
        .scalar_subquery()
    )
    evaluated = exists().where(EvaluationResponse.enrollment_id == Enrollment.id)
    attended = (
        select(
            func.aggregate_strings(
                func.coalesce(LiveSession.course_session, _NO_COURSE_SESSION), _SEP
            )
        )
        .select_from(Attendance)
        .join(LiveSession, LiveSession.id == Attendance.session_id)
        .where(
            Attendance.user_id == Enrollment.user_id,
            Attendance.present.is_(True),
            LiveSession.course_id == Enrollment.course_id,
        )
        .scalar_subquery()
    )
    activities = (
        select(
            func.aggregate_strings(
                FieldActivity.activity_id + literal(_ITEM) + FieldActivity.status, _SEP
            )
        )
        .where(FieldActivity.enrollment_id == Enrollment.id)
        .scalar_subquery()
    )
    skills = (
        select(
            func.aggregate_strings(
                SkillScore.skill_id
                + literal(_ITEM)
                + cast(SkillScore.session_id, String)
                + literal(_ITEM)
                + cast(SkillScore.score, String),
                _SEP,
            )
        )
        .select_from(SkillScore)
        .join(LiveSession, LiveSession.id == SkillScore.session_id)
        .where(
            SkillScore.user_id == Enrollment.user_id,
            LiveSession.course_id == Enrollment.course_id,
        )
        .scalar_subquery()
    )
    # The revision read with the facts, in the same statement, is the one they belong to.
    return select(
        Enrollment.id,
        Enrollment.progress_revision,
        modules,
        attempts,
        evaluated,
        attended,
        activities,
        skills,
    ).where(among(Enrollment.id, "enrollments", dialect))


def later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


async def _summaries_of(
    db: AsyncSession, wanted: dict[int, int], definitions: dict[int, CourseDefinition], width: int
) -> dict[int, Summary]:
    """Work out and keep the summaries of these enrollments (id -> version id)."""
    query = _facts_query(dialect_name(db))
    made = {}
    rows = (await db.execute(query, {"enrollments": list(wanted)})).all()
    for enrollment_id, revision, modules, attempts, evaluated, attended, activities, skills in rows:
        version_id = wanted[enrollment_id]
        enrollment = Enrollment(id=enrollment_id, version_id=version_id)
        key = (enrollment_id, revision, version_id, width)
        made[enrollment_id] = _summaries[key] = summarize(
            definitions[version_id],
            width,
            enrollment,
            modules,
            attempts,
            bool(evaluated),
            attended,
            activities,
            skills,
        )
    return made


# What the cohort report needs of each member: the status alone, without the reading time
# and last activity that cost MEMBERS_QUERY its two subqueries.
STATUS_QUERY = (
    select(
        User.id.label("user_id"),
        Enrollment.id.label("enrollment_id"),
        Enrollment.status,
        Enrollment.version_id,
        Enrollment.completed_at,
        Enrollment.progress_revision,
    )
    .join(CohortMember, CohortMember.user_id == User.id)
    .outerjoin(
        Enrollment,
        (Enrollment.user_id == User.id) & (Enrollment.course_id == bindparam("course_id")),
    )
    .where(CohortMember.cohort_id == bindparam("cohort_id"))
    .order_by(Enrollment.id)
)


async def _latest_summaries(
    db: AsyncSession, query: Select[*tuple[Any, ...]], cohort: Cohort, course: Course
) -> tuple[list[Any], dict[int, Summary | None], CourseDefinition]:
    """Each member's latest enrollment in the course (a row of `query`), its summary (by
    enrollment id) and the course's current definition. Summaries this worker has not
    worked out are read in one more statement."""
    params = {"cohort_id": cohort.id, "course_id": course.id}
    found = (await db.execute(query, params)).all()
    latest = list({row.user_id: row for row in found}.values())
    current = await catalog.current_definition(db, course)
    width = len(current.modules)
    if len(_summaries) > MAX_SUMMARIES:
        _summaries.clear()

    def summary_key(row: Any) -> tuple[int, int, int, int]:
        return (row.enrollment_id, row.progress_revision, row.version_id, width)

    wanted = {
        row.enrollment_id: row.version_id
        for row in latest
        if row.enrollment_id is not None and summary_key(row) not in _summaries
    }
    fresh: dict[int, Summary] = {}
    if wanted:
        definitions = await catalog.get_definitions(db, set(wanted.values()))
        fresh = await _summaries_of(db, wanted, definitions, width)
    summaries: dict[int, Summary | None] = {}
    for row in latest:
        if row.enrollment_id is not None:
            # Changed again between the two queries: the newer facts, from the second.
            summaries[row.enrollment_id] = fresh.get(row.enrollment_id) or _summaries.get(
                summary_key(row)
            )
    return latest, summaries, current


@dataclass(frozen=True)
class StatusCounts:
    """What the cohort report shows of progress: members by status and when each finished."""

    definition: CourseDefinition
    members: int
    counts: dict[str, int]
    completed_at: list[datetime]


async def status_counts(db: AsyncSession, cohort: Cohort, course: Course) -> StatusCounts:
    """The matrix's statuses counted, by the same rule (row_status), without its rows."""
    latest, summaries, current = await _latest_summaries(db, STATUS_QUERY, cohort, course)
    counts: dict[str, int] = {}
    for row in latest:
        shown = row_status(row.status, summaries.get(row.enrollment_id))
        counts[shown] = counts.get(shown, 0) + 1
    completed = [row.completed_at for row in latest if row.completed_at]
    return StatusCounts(current, len(latest), counts, completed)


async def build_matrix(
    db: AsyncSession,
    cohort: Cohort,
    course: Course,
    sort: str = "name",
    show: str = "",
    *,
    zone: tzinfo,
) -> Matrix:
    """Progress of every member in one course: one query, and one more for the enrollments
    whose progress changed since this worker last saw them, for any cohort size."""
    latest, summaries, current = await _latest_summaries(db, MEMBERS_QUERY, cohort, course)
    width = len(current.modules)
    if len(_rows) > MAX_SUMMARIES:
        _rows.clear()
    assigned_due = None
    if latest and latest[0].due_on is not None:  # the cohort's due date: the same on every row
        assigned_due = times.end_of_day(latest[0].due_on, zone)
    now = utcnow()
    rows = []
    for row in latest:
        last = later(row.last_activity_at, row.last_read)
        summary = summaries.get(row.enrollment_id) if row.enrollment_id is not None else None
        due = row.due_at or assigned_due
        shown = row_status(row.status, summary)
        overdue, at_risk = flags(shown, summary, last, due, now)
        # The row's HTML depends on nothing else: a worker keeps it too.
        row_key = (cohort.id, width, tuple(row), due, overdue, at_risk, str(zone))
        made = _rows.get(row_key)
        if made is None:
            made = _rows[row_key] = matrix_row(
                cohort.id,
                Learner(row.user_id, row.name, row.email),
                row.county or "",
                shown,
                summary,
                last,
                row.completed_at,
                due,
                overdue,
                at_risk,
                width,
                zone,
                row.seconds_spent or 0,
            )
        rows.append(made)
    rows = [r for r in rows if FILTERS.get(show, FILTERS[""])(r)]
    rows.sort(key=SORTS.get(sort, SORTS["name"]))
    return Matrix(cohort, course, current, rows)
