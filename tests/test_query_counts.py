"""The busy pages cost the same few SQL statements however much data there is.

Each test counts the statements a page sends, adds learners, enrollments, attempts and
completions, and counts again. The budgets are what the pages cost when this was written
(see docs/scaling.md): a page that needs more has found a new cost, not a bigger database.
"""

from __future__ import annotations

import itertools
import re

import pytest
from sqlalchemy import event, text, update

from lms.accounts.models import User
from lms.cohorts.models import Cohort, CohortCourse, CohortMember, CohortTrainer
from lms.db import utcnow
from lms.learning import service as learning
from lms.learning.models import Enrollment, ModuleProgress
from lms.quizzes.models import Attempt
from tests.conftest import csrf_token, make_person, sign_in
from tests.course_factory import COURSE_YAML

LAYOUT = [{"q": "q1", "c": [0, 1]}, {"q": "q2", "c": []}]
_numbers = itertools.count()


# Loaded by the `courses` fixture in conftest.py.
COURSES = {"online": {}, "other": {"course.yaml": COURSE_YAML.replace("Test Course", "Other")}}


@pytest.fixture
def statements(app, client) -> list[str]:
    """Every statement the app sends to its database, from now on."""
    found: list[str] = []
    event.listen(
        app.state.engine.sync_engine, "before_cursor_execute", lambda *a: found.append(a[2])
    )
    return found


async def count(statements: list[str], request) -> int:
    statements.clear()
    response = await request
    assert response.status_code in (200, 303), response.text[:300]
    return len(statements)


async def crowd(db, settings, courses, people: int, cohort_id: int | None = None) -> None:
    """More learners, each with completed enrollments, module progress and attempts."""
    now = utcnow()
    for _ in range(people):
        n = next(_numbers)
        user = await make_person(db, settings, f"crowd{n}@example.org", name=f"Crowd {n}")
        if cohort_id is not None:
            db.add(CohortMember(cohort_id=cohort_id, user_id=user.id))
        for course in courses.values():
            enrollment = Enrollment(
                user_id=user.id,
                course_id=course.id,
                version_id=course.current_version_id,
                status="completed",
                enrolled_at=now,
                completed_at=now,
                last_activity_at=now,
            )
            db.add(enrollment)
            await db.flush()
            for module_id in ("first", "second"):
                db.add(
                    ModuleProgress(
                        enrollment_id=enrollment.id,
                        module_id=module_id,
                        status="done",
                        opened_at=now,
                        last_seen_at=now,
                        completed_at=now,
                    )
                )
            for number in (1, 2):
                db.add(
                    Attempt(
                        enrollment_id=enrollment.id,
                        target="module:first",
                        number=number,
                        started_at=now,
                        submitted_at=now,
                        layout=LAYOUT,
                        points=number,
                        max_points=2,
                        percent=50.0 * number,
                        passed=number == 2,
                    )
                )
    await db.commit()


async def start_knowledge_check(client) -> tuple[str, str]:
    """Start the first module's knowledge check: (attempt id, CSRF token)."""
    page = await client.get("/courses/online/modules/first")
    started = await client.post(
        "/courses/online/modules/first/quiz/start", data={"_csrf_token": csrf_token(page.text)}
    )
    return re.search(r"/attempts/(\d+)", str(started.url)).group(1), csrf_token(started.text)


async def test_learner_pages_cost_the_same_with_more_data(
    client, db, settings, courses, people, statements
):
    learner = people["learner"]
    await learning.enroll(db, learner, courses["online"])
    await db.commit()
    await sign_in(client, "learner@example.org")
    module = "/courses/online/modules/first"
    await client.get(module)  # the first visit records the module as opened
    dashboard = await count(statements, client.get("/"))
    module_page = await count(statements, client.get(module))

    await learning.enroll(db, learner, courses["other"])
    await db.commit()
    await crowd(db, settings, courses, 12)
    await client.get("/courses/other/modules/first")
    assert await count(statements, client.get("/")) == dashboard
    assert await count(statements, client.get(module)) == module_page
    # The person and their session; enrollments with certificates; everything on progress.
    assert dashboard <= 3, statements
    # Those three, then the time spent on the module: in the statement that reads progress
    # on PostgreSQL, one more UPDATE on SQLite.
    postgresql = "WITH seen AS" in " ".join(statements)
    assert module_page <= (3 if postgresql else 4), statements


async def test_saving_answers_costs_the_same_for_one_answer_or_all(
    client, db, settings, courses, people, statements
):
    await learning.enroll(db, people["learner"], courses["online"])
    await db.commit()
    await sign_in(client, "learner@example.org")
    attempt, token = await start_knowledge_check(client)

    def save(answers: dict[str, str]):
        return client.post(
            f"/attempts/{attempt}/save",
            data={"_csrf_token": token, **answers},
            headers={"accept": "application/json"},
        )

    one = await count(statements, save({"q:q1": "0"}))
    both = await count(statements, save({"q:q1": "1", "q:q2": "true"}))
    await crowd(db, settings, courses, 12)
    again = await count(statements, save({"q:q1": "0", "q:q2": "false"}))
    assert one == both == again, statements
    # The person and their session; the attempt; one upsert of the answers; last activity.
    assert again <= 4, statements


async def test_matrix_and_completions_cost_the_same_with_more_data(
    client, db, settings, courses, people, statements
):
    cohort = Cohort(name="Statewide")
    db.add(cohort)
    await db.flush()
    db.add(CohortTrainer(cohort_id=cohort.id, user_id=people["trainer"].id))
    db.add(CohortCourse(cohort_id=cohort.id, course_id=courses["online"].id))
    await db.commit()
    await crowd(db, settings, courses, 2, cohort.id)
    await sign_in(client, "trainer@example.org")
    matrix_path = f"/cohorts/{cohort.id}/progress"
    await client.get(matrix_path)
    matrix = await count(statements, client.get(matrix_path))
    await sign_in(client, "admin@example.org")
    await client.get("/admin/completions")
    completions = await count(statements, client.get("/admin/completions"))

    await crowd(db, settings, courses, 15, cohort.id)
    await crowd(db, settings, courses, 5)
    report = await client.get("/admin/completions")
    assert "44 completions" in report.text
    assert await count(statements, client.get("/admin/completions")) == completions
    await sign_in(client, "trainer@example.org")
    page = await client.get(matrix_path)
    assert page.text.count("Crowd ") == 17
    assert await count(statements, client.get(matrix_path)) == matrix
    # The person; the cohort and whether they run it; its courses; members with their
    # enrollments; everything on progress.
    assert matrix <= 5, statements
    # The person; totals; a page of rows; the courses and counties to filter by.
    assert completions <= 4, statements


async def _prepared_plans(app) -> list[tuple[int, int, str]]:
    """How often PostgreSQL planned each of the app's prepared statements, on its connection."""
    async with app.state.engine.connect() as conn:
        query = "SELECT generic_plans, custom_plans, statement FROM pg_prepared_statements"
        return [tuple(row) for row in await conn.execute(text(query))]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_learner_pages_settle_on_one_plan_on_postgresql(client, app, db, courses, people):
    """A prepared statement whose plan PostgreSQL works out afresh on every run costs more
    to plan than to run (the progress query took 0.27 ms to plan, 0.12 ms to run); the
    statements of the pages a learner opens most must settle on one generic plan."""
    learner = people["learner"]
    await learning.enroll(db, learner, courses["online"])
    await learning.enroll(db, learner, courses["other"])
    await db.commit()
    await sign_in(client, "learner@example.org")
    attempt, token = await start_knowledge_check(client)
    for _ in range(10):
        for path in ("/", "/courses", "/courses/online", "/courses/other/modules/first"):
            assert (await client.get(path)).status_code == 200, path
        saved = await client.post(
            f"/attempts/{attempt}/save",
            data={"_csrf_token": token, "q:q1": "0"},
            headers={"accept": "application/json"},
        )
        assert saved.status_code == 200, saved.text
    plans = client.blocking_portal.call(_prepared_plans, app)
    # Every request ran on this one connection (else this test would prove nothing).
    assert any(s.startswith("WITH seen AS") and g + c >= 10 for g, c, s in plans), plans
    replanned = [s for g, c, s in plans if c > 5 and g == 0]
    assert replanned == [], replanned


async def test_my_team_costs_the_same_for_a_bigger_team(
    client, db, settings, courses, people, statements
):
    supervisor = people["learner2"]
    people["learner"].supervisor_id = supervisor.id
    await learning.enroll(db, people["learner"], courses["online"])
    await db.commit()
    await sign_in(client, "learner2@example.org")
    small = await count(statements, client.get("/team"))
    await crowd(db, settings, courses, 12)
    await db.execute(
        update(User).where(User.email.like("crowd%")).values(supervisor_id=supervisor.id)
    )
    await db.commit()
    page = await client.get("/team")
    assert page.text.count("<h2 ") == 13
    assert await count(statements, client.get("/team")) == small
    # The person and their session; the team; their enrollments with modules done; what
    # waits for sign-off; their plan requirements by status.
    assert small <= 5, statements
