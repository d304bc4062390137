"""Live sessions as written: a cohort session names the course session it delivers, shows
its agenda, counts toward completion once per required course session, takes a fidelity
log and observations, and is where trainers score skills."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from lms.cohorts.models import LiveSession
from lms.db import utcnow
from lms.delivery.models import FidelityLog, SkillScore
from lms.learning import service as learning
from lms.learning.models import COMPLETED, Enrollment
from tests.conftest import csrf_token, post, sign_in
from tests.course_factory import COURSE_YAML
from tests.test_cohorts import add, enroll_roster, new_cohort
from tests.test_practice_format import SESSIONS

# The practice course: two sessions as written (one optional), a required skill; no
# field activity, so that what completion waits for here is the sessions and the skill.
PRACTICE = (
    COURSE_YAML.replace("hours: 2", "hours: 5\nenrollment: assigned")
    + SESSIONS.split("activities:")[0]
)
COURSES = {"practice": {"course.yaml": PRACTICE}}


async def _cohort_with_learner(client, db, courses) -> tuple[int, Enrollment]:
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    await add(client, cohort_id, "learner@example.org")
    await enroll_roster(client, cohort_id)
    enrollment = await db.scalar(select(Enrollment))
    assert enrollment is not None
    return cohort_id, enrollment


async def _schedule(client, cohort_id, courses, delivers: str, starts="2026-03-02T09:00", **more):
    page = await client.get(f"/cohorts/{cohort_id}")
    data = {
        "_csrf_token": csrf_token(page.text),
        "course": str(courses["practice"].id),
        "course_session": f"{courses['practice'].id}/{delivers}" if delivers else "",
        "title": "",
        "starts_at": starts,
        "place": "Redding training room",
        **more,
    }
    return await client.post(f"/cohorts/{cohort_id}/sessions", data=data)


async def _attend(client, cohort_id, session_id, present: list[int]):
    path = f"/cohorts/{cohort_id}/sessions/{session_id}"
    return await post(client, path, {"present": [str(p) for p in present]}, token_from=path)


async def test_a_session_delivers_a_course_session_and_shows_its_agenda(
    client, db, courses, people
):
    cohort_id, _ = await _cohort_with_learner(client, db, courses)
    cohort_page = await client.get(f"/cohorts/{cohort_id}")
    assert "Test Course: Opening the meeting (120 min)" in cohort_page.text
    # A course taught as written needs to know which session this is.
    refused = await _schedule(client, cohort_id, courses, "", title="Some session")
    assert refused.status_code == 400 and "choose which of its sessions" in refused.text
    unknown = await _schedule(client, cohort_id, courses, "no-such-session")
    assert unknown.status_code == 400
    assert await db.scalar(select(func.count()).select_from(LiveSession)) == 0

    scheduled = await _schedule(client, cohort_id, courses, "opening")
    assert scheduled.status_code == 200
    session = await db.scalar(select(LiveSession))
    assert (session.title, session.minutes, session.course_session) == (
        "Opening the meeting",
        120,
        "opening",
    )
    assert "Agenda as written" in scheduled.text
    assert "Practising the three questions" in scheduled.text and "60 min" in scheduled.text
    assert "<strong>mapping template</strong>" in scheduled.text  # the trainer's materials


async def test_completion_counts_each_required_course_session_once(
    client, db, settings, courses, people
):
    cohort_id, enrollment = await _cohort_with_learner(client, db, courses)
    learner = people["learner"].id
    for module in ("first", "second"):
        await learning.complete_module(db, settings, enrollment, module)
    await db.commit()
    # The optional follow-up, attended twice, does not stand in for the required opening.
    for starts in ("2026-03-02T09:00", "2026-03-09T09:00"):
        await _schedule(client, cohort_id, courses, "follow-up", starts)
    for session in (await db.scalars(select(LiveSession))).all():
        await _attend(client, cohort_id, session.id, [learner])
    await db.refresh(enrollment)
    assert enrollment.status == "active"

    await _schedule(client, cohort_id, courses, "opening", "2026-03-16T09:00")
    opening = await db.scalar(select(LiveSession).where(LiveSession.course_session == "opening"))
    await _attend(client, cohort_id, opening.id, [learner])
    await db.refresh(enrollment)
    assert enrollment.status == "active"  # the required skill is not scored yet

    path = f"/cohorts/{cohort_id}/sessions/{opening.id}/skills/{learner}"
    low = {"open-meeting--purpose": "1", "open-meeting--strengths": "0"}
    await post(client, path, low, token_from=f"/cohorts/{cohort_id}/sessions/{opening.id}")
    await db.refresh(enrollment)
    assert enrollment.status == "active"  # scored below the pass mark
    high = {"open-meeting--purpose": "3", "open-meeting--strengths": "2"}
    saved = await post(client, path, high, token_from=f"/cohorts/{cohort_id}/sessions/{opening.id}")
    assert "The skills scores are saved" in saved.text and "passed" in saved.text
    await db.refresh(enrollment)
    assert enrollment.status == COMPLETED
    matrix = await client.get(f"/cohorts/{cohort_id}/progress")
    assert "100%" in matrix.text  # the matrix reads the same sessions and skills


async def test_skills_are_scored_only_for_attendees_and_only_on_the_rubric(
    client, db, courses, people
):
    cohort_id, _ = await _cohort_with_learner(client, db, courses)
    await _schedule(client, cohort_id, courses, "opening")
    session = await db.scalar(select(LiveSession))
    learner = people["learner"].id
    page_path = f"/cohorts/{cohort_id}/sessions/{session.id}"
    path = f"{page_path}/skills/{learner}"
    absent = await post(client, path, {"open-meeting--purpose": "3"}, token_from=page_path)
    assert absent.status_code == 400 and "is not recorded as attending" in absent.text
    await _attend(client, cohort_id, session.id, [learner])
    for field, value in [("open-meeting--purpose", "7"), ("open-meeting--strengths", "1")]:
        refused = await post(client, path, {field: value}, token_from=page_path)
        assert refused.status_code == 400 and "is not a level of" in refused.text
    assert await db.scalar(select(func.count()).select_from(SkillScore)) == 0
    # Saved as the trainer goes: one criterion now, the other later.
    await post(client, path, {"open-meeting--purpose": "2"}, token_from=page_path)
    await post(client, path, {"open-meeting--strengths": "2"}, token_from=page_path)
    scores = (await db.scalars(select(SkillScore).order_by(SkillScore.criterion_id))).all()
    assert [(s.criterion_id, s.score) for s in scores] == [("purpose", 2), ("strengths", 2)]
    # Someone not on the cohort's roster is not found here.
    outsider = f"{page_path}/skills/{people['learner2'].id}"
    assert (await post(client, outsider, {"open-meeting--purpose": "2"})).status_code == 404


async def test_each_attendee_is_scored_on_a_page_of_their_own(client, db, courses, people):
    cohort_id, _ = await _cohort_with_learner(client, db, courses)
    await add(client, cohort_id, "learner2@example.org")
    await _schedule(client, cohort_id, courses, "opening")
    session = await db.scalar(select(LiveSession))
    page_path = f"/cohorts/{cohort_id}/sessions/{session.id}"
    first, second = people["learner"], people["learner2"]
    # Before attendance, a learner's page says so and offers no form.
    waiting = await client.get(f"{page_path}/skills/{first.id}")
    assert "is not recorded as attending" in waiting.text
    assert 'name="open-meeting--purpose"' not in waiting.text
    await _attend(client, cohort_id, session.id, [first.id, second.id])

    # The session page lists the attendees and links to each one's form, not 2 forms.
    listing = await client.get(page_path)
    assert 'name="open-meeting--purpose"' not in listing.text
    assert listing.text.count("not scored") == 2
    mine = f"{page_path}/skills/{first.id}"
    assert f'href="{mine}"' in listing.text

    form = await client.get(mine)
    assert form.status_code == 200 and 'name="open-meeting--purpose"' in form.text
    assert f'href="{page_path}/skills/{second.id}"' in form.text  # on to the next learner
    saved = await post(client, mine, {"open-meeting--purpose": "3", "open-meeting--strengths": "2"})
    assert saved.url.path == mine and "The skills scores are saved" in saved.text
    assert 'value="3" checked' in saved.text
    listing = await client.get(page_path)
    assert listing.text.count("not scored") == 1 and "passed, 5 (pass mark 4)" in listing.text
    # A refused score is shown on the learner's page with what was chosen kept.
    refused = await post(
        client, mine, {"open-meeting--purpose": "2", "open-meeting--strengths": "9"}
    )
    assert refused.status_code == 400 and "is not a level of" in refused.text
    assert 'value="2" checked' in refused.text


async def test_a_fidelity_log_and_an_observation_give_the_session_its_figure(
    client, db, courses, people
):
    cohort_id, _ = await _cohort_with_learner(client, db, courses)
    soon = (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT09:00")
    await _schedule(client, cohort_id, courses, "opening", soon)
    session = await db.scalar(select(LiveSession))
    page_path = f"/cohorts/{cohort_id}/sessions/{session.id}"
    path = f"{page_path}/fidelity"
    log = {
        "kind": "delivery",
        "seg-1-status": "as_written",
        "seg-1-minutes": "15",
        "seg-2-status": "adapted",
        "seg-2-minutes": "45",
        "seg-2-note": "Shortened: the fire drill took 15 minutes.",
    }
    early = await post(client, path, log, token_from=page_path)
    assert early.status_code == 409 and "has not been held yet" in early.text
    await db.execute(update(LiveSession).values(starts_at=utcnow() - timedelta(hours=2)))
    await db.commit()
    for change, message in [
        ({"seg-2-note": ""}, "was adapted: say what changed and why"),
        ({"seg-1-status": "sort of"}, "Say how segment 1"),
        ({"seg-1-minutes": "lots"}, "Give the minutes segment 1"),
        ({"kind": ""}, "delivered the session or observed it"),
        ({"comment": "x" * 2001}, "The comment is 2,001 characters; the most is 2,000"),
    ]:
        refused = await post(client, path, {**log, **change}, token_from=page_path)
        assert refused.status_code == 400 and message in refused.text, message
    assert await db.scalar(select(func.count()).select_from(FidelityLog)) == 0

    saved = await post(client, path, log, token_from=page_path)
    assert "The delivery log is saved" in saved.text
    assert "Fidelity 50%" in saved.text and "Shortened: the fire drill" in saved.text
    # Saving again changes the log, not adds one.
    await post(client, path, {**log, "seg-2-status": "as_written"}, token_from=page_path)
    assert await db.scalar(select(func.count()).select_from(FidelityLog)) == 1
    assert "Fidelity 100%" in (await client.get(page_path)).text

    # A second trainer on the cohort observes: the observation has its checklist, and the
    # session's figure stays the delivery log's.
    await post(client, "/sign-out", {}, token_from="/")
    await sign_in(client, "admin@example.org")
    observation = {
        **log,
        "kind": "observation",
        "seg-1-status": "skipped",
        "seg-1-note": "Started late.",
        "check-practice": "1",
    }
    seen = await post(client, path, observation, token_from=page_path)
    assert "Observation" in seen.text and "Fidelity 100%" in seen.text
    logs = (await db.scalars(select(FidelityLog).order_by(FidelityLog.id))).all()
    assert [(f.kind, f.as_written, f.segment_count) for f in logs] == [
        ("delivery", 2, 2),
        ("observation", 0, 2),
    ]
    assert logs[1].checklist["practice"] is True and logs[1].checklist["timing"] is False


async def test_another_trainer_cannot_log_or_score_a_cohort_they_do_not_run(
    client, db, courses, people
):
    cohort_id, _ = await _cohort_with_learner(client, db, courses)
    await _schedule(client, cohort_id, courses, "opening")
    session = await db.scalar(select(LiveSession))
    await post(client, "/sign-out", {}, token_from="/")
    await sign_in(client, "trainer2@example.org")
    base = f"/cohorts/{cohort_id}/sessions/{session.id}"
    for path in (f"{base}/fidelity", f"{base}/skills/{people['learner'].id}"):
        assert (await post(client, path, {"kind": "delivery"})).status_code == 404, path
    assert await db.scalar(select(func.count()).select_from(FidelityLog)) == 0
