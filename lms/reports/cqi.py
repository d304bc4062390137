"""A course's chain of evidence for CQI: the state evaluation framework's seven levels side by
side (attendance, evaluation returned, satisfaction, knowledge, skills, transfer, delivery
fidelity), each with the number of learners or sessions behind it.

Everything is read for one scope of enrollments (course, and optionally cohort, trainer,
county, region, version and enrollment dates) in a fixed number of statements, then worked
out here, so that cohorts taught with low fidelity can be compared with the rest from the
same facts.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.accounts.models import County, User
from lms.activities.models import SIGNED_OFF, FieldActivity
from lms.catalog.definition import CourseDefinition
from lms.cohorts.models import Attendance, Cohort, CohortCounty, CohortTrainer, LiveSession
from lms.delivery.models import DELIVERY, FidelityLog, SkillScore
from lms.learning.models import WITHDRAWN, Enrollment, EvaluationResponse
from lms.quizzes.models import FINAL, PRETEST, Attempt

NO_COUNTY = "No county"
# A cohort whose sessions were delivered as written less often than this is "low fidelity".
LOW_FIDELITY = 0.8


@dataclass(frozen=True)
class Scope:
    course_id: int
    cohort_id: int | None = None
    trainer_id: int | None = None
    county_id: int | None = None
    region_id: int | None = None
    version_id: int | None = None
    since: datetime | None = None  # UTC; enrollments from this moment
    until: datetime | None = None  # UTC; enrollments before this moment


@dataclass
class Learner:
    """What the chain of evidence needs of one enrollment."""

    enrollment_id: int
    user_id: int
    cohort_id: int | None
    delivered: set[str] = field(default_factory=set)  # course sessions attended
    sessions: int = 0  # sessions attended
    evaluated: bool = False
    likert: list[int] = field(default_factory=list)  # the evaluation's agreement answers, 1-5
    pretest: float | None = None
    first_final: float | None = None
    best: dict[tuple[str, str], int] = field(default_factory=dict)  # (skill, criterion) -> score
    signed_off: int = 0  # required field activities signed off
    days_to_sign_off: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Figure:
    """One level's figure: `value` as a percent (or points for gain), of `n` behind it."""

    level: str
    measure: str
    value: float | None
    n: int
    unit: str = "%"

    @property
    def shown(self) -> str:
        if self.value is None:
            return "—"
        sign = "+" if self.unit == " points" and self.value > 0 else ""
        return f"{sign}{self.value:.0f}{self.unit}"


@dataclass
class Chain:
    figures: list[Figure]
    criteria: list[Figure]  # skills: the share passing each criterion
    fidelity_by_trainer: list[tuple[str, float, int]]  # name, fidelity, sessions
    fidelity_by_cohort: list[tuple[str, float, int]]
    fidelity_by_county: list[tuple[str, float, int]]  # the counties the cohorts serve
    low: list[Figure]  # the same levels for learners of low-fidelity cohorts
    rest: list[Figure]  # and of the other cohorts with a fidelity figure
    learners: int


def _percent(part: float, whole: int) -> float | None:
    return None if not whole else 100 * part / whole


async def _learners(db: AsyncSession, scope: Scope) -> dict[int, Learner]:
    query = (
        select(Enrollment.id, Enrollment.user_id, Enrollment.cohort_id)
        .join(User, User.id == Enrollment.user_id)
        .where(Enrollment.course_id == scope.course_id, Enrollment.status != WITHDRAWN)
    )
    if scope.cohort_id is not None:
        query = query.where(Enrollment.cohort_id == scope.cohort_id)
    if scope.trainer_id is not None:
        taught = select(CohortTrainer.cohort_id).where(CohortTrainer.user_id == scope.trainer_id)
        query = query.where(Enrollment.cohort_id.in_(taught))
    if scope.county_id is not None:
        query = query.where(User.county_id == scope.county_id)
    if scope.region_id is not None:
        in_region = select(County.id).where(County.region_id == scope.region_id)
        query = query.where(User.county_id.in_(in_region))
    if scope.version_id is not None:
        query = query.where(Enrollment.version_id == scope.version_id)
    if scope.since is not None:
        query = query.where(Enrollment.enrolled_at >= scope.since)
    if scope.until is not None:
        query = query.where(Enrollment.enrolled_at < scope.until)
    rows = (await db.execute(query)).all()
    return {e: Learner(e, u, c) for e, u, c in rows}


async def chain(db: AsyncSession, scope: Scope, course: CourseDefinition) -> Chain:
    """The seven levels for the scope, in seven statements whatever its size."""
    learners = await _learners(db, scope)
    ids = list(learners)
    by_user = {learner.user_id: learner for learner in learners.values()}
    if ids:
        for user_id, course_session in (
            await db.execute(
                select(Attendance.user_id, LiveSession.course_session)
                .join(LiveSession, LiveSession.id == Attendance.session_id)
                .where(
                    LiveSession.course_id == scope.course_id,
                    Attendance.present.is_(True),
                    Attendance.user_id.in_(by_user),
                )
            )
        ).all():
            by_user[user_id].sessions += 1
            if course_session:
                by_user[user_id].delivered.add(course_session)
        likert = [
            q.id
            for q in (course.evaluation.questions if course.evaluation else ())
            if q.type == "likert"
        ]
        for enrollment_id, answers in (
            await db.execute(
                select(EvaluationResponse.enrollment_id, EvaluationResponse.answers).where(
                    EvaluationResponse.enrollment_id.in_(ids)
                )
            )
        ).all():
            learners[enrollment_id].evaluated = True
            for question_id in likert:
                value = answers.get(question_id)
                if str(value) in {"1", "2", "3", "4", "5"}:
                    learners[enrollment_id].likert.append(int(value))
        for enrollment_id, target, percent in (
            await db.execute(
                select(Attempt.enrollment_id, Attempt.target, Attempt.percent)
                .where(
                    Attempt.enrollment_id.in_(ids),
                    Attempt.target.in_([PRETEST, FINAL]),
                    Attempt.submitted_at.is_not(None),
                    Attempt.percent.is_not(None),
                )
                .order_by(Attempt.id)
            )
        ).all():
            learner = learners[enrollment_id]
            if target == PRETEST and learner.pretest is None:
                learner.pretest = percent
            elif target == FINAL and learner.first_final is None:
                learner.first_final = percent
        for user_id, skill_id, criterion_id, score in (
            await db.execute(
                select(
                    SkillScore.user_id,
                    SkillScore.skill_id,
                    SkillScore.criterion_id,
                    SkillScore.score,
                )
                .join(LiveSession, LiveSession.id == SkillScore.session_id)
                .where(LiveSession.course_id == scope.course_id, SkillScore.user_id.in_(by_user))
            )
        ).all():
            best = by_user[user_id].best
            best[(skill_id, criterion_id)] = max(best.get((skill_id, criterion_id), score), score)
        required = {a.id for a in course.activities if a.required}
        for enrollment_id, activity_id, status, first, decided in (
            await db.execute(
                select(
                    FieldActivity.enrollment_id,
                    FieldActivity.activity_id,
                    FieldActivity.status,
                    FieldActivity.first_submitted_at,
                    FieldActivity.decided_at,
                ).where(FieldActivity.enrollment_id.in_(ids))
            )
        ).all():
            if status == SIGNED_OFF and activity_id in required:
                learners[enrollment_id].signed_off += 1
                if decided is not None:
                    days = (decided - first).total_seconds() / 86400
                    learners[enrollment_id].days_to_sign_off.append(days)
    cohort_ids = {learner.cohort_id for learner in learners.values() if learner.cohort_id}
    fidelity = await _fidelity(db, scope.course_id, cohort_ids)
    by_cohort = _per_cohort(fidelity)
    low = {c for c, (f, _) in by_cohort.items() if f < LOW_FIDELITY}
    rest = {c for c, (f, _) in by_cohort.items() if f >= LOW_FIDELITY}
    everyone = list(learners.values())
    return Chain(
        _figures(course, everyone, fidelity),
        _criteria(course, everyone),
        _per_trainer(fidelity),
        sorted(
            (
                (name, f, n)
                for (f, n), name in ((by_cohort[c], fidelity.names[c]) for c in by_cohort)
            ),
            key=lambda row: row[0],
        ),
        _per_county(fidelity),
        _figures(course, [x for x in everyone if x.cohort_id in low], fidelity.only(low)),
        _figures(course, [x for x in everyone if x.cohort_id in rest], fidelity.only(rest)),
        len(everyone),
    )


@dataclass
class Fidelity:
    """The delivery logs of the scope's cohorts' sessions of the course."""

    logs: list[tuple[int, int, str, int, int]]  # session, cohort, trainer name, as written, all
    names: dict[int, str]  # cohort id -> name
    counties: dict[int, list[str]] = field(default_factory=dict)  # cohort id -> counties served

    def only(self, cohorts: set[int]) -> Fidelity:
        return Fidelity([row for row in self.logs if row[1] in cohorts], self.names, self.counties)

    def sessions(self) -> dict[int, float]:
        """Each logged session's fidelity (segments as written over all, over its logs)."""
        parts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for session, _, _, written, total in self.logs:
            parts[session][0] += written
            parts[session][1] += total
        return {s: written / total for s, (written, total) in parts.items() if total}


async def _fidelity(db: AsyncSession, course_id: int, cohort_ids: set[int]) -> Fidelity:
    if not cohort_ids:
        return Fidelity([], {})
    rows = (
        await db.execute(
            select(
                LiveSession.id,
                LiveSession.cohort_id,
                User.name,
                FidelityLog.as_written,
                FidelityLog.segment_count,
                Cohort.name,
            )
            .join(FidelityLog, FidelityLog.session_id == LiveSession.id)
            .join(User, User.id == FidelityLog.recorded_by_id)
            .join(Cohort, Cohort.id == LiveSession.cohort_id)
            .where(
                LiveSession.course_id == course_id,
                LiveSession.cohort_id.in_(cohort_ids),
                FidelityLog.kind == DELIVERY,
            )
        )
    ).all()
    served: dict[int, list[str]] = defaultdict(list)
    logged = {c for _, c, *_ in rows}
    if logged:
        for cohort_id, county in (
            await db.execute(
                select(CohortCounty.cohort_id, County.name)
                .join(County, County.id == CohortCounty.county_id)
                .where(CohortCounty.cohort_id.in_(logged))
                .order_by(County.name)
            )
        ).all():
            served[cohort_id].append(county)
    return Fidelity(
        [(s, c, trainer, written, total) for s, c, trainer, written, total, _ in rows],
        {c: name for _, c, _, _, _, name in rows},
        dict(served),
    )


def _mean(values: Iterable[float]) -> float | None:
    found = list(values)
    return sum(found) / len(found) if found else None


def _per_cohort(fidelity: Fidelity) -> dict[int, tuple[float, int]]:
    sessions = fidelity.sessions()
    cohort_of = {s: c for s, c, *_ in fidelity.logs}
    grouped: dict[int, list[float]] = defaultdict(list)
    for session, value in sessions.items():
        grouped[cohort_of[session]].append(value)
    return {c: (sum(v) / len(v), len(v)) for c, v in grouped.items()}


def _per_county(fidelity: Fidelity) -> list[tuple[str, float, int]]:
    """Each county's sessions' mean fidelity: a session counts for every county its cohort
    serves (a cohort for Shasta and Butte delivers to both); "No county" for the rest."""
    sessions = fidelity.sessions()
    cohort_of = {s: c for s, c, *_ in fidelity.logs}
    grouped: dict[str, list[float]] = defaultdict(list)
    for session, value in sessions.items():
        for county in fidelity.counties.get(cohort_of[session]) or [NO_COUNTY]:
            grouped[county].append(value)
    return sorted((county, sum(v) / len(v), len(v)) for county, v in grouped.items())


def _per_trainer(fidelity: Fidelity) -> list[tuple[str, float, int]]:
    parts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for _, _, trainer, written, total in fidelity.logs:
        parts[trainer][0] += written
        parts[trainer][1] += total
        parts[trainer][2] += 1
    return sorted((name, w / t, n) for name, (w, t, n) in parts.items() if t)


def _passes(course: CourseDefinition, learner: Learner) -> tuple[int, int]:
    """(criteria at or above their second-lowest level, criteria scored) for one learner."""
    passed = scored = 0
    for skill in course.skills:
        for criterion in skill.criteria:
            score = learner.best.get((skill.id, criterion.id))
            if score is not None:
                scored += 1
                passed += score >= criterion.levels[1].score
    return passed, scored


def _figures(
    course: CourseDefinition, learners: Sequence[Learner], fidelity: Fidelity
) -> list[Figure]:
    n = len(learners)
    required = {s.id for s in course.sessions if s.required}
    if course.sessions:
        attended = sum(1 for x in learners if required <= x.delivered)
    else:
        attended = sum(1 for x in learners if x.sessions >= course.live_sessions)
    evaluated = [x for x in learners if x.evaluated]
    paired = [x for x in learners if x.pretest is not None and x.first_final is not None]
    scored = [_passes(course, x) for x in learners]
    scored = [s for s in scored if s[1]]
    needed = len([a for a in course.activities if a.required])
    days = [d for x in learners for d in x.days_to_sign_off]
    sessions = fidelity.sessions()
    return [
        Figure(
            "1. Attendance",
            "attended every required live session"
            if course.live_sessions
            else "no live sessions in this course",
            _percent(attended, n) if course.live_sessions else None,
            n,
        ),
        Figure(
            "2. Evaluation returned",
            "returned the course evaluation",
            _percent(len(evaluated), n),
            n,
        ),
        Figure(
            "3. Satisfaction",
            "of agreement answers that agree or strongly agree",
            _percent(
                sum(v >= 4 for x in evaluated for v in x.likert),
                sum(len(x.likert) for x in evaluated),
            ),
            len(evaluated),
        ),
        Figure(
            "4. Knowledge",
            "gain: pre-test to the first final attempt",
            _mean((x.first_final or 0) - (x.pretest or 0) for x in paired),
            len(paired),
            " points",
        ),
        Figure(
            "5. Skills",
            "of criteria scored at or above their second level",
            _percent(sum(p for p, _ in scored), sum(s for _, s in scored)),
            len(scored),
        ),
        Figure(
            "6. Transfer",
            "required field activities signed off"
            + (f" (median {statistics.median(days):.1f} days to sign-off)" if days else ""),
            _percent(sum(x.signed_off for x in learners), n * needed) if needed else None,
            n,
        ),
        Figure(
            "7. Delivery fidelity",
            "of segments delivered as written, a session's mean (N: sessions logged)",
            None if not sessions else 100 * sum(sessions.values()) / len(sessions),
            len(sessions),
        ),
    ]


def _criteria(course: CourseDefinition, learners: Sequence[Learner]) -> list[Figure]:
    found = []
    for skill in course.skills:
        for criterion in skill.criteria:
            scores = [
                x.best[(skill.id, criterion.id)]
                for x in learners
                if (skill.id, criterion.id) in x.best
            ]
            passing = sum(1 for s in scores if s >= criterion.levels[1].score)
            found.append(
                Figure(skill.title, criterion.text, _percent(passing, len(scores)), len(scores))
            )
    return found


def table(found: Chain) -> tuple[list[str], list[list[Any]]]:
    """The chain as an export: level, measure, figure, N (low and rest where compared)."""
    header = ["Level", "Measure", "Figure", "N", "Low-fidelity cohorts", "N", "Other cohorts", "N"]
    rows: list[list[Any]] = []
    for mine, low, rest in zip(found.figures, found.low, found.rest, strict=True):
        rows.append(
            [
                mine.level,
                mine.measure,
                None if mine.value is None else round(mine.value, 1),
                mine.n,
                None if low.value is None else round(low.value, 1),
                low.n,
                None if rest.value is None else round(rest.value, 1),
                rest.n,
            ]
        )
    for label, rollup in (
        ("trainer", found.fidelity_by_trainer),
        ("cohort", found.fidelity_by_cohort),
        ("county", found.fidelity_by_county),
    ):
        for name, value, n in rollup:
            rows.append([f"7. Fidelity by {label}", name, round(100 * value, 1), n, *[None] * 4])
    for c in found.criteria:
        rows.append(
            [
                "5. Skills: " + c.level,
                c.measure,
                None if c.value is None else round(c.value, 1),
                c.n,
                None,
                None,
                None,
                None,
            ]
        )
    return header, rows
