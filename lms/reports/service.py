"""Report queries: evaluation results and the audit log (assessments are in items.py)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
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


def plain_text(html: str) -> str:
    """Rendered inline Markdown as plain text, for where markup cannot go (an SVG label)."""
    return unescape(re.sub(r"<[^>]*>", "", html))


def _enrollment_scope(course_id: int, cohort_id: int | None) -> Any:
    query = select(Enrollment.id).where(Enrollment.course_id == course_id)
    if cohort_id is not None:
        members = select(CohortMember.user_id).where(CohortMember.cohort_id == cohort_id)
        query = query.where(Enrollment.user_id.in_(members))
    return query


# The progress matrix's statuses, in the order a report reads them.
STATUSES = ["completed", "in progress", "not started", "withdrawn", "not enrolled"]


def by_status(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Learners by status, in STATUSES order (any other status after them)."""
    order = {status: i for i, status in enumerate(STATUSES)}
    return sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))


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
