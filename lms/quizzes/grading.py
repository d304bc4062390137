"""How a quiz is drawn and graded. Pure functions: no database, no web."""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from lms.catalog.definition import Question, QuestionGroup, Quiz
from lms.errors import InvalidInput
from lms.forms import parse_number

Response = list[int] | bool


def draw_layout(quiz: Quiz, rng: random.Random, seen: Collection[str] = ()) -> list[dict[str, Any]]:
    """Pick this attempt's questions and the order of their choices.

    A grouped pool gives `pick` questions of every group, preferring within each group the
    questions in `seen` (those the learner met on the pre-test) least.
    """
    indexed = list(enumerate(quiz.questions))
    groups = quiz.groups
    if not groups and quiz.draw:  # a flat pool with `draw` is one group
        groups = (QuestionGroup(None, quiz.draw, tuple(q.id for q in quiz.questions)),)
    if groups:
        position = {q.id: i for i, q in enumerate(quiz.questions)}
        picked: list[int] = []
        for group in groups:
            fresh = [position[q] for q in group.question_ids if q not in seen]
            met = [position[q] for q in group.question_ids if q in seen]
            rng.shuffle(fresh)
            rng.shuffle(met)
            picked += (fresh + met)[: group.pick]
        indexed = [indexed[i] for i in picked]
        if quiz.shuffle:
            rng.shuffle(indexed)
        else:
            indexed.sort()
    elif quiz.shuffle:
        rng.shuffle(indexed)
    layout = []
    for _, question in indexed:
        order = list(range(len(question.choices)))
        if quiz.shuffle:
            rng.shuffle(order)
        layout.append({"q": question.id, "c": order})
    return layout


def questions_in(quiz: Quiz, layout: Sequence[dict[str, Any]]) -> list[Question]:
    by_id = {q.id: q for q in quiz.questions}
    return [by_id[item["q"]] for item in layout]


def parse_response(question: Question, values: Sequence[str]) -> Response | None:
    """Turn submitted form values into a response; refuse anything the page could not send."""
    values = [v for v in values if v != ""]
    if not values:
        return None
    if question.type == "true_false":
        if len(values) != 1 or values[0] not in ("true", "false"):
            raise InvalidInput(f"That is not an answer to question {question.id}.")
        return values[0] == "true"
    picked = []
    for value in values:
        choice = parse_number(value)
        if choice is None or choice >= len(question.choices):
            raise InvalidInput(f"That is not one of the choices of question {question.id}.")
        picked.append(choice)
    if len(set(picked)) != len(picked):
        raise InvalidInput(f"A choice of question {question.id} was sent twice.")
    if question.type == "single" and len(picked) != 1:
        raise InvalidInput(f"Question {question.id} takes exactly one answer.")
    return sorted(picked)


def is_correct(question: Question, response: Response | None) -> bool:
    if response is None:
        return False
    if question.type == "true_false":
        return response is question.answer
    if isinstance(response, bool):
        return False
    right = {i for i, choice in enumerate(question.choices) if choice.correct}
    return set(response) == right  # multiple: all or nothing


@dataclass(frozen=True)
class Grade:
    points: int
    max_points: int
    percent: float
    passed: bool
    correct: dict[str, bool]


def grade(quiz: Quiz, layout: Sequence[dict[str, Any]], responses: dict[str, Response]) -> Grade:
    questions = questions_in(quiz, layout)
    correct = {q.id: is_correct(q, responses.get(q.id)) for q in questions}
    points = sum(q.points for q in questions if correct[q.id])
    max_points = sum(q.points for q in questions)
    percent = round(100 * points / max_points, 1) if max_points else 0.0
    passed = points * 100 >= quiz.pass_mark * max_points  # exact, not the rounded percent
    return Grade(points, max_points, percent, passed, correct)
