"""Item analysis and knowledge gain in detail: the figures an evaluator checks a test by.

Both read each learner's *first* graded attempt at an assessment. Retakes of the same pool
measure the pool (the learner has seen its questions), not what was learned, and a learner
who took three attempts would otherwise count three times. Each report is two or three
statements whatever the number of learners: the answers come in one joined query.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms import db as database
from lms.accounts.models import User
from lms.catalog import service as catalog
from lms.catalog.definition import CourseDefinition, Question
from lms.catalog.models import Course
from lms.cohorts.models import Cohort, CohortMember
from lms.learning.models import Enrollment
from lms.quizzes.models import FINAL, PRETEST, Attempt, AttemptAnswer
from lms.reports import service
from lms.reports.service import SurveyResult

# Below this many attempts at a question its statistics move too much from one learner to
# the next to judge the question by: the report says so instead of flagging it.
RELIABLE_FROM = 20
# The top and bottom groups: 27% of attempts each (Kelley, 1939), the classic split.
GROUP_SHARE = 0.27
TOO_EASY = 0.95
TOO_HARD = 0.25
LOW_DISCRIMINATION = 0.15


@dataclass(frozen=True)
class Scope:
    """Which attempts count: one course, and optionally a cohort, a version, a date range."""

    course_id: int
    cohort_id: int | None = None
    version_id: int | None = None
    since: datetime | None = None  # UTC, from this moment
    until: datetime | None = None  # UTC, before this moment


def _in_scope(query: Select[*tuple[Any, ...]], scope: Scope) -> Select[*tuple[Any, ...]]:
    query = query.where(Enrollment.course_id == scope.course_id)
    if scope.cohort_id is not None:
        members = select(CohortMember.user_id).where(CohortMember.cohort_id == scope.cohort_id)
        query = query.where(Enrollment.user_id.in_(members))
    if scope.version_id is not None:
        query = query.where(Enrollment.version_id == scope.version_id)
    return query


# Reports are read far more often than attempts are submitted, and reading every answer of a
# 250-learner cohort costs a few hundred milliseconds. Each process keeps its latest analyses;
# one cheap statement (the scope's enrollments and their progress revisions) says whether a
# kept one still holds.
T = TypeVar("T")
_KEPT: database.Kept[Any] = database.Kept(64)


async def _kept_or(
    db: AsyncSession,
    kind: str,
    scope: Scope,
    version_id: int | None,
    compute: Callable[[], Awaitable[T]],
) -> T:
    # Each enrollment's progress revision rises, by a database trigger, when one of its
    # attempts is graded or its evaluation is sent (migration 0009): the scope's enrollments,
    # their revisions summed, say whether anything an analysis reads has changed. Reading 250
    # enrollments costs a tenth of counting their thousands of attempts (3.7 ms).
    query = _in_scope(
        select(
            func.count(Enrollment.id),
            func.coalesce(func.sum(Enrollment.progress_revision), 0),
            func.max(Enrollment.id),
        ),
        scope,
    )
    mark = tuple((await db.execute(query)).one())
    key = (kind, scope, version_id)
    return await _KEPT.get_or(key, mark, compute)


def _in_dates(moment: datetime | None, scope: Scope) -> bool:
    if moment is None:
        return False
    return (scope.since is None or moment >= scope.since) and (
        scope.until is None or moment < scope.until
    )


@dataclass
class _Attempt:
    id: int
    enrollment_id: int
    target: str
    number: int
    points: int
    max_points: int
    percent: float
    version_id: int
    submitted_at: datetime | None
    answers: dict[str, tuple[Any, bool]] = field(default_factory=dict)  # id -> response, right


def _first_attempts(rows: Iterable[Any]) -> list[_Attempt]:
    """Rows of attempt and answer columns, ordered by attempt number: each enrollment's first
    graded attempt at each target, with its answers."""
    attempts: dict[int, _Attempt] = {}
    first: dict[tuple[int, str], int] = {}
    for row in rows:
        key = (row.enrollment_id, row.target)
        if first.setdefault(key, row.attempt_id) != row.attempt_id:
            continue  # a retake
        attempt = attempts.get(row.attempt_id)
        if attempt is None:
            attempt = attempts[row.attempt_id] = _Attempt(
                row.attempt_id,
                row.enrollment_id,
                row.target,
                row.number,
                row.points or 0,
                row.max_points or 0,
                row.percent,
                row.version_id,
                row.submitted_at,
            )
        if row.question_id is not None:
            attempt.answers[row.question_id] = (row.response, bool(row.correct))
    return list(attempts.values())


def _graded(query: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    return query.where(Attempt.submitted_at.is_not(None), Attempt.percent.is_not(None)).order_by(
        Attempt.enrollment_id, Attempt.target, Attempt.number
    )


ATTEMPT_COLUMNS = (
    Attempt.id.label("attempt_id"),
    Attempt.enrollment_id,
    Attempt.target,
    Attempt.number,
    Attempt.points,
    Attempt.max_points,
    Attempt.percent,
    Attempt.submitted_at,
    Enrollment.version_id,
    AttemptAnswer.question_id,
    AttemptAnswer.response,
    AttemptAnswer.correct,
)


@dataclass(frozen=True)
class Placed:
    """A question with where it is asked and what it measures, for the report's rows."""

    question: Question
    where: str  # a module's title, or "Final assessment"
    order: int
    module_title: str | None


def _questions(definitions: Sequence[CourseDefinition]) -> dict[str, Placed]:
    """Every question by id, described by the newest definition that has it."""
    placed: dict[str, Placed] = {}
    for definition in definitions:
        titles = {m.id: m.title for m in definition.modules}
        order = 0
        pools: list[tuple[str, Sequence[Question]]] = [
            (m.title, m.quiz.questions) for m in definition.modules if m.quiz
        ]
        for title, pool in [
            *pools,
            ("Final assessment", definition.final.questions if definition.final else ()),
            ("Pre-test form", definition.pretest_form.questions if definition.pretest_form else ()),
        ]:
            for question in pool:
                order += 1
                if question.id not in placed:
                    module = titles.get(question.module) if question.module else None
                    placed[question.id] = Placed(question, title, order, module)
    return placed


async def _definitions(
    db: AsyncSession, version_ids: set[int], newest_first: int | None
) -> list[CourseDefinition]:
    ids = set(version_ids) | ({newest_first} if newest_first else set())
    found = await catalog.get_definitions(db, ids)
    return [found[v] for v in sorted(found, key=lambda v: (v != newest_first, -v))]


# Item analysis ---------------------------------------------------------------------------


@dataclass
class ChoiceCount:
    label_html: str  # the choice's text (sanitised HTML), or True / False
    correct: bool
    everyone: int = 0
    top: int = 0
    bottom: int = 0


@dataclass
class ItemStat:
    question_id: str
    prompt_html: str
    where: str
    module_title: str | None
    objective: int | None
    attempts: int = 0
    correct: int = 0
    top_attempts: int = 0
    bottom_attempts: int = 0
    top_correct: int = 0
    bottom_correct: int = 0
    point_biserial: float | None = None
    choices: list[ChoiceCount] = field(default_factory=list)
    _pairs: list[tuple[float, float]] = field(default_factory=list, repr=False)

    @property
    def difficulty(self) -> float | None:
        """The share answered correctly (classical 'difficulty': higher is easier)."""
        return round(self.correct / self.attempts, 2) if self.attempts else None

    @property
    def upper_lower(self) -> float | None:
        """Discrimination index D: share correct in the top group less the bottom group's."""
        if not self.top_attempts or not self.bottom_attempts:
            return None
        top = self.top_correct / self.top_attempts
        return round(top - self.bottom_correct / self.bottom_attempts, 2)

    @property
    def reliable(self) -> bool:
        return self.attempts >= RELIABLE_FROM

    @property
    def flags(self) -> list[str]:
        """What an evaluator would look at, once there are enough attempts to judge by."""
        if not self.reliable or self.difficulty is None:
            return []
        found = []
        if self.difficulty > TOO_EASY:
            found.append("too easy")
        if self.difficulty < TOO_HARD:
            found.append("too hard")
        if self.point_biserial is not None and self.point_biserial < 0:
            found.append("negative discrimination")
        elif self.point_biserial is not None and self.point_biserial < LOW_DISCRIMINATION:
            found.append("low discrimination")
        keys = [c.top for c in self.choices if c.correct]
        if keys and any(c.top > min(keys) for c in self.choices if not c.correct):
            found.append("a wrong choice draws the top group more than the key")
        return found


@dataclass
class ItemAnalysis:
    items: list[ItemStat]
    attempts: int  # first graded attempts counted, at every assessment
    learners: int

    @property
    def flagged(self) -> list[ItemStat]:
        return [i for i in self.items if i.flags]

    @property
    def unreliable(self) -> int:
        return sum(1 for i in self.items if i.attempts and not i.reliable)


def pearson(pairs: Sequence[tuple[float, float]]) -> float | None:
    """The correlation of the pairs; None when either side does not vary."""
    n = len(pairs)
    if n < 2:
        return None
    mean_x = sum(x for x, _ in pairs) / n
    mean_y = sum(y for _, y in pairs) / n
    cov = sum((x - mean_x) * (y - mean_y) for x, y in pairs)
    var_x = sum((x - mean_x) ** 2 for x, _ in pairs)
    var_y = sum((y - mean_y) ** 2 for _, y in pairs)
    if var_x == 0 or var_y == 0:
        return None
    return round(cov / math.sqrt(var_x * var_y), 2)


def _groups(attempts: Sequence[_Attempt]) -> tuple[set[int], set[int]]:
    """The top and bottom 27% of one assessment's attempts by score (ties by attempt id)."""
    if len(attempts) < 2:
        return set(), set()
    ranked = sorted(attempts, key=lambda a: (a.percent, a.id))
    size = max(1, round(GROUP_SHARE * len(ranked)))
    return {a.id for a in ranked[-size:]}, {a.id for a in ranked[:size]}


def _choice_indexes(question: Question, response: Any) -> list[int]:
    if question.type == "true_false":
        return [0 if response is True else 1] if isinstance(response, bool) else []
    if isinstance(response, list):
        return [i for i in response if isinstance(i, int) and 0 <= i < len(question.choices)]
    return []


def _choice_counts(question: Question) -> list[ChoiceCount]:
    if question.type == "true_false":
        return [
            ChoiceCount("True", question.answer is True),
            ChoiceCount("False", not question.answer),
        ]
    return [ChoiceCount(c.text_html, c.correct) for c in question.choices]


async def item_analysis(
    db: AsyncSession, scope: Scope, current_version_id: int | None
) -> ItemAnalysis:
    """The item analysis of the scope: kept while no attempt in it is submitted."""
    return await _kept_or(
        db,
        "items",
        scope,
        current_version_id,
        lambda: _item_analysis(db, scope, current_version_id),
    )


async def _item_analysis(
    db: AsyncSession, scope: Scope, current_version_id: int | None
) -> ItemAnalysis:
    """Per question: difficulty, point-biserial against the rest of the attempt, the upper and
    lower 27% and each choice's pull, over first graded attempts at module checks and the
    final (the pre-test is ungraded and measures something else)."""
    query = _graded(
        _in_scope(
            select(*ATTEMPT_COLUMNS)
            .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
            .outerjoin(AttemptAnswer, AttemptAnswer.attempt_id == Attempt.id)
            .where(Attempt.target != PRETEST),
            scope,
        )
    )
    attempts = [
        a
        for a in _first_attempts((await db.execute(query)).all())
        if _in_dates(a.submitted_at, scope)
    ]
    definitions = await _definitions(db, {a.version_id for a in attempts}, current_version_id)
    by_version = await catalog.get_definitions(db, {a.version_id for a in attempts})
    placed = _questions(definitions)
    items: dict[str, ItemStat] = {}
    by_target: dict[str, list[_Attempt]] = defaultdict(list)
    for attempt in attempts:
        by_target[attempt.target].append(attempt)
    for group in by_target.values():
        top, bottom = _groups(group)
        for attempt in group:
            points = _points(by_version.get(attempt.version_id))
            for question_id, (response, right) in attempt.answers.items():
                where = placed.get(question_id)
                if where is None:
                    continue
                item = items.get(question_id)
                if item is None:
                    q = where.question
                    item = items[question_id] = ItemStat(
                        q.id, q.prompt_html, where.where, where.module_title, q.objective
                    )
                    item.choices = _choice_counts(q)
                _count(item, attempt, right, top, bottom)
                for index in _choice_indexes(where.question, response):
                    choice = item.choices[index]
                    choice.everyone += 1
                    choice.top += attempt.id in top
                    choice.bottom += attempt.id in bottom
                # The item against the rest of the attempt: the item's own points left out,
                # or a question would correlate with itself.
                own = points.get(question_id, 1)
                rest = attempt.max_points - own
                if rest > 0:
                    rest_score = (attempt.points - (own if right else 0)) / rest
                    item._pairs.append((1.0 if right else 0.0, rest_score))
    for item in items.values():
        item.point_biserial = pearson(item._pairs)
    ordered = sorted(items.values(), key=lambda i: placed[i.question_id].order)
    learners = len({a.enrollment_id for a in attempts})
    return ItemAnalysis(ordered, len(attempts), learners)


def _count(item: ItemStat, attempt: _Attempt, right: bool, top: set[int], bottom: set[int]) -> None:
    item.attempts += 1
    item.correct += right
    if attempt.id in top:
        item.top_attempts += 1
        item.top_correct += right
    if attempt.id in bottom:
        item.bottom_attempts += 1
        item.bottom_correct += right


def _points(definition: CourseDefinition | None) -> dict[str, int]:
    if definition is None:
        return {}
    pools = [m.quiz for m in definition.modules if m.quiz] + (
        [definition.final] if definition.final else []
    )
    return {q.id: q.points for pool in pools for q in pool.questions}


def item_table(analysis: ItemAnalysis) -> tuple[list[str], list[list[Any]]]:
    """One row per question and choice, the item's figures repeated: easy to pivot."""
    from lms.reports.service import plain_text

    header = [
        "Question",
        "Where",
        "Module measured",
        "Objective",
        "Prompt",
        "First attempts",
        "Difficulty (share correct)",
        "Point-biserial (item-rest)",
        "Upper-lower 27% (D)",
        "Flags",
        "Choice",
        "Correct choice",
        "Chosen by all",
        "Chosen by top 27%",
        "Chosen by bottom 27%",
    ]
    rows: list[list[Any]] = []
    for item in analysis.items:
        flags = "; ".join(item.flags) if item.reliable else f"fewer than {RELIABLE_FROM} attempts"
        for choice in item.choices:
            rows.append(
                [
                    item.question_id,
                    item.where,
                    item.module_title,
                    item.objective,
                    plain_text(item.prompt_html),
                    item.attempts,
                    item.difficulty,
                    item.point_biserial,
                    item.upper_lower,
                    flags,
                    plain_text(choice.label_html),
                    choice.correct,
                    choice.everyone,
                    choice.top,
                    choice.bottom,
                ]
            )
    return header, rows


# Knowledge gain in detail -----------------------------------------------------------------


@dataclass
class Share:
    """Answers to a set of questions: how many, and how many right."""

    answers: int = 0
    correct: int = 0

    def add(self, right: bool) -> None:
        self.answers += 1
        self.correct += right

    @property
    def percent(self) -> float | None:
        return round(100 * self.correct / self.answers, 1) if self.answers else None


@dataclass
class GainRow:
    """Pre-test against first final for one learner, cohort, version, module or question."""

    label: str
    detail: str = ""
    learners: int = 0
    pretest: Share = field(default_factory=Share)
    final: Share = field(default_factory=Share)
    # Learner rows hold the attempt scores, not answer shares.
    pretest_percent: float | None = None
    final_percent: float | None = None
    best_percent: float | None = None

    @property
    def pre(self) -> float | None:
        return self.pretest_percent if self.pretest_percent is not None else self.pretest.percent

    @property
    def post(self) -> float | None:
        return self.final_percent if self.final_percent is not None else self.final.percent

    @property
    def gain(self) -> float | None:
        if self.pre is None or self.post is None:
            return None
        return round(self.post - self.pre, 1)


@dataclass
class GainDetail:
    learners: list[GainRow]
    by_module: list[GainRow]  # each module, then its objectives
    by_question: list[GainRow]
    by_version: list[GainRow]
    by_cohort: list[GainRow]
    without_pretest: int

    @property
    def paired(self) -> int:
        return len(self.learners)

    def _mean(self, values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return round(sum(known) / len(known), 1) if known else None

    @property
    def pretest(self) -> float | None:
        return self._mean([r.pretest_percent for r in self.learners])

    @property
    def final(self) -> float | None:
        return self._mean([r.final_percent for r in self.learners])

    @property
    def best(self) -> float | None:
        return self._mean([r.best_percent for r in self.learners])

    @property
    def gain(self) -> float | None:
        if self.pretest is None or self.final is None:
            return None
        return round(self.final - self.pretest, 1)


Pair = tuple[_Attempt, _Attempt, float]  # pre-test, first final, best final percent


def _scores_row(label: str, detail: str, pairs: Sequence[Pair]) -> GainRow:
    row = GainRow(label, detail, learners=len(pairs))
    count = len(pairs)
    if count:
        row.pretest_percent = round(sum(p.percent for p, _, _ in pairs) / count, 1)
        row.final_percent = round(sum(f.percent for _, f, _ in pairs) / count, 1)
        row.best_percent = round(sum(b for _, _, b in pairs) / count, 1)
    return row


@dataclass(frozen=True)
class Evidence:
    """What a report page shows of its assessments: knowledge gain and the item analysis,
    and, for a cohort's report, its course evaluation (responses and results)."""

    gain: GainDetail
    analysis: ItemAnalysis
    responses: int = 0
    evaluation: list[SurveyResult] = field(default_factory=list)
    # Its sections as a page renders them, kept with it (the template global `kept`).
    shown: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


async def evidence(
    db: AsyncSession, scope: Scope, course: Course, *, with_evaluation: bool = False
) -> Evidence:
    """Gain and item analysis of the scope (and its evaluation), kept together: one statement
    says they all hold."""
    version_id = course.current_version_id

    async def found() -> Evidence:
        responses, results = 0, list[SurveyResult]()
        if with_evaluation:
            responses, results = await service.evaluation_results(db, course, scope.cohort_id)
        return Evidence(
            await _gain_detail(db, scope, version_id),
            await _item_analysis(db, scope, version_id),
            responses,
            results,
        )

    kind = "evidence+evaluation" if with_evaluation else "evidence"
    return await _kept_or(db, kind, scope, version_id, found)


async def _gain_detail(
    db: AsyncSession, scope: Scope, current_version_id: int | None
) -> GainDetail:
    """Pre-test against the first graded final attempt, per learner, module, objective,
    question, course version and cohort. Learners without a pre-test are counted and left
    out; the date range picks learners by when they first took the final."""
    query = _graded(
        _in_scope(
            select(*ATTEMPT_COLUMNS, Enrollment.user_id, User.name.label("learner"))
            .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
            .join(User, User.id == Enrollment.user_id)
            .outerjoin(AttemptAnswer, AttemptAnswer.attempt_id == Attempt.id)
            .where(Attempt.target.in_([PRETEST, FINAL])),
            scope,
        )
    )
    rows = (await db.execute(query)).all()
    names = {r.enrollment_id: (r.user_id, r.learner) for r in rows}
    best: dict[int, float] = {}
    for r in rows:
        if r.target == FINAL:
            best[r.enrollment_id] = max(best.get(r.enrollment_id, 0.0), r.percent)
    firsts = _first_attempts(rows)
    pretests = {a.enrollment_id: a for a in firsts if a.target == PRETEST}
    finals = {
        a.enrollment_id: a for a in firsts if a.target == FINAL and _in_dates(a.submitted_at, scope)
    }
    paired = [(pretests[e], finals[e], best[e]) for e in finals if e in pretests]
    paired.sort(key=lambda p: names[p[0].enrollment_id][1].lower())
    definitions = await _definitions(db, {f.version_id for _, f, _ in paired}, current_version_id)
    placed = _questions(definitions)

    learners = [
        GainRow(
            names[p.enrollment_id][1],
            learners=1,
            pretest_percent=p.percent,
            final_percent=f.percent,
            best_percent=b,
        )
        for p, f, b in paired
    ]
    questions: dict[str, GainRow] = {}
    modules: dict[tuple[str, int | None], GainRow] = {}
    for pretest, final, _ in paired:
        for attempt, side in ((pretest, "pretest"), (final, "final")):
            for question_id, (_, right) in attempt.answers.items():
                where = placed.get(question_id)
                if where is None:
                    continue
                q = where.question
                row = questions.setdefault(
                    question_id, GainRow(question_id, where.module_title or where.where)
                )
                getattr(row, side).add(right)
                if q.module is None:
                    continue
                label = where.module_title or q.module
                whole = modules.setdefault((q.module, None), GainRow(label, "whole module"))
                getattr(whole, side).add(right)
                if q.objective is not None:
                    part = modules.setdefault(
                        (q.module, q.objective), GainRow(label, f"objective {q.objective}")
                    )
                    getattr(part, side).add(right)
    module_order = {m.id: i for d in reversed(definitions) for i, m in enumerate(d.modules)}
    by_module = [
        modules[k]
        for k in sorted(modules, key=lambda k: (module_order.get(k[0], 999), k[0], k[1] or 0))
    ]
    by_question = sorted(questions.values(), key=lambda r: placed[r.label].order)

    version_defs = await catalog.get_definitions(db, {f.version_id for _, f, _ in paired})
    labels = {v: d.version for v, d in version_defs.items()}
    by_version = [
        _scores_row(f"Version {labels.get(v, v)}", "", [p for p in paired if p[1].version_id == v])
        for v in sorted({f.version_id for _, f, _ in paired})
    ]
    by_cohort = await _by_cohort(db, scope, paired, names) if scope.cohort_id is None else []
    return GainDetail(
        learners, by_module, by_question, by_version, by_cohort, len(finals) - len(paired)
    )


async def _by_cohort(
    db: AsyncSession,
    scope: Scope,
    paired: Sequence[Pair],
    names: dict[int, tuple[int, str]],
) -> list[GainRow]:
    """Each cohort the paired learners belong to (a learner in two counts in both)."""
    users = {names[p.enrollment_id][0] for p, _, _ in paired}
    if not users:
        return []
    enrolled = _in_scope(
        select(Enrollment.user_id).where(Enrollment.course_id == scope.course_id), scope
    )
    query = (
        select(Cohort.id, Cohort.name, CohortMember.user_id)
        .join(CohortMember, CohortMember.cohort_id == Cohort.id)
        .where(CohortMember.user_id.in_(enrolled))
        .order_by(Cohort.name)
    )
    members: dict[tuple[int, str], set[int]] = defaultdict(set)
    for cohort_id, name, user_id in (await db.execute(query)).all():
        members[(cohort_id, name)].add(user_id)
    return [
        _scores_row(name, "", [p for p in paired if names[p[0].enrollment_id][0] in ids])
        for (_, name), ids in members.items()
        if users & ids
    ]
