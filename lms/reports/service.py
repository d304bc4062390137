"""Report queries: question statistics, knowledge gain, evaluation results, completions, audit."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, extract, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.accounts.models import County, Region, User
from lms.audit import AuditEvent
from lms.catalog import service as catalog
from lms.catalog.definition import CourseDefinition
from lms.catalog.models import Course
from lms.certificates.models import Certificate
from lms.cohorts.models import CohortMember
from lms.learning.models import COMPLETED, Enrollment, EvaluationResponse
from lms.quizzes.models import FINAL, PRETEST, Attempt, AttemptAnswer


@dataclass
class QuestionStat:
    question_id: str
    prompt: str
    where: str
    answered: int = 0
    correct: int = 0
    wrong_choices: Counter[str] = field(default_factory=Counter)

    @property
    def percent_correct(self) -> float | None:
        return round(100 * self.correct / self.answered, 1) if self.answered else None

    @property
    def common_wrong(self) -> tuple[str, int] | None:
        return self.wrong_choices.most_common(1)[0] if self.wrong_choices else None


def _enrollment_scope(course_id: int, cohort_id: int | None) -> Any:
    query = select(Enrollment.id).where(Enrollment.course_id == course_id)
    if cohort_id is not None:
        members = select(CohortMember.user_id).where(CohortMember.cohort_id == cohort_id)
        query = query.where(Enrollment.user_id.in_(members))
    return query


async def question_stats(
    db: AsyncSession, course: Course, cohort_id: int | None = None
) -> list[QuestionStat]:
    """Per question (followed by id across versions): share correct, most chosen wrong answer."""
    definition = await catalog.get_definition(db, course.current_version_id)
    stats: dict[str, QuestionStat] = {}
    questions: dict[str, Any] = {}
    for module in definition.modules:
        for q in module.quiz.questions if module.quiz else ():
            stats[q.id] = QuestionStat(q.id, q.prompt, module.title)
            questions[q.id] = q
    for q in definition.final.questions if definition.final else ():
        stats[q.id] = QuestionStat(q.id, q.prompt, "Final assessment")
        questions[q.id] = q
    query = (
        select(AttemptAnswer.question_id, AttemptAnswer.response, AttemptAnswer.correct)
        .join(Attempt, Attempt.id == AttemptAnswer.attempt_id)
        .where(
            Attempt.enrollment_id.in_(_enrollment_scope(course.id, cohort_id)),
            Attempt.submitted_at.is_not(None),
            Attempt.target != PRETEST,
        )
    )
    for question_id, response, correct in (await db.execute(query)).all():
        stat = stats.get(question_id)
        if stat is None:
            continue  # a question no longer in the current version
        stat.answered += 1
        stat.correct += bool(correct)
        question = questions[question_id]
        if not correct and isinstance(response, list):
            for index in response:
                if index < len(question.choices) and not question.choices[index].correct:
                    stat.wrong_choices[question.choices[index].text] += 1
        elif not correct and isinstance(response, bool):
            stat.wrong_choices["True" if response else "False"] += 1
    return list(stats.values())


@dataclass
class Gain:
    learners: int
    pretest: float | None
    final: float | None

    @property
    def gain(self) -> float | None:
        if self.pretest is None or self.final is None:
            return None
        return round(self.final - self.pretest, 1)


async def knowledge_gain(db: AsyncSession, course: Course, cohort_id: int | None = None) -> Gain:
    """Average pre-test against average best final, over learners who took both."""
    scope = _enrollment_scope(course.id, cohort_id)
    rows = (
        await db.execute(
            select(Attempt.enrollment_id, Attempt.target, func.max(Attempt.percent))
            .where(
                Attempt.enrollment_id.in_(scope),
                Attempt.target.in_([PRETEST, FINAL]),
                Attempt.submitted_at.is_not(None),
            )
            .group_by(Attempt.enrollment_id, Attempt.target)
        )
    ).all()
    by_enrollment: dict[int, dict[str, float]] = defaultdict(dict)
    for enrollment_id, target, percent in rows:
        by_enrollment[enrollment_id][target] = percent
    pairs = [(v[PRETEST], v[FINAL]) for v in by_enrollment.values() if PRETEST in v and FINAL in v]
    if not pairs:
        return Gain(0, None, None)
    return Gain(
        len(pairs),
        round(sum(p for p, _ in pairs) / len(pairs), 1),
        round(sum(f for _, f in pairs) / len(pairs), 1),
    )


@dataclass
class SurveyResult:
    question_id: str
    prompt: str
    type: str
    counts: list[tuple[str, int]]
    comments: list[str]
    responses: int


LIKERT = ["Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree"]


async def evaluation_results(
    db: AsyncSession, course: Course, cohort_id: int | None = None
) -> tuple[int, list[SurveyResult]]:
    definition: CourseDefinition = await catalog.get_definition(db, course.current_version_id)
    if definition.evaluation is None:
        return 0, []
    answers = (
        await db.scalars(
            select(EvaluationResponse.answers).where(
                EvaluationResponse.enrollment_id.in_(_enrollment_scope(course.id, cohort_id))
            )
        )
    ).all()
    results = []
    for q in definition.evaluation.questions:
        values = [a[q.id] for a in answers if a.get(q.id) not in (None, "")]
        if q.type == "likert":
            tally = Counter(int(v) for v in values)
            counts = [(label, tally.get(i, 0)) for i, label in enumerate(LIKERT, start=1)]
            results.append(SurveyResult(q.id, q.prompt, q.type, counts, [], len(values)))
        elif q.type == "single":
            tally = Counter(values)
            counts = [(choice, tally.get(choice, 0)) for choice in q.choices]
            results.append(SurveyResult(q.id, q.prompt, q.type, counts, [], len(values)))
        else:
            results.append(
                SurveyResult(q.id, q.prompt, q.type, [], [str(v) for v in values], len(values))
            )
    return len(answers), results


@dataclass
class CompletionRow:
    learner: str
    email: str
    county: str
    region: str
    course: str
    completed_at: datetime
    hours: float
    certificate: str | None


def _completed(
    query: Select[Any],
    course_slug: str = "",
    county_id: int | None = None,
    region_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    user_ids: list[int] | None = None,
    person: bool = False,
    place: bool = False,
) -> Select[Any]:
    """Completed enrollments, with the filters every completions query shares.

    The person (`person`), their county and region (`place`) are joined only when asked
    for or a filter needs them: counting 30,000 completions costs a third as much without.
    """
    # Written into the SQL, not sent as a parameter, so that every plan may use the index
    # of completed enrollments (ix_enrollments_completions), prepared statement or not.
    completed = literal(COMPLETED, literal_execute=True)
    query = query.select_from(Enrollment).where(Enrollment.status == completed)
    if person or place or county_id or region_id:
        query = query.join(User, User.id == Enrollment.user_id)
    if place or region_id:
        query = query.outerjoin(County, County.id == User.county_id).outerjoin(
            Region, Region.id == County.region_id
        )
    if course_slug:
        course = select(Course.id).where(Course.slug == course_slug).scalar_subquery()
        query = query.where(Enrollment.course_id == course)
    if county_id:
        query = query.where(User.county_id == county_id)
    if region_id:
        query = query.where(County.region_id == region_id)
    if since:
        query = query.where(Enrollment.completed_at >= since)
    if until:
        query = query.where(Enrollment.completed_at < until)
    if user_ids is not None:
        query = query.where(Enrollment.user_id.in_(user_ids))
    return query


async def completions(
    db: AsyncSession,
    course_slug: str = "",
    county_id: int | None = None,
    region_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    user_ids: list[int] | None = None,
    limit: int | None = None,
) -> list[CompletionRow]:
    """Completed enrollments with who, where, what and when, latest first; one query."""
    columns = select(
        User.name,
        User.email,
        County.name,
        Region.name,
        Enrollment.completed_at,
        Enrollment.version_id,
        Certificate.serial,
    )
    query = (
        _completed(columns, course_slug, county_id, region_id, since, until, user_ids, True, True)
        .outerjoin(
            Certificate,
            (Certificate.enrollment_id == Enrollment.id) & Certificate.is_current.is_(True),
        )
        .order_by(Enrollment.completed_at.desc(), Enrollment.id.desc())
        .limit(limit)
    )
    rows = (await db.execute(query)).all()
    definitions = await catalog.get_definitions(db, {r[5] for r in rows})
    return [
        CompletionRow(
            name,
            email,
            county or "",
            region or "",
            definitions[version].title,
            completed,
            definitions[version].hours,
            serial,
        )
        for name, email, county, region, completed, version, serial in rows
    ]


async def completion_totals(
    db: AsyncSession,
    by: str = "county",
    course_slug: str = "",
    county_id: int | None = None,
    region_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[int, list[tuple[str, int, float]]]:
    """All completions, and (group, completions, hours) for each county, region, course or
    month; counted by the database, in one query, however many completions there are."""
    filters = (course_slug, county_id, region_id, since, until)
    if by in ("course", "month"):
        keys: list[Any] = []
        if by == "month":
            keys = [extract(part, Enrollment.completed_at) for part in ("year", "month")]
        counted = select(*keys, Enrollment.version_id, func.count())
        query = _completed(counted, *filters).group_by(*keys, Enrollment.version_id)
    else:
        # Count by county or region id first, then name the groups: cheaper than grouping
        # 30,000 rows by name.
        key, named = (County.region_id, Region) if by == "region" else (User.county_id, County)
        counted = select(
            key.label("key"), Enrollment.version_id.label("version_id"), func.count().label("n")
        )
        inner = (
            _completed(counted, *filters, person=True, place=by == "region")
            .group_by(key, Enrollment.version_id)
            .subquery()
        )
        query = select(named.name, inner.c.version_id, inner.c.n).outerjoin(
            named, named.id == inner.c.key
        )
    rows = (await db.execute(query)).all()
    definitions = await catalog.get_definitions(db, {row[-2] for row in rows})
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for *key, version_id, count in rows:
        definition = definitions[version_id]
        if by == "month":
            name = f"{int(key[0]):04d}-{int(key[1]):02d}"
        elif by == "course":
            name = definition.title
        elif by == "region":
            name = key[0] or "No region"
        else:
            name = key[0] or "No county"
        totals[name][0] += count
        totals[name][1] += definition.hours * count
    ordered = sorted(totals.items(), reverse=by == "month")
    groups = [(name, int(count), hours) for name, (count, hours) in ordered]
    return sum(count for _, count, _ in groups), groups


async def audit_events(
    db: AsyncSession,
    action: str = "",
    actor: str = "",
    entity: str = "",
    since: datetime | None = None,
    limit: int = 300,
) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action.like(f"{action}%"))
    if entity:
        query = query.where(AuditEvent.entity == entity)
    if actor:
        query = query.join(User, User.id == AuditEvent.actor_id).where(
            func.lower(User.email).like(f"%{actor.lower()}%")
            | func.lower(User.name).like(f"%{actor.lower()}%")
        )
    if since:
        query = query.where(AuditEvent.at >= since)
    return list((await db.scalars(query.limit(limit))).unique().all())


async def audit_actions(db: AsyncSession) -> list[str]:
    return sorted((await db.scalars(select(AuditEvent.action).distinct())).all())
