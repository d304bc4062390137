"""Item analysis and knowledge gain in detail, from attempts whose answers are designed.

Twenty-five learners of rising ability take a final of six questions: one everybody gets
right, one only the best get right, three that follow ability, and one that the weakest get
right and the strongest get wrong, choosing the same wrong answer. An evaluator expects the
first flagged too easy, the second too hard, the fourth negative, and the rest left alone.
"""

from __future__ import annotations

import csv
import io
import statistics

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from lms.catalog.models import Course
from lms.cohorts.models import Cohort, CohortMember
from lms.db import forget_kept, utcnow
from lms.learning.models import Enrollment
from lms.quizzes.models import Attempt, AttemptAnswer
from lms.reports import items
from tests.conftest import add_courses, make_person, sign_in
from tests.course_factory import COURSE_YAML
from tests.test_query_counts import count, statements  # noqa: F401  (a fixture)


def _single(qid: str, module: str | None = None) -> str:
    measured = f"    module: {module}\n    objective: 1\n" if module else ""
    return (
        f"  - id: {qid}\n    type: single\n{measured}    prompt: Question {qid}?\n"
        "    choices:\n      - text: Key\n        correct: true\n"
        "      - text: Wrong one\n      - text: Wrong two\n"
    )


QUESTIONS = ["easy", "hard", "good1", "good2", "good3", "reversed"]
FINAL = "title: Final\npass_mark: 50\nquestions:\n" + "".join(
    _single(q, "first" if q.startswith("good") else None) for q in QUESTIONS
)
LEARNERS = 25


def right(question: str, ability: int) -> bool:
    """Who answers each question right: ability runs from 0 (weakest) to 24 (strongest)."""
    return {
        "easy": True,
        "hard": ability >= 22,
        "good1": ability >= 6,
        "good2": ability >= 10,
        "good3": ability >= 14,
        "reversed": ability < 8,
    }[question]


def wrong_choice(question: str, ability: int) -> int:
    # The reversed question's strong learners all take the same wrong answer; elsewhere the
    # wrong answers are spread over both wrong choices.
    return 1 if question == "reversed" else 1 + ability % 2


@pytest.fixture
async def course(db, tmp_path) -> Course:
    courses = await add_courses(
        db,
        tmp_path / "courses",
        {
            "test-course": {
                "course.yaml": COURSE_YAML + "pretest: true\n",
                "assessments/final.yaml": FINAL,
            }
        },
    )
    return courses["test-course"]


async def take(db, enrollment, target, number, answers: dict[str, tuple[int, bool]]) -> Attempt:
    points = sum(ok for _, ok in answers.values())
    attempt = Attempt(
        enrollment_id=enrollment.id,
        target=target,
        number=number,
        layout=[],
        submitted_at=utcnow(),
        points=points,
        max_points=len(answers),
        percent=100 * points / len(answers),
        passed=None if target == "pretest" else points * 2 >= len(answers),
    )
    db.add(attempt)
    await db.flush()
    for qid, (choice, ok) in answers.items():
        db.add(AttemptAnswer(attempt_id=attempt.id, question_id=qid, response=[choice], correct=ok))
    return attempt


async def crowd(db, settings, course, learners: int = LEARNERS, first: int = 0) -> list[Attempt]:
    """Learners `first`.. of rising ability, each with a pre-test and one final attempt."""
    finals = []
    for ability in range(first, first + learners):
        user = await make_person(
            db, settings, f"able{ability}@example.org", name=f"Able {ability:02}"
        )
        enrollment = Enrollment(
            user_id=user.id, course_id=course.id, version_id=course.current_version_id
        )
        db.add(enrollment)
        await db.flush()
        # Before the course nobody knows the three ability questions.
        await take(
            db, enrollment, "pretest", 1, {q: (1, False) for q in ("good1", "good2", "good3")}
        )
        answers = {
            q: (0, True) if right(q, ability) else (wrong_choice(q, ability), False)
            for q in QUESTIONS
        }
        finals.append(await take(db, enrollment, "final", 1, answers))
        if ability == 0:  # a retake with every answer right: it must not count
            await take(db, enrollment, "final", 2, {q: (0, True) for q in QUESTIONS})
    await db.commit()
    return finals


def expected(finals: list[Attempt], question: str) -> dict[str, object]:
    """The statistics worked out here, the plain way, to check the report's."""
    abilities = range(len(finals))
    x = [1.0 if right(question, a) else 0.0 for a in abilities]
    rest = [(f.points - x[a]) / (f.max_points - 1) for a, f in zip(abilities, finals, strict=True)]
    ranked = sorted(abilities, key=lambda a: (finals[a].percent, finals[a].id))
    size = round(0.27 * len(finals))
    top, bottom = ranked[-size:], ranked[:size]
    share = sum(x) / len(x)
    return {
        "difficulty": round(share, 2),
        "point_biserial": round(statistics.correlation(x, rest), 2) if 0 < share < 1 else None,
        "upper_lower": round(sum(x[a] for a in top) / size - sum(x[a] for a in bottom) / size, 2),
        "top_choices": [
            sum(1 for a in top if (0 if right(question, a) else wrong_choice(question, a)) == c)
            for c in range(3)
        ],
    }


async def test_item_statistics_and_flags(db, settings, course):
    finals = await crowd(db, settings, course)
    analysis = await items.item_analysis(db, items.Scope(course.id), course.current_version_id)
    assert analysis.learners == LEARNERS and analysis.attempts == LEARNERS  # not the retake
    found = {i.question_id: i for i in analysis.items}
    assert list(found) == QUESTIONS  # in the order of the course
    for question, item in found.items():
        want = expected(finals, question)
        assert item.attempts == LEARNERS and item.reliable
        assert item.difficulty == want["difficulty"], question
        assert item.point_biserial == want["point_biserial"], question
        assert item.upper_lower == want["upper_lower"], question
        assert [c.top for c in item.choices] == want["top_choices"], question
        assert sum(c.everyone for c in item.choices) == LEARNERS
    assert found["easy"].flags == ["too easy"]
    assert found["hard"].flags == ["too hard"]
    assert found["reversed"].flags == [
        "negative discrimination",
        "a wrong choice draws the top group more than the key",
    ]
    for good in ("good1", "good2", "good3"):
        assert found[good].flags == [], (good, found[good].point_biserial)
        assert found[good].point_biserial is not None and found[good].point_biserial > 0.3


async def test_with_fewer_than_twenty_attempts_nothing_is_flagged(db, settings, course):
    await crowd(db, settings, course, learners=19)
    analysis = await items.item_analysis(db, items.Scope(course.id), course.current_version_id)
    assert analysis.items and all(not i.reliable and i.flags == [] for i in analysis.items)
    assert analysis.unreliable == len(QUESTIONS) and analysis.flagged == []


async def test_gain_by_module_objective_and_question(db, settings, course):
    await crowd(db, settings, course)
    gain = (await items.evidence(db, items.Scope(course.id), course)).gain
    assert gain.paired == LEARNERS and gain.without_pretest == 0
    questions = {r.label: r for r in gain.by_question}
    # Learners right on good2 at the first final: abilities 10 to 24, 15 of 25.
    assert (questions["good2"].pretest.answers, questions["good2"].pre) == (LEARNERS, 0.0)
    assert (questions["good2"].final.answers, questions["good2"].post) == (LEARNERS, 60.0)
    assert questions["good2"].gain == 60.0
    # The pre-test did not ask the easy question: no pre-test share, no gain.
    assert questions["easy"].pre is None and questions["easy"].gain is None
    modules = {(r.label, r.detail): r for r in gain.by_module}
    objective = modules[("The first module", "objective 1")]
    right_answers = sum(right(q, a) for q in ("good1", "good2", "good3") for a in range(LEARNERS))
    assert objective.final.answers == 3 * LEARNERS
    assert objective.post == round(100 * right_answers / (3 * LEARNERS), 1)
    assert objective.pre == 0.0
    learner = gain.learners[0]  # Able 00, whose retake is not the first attempt
    assert learner.label == "Able 00" and learner.best_percent == 100.0
    assert learner.post is not None and round(learner.post, 1) == 33.3  # easy and reversed


async def test_the_course_report_filters_and_exports(client, db, settings, course, people):
    await crowd(db, settings, course, learners=10)
    cohort = Cohort(name="Small cohort")
    db.add(cohort)
    await db.flush()
    members = (await db.scalars(select(Enrollment.user_id))).all()[:4]
    db.add_all(CohortMember(cohort_id=cohort.id, user_id=u) for u in members)
    await crowd(db, settings, course, learners=15, first=10)
    await sign_in(client, "admin@example.org")
    admin_page = await client.get("/admin/courses/test-course")
    assert 'href="/admin/courses/test-course/report"' in admin_page.text
    page = await client.get("/admin/courses/test-course/report")
    assert page.status_code == 200
    assert "from 25 first graded attempts by 25 learners" in page.text
    assert "too easy" in page.text and "negative discrimination" in page.text
    assert "25 learners took both the pre-test and the final" in page.text
    small = await client.get(f"/admin/courses/test-course/report?cohort={cohort.id}")
    assert "from 4 first graded attempts by 4 learners" in small.text
    assert "not yet reliable" in small.text and "too easy" not in small.text
    tomorrow = await client.get("/admin/courses/test-course/report?since=2999-01-01")
    assert "Nobody has taken a knowledge check or the final yet" in tomorrow.text
    bad = await client.get("/admin/courses/test-course/report?since=yesterday")
    assert bad.status_code == 400 and "From must be a date like 2026-01-01." in bad.text

    exported = await client.get("/admin/courses/test-course/report?fmt=csv")
    assert exported.status_code == 200
    assert 'filename="items-test-course.csv"' in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert len(rows) == len(QUESTIONS) * 3  # one row per question and choice
    easy = [r for r in rows if r["Question"] == "easy"]
    assert [r["Choice"] for r in easy] == ["Key", "Wrong one", "Wrong two"]
    assert easy[0]["Flags"] == "too easy" and easy[0]["Difficulty (share correct)"] == "1.0"
    assert [r["Chosen by all"] for r in easy] == ["25", "0", "0"]
    xlsx = await client.get(f"/admin/courses/test-course/report?fmt=xlsx&cohort={cohort.id}")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = list(sheet.values)
    assert values[0][0] == "Question" and len(values) == 1 + len(QUESTIONS) * 3
    assert values[1][9] == "fewer than 20 attempts"

    await sign_in(client, "trainer@example.org")
    assert (await client.get("/admin/courses/test-course/report")).status_code == 403


async def test_the_course_report_sends_a_fixed_number_of_statements(
    client,
    db,
    settings,
    course,
    people,
    statements,  # noqa: F811
):
    await crowd(db, settings, course, learners=5)
    await sign_in(client, "admin@example.org")
    report = "/admin/courses/test-course/report"
    await client.get(report)  # the course's content, parsed once
    forget_kept()
    few = await count(statements, client.get(report))
    await crowd(db, settings, course, learners=30, first=5)
    many = await count(statements, client.get(report))  # new attempts: worked out again
    assert few == many <= 9, (few, many)
    # Read again with no new attempt, the kept analysis is used: one statement says so.
    again = await count(statements, client.get(report))
    assert again == many - 3, (again, many)


async def test_a_kept_analysis_gives_way_to_new_attempts(client, db, settings, course, people):
    await crowd(db, settings, course, learners=3)
    scope = items.Scope(course.id)
    first = await items.item_analysis(db, scope, course.current_version_id)
    assert first.attempts == 3
    assert await items.item_analysis(db, scope, course.current_version_id) is first
    await crowd(db, settings, course, learners=2, first=3)
    later = await items.item_analysis(db, scope, course.current_version_id)
    assert later.attempts == 5 and later is not first
    gain = (await items.evidence(db, scope, course)).gain
    assert gain.paired == 5


async def test_a_kept_cohort_report_gives_way_to_a_new_evaluation(db, settings, tmp_path):
    """The cohort report keeps its evaluation results with the item analysis: one statement
    must notice a new evaluation response as it notices a new attempt."""
    from lms.learning.models import EvaluationResponse

    courses = await add_courses(
        db,
        tmp_path / "evaluated",
        {
            "evaluated": {
                "course.yaml": COURSE_YAML + "pretest: true\n",
                "assessments/final.yaml": FINAL,
                "assessments/evaluation.yaml": (
                    "title: Evaluation\nquestions:\n"
                    "  - {id: e1, type: likert, prompt: The course was clear.}\n"
                ),
            }
        },
    )
    course = courses["evaluated"]
    cohort = Cohort(name="Evaluated cohort")
    db.add(cohort)
    await db.flush()
    finals = await crowd(db, settings, course, learners=2)
    for attempt in finals:
        enrollment = await db.get(Enrollment, attempt.enrollment_id)
        db.add(CohortMember(cohort_id=cohort.id, user_id=enrollment.user_id))
    await db.flush()
    scope = items.Scope(course.id, cohort.id)
    first = await items.evidence(db, scope, course, with_evaluation=True)
    assert first.responses == 0 and first.analysis.attempts == 2
    assert await items.evidence(db, scope, course, with_evaluation=True) is first
    db.add(
        EvaluationResponse(
            enrollment_id=finals[0].enrollment_id,
            version_id=course.current_version_id,
            answers={"e1": 4},
        )
    )
    await db.flush()
    later = await items.evidence(db, scope, course, with_evaluation=True)
    assert later is not first and later.responses == 1
    [statement] = later.evaluation
    assert dict(statement.counts)["Agree"] == 1
