"""Report queries: question statistics, knowledge gain, evaluation results, the audit log."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import unescape
from typing import Any

from sqlalchemy import (
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from lms import audit
from lms.accounts.models import User
from lms.audit import AuditEvent
from lms.catalog import markdown
from lms.catalog import service as catalog
from lms.catalog.definition import CourseDefinition
from lms.catalog.models import Course
from lms.cohorts.models import CohortMember
from lms.learning.models import Enrollment, EvaluationResponse
from lms.quizzes.models import FINAL, PRETEST, Attempt, AttemptAnswer


def plain_text(html: str) -> str:
    """Rendered inline Markdown as plain text, for where markup cannot go (an SVG label)."""
    return unescape(re.sub(r"<[^>]*>", "", html))


@dataclass
class QuestionStat:
    question_id: str
    prompt: str
    where: str
    prompt_html: str = ""  # the prompt's inline Markdown, rendered and sanitised
    answered: int = 0
    correct: int = 0
    # Wrong answers by their text as sanitised HTML (choice texts are Markdown too).
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
    definition = await catalog.current_definition(db, course)
    stats: dict[str, QuestionStat] = {}
    questions: dict[str, Any] = {}
    for module in definition.modules:
        for q in module.quiz.questions if module.quiz else ():
            stats[q.id] = QuestionStat(q.id, q.prompt, module.title, q.prompt_html)
            questions[q.id] = q
    for q in definition.final.questions if definition.final else ():
        stats[q.id] = QuestionStat(q.id, q.prompt, "Final assessment", q.prompt_html)
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
                    stat.wrong_choices[question.choices[index].text_html] += 1
        elif not correct and isinstance(response, bool):
            stat.wrong_choices["True" if response else "False"] += 1
    return list(stats.values())


# The progress matrix's statuses, in the order a report reads them.
STATUSES = ["completed", "in progress", "not started", "withdrawn", "not enrolled"]


def by_status(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Learners by status, in STATUSES order (any other status after them)."""
    order = {status: i for i, status in enumerate(STATUSES)}
    return sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))


@dataclass
class QuestionsSummary:
    questions: int
    answers: int  # every answer to every question
    correct: int
    hardest: QuestionStat | None  # the lowest share correct, of those answered at all

    @property
    def percent_correct(self) -> float | None:
        return round(100 * self.correct / self.answers) if self.answers else None


def summarise_questions(stats: Sequence[QuestionStat]) -> QuestionsSummary:
    answered = [s for s in stats if s.answered]
    hardest = min(answered, key=lambda s: s.correct / s.answered, default=None)
    return QuestionsSummary(
        len(stats), sum(s.answered for s in stats), sum(s.correct for s in stats), hardest
    )


@dataclass
class Gain:
    """Pre-test against the first graded final attempt, over the learners who took both.

    The best final attempt is averaged too, to be shown beside it, never as gain: retakes of
    the same pool measure the pool, not what was learned. Learners with a final but no
    pre-test are counted and left out of both averages.
    """

    learners: int
    pretest: float | None
    final: float | None  # the first graded final attempt
    best: float | None = None
    without_pretest: int = 0

    @property
    def gain(self) -> float | None:
        if self.pretest is None or self.final is None:
            return None
        return round(self.final - self.pretest, 1)


def _average(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 1)


async def knowledge_gain(db: AsyncSession, course: Course, cohort_id: int | None = None) -> Gain:
    """Average pre-test against the average first final attempt, over learners who took both."""
    scope = _enrollment_scope(course.id, cohort_id)
    rows = (
        await db.execute(
            select(Attempt.enrollment_id, Attempt.target, Attempt.percent)
            .where(
                Attempt.enrollment_id.in_(scope),
                Attempt.target.in_([PRETEST, FINAL]),
                Attempt.submitted_at.is_not(None),
                Attempt.percent.is_not(None),
            )
            .order_by(Attempt.enrollment_id, Attempt.number)
        )
    ).all()
    pretests: dict[int, float] = {}
    finals: dict[int, list[float]] = defaultdict(list)
    for enrollment_id, target, percent in rows:
        if percent is None:  # excluded by the query; this tells the type checker
            continue
        if target == PRETEST:
            pretests[enrollment_id] = percent
        else:
            finals[enrollment_id].append(percent)  # in attempt order: the first comes first
    paired = [e for e in finals if e in pretests]
    without = len(finals) - len(paired)
    if not paired:
        return Gain(0, None, None, None, without)
    return Gain(
        len(paired),
        _average([pretests[e] for e in paired]),
        _average([finals[e][0] for e in paired]),
        _average([max(finals[e]) for e in paired]),
        without,
    )


LIKERT = ["Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree"]
AGREE = {"Agree", "Strongly agree"}


@dataclass
class SurveyResult:
    question_id: str
    prompt: str
    type: str
    counts: list[tuple[str, int]]
    comments: list[str]
    responses: int
    prompt_html: str = ""  # the prompt as inline Markdown, rendered and sanitised

    @property
    def prompt_text(self) -> str:
        return plain_text(self.prompt_html)

    @property
    def agreeing(self) -> int:
        """Likert: how many answered Agree or Strongly agree."""
        return sum(n for label, n in self.counts if label in AGREE)

    @property
    def percent_agreeing(self) -> int | None:
        return round(100 * self.agreeing / self.responses) if self.responses else None


async def evaluation_results(
    db: AsyncSession, course: Course, cohort_id: int | None = None
) -> tuple[int, list[SurveyResult]]:
    definition: CourseDefinition = await catalog.current_definition(db, course)
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
        # Evaluation prompts are written like quiz prompts: one line of inline Markdown.
        prompt_html = markdown.render_inline(q.prompt)
        if q.type == "likert":
            tally = Counter(int(v) for v in values)
            counts = [(label, tally.get(i, 0)) for i, label in enumerate(LIKERT, start=1)]
            results.append(
                SurveyResult(q.id, q.prompt, q.type, counts, [], len(values), prompt_html)
            )
        elif q.type == "single":
            chosen = Counter(str(v) for v in values)
            counts = [(choice, chosen.get(choice, 0)) for choice in q.choices]
            results.append(
                SurveyResult(q.id, q.prompt, q.type, counts, [], len(values), prompt_html)
            )
        else:
            comments = [str(v) for v in values]
            results.append(
                SurveyResult(q.id, q.prompt, q.type, [], comments, len(values), prompt_html)
            )
    return len(answers), results


@dataclass
class EvaluationSummary:
    responses: int
    statements: int  # Likert questions
    answers: int  # answers to them all
    agreeing: int  # of those, Agree or Strongly agree
    least_agreed: SurveyResult | None
    comments: int

    @property
    def percent_agreeing(self) -> int | None:
        return round(100 * self.agreeing / self.answers) if self.answers else None


def summarise_evaluation(responses: int, results: Sequence[SurveyResult]) -> EvaluationSummary:
    statements = [r for r in results if r.type == "likert"]
    answered = [r for r in statements if r.responses]
    least = min(answered, key=lambda r: r.agreeing / r.responses, default=None)
    return EvaluationSummary(
        responses,
        len(statements),
        sum(r.responses for r in statements),
        sum(r.agreeing for r in statements),
        least,
        sum(len(r.comments) for r in results),
    )


async def audit_events(
    db: AsyncSession,
    action: str = "",
    actor: str = "",
    entity: str = "",
    since: datetime | None = None,
    limit: int = 300,
) -> list[audit.Entry]:
    """The newest events that match, with names in place of ids."""
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
    events = (await db.scalars(query.limit(limit))).unique().all()
    return await audit.describe(db, events)


async def audit_actions(db: AsyncSession) -> list[str]:
    return sorted((await db.scalars(select(AuditEvent.action).distinct())).all())
