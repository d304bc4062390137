"""The practice pages cost the same few statements however many people are on them: a
session page with 40 attendees and two skills, the sign-offs queue and My team for 30."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from lms.activities.models import FieldActivity
from lms.cohorts.models import Attendance, Cohort, CohortMember, CohortTrainer, LiveSession
from lms.db import utcnow
from lms.delivery.models import FidelityLog, SkillScore
from lms.learning.models import Enrollment
from tests.conftest import make_person, sign_in
from tests.course_factory import COURSE_YAML
from tests.test_practice_format import ACTIVITY, SESSIONS
from tests.test_query_counts import count, statements

__all__ = ["statements"]  # the fixture, used by the tests below

SECOND_SKILL = """\
  - id: name-worries
    title: Naming the worries
    session: opening
    criteria:
      - id: plain
        text: Says the worry in plain language
        levels:
          - {score: 1, label: Not yet}
          - {score: 2, label: "Yes"}
"""
PRACTICE = (COURSE_YAML.replace("hours: 2", "hours: 6") + SESSIONS).replace(
    "activities:\n", SECOND_SKILL + "activities:\n"
)
COURSES = {"practice": {"course.yaml": PRACTICE, "activities/map-a-case.md": ACTIVITY}}


async def _people(db, settings, how_many: int, start: int) -> list:
    return [
        await make_person(db, settings, f"p{start + n}@example.org", name=f"Person {start + n}")
        for n in range(how_many)
    ]


async def test_a_session_page_costs_the_same_for_40_attendees(
    client, db, settings, courses, people, statements
):
    course = courses["practice"]
    cohort = Cohort(name="Counted")
    db.add(cohort)
    await db.flush()
    db.add(CohortTrainer(cohort_id=cohort.id, user_id=people["trainer"].id))
    session = LiveSession(
        cohort_id=cohort.id,
        course_id=course.id,
        title="Opening",
        course_session="opening",
        starts_at=utcnow() - timedelta(hours=3),
        minutes=120,
    )
    db.add(session)
    await db.flush()
    db.add(
        FidelityLog(
            session_id=session.id,
            kind="delivery",
            recorded_by_id=people["trainer"].id,
            segments=[{"status": "as_written", "minutes": 15, "note": ""}] * 2,
            as_written=2,
            segment_count=2,
        )
    )

    async def attend(group: list) -> None:
        for person in group:
            db.add(CohortMember(cohort_id=cohort.id, user_id=person.id))
            db.add(Attendance(session_id=session.id, user_id=person.id, present=True))
            for skill, criterion in [("open-meeting", "purpose"), ("name-worries", "plain")]:
                db.add(
                    SkillScore(
                        session_id=session.id,
                        user_id=person.id,
                        skill_id=skill,
                        criterion_id=criterion,
                        score=2,
                        scored_by_id=people["trainer"].id,
                    )
                )
        await db.commit()

    first = await _people(db, settings, 3, 0)
    await attend(first)
    await sign_in(client, "trainer@example.org")
    path = f"/cohorts/{cohort.id}/sessions/{session.id}"
    scoring = f"{path}/skills/{first[0].id}"
    await client.get(path)  # the course's definition, read once per process
    small = await count(statements, client.get(path))
    small_scoring = await count(statements, client.get(scoring))
    await attend(await _people(db, settings, 37, 3))
    page = await client.get(path)
    assert page.text.count("Score Person") == 40 and "Naming the worries" in page.text
    assert await count(statements, client.get(path)) == small
    # One learner's scoring page reads the same whatever the class size.
    assert await count(statements, client.get(scoring)) == small_scoring


async def _waiting(db, course, supervisor, group: list) -> None:
    for person in group:
        person.supervisor_id = supervisor.id
        enrollment = Enrollment(
            user_id=person.id, course_id=course.id, version_id=course.current_version_id
        )
        db.add(enrollment)
        await db.flush()
        db.add(
            FieldActivity(
                enrollment_id=enrollment.id,
                activity_id="map-a-case",
                reviewer="supervisor",
                status="submitted",
                revision=1,
            )
        )
    await db.commit()


async def test_the_queue_and_my_team_cost_the_same_for_30_supervisees(
    client, db, settings, courses, people, statements
):
    course, supervisor = courses["practice"], people["learner2"]
    await _waiting(db, course, supervisor, await _people(db, settings, 2, 100))
    await sign_in(client, "learner2@example.org")
    await client.get("/sign-offs")  # the course's definition, read once per process
    queue = await count(statements, client.get("/sign-offs"))
    team = await count(statements, client.get("/team"))
    await _waiting(db, course, supervisor, await _people(db, settings, 28, 200))
    assert (await client.get("/sign-offs")).text.count('href="/sign-offs/') == 30
    assert (await client.get("/team")).text.count("1 waiting for your sign-off") == 30
    assert await count(statements, client.get("/sign-offs")) == queue
    assert await count(statements, client.get("/team")) == team
    assert await db.scalar(select(FieldActivity.id).limit(1)) is not None
