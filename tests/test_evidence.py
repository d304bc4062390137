"""Evidence that holds: question groups, what a graded attempt shows, a pre-test without answers."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import select

from lms.catalog.models import Course
from lms.catalog.validate import check_catalog, check_course
from lms.db import utcnow
from lms.learning.models import Enrollment
from lms.quizzes import grading
from lms.quizzes.models import Attempt
from lms.reports import items
from tests.conftest import csrf_token, load_courses, post, sign_in
from tests.course_factory import COURSE_YAML, FIRST_MODULE, write_course
from tests.learning_helpers import answers, definition, questions_by_id, take_quiz

# A final written only from the contract's second edition: a group per module, each question
# saying which module (and objective) it measures.
GROUPED_FINAL = """\
title: Final assessment
pass_mark: 50
review: score
groups:
  - title: The first module
    pick: 1
    questions:
      - id: f1
        module: first
        objective: 1
        type: true_false
        prompt: The first thing is known.
        answer: true
      - id: f2
        module: first
        type: true_false
        prompt: The first thing is unknown.
        answer: false
  - title: The second module
    pick: 2
    questions:
      - id: f3
        module: second
        type: true_false
        prompt: Three.
        answer: true
      - id: f4
        module: second
        type: true_false
        prompt: Four.
        answer: false
      - id: f5
        module: second
        type: single
        prompt: Five?
        choices:
          - text: Five is right
            correct: true
          - text: Five is wrong
"""

QUIZ_WITH_REVIEW = FIRST_MODULE.replace(
    "  pass_mark: 50\n", "  pass_mark: 50\n  review: {review}\n{extra}"
).replace(
    "        - text: That one\n",
    "        - text: That one\n          feedback: That one is a trap.\n"
    "      explanation: Because this one is the one.\n",
)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # problem paths are shown relative to the working folder


def problems_of(changes: dict[str, str | None]) -> list[str]:
    write_course(Path("courses"), changes=changes)
    return [str(p) for p in check_catalog(Path("courses")).problems]


def test_a_grouped_final_loads_with_what_each_question_measures(tmp_path):
    loaded = check_course(write_course(tmp_path, changes={"assessments/final.yaml": GROUPED_FINAL}))
    assert loaded.ok, loaded.problems
    final = loaded.course.final
    assert [(g.title, g.pick, g.question_ids) for g in final.groups] == [
        ("The first module", 1, ("f1", "f2")),
        ("The second module", 2, ("f3", "f4", "f5")),
    ]
    assert final.questions_per_attempt == 3 and final.review == "score"
    assert [(q.module, q.objective) for q in final.questions[:2]] == [("first", 1), ("first", None)]
    quiz = loaded.course.modules[0].quiz
    # A module quiz's questions measure their own module; first-edition quizzes default to
    # showing mistakes.
    assert quiz.review == "mistakes" and quiz.questions[0].module == "first"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    pick: 2\n",
            "    pick: 4\n",
            "courses/test-course/assessments/final.yaml:20: groups[1].pick: cannot pick 4 "
            "questions from a group of 3",
        ),
        (
            "review: score\n",
            "draw: 2\n",
            "courses/test-course/assessments/final.yaml:3: draw: 'draw' is only for a flat list",
        ),
        (
            "review: score\n",
            "review: everything\n",
            "courses/test-course/assessments/final.yaml:3: review: must be one of score, "
            "mistakes, answers (found 'everything')",
        ),
        (
            "review: score\n",
            "questions:\n  - id: x1\n    type: true_false\n    prompt: X.\n    answer: true\n",
            "courses/test-course/assessments/final.yaml:8: groups: a pool has either "
            "'questions' or 'groups', not both",
        ),
        (
            "        module: second\n        type: single\n",
            "        module: third\n        type: single\n",
            "courses/test-course/assessments/final.yaml:33: groups[1].questions[2].module: no "
            "module 'third' in this course (its modules: first, second)",
        ),
        (
            "        objective: 1\n",
            "        objective: 2\n",
            "courses/test-course/assessments/final.yaml:10: groups[0].questions[0].objective: "
            "module 'first' has 1 objective, so there is no objective 2",
        ),
        (
            "      - id: f3\n        module: second\n",
            "      - id: f3\n        objective: 1\n",
            "courses/test-course/assessments/final.yaml:23: groups[1].questions[0].objective: "
            "an objective is counted in a module",
        ),
        (
            "  - title: The second module\n    pick: 2\n    questions:\n",
            "  - title: The second module\n    pick: 2\n    questionz:\n",
            "courses/test-course/assessments/final.yaml:21: groups[1].questionz: unknown field",
        ),
    ],
)
def test_a_broken_grouped_final_is_refused_at_its_line(old, new, expected):
    assert old in GROUPED_FINAL
    problems = problems_of({"assessments/final.yaml": GROUPED_FINAL.replace(old, new, 1)})
    assert any(p.startswith(expected) for p in problems), problems


def test_a_module_quiz_question_cannot_name_another_module_or_a_missing_objective():
    quiz = FIRST_MODULE.replace("    - id: q2\n", "    - id: q2\n      module: second\n").replace(
        "      prompt: Which is right?\n", "      prompt: Which is right?\n      objective: 3\n"
    )
    problems = problems_of({"modules/first.md": quiz})
    assert any(
        p.startswith("courses/test-course/modules/first.md:")
        and "quiz.questions[1].module: a question of module 'first's quiz" in p
        for p in problems
    ), problems
    assert any(
        "quiz.questions[0].objective: module 'first' has 1 objective, so there is no objective 3"
        in p
        for p in problems
    ), problems


def test_every_attempt_covers_every_group_and_avoids_what_the_pre_test_showed(tmp_path):
    loaded = check_course(write_course(tmp_path, changes={"assessments/final.yaml": GROUPED_FINAL}))
    final = loaded.course.final
    module_of = {q.id: q.module for q in final.questions}
    drawn: set[str] = set()
    for seed in range(200):
        layout = grading.draw_layout(final, random.Random(seed))
        ids = [item["q"] for item in layout]
        assert [module_of[q] for q in ids].count("first") == 1
        assert [module_of[q] for q in ids].count("second") == 2
        drawn.update(ids)
        # Seen on the pre-test: f1, f3 and f4. The first group has f2 left, the second only f5,
        # so one question seen before fills its second place.
        again = [
            item["q"]
            for item in grading.draw_layout(final, random.Random(seed), seen={"f1", "f3", "f4"})
        ]
        assert "f2" in again and "f5" in again and "f1" not in again
    assert drawn == {"f1", "f2", "f3", "f4", "f5"}  # the draw is random, not always the same


async def _enrolled_in_review_course(client, db, tmp_path, review: str, extra: str = ""):
    """The test course with `review` on its quiz; the learner signed in and enrolled."""
    module = QUIZ_WITH_REVIEW.format(review=review, extra=extra)
    await load_courses(
        db, write_course(tmp_path / "courses", changes={"modules/first.md": module}).parent
    )
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/test-course/enroll")
    return await definition(db, "test-course")


START = "/courses/test-course/modules/first/quiz/start"


async def test_review_mistakes_marks_what_was_wrong_without_the_right_answers(
    client, db, tmp_path, people
):
    course = await _enrolled_in_review_course(client, db, tmp_path, "mistakes")
    _, result = await take_quiz(client, START, course, right=False)
    page = result.text
    assert "You scored 0%" in page and "Not correct" in page
    assert "That one" in page and "That one is a trap." in page  # the chosen choice's feedback
    assert "This one" not in page  # the correct choice of a question answered wrongly
    assert "correct answer" not in page and "Because this one" not in page
    assert "The statement is" not in page  # the true/false key stays hidden too
    _, passed = await take_quiz(client, START, course, right=True)
    assert "You passed" in passed.text and "correct answer" in passed.text
    assert "Because this one is the one." in passed.text


async def test_review_score_shows_only_the_score(client, db, tmp_path, people):
    course = await _enrolled_in_review_course(client, db, tmp_path, "score")
    _, result = await take_quiz(client, START, course, right=False)
    assert "You scored 0%" in result.text
    assert "Your answers" not in result.text and "Which is right?" not in result.text
    assert "That one" not in result.text and "This one" not in result.text


async def test_review_answers_shows_the_answers(client, db, tmp_path, people):
    course = await _enrolled_in_review_course(client, db, tmp_path, "answers")
    _, result = await take_quiz(client, START, course, right=False)
    assert "correct answer" in result.text and "Because this one is the one." in result.text


async def test_the_last_allowed_attempt_shows_the_answers(client, db, tmp_path, people):
    course = await _enrolled_in_review_course(
        client, db, tmp_path, "score", extra="  max_attempts: 2\n"
    )
    _, first = await take_quiz(client, START, course, right=False)
    assert "Which is right?" not in first.text
    _, last = await take_quiz(client, START, course, right=False)
    assert "correct answer" in last.text and "Because this one is the one." in last.text


async def test_the_pre_test_shows_the_score_and_no_answer(client, db, people):
    await load_courses(db)
    course = await definition(db, "sop-intro")
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/sop-intro/enroll")
    landing = await client.get("/courses/sop-intro/pretest")
    attempt = await client.post(
        "/courses/sop-intro/pretest/start", data={"_csrf_token": csrf_token(landing.text)}
    )
    token = csrf_token(attempt.text)
    data = answers(course, attempt.text, right=False)
    saved = await client.post(
        f"{attempt.url.path}/save",
        data={"_csrf_token": token, **data},
        headers={"accept": "application/json"},
    )
    assert saved.status_code == 200 and set(saved.json()) == {"saved", "at"}
    result = await client.post(f"{attempt.url.path}/submit", data={"_csrf_token": token, **data})
    page = result.text
    assert "Pre-test recorded" in page and "answers are not shown" in page
    (taken,) = (await db.scalars(select(Attempt).where(Attempt.target == "pretest"))).all()
    by_id = questions_by_id(course)
    for item in taken.layout:
        question = by_id[item["q"]]
        assert question.prompt_html not in page
        for choice in question.choices:
            assert choice.text_html not in page, choice.text
        assert not question.explanation_html or question.explanation_html not in page
    assert "correct answer" not in page and "Your answers" not in page


async def test_gain_is_the_first_final_attempt_and_learners_without_a_pre_test_are_left_out(
    db, people
):
    await load_courses(db)
    course = await db.scalar(select(Course).where(Course.slug == "sop-intro"))

    def enrolled(user) -> Enrollment:
        return Enrollment(
            user_id=user.id,
            course_id=course.id,
            version_id=course.current_version_id,
            status="active",
        )

    first, second, third = (
        enrolled(people["learner"]),
        enrolled(people["learner2"]),
        enrolled(people["trainer"]),
    )
    db.add_all([first, second, third])
    await db.flush()
    now = utcnow()

    def attempt(enrollment, target, number, percent) -> Attempt:
        return Attempt(
            enrollment_id=enrollment.id,
            target=target,
            number=number,
            layout=[],
            submitted_at=now,
            percent=percent,
            passed=None if target == "pretest" else percent >= 80,
        )

    db.add_all(
        [
            # Learner one: 40 on the pre-test, 60 then 90 on the final: a gain of 20, not 50.
            attempt(first, "pretest", 1, 40.0),
            attempt(first, "final", 1, 60.0),
            attempt(first, "final", 2, 90.0),
            # Learner two: 50, then 85 at the first try.
            attempt(second, "pretest", 1, 50.0),
            attempt(second, "final", 1, 85.0),
            # The third took the final without a pre-test (enrolled before it was asked for).
            attempt(third, "final", 1, 100.0),
        ]
    )
    await db.commit()
    gain = (await items.evidence(db, items.Scope(course.id), course)).gain
    assert (gain.paired, gain.without_pretest) == (2, 1)
    assert (gain.pretest, gain.final, gain.best) == (45.0, 72.5, 87.5)
    assert gain.gain == 27.5
    by_learner = {r.label: (r.pre, r.post, r.gain, r.best_percent) for r in gain.learners}
    assert by_learner == {
        people["learner"].name: (40.0, 60.0, 20.0, 90.0),
        people["learner2"].name: (50.0, 85.0, 35.0, 85.0),
    }


PRETEST_FORM = """\
title: Before you start
groups:
  - pick: 1
    questions:
      - id: p1
        module: first
        objective: 1
        type: true_false
        prompt: Parallel one.
        answer: true
  - pick: 1
    questions:
      - id: p2
        module: second
        type: true_false
        prompt: Parallel two.
        answer: false
"""
WITH_PRETEST = COURSE_YAML + "pretest: true\n"


def test_a_parallel_pre_test_form_loads_and_is_refused_without_pretest_true(tmp_path):
    changes = {
        "course.yaml": WITH_PRETEST,
        "assessments/final.yaml": GROUPED_FINAL,
        "assessments/pretest.yaml": PRETEST_FORM,
    }
    loaded = check_course(write_course(tmp_path, changes=changes))
    assert loaded.ok, loaded.problems
    form = loaded.course.pretest_form
    assert form.title == "Before you start" and [q.id for q in form.questions] == ["p1", "p2"]
    assert form.questions[0].objective == 1
    without = problems_of({**changes, "course.yaml": COURSE_YAML})
    assert any(
        p.startswith("courses/test-course/assessments/pretest.yaml:1: (file): ")
        and "does not ask for a pre-test" in p
        for p in without
    ), without
    graded = problems_of({**changes, "assessments/pretest.yaml": "pass_mark: 60\n" + PRETEST_FORM})
    assert any(
        p.startswith("courses/test-course/assessments/pretest.yaml:1: pass_mark: unknown field")
        for p in graded
    ), graded
    reused = problems_of(
        {**changes, "assessments/pretest.yaml": PRETEST_FORM.replace("id: p2", "id: f2")}
    )
    assert any(
        "pretest.yaml:13: groups[1].questions[0].id: duplicate question id 'f2'" in p
        for p in reused
    ), reused


async def test_the_pre_test_is_the_parallel_form_when_there_is_one(client, db, tmp_path, people):
    changes = {
        "course.yaml": WITH_PRETEST,
        "assessments/final.yaml": GROUPED_FINAL,
        "assessments/pretest.yaml": PRETEST_FORM,
    }
    await load_courses(db, write_course(tmp_path / "courses", changes=changes).parent)
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/test-course/enroll")
    landing = await client.get("/courses/test-course/pretest")
    attempt = await client.post(
        "/courses/test-course/pretest/start", data={"_csrf_token": csrf_token(landing.text)}
    )
    assert "Parallel one." in attempt.text and "Parallel two." in attempt.text
    assert "The first thing is known." not in attempt.text  # no question of the final
