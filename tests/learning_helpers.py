"""Helpers for tests that take courses: load courses, answer quizzes right or wrong."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from lms.catalog import service as catalog
from lms.catalog.definition import CourseDefinition, Question
from lms.catalog.models import Course
from lms.learning.models import ModuleProgress
from tests.conftest import csrf_token


async def definition(db, slug: str) -> CourseDefinition:
    course = await db.scalar(select(Course).where(Course.slug == slug))
    await db.refresh(course)
    return await catalog.get_definition(db, course.current_version_id)


def question_ids(html: str) -> list[str]:
    seen: list[str] = []
    for qid in re.findall(r'name="q:([^"]+)"', html):
        if qid not in seen:
            seen.append(qid)
    return seen


def answer_for(question: Question, right: bool) -> list[str]:
    if question.type == "true_false":
        return ["true" if question.answer == right else "false"]
    correct = [str(i) for i, c in enumerate(question.choices) if c.correct]
    wrong = [str(i) for i, c in enumerate(question.choices) if not c.correct]
    if right:
        return correct
    return wrong[:1]


def questions_by_id(course: CourseDefinition) -> dict[str, Question]:
    """Every question of the course: module quizzes, the final and the pre-test form."""
    by_id = {q.id: q for m in course.modules if m.quiz for q in m.quiz.questions}
    for pool in (course.final, course.pretest_form):
        if pool:
            by_id.update({q.id: q for q in pool.questions})
    return by_id


def answers(course: CourseDefinition, html: str, right: bool = True) -> dict[str, list[str]]:
    by_id = questions_by_id(course)
    return {f"q:{qid}": answer_for(by_id[qid], right) for qid in question_ids(html)}


async def take_quiz(client, start_path: str, course: CourseDefinition, right: bool = True):
    """Start (or continue) a quiz from its start form, answer every question, submit."""
    page_path = start_path.removesuffix("/quiz/start").removesuffix("/start")
    page = await client.get(page_path)
    if start_path.endswith("/quiz/start"):
        await read_through(client, page_path.rsplit("/", 1)[1], course)
    response = await client.post(start_path, data={"_csrf_token": csrf_token(page.text)})
    assert response.status_code == 200, response.text[:500]
    attempt_url = str(response.url.path)
    assert attempt_url.startswith("/attempts/"), attempt_url
    data = answers(course, response.text, right)
    result = await client.post(
        f"{attempt_url}/submit", data={"_csrf_token": csrf_token(response.text), **data}
    )
    assert result.status_code == 200
    return attempt_url, result


async def read_through(client, module_id: str, course: CourseDefinition) -> None:
    """Credit the module's full minutes of reading to the row the page view just touched.

    The shipped courses ask for a seat time (half of each module's minutes) before the
    knowledge check starts; a test reads in milliseconds, so it is given the minutes a learner
    would have spent. The row is the one last seen: the page was opened just before."""
    module = next(m for m in course.modules if m.id == module_id)
    # The app's own pool lives on the test client's loop, so this gets an engine of its own.
    url = client.app.state.engine.url.render_as_string(hide_password=False)
    engine = create_async_engine(url, poolclass=NullPool)
    async with AsyncSession(engine) as session:
        row = await session.scalar(
            select(ModuleProgress)
            .where(ModuleProgress.module_id == module_id)
            .order_by(ModuleProgress.last_seen_at.desc(), ModuleProgress.enrollment_id.desc())
            .limit(1)
        )
        assert row is not None, f"opening {module_id} should have recorded a view"
        row.seconds_spent = max(row.seconds_spent, module.minutes * 60)
        await session.commit()
    await engine.dispose()
