"""The gradebook: a trainer reads a learner's attempt against the key, grants one more
attempt, moves one learner's due date and reopens a module; each audited, each refused
to anyone but the cohort's trainers and admins, and each refused clearly on bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from lms import times
from lms.audit import AuditEvent
from lms.db import utcnow
from lms.learning.models import Enrollment, ModuleProgress
from lms.quizzes.models import Attempt
from lms.settings import Settings
from tests.conftest import post, sign_in
from tests.course_factory import FIRST_MODULE
from tests.learning_helpers import definition, take_quiz
from tests.test_cohorts import add, enroll_roster, new_cohort

ZONE = Settings().zone
ONE_TRY = FIRST_MODULE.replace("  pass_mark: 50\n", "  pass_mark: 50\n  max_attempts: 1\n")
COURSES = {"online": {"modules/first.md": ONE_TRY}}
QUIZ = "/courses/online/modules/first/quiz/start"


@pytest.fixture
async def cohort(client, db, courses, people) -> int:
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    await add(client, cohort_id, "learner@example.org")
    await enroll_roster(client, cohort_id)
    return cohort_id


def learner_path(cohort_id: int, people) -> str:
    return f"/cohorts/{cohort_id}/learners/{people['learner'].id}"


async def fail_the_check(client, db) -> str:
    await sign_in(client, "learner@example.org")
    attempt_url, result = await take_quiz(client, QUIZ, await definition(db, "online"), False)
    assert "You scored" in result.text
    return attempt_url


async def test_trainer_reads_the_attempt_against_the_key(client, db, cohort, people):
    attempt_url = await fail_the_check(client, db)
    attempt_id = int(attempt_url.rsplit("/", 1)[1])
    await sign_in(client, "trainer@example.org")
    path = learner_path(cohort, people)
    page = await client.get(path)
    # Readable names, not the keys the database keeps.
    assert "Knowledge check: The first module, attempt 1" in page.text
    assert "module:first" not in page.text.split("<h2>Every attempt</h2>")[1].split("</table>")[0]
    assert "next for them: Resume: Module 1" in page.text
    review = await client.get(f"{path}/attempts/{attempt_id}")
    assert review.status_code == 200
    assert "Their answers, against the key" in review.text
    assert "correct answer" in review.text and "their choice" in review.text
    # The learner's own address stays theirs.
    assert (await client.get(attempt_url)).status_code == 404


async def test_another_trainer_and_the_learner_cannot_open_the_gradebook(
    client, db, cohort, people
):
    attempt_url = await fail_the_check(client, db)
    attempt_id = attempt_url.rsplit("/", 1)[1]
    path = learner_path(cohort, people)
    for email in ("learner@example.org", "trainer2@example.org"):
        await sign_in(client, email)
        assert (await client.get(f"{path}/attempts/{attempt_id}")).status_code in (403, 404)
        assert (await client.get(path)).status_code in (403, 404)
    await sign_in(client, "admin@example.org")
    assert (await client.get(f"{path}/attempts/{attempt_id}")).status_code == 200
    # An attempt of someone else, asked for under this learner's address, is not found.
    other = f"/cohorts/{cohort}/learners/{people['learner2'].id}/attempts/{attempt_id}"
    assert (await client.get(other)).status_code == 404


async def test_one_more_attempt_lets_the_learner_retake_and_is_audited(client, db, cohort, people):
    await fail_the_check(client, db)
    refused = await post(client, QUIZ, token_from="/courses/online/modules/first")
    assert refused.status_code == 403 and "used all 1 attempts" in refused.text
    await sign_in(client, "trainer@example.org")
    path = learner_path(cohort, people)
    form = {"course": "online", "target": "module:first", "seen": "0", "reason": ""}
    blank = await post(client, f"{path}/extra-attempt", form, token_from=path)
    assert blank.status_code == 400 and "Give the reason" in blank.text
    form["reason"] = "Was called to a removal during the check"
    granted = await post(client, f"{path}/extra-attempt", form, token_from=path)
    assert granted.status_code == 200 and "One more attempt is granted" in granted.text
    # The same form sent again (a double click) grants nothing more.
    again = await post(client, f"{path}/extra-attempt", form, token_from=path)
    assert again.status_code == 409 and "Nothing more was granted" in again.text
    enrollment = await db.scalar(
        select(Enrollment).where(Enrollment.user_id == people["learner"].id)
    )
    await db.refresh(enrollment)
    assert enrollment.extra_attempts == {"module:first": 1}
    event = await db.scalar(
        select(AuditEvent).where(AuditEvent.action == "enrollment.extra_attempt")
    )
    assert event.after["reason"] == "Was called to a removal during the check"
    assert event.actor_id == people["trainer"].id
    await sign_in(client, "learner@example.org")
    module = await client.get("/courses/online/modules/first")
    assert "2 attempts allowed (with 1 more your trainer granted), 1 used" in module.text
    _, result = await take_quiz(client, QUIZ, await definition(db, "online"))
    assert "You passed" in result.text
    count = await db.scalar(
        select(Attempt.number).where(Attempt.passed.is_(True)).order_by(Attempt.id.desc())
    )
    assert count == 2


async def test_grants_are_refused_where_they_mean_nothing(client, db, cohort, people):
    await sign_in(client, "trainer@example.org")
    path = learner_path(cohort, people)
    base = {"course": "online", "seen": "0", "reason": "Asked"}
    for target, status, message in (
        ("pretest", 400, "Only a knowledge check or the final"),
        ("module:nowhere", 404, "no such knowledge check"),
        ("module:first", 409, None),  # not refused: nothing used yet still allows a grant
    ):
        response = await post(client, f"{path}/extra-attempt", {**base, "target": target}, path)
        if message:
            assert response.status_code == status and message in response.text, response.text[:400]
    enrollment = await db.scalar(
        select(Enrollment).where(Enrollment.user_id == people["learner"].id)
    )
    await db.refresh(enrollment)
    assert enrollment.extra_attempts == {"module:first": 1}
    # Completed: nothing to retake.
    enrollment.status, enrollment.completed_at = "completed", utcnow()
    await db.commit()
    response = await post(
        client, f"{path}/extra-attempt", {**base, "target": "module:first", "seen": "1"}, path
    )
    assert response.status_code == 409 and "This course is completed" in response.text
    await db.refresh(enrollment)
    assert enrollment.extra_attempts == {"module:first": 1}


async def test_due_date_moves_for_one_learner_with_a_reason(client, db, cohort, people):
    await sign_in(client, "trainer@example.org")
    path = learner_path(cohort, people)
    enrollment = await db.scalar(
        select(Enrollment).where(Enrollment.user_id == people["learner"].id)
    )
    seen = times.local_date(enrollment.due_at, ZONE).isoformat()
    assert seen == "2026-12-31"
    today = times.local_date(utcnow(), ZONE)
    yesterday = (today - timedelta(days=1)).isoformat()
    later = (today + timedelta(days=40)).isoformat()
    form = {"course": "online", "seen": seen, "due_on": yesterday, "reason": "On leave"}
    past = await post(client, f"{path}/due-date", form, token_from=path)
    assert past.status_code == 400 and "cannot be before today" in past.text
    assert ">On leave</textarea>" in past.text  # what was typed is kept for the next try
    bad = await post(client, f"{path}/due-date", {**form, "due_on": "31/12/2027"}, path)
    assert bad.status_code == 400 and "must be a date like" in bad.text
    moved = await post(client, f"{path}/due-date", {**form, "due_on": later}, token_from=path)
    assert moved.status_code == 200 and "The due date is moved" in moved.text
    await db.refresh(enrollment)
    assert times.local_date(enrollment.due_at, ZONE).isoformat() == later
    # A second trainer's form, opened before the move, changes nothing.
    stale = await post(client, f"{path}/due-date", {**form, "due_on": later}, token_from=path)
    assert stale.status_code == 409 and "someone changed it" in stale.text
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "enrollment.due_date"))
    assert event.before == {"due_on": "2026-12-31"} and event.after["due_on"] == later
    # Only this learner's date moved.
    await sign_in(client, "learner@example.org")
    assert times.show_date(enrollment.due_at, ZONE) in (await client.get("/")).text


async def test_reopen_a_module_sends_the_learner_back_to_it(client, db, cohort, people):
    await sign_in(client, "learner@example.org")
    await take_quiz(client, QUIZ, await definition(db, "online"))
    await sign_in(client, "trainer@example.org")
    path = learner_path(cohort, people)
    form = {"course": "online", "module": "second", "reason": "Review"}
    not_done = await post(client, f"{path}/reopen", form, token_from=path)
    assert not_done.status_code == 409 and "is not complete yet" in not_done.text
    reopened = await post(client, f"{path}/reopen", {**form, "module": "first"}, path)
    assert reopened.status_code == 200 and "The module is open again" in reopened.text
    row = await db.scalar(select(ModuleProgress).where(ModuleProgress.module_id == "first"))
    await db.refresh(row)
    assert row.status == "in_progress" and row.completed_at is None
    event = await db.scalar(
        select(AuditEvent).where(AuditEvent.action == "enrollment.reopen_module")
    )
    assert event.after["module"] == "The first module" and event.after["reason"] == "Review"
    await sign_in(client, "learner@example.org")
    course = await client.get("/courses/online")
    assert "Resume: Module 1" in course.text or "Module 1, The first module" in course.text
    audit_page = None
    await sign_in(client, "admin@example.org")
    audit_page = await client.get("/admin/audit")
    assert "Reopened a module" in audit_page.text
