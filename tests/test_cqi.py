"""The chain of evidence: a course's seven levels for a scope of learners, with the number
behind each, low-fidelity cohorts beside the rest, and CSV/XLSX exports."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from lms.accounts.models import County
from lms.activities.models import FieldActivity
from lms.cohorts.models import Attendance, Cohort, CohortCounty, CohortTrainer, LiveSession
from lms.db import utcnow
from lms.delivery.models import FidelityLog, SkillScore
from lms.learning import service as learning
from lms.learning.models import Enrollment
from lms.quizzes.models import Attempt
from tests.conftest import make_person, sign_in
from tests.course_factory import COURSE_YAML
from tests.test_practice_format import ACTIVITY, SESSIONS

COURSES = {
    "practice": {
        "course.yaml": COURSE_YAML.replace("hours: 2", "hours: 6") + SESSIONS,
        "activities/map-a-case.md": ACTIVITY,
    }
}


async def _cohort(db, name, trainer, course, as_written, learners):
    """A cohort with one opening session, its delivery log, and learners who attended it."""
    cohort = Cohort(name=name)
    db.add(cohort)
    await db.flush()
    db.add(CohortTrainer(cohort_id=cohort.id, user_id=trainer.id))
    session = LiveSession(
        cohort_id=cohort.id,
        course_id=course.id,
        title="Opening",
        course_session="opening",
        starts_at=utcnow() - timedelta(days=5),
        minutes=120,
    )
    db.add(session)
    await db.flush()
    segments = [{"status": "as_written", "minutes": 15, "note": ""}] * 2
    db.add(
        FidelityLog(
            session_id=session.id,
            kind="delivery",
            recorded_by_id=trainer.id,
            segments=segments,
            as_written=as_written,
            segment_count=2,
        )
    )
    enrollments = []
    for person in learners:
        enrollment, _ = await learning.enroll(db, person, course)
        enrollment.cohort_id = cohort.id
        db.add(Attendance(session_id=session.id, user_id=person.id, present=True))
        enrollments.append(enrollment)
    await db.flush()
    return session, enrollments


def _attempt(enrollment: Enrollment, target: str, percent: float) -> Attempt:
    return Attempt(
        enrollment_id=enrollment.id,
        target=target,
        number=1,
        layout=[],
        submitted_at=utcnow(),
        percent=percent,
        passed=percent >= 80,
    )


async def test_the_seven_levels_side_by_side(client, db, settings, courses, people):
    course = courses["practice"]
    trainer = people["trainer"]
    ana = await make_person(db, settings, "ana@example.org", name="Ana")
    bo = await make_person(db, settings, "bo@example.org", name="Bo")
    cy = await make_person(db, settings, "cy@example.org", name="Cy", county="Butte")
    good, (ana_e, bo_e) = await _cohort(db, "Faithful", trainer, course, 2, [ana, bo])
    low, (cy_e,) = await _cohort(db, "Adapted", people["trainer2"], course, 0, [cy])
    counties = dict((await db.execute(select(County.name, County.id))).all())
    db.add_all(
        [
            CohortCounty(cohort_id=good.cohort_id, county_id=counties["Shasta"]),
            CohortCounty(cohort_id=low.cohort_id, county_id=counties["Butte"]),
            CohortCounty(cohort_id=low.cohort_id, county_id=counties["Shasta"]),
        ]
    )
    # Knowledge: Ana 40 -> 90 and Bo 60 -> 80 (gain 50 and 20); Cy has no pre-test.
    for enrollment, target, percent in [
        (ana_e, "pretest", 40.0),
        (ana_e, "final", 90.0),
        (ana_e, "final", 100.0),  # a retake: never counted as gain
        (bo_e, "pretest", 60.0),
        (bo_e, "final", 80.0),
        (cy_e, "final", 70.0),
    ]:
        db.add(_attempt(enrollment, target, percent))
        await db.flush()
    # Skills: Ana at the top of both criteria, Bo at the bottom of "purpose".
    for session, person, criterion, score in [
        (good, ana, "purpose", 3),
        (good, ana, "strengths", 2),
        (good, bo, "purpose", 1),
        (low, cy, "purpose", 2),
    ]:
        db.add(
            SkillScore(
                session_id=session.id,
                user_id=person.id,
                skill_id="open-meeting",
                criterion_id=criterion,
                score=score,
                scored_by_id=trainer.id,
            )
        )
    # Transfer: Ana's activity signed off two days after she sent it.
    sent = utcnow() - timedelta(days=3)
    db.add(
        FieldActivity(
            enrollment_id=ana_e.id,
            activity_id="map-a-case",
            reviewer="supervisor",
            status="signed_off",
            revision=2,
            submitted_at=sent,
            first_submitted_at=sent,
            decided_at=sent + timedelta(days=2),
        )
    )
    await db.commit()

    await sign_in(client, "admin@example.org")
    page = await client.get("/admin/courses/practice/cqi")
    assert page.status_code == 200
    rows = {
        r.split("</th>")[0].split(">")[-1]: r for r in page.text.split("<tr>") if "</th><td>" in r
    }
    # Everyone attended the one required session; nobody returned an evaluation.
    assert "<strong>100%</strong></td><td>3</td>" in rows["1. Attendance"]
    assert "<strong>0%</strong></td><td>3</td>" in rows["2. Evaluation returned"]
    assert "<strong>+35 points</strong></td><td>2</td>" in rows["4. Knowledge"]
    # Criteria at their second level or above: Ana 2 of 2, Bo 0 of 1, Cy 1 of 1.
    assert "<strong>75%</strong></td><td>3</td>" in rows["5. Skills"]
    assert (
        "<strong>33%</strong>" in rows["6. Transfer"] and "median 2.0 days" in rows["6. Transfer"]
    )
    # Fidelity: 100% and 0%, one session each; the low cohort compared with the other.
    assert "<strong>50%</strong></td><td>2</td>" in rows["7. Delivery fidelity"]
    assert "<td>+50 points</td><td>1</td><td>" not in rows["4. Knowledge"]
    assert "<td>—</td><td>0</td><td>+35 points</td><td>2</td>" in rows["4. Knowledge"]
    assert 'Adapted</td><td>0% <span class="badge bad">Low</span>' in page.text
    # By county served: Faithful serves Shasta; Adapted serves Butte and Shasta.
    county_table = page.text.split("Delivery fidelity by county served")[1]
    assert "<td>Butte</td><td>0% <span" in county_table
    shasta = county_table.split("<td>Shasta</td>")[1].split("</tr>")[0]
    assert shasta.startswith("<td>50%") and shasta.endswith("<td>2</td>")

    # Filters narrow the learners: one cohort, one trainer, one county.
    faithful = await client.get(f"/admin/courses/practice/cqi?cohort={good.cohort_id}")
    assert "2 learners" in faithful.text
    butte = await db.scalar(select(Cohort.id).where(Cohort.name == "Adapted"))
    assert "1 learner " in (await client.get(f"/admin/courses/practice/cqi?cohort={butte}")).text
    by_trainer = await client.get(f"/admin/courses/practice/cqi?trainer={trainer.id}")
    assert "2 learners" in by_trainer.text

    exported = await client.get("/admin/courses/practice/cqi?fmt=csv")
    table = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert table[0][:4] == ["Level", "Measure", "Figure", "N"]
    knowledge = next(r for r in table if r[0] == "4. Knowledge")
    assert knowledge[2:4] == ["35.0", "2"]
    assert next(r[:4] for r in table if r[:2] == ["7. Fidelity by county", "Shasta"]) == [
        "7. Fidelity by county",
        "Shasta",
        "50.0",
        "2",
    ]
    xlsx = await client.get("/admin/courses/practice/cqi?fmt=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


async def test_the_chain_of_evidence_is_for_admins(client, courses, people):
    await sign_in(client, "trainer@example.org")
    assert (await client.get("/admin/courses/practice/cqi")).status_code == 403
