"""Helpers for tests that take courses: load courses, answer quizzes right or wrong."""

from __future__ import annotations

import re

from sqlalchemy import select

from lms.catalog import service as catalog
from lms.catalog.definition import CourseDefinition, Question
from lms.catalog.models import Course
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


def answers(course: CourseDefinition, html: str, right: bool = True) -> dict[str, list[str]]:
    by_id = {q.id: q for m in course.modules if m.quiz for q in m.quiz.questions}
    if course.final:
        by_id.update({q.id: q for q in course.final.questions})
    return {f"q:{qid}": answer_for(by_id[qid], right) for qid in question_ids(html)}


async def take_quiz(client, start_path: str, course: CourseDefinition, right: bool = True):
    """Start (or continue) a quiz from its start form, answer every question, submit."""
    page_path = start_path.removesuffix("/quiz/start").removesuffix("/start")
    page = await client.get(page_path)
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
