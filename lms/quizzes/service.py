"""Attempts: start (or continue), save answers as the learner goes, submit once, grade."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog import service as catalog
from lms.catalog.definition import CourseDefinition, Question, Quiz
from lms.db import add_once, dialect_name, table_of, utcnow
from lms.errors import Conflict, Forbidden, InvalidInput, NotFound
from lms.forms import Answers
from lms.learning import service as learning
from lms.learning.models import ACTIVE, Enrollment
from lms.learning.progress import Progress, module_of_target, progress_of
from lms.quizzes import grading
from lms.quizzes.models import FINAL, PRETEST, Attempt, AttemptAnswer
from lms.settings import Settings

# A save that arrives this long after the deadline still counts (network latency).
GRACE = timedelta(seconds=20)


def quiz_for(course: CourseDefinition, target: str) -> Quiz:
    if target == PRETEST and course.pretest_form is not None:
        return course.pretest_form
    if target in (FINAL, PRETEST):
        if course.final is None:
            raise NotFound("This course has no final assessment.")
        return course.final
    module_id = module_of_target(target)
    module = course.module(module_id) if module_id is not None else None
    if module is None or module.quiz is None:
        raise NotFound("There is no such knowledge check.")
    return module.quiz


def target_title(course: CourseDefinition, target: str) -> str:
    if target == PRETEST:
        return "Pre-test"
    if target == FINAL:
        return course.final.title if course.final else "Final assessment"
    module_id = module_of_target(target)
    module = course.module(module_id) if module_id is not None else None
    return f"Knowledge check: {module.title}" if module else "Knowledge check"


async def _check_may_start(progress: Progress, quiz: Quiz, target: str, previous: int) -> None:
    if progress.enrollment.status != ACTIVE:
        raise Forbidden("This enrollment is not in progress.")
    if target == PRETEST:
        if not progress.course.pretest:
            raise NotFound("This course has no pre-test.")
        if not progress.pretest_needed:
            raise Conflict("You have already taken the pre-test; it is taken once.")
        return
    if progress.pretest_needed:
        raise Forbidden("Take the pre-test before the first module.")
    if target == FINAL:
        if not progress.modules_done:
            raise Forbidden("The final assessment opens when every module is complete.")
        if progress.final_passed:
            raise Conflict("You have already passed the final assessment.")
    else:
        state = progress.module_state(module_of_target(target) or "")
        if state.status == "locked":
            raise Forbidden("This module is locked: complete the modules before it first.")
        if state.status == "done":
            raise Conflict("You have already passed this knowledge check.")
        progress.check_seat_time(state.module.id, utcnow(), "start its knowledge check")
    allowed = progress.enrollment.attempts_allowed(quiz.max_attempts, target)
    if allowed is not None and previous >= allowed:
        raise Forbidden(
            f"You have used all {allowed} attempts. Your trainer can tell you what happens next."
        )


async def start_attempt(db: AsyncSession, enrollment: Enrollment, target: str) -> Attempt:
    """Return the open attempt at `target`, or start one if the rules allow it."""
    open_attempt = await find_open_attempt(db, enrollment.id, target)
    if open_attempt is not None:
        return open_attempt
    progress = await progress_of(db, enrollment)
    quiz = quiz_for(progress.course, target)
    previous = (
        await db.scalar(
            select(func.count())
            .select_from(Attempt)
            .where(Attempt.enrollment_id == enrollment.id, Attempt.target == target)
        )
        or 0
    )
    await _check_may_start(progress, quiz, target, previous)
    # A final drawn from the pool the pre-test came from avoids the questions seen there.
    course = progress.course
    from_final_pool = course.pretest and course.pretest_form is None
    seen = (
        await _pretest_questions(db, enrollment.id)
        if target == FINAL and from_final_pool
        else set()
    )
    now = utcnow()
    limit = quiz.time_limit_minutes if target != PRETEST else None
    attempt = Attempt(
        enrollment_id=enrollment.id,
        target=target,
        number=previous + 1,
        started_at=now,
        deadline_at=now + timedelta(minutes=limit) if limit else None,
        layout=grading.draw_layout(quiz, random.SystemRandom(), seen),
    )
    if not await add_once(db, attempt):
        # The same attempt was started in another tab a moment ago: use that one.
        found = await find_open_attempt(db, enrollment.id, target)
        if found is None:  # a unique constraint refused it, yet there is no open attempt
            raise Conflict("The attempt could not be started; try again.")
        return found
    await learning.record_activity(db, enrollment, now)
    return attempt


async def _pretest_questions(db: AsyncSession, enrollment_id: int) -> set[str]:
    layouts = await db.scalars(
        select(Attempt.layout).where(
            Attempt.enrollment_id == enrollment_id, Attempt.target == PRETEST
        )
    )
    return {item["q"] for layout in layouts for item in layout}


def review_of(quiz: Quiz, enrollment: Enrollment, attempt: Attempt) -> str:
    """What a graded attempt's page shows: score, mistakes or answers (the contract's rules)."""
    if attempt.target == PRETEST:
        return "score"  # its questions come back on the final
    allowed = enrollment.attempts_allowed(quiz.max_attempts, attempt.target)
    if attempt.passed or (allowed is not None and attempt.number >= allowed):
        return "answers"
    return quiz.review


async def find_open_attempt(db: AsyncSession, enrollment_id: int, target: str) -> Attempt | None:
    return await db.scalar(
        select(Attempt).where(
            Attempt.enrollment_id == enrollment_id,
            Attempt.target == target,
            Attempt.submitted_at.is_(None),
        )
    )


@dataclass
class AttemptView:
    """An attempt with what its page needs: the enrollment, course, quiz and answers."""

    attempt: Attempt
    enrollment: Enrollment
    course: CourseDefinition
    quiz: Quiz
    questions: list[Question]
    answers: dict[str, AttemptAnswer]

    @property
    def title(self) -> str:
        return target_title(self.course, self.attempt.target)

    def choice_order(self, question_id: str) -> list[int]:
        return next(item["c"] for item in self.attempt.layout if item["q"] == question_id)

    def selected(self, question_id: str) -> list[int] | bool | None:
        answer = self.answers.get(question_id)
        return answer.response if answer else None

    @property
    def review(self) -> str:
        return review_of(self.quiz, self.enrollment, self.attempt)

    @property
    def answered(self) -> int:
        return len(self.answers)


# Every save of an answer runs this: built once, not on each request.
_ATTEMPT = (
    select(Attempt, Enrollment)
    .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
    .where(Attempt.id == bindparam("attempt_id"))
)


async def get_attempt_view(
    db: AsyncSession, attempt_id: int, user_id: int, with_answers: bool = True
) -> AttemptView:
    """The attempt, if it belongs to this person; anyone else gets a plain not-found.

    Saving answers does not need the ones saved before (with_answers=False; load_answers).
    """
    row = (await db.execute(_ATTEMPT, {"attempt_id": attempt_id})).first()
    if row is None or row.Enrollment.user_id != user_id:
        raise NotFound("There is no such attempt.")
    return await _view(db, row.Attempt, row.Enrollment, with_answers)


async def get_attempt_in_cohort(
    db: AsyncSession, attempt_id: int, user_id: int, cohort_id: int
) -> AttemptView:
    """A learner's attempt for their trainer: only one made in an enrollment of this cohort."""
    row = (await db.execute(_ATTEMPT, {"attempt_id": attempt_id})).first()
    if (
        row is None
        or row.Enrollment.user_id != user_id
        or row.Enrollment.cohort_id != cohort_id
        or row.Attempt.submitted_at is None  # an open attempt is still the learner's own
    ):
        raise NotFound("There is no such attempt in this cohort.")
    return await _view(db, row.Attempt, row.Enrollment, True)


async def _view(
    db: AsyncSession, attempt: Attempt, enrollment: Enrollment, with_answers: bool
) -> AttemptView:
    course = await catalog.get_definition(db, enrollment.version_id)
    quiz = quiz_for(course, attempt.target)
    view = AttemptView(
        attempt, enrollment, course, quiz, grading.questions_in(quiz, attempt.layout), {}
    )
    if with_answers:
        await load_answers(db, view)
    return view


async def load_answers(db: AsyncSession, view: AttemptView) -> None:
    query = select(AttemptAnswer).where(AttemptAnswer.attempt_id == view.attempt.id)
    view.answers = {a.question_id: a for a in (await db.scalars(query)).all()}


def _time_left(attempt: Attempt, now: datetime) -> bool:
    return attempt.deadline_at is None or now <= attempt.deadline_at + GRACE


# An attempt's form names each answer "q:<question id>".
ANSWER_PREFIX = "q:"


def parse_answers(view: AttemptView, form: Answers) -> dict[str, grading.Response]:
    """The answers of an attempt's form, keyed by question id; tampered values are refused."""
    in_attempt = {q.id: q for q in view.questions}
    if any(question_id not in in_attempt for question_id in form.by_question):
        raise InvalidInput("An answer was sent for a question that is not in this attempt.")
    responses = {}
    for question in view.questions:
        response = grading.parse_response(question, list(form.by_question.get(question.id, [])))
        if response is not None:
            responses[question.id] = response
    return responses


@cache
def _upsert_answers(dialect: str) -> Any:
    """INSERT an answer, or replace the one saved before: built once, run for every answer."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table_of(AttemptAnswer))
    return statement.on_conflict_do_update(
        index_elements=["attempt_id", "question_id"],
        set_={"response": statement.excluded.response, "saved_at": statement.excluded.saved_at},
    )


async def save_answers(
    db: AsyncSession, view: AttemptView, responses: dict[str, grading.Response]
) -> int:
    """Save answers to an open attempt (one upsert for all); return how many were saved."""
    attempt, now = view.attempt, utcnow()
    if attempt.submitted_at is not None:
        raise Conflict("This attempt has been submitted; its answers can no longer change.")
    if not _time_left(attempt, now):
        raise Conflict("Time is up for this attempt. Submit it to see your result.")
    if responses:
        rows = [
            {"attempt_id": attempt.id, "question_id": q, "response": r, "saved_at": now}
            for q, r in responses.items()
        ]
        await db.execute(_upsert_answers(dialect_name(db)), rows)
    await learning.record_activity(db, view.enrollment, now)
    return len(responses)


async def submit(
    db: AsyncSession, settings: Settings, view: AttemptView, responses: dict[str, grading.Response]
) -> Attempt:
    """Submit an attempt once. A second submit (double click, other tab) changes nothing."""
    attempt, now = view.attempt, utcnow()
    if attempt.submitted_at is not None:
        return attempt
    if responses and _time_left(attempt, now):
        await save_answers(db, view, responses)
    late = not _time_left(attempt, now)
    claimed = await db.execute(
        update(Attempt)
        .where(Attempt.id == attempt.id, Attempt.submitted_at.is_(None))
        .values(submitted_at=now, late=late)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult
        await db.refresh(attempt)
        return attempt
    attempt.submitted_at, attempt.late = now, late
    saved = (
        await db.scalars(select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt.id))
    ).all()
    deadline = attempt.deadline_at + GRACE if attempt.deadline_at else None
    in_time = {
        a.question_id: a.response for a in saved if deadline is None or a.saved_at <= deadline
    }
    result = grading.grade(view.quiz, attempt.layout, in_time)
    for answer in saved:
        answer.correct = result.correct.get(answer.question_id, False)
    attempt.points, attempt.max_points, attempt.percent = (
        result.points,
        result.max_points,
        result.percent,
    )
    attempt.passed = None if attempt.target == PRETEST else result.passed
    await learning.record_activity(db, view.enrollment, now)
    await db.flush()
    module_id = module_of_target(attempt.target)
    if module_id is not None and result.passed:
        await learning.complete_module(db, settings, view.enrollment, module_id)
    elif attempt.target == FINAL and result.passed:
        await learning.check_completion(db, settings, view.enrollment)
    return attempt
