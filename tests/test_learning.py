"""Learners: catalog, enrollment, locking, modules, quizzes, evaluation and completion."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lms.activities.models import FieldActivity
from lms.db import utcnow
from lms.learning.models import Enrollment, ModuleProgress
from lms.quizzes.models import Attempt, AttemptAnswer
from tests.conftest import csrf_token, load_courses, post, sign_in
from tests.course_factory import COURSE_YAML, write_course
from tests.learning_helpers import answers, definition, question_ids, take_quiz


async def enrollments(db) -> list[Enrollment]:
    return list((await db.scalars(select(Enrollment).order_by(Enrollment.id))).unique().all())


@pytest.fixture
async def shipped(db):
    await load_courses(db)


@pytest.fixture
async def small(db, tmp_path):
    """The two-module test course: a knowledge check (pass mark 50) and a reading."""
    await load_courses(db, write_course(tmp_path / "courses").parent)
    return await definition(db, "test-course")


async def test_catalog_lists_searches_and_filters(client, shipped, people):
    await sign_in(client, "learner@example.org")
    page = await client.get("/courses")
    for title in (
        "Introduction to Safety Organized Practice",
        "Best Practices in Emergency Response",
        "SOP Core for Supervisors",
    ):
        assert title in page.text
    found = await client.get("/courses", params={"q": "supervisors core"})
    assert "SOP Core for Supervisors" in found.text and "Emergency Response" not in found.text
    for_workers = await client.get("/courses", params={"audience": "social_worker"})
    assert (
        "Emergency Response" in for_workers.text
        and "SOP Core for Supervisors" not in for_workers.text
    )
    assert "No course matches" in (await client.get("/courses", params={"q": "zzzz"})).text


async def test_course_page_shows_what_a_learner_needs(client, shipped, people):
    await sign_in(client, "learner@example.org")
    page = await client.get("/courses/supervisor-core")
    assert page.status_code == 200
    assert "5.25 training hours" in page.text
    assert "Introduction to Safety Organized Practice</a>: not completed yet" in page.text
    assert "valid for 24 months" in page.text and "issued by an administrator" in page.text
    assert (await client.get("/courses/no-such-course")).status_code == 404


async def test_self_enrollment_and_enrolling_twice(client, db, shipped, people):
    await sign_in(client, "learner@example.org")
    response = await post(client, "/courses/sop-intro/enroll")
    assert "You are enrolled." in response.text
    assert "Next: " in response.text and "Take the pre-test" in response.text
    response = await post(client, "/courses/sop-intro/enroll")
    assert "You are already enrolled in this course." in response.text
    assert len(await enrollments(db)) == 1


async def test_assigned_course_says_who_enrolls(client, db, shipped, people):
    await sign_in(client, "learner@example.org")
    page = await client.get("/courses/emergency-response")
    assert "Your trainer or an administrator enrolls people in this course" in page.text
    response = await post(client, "/courses/emergency-response/enroll")
    assert response.status_code == 403
    assert "your trainer or an administrator enrolls you" in response.text
    assert await enrollments(db) == []


async def test_missing_prerequisite_is_refused_with_the_reason(client, db, shipped, people):
    await sign_in(client, "learner@example.org")
    response = await post(client, "/courses/supervisor-core/enroll")
    assert response.status_code == 403
    assert (
        "Complete the prerequisite course first: Introduction to Safety Organized Practice."
        in response.text
    )
    assert await enrollments(db) == []


async def test_withdrawing_keeps_the_record_and_progress(client, db, small, people):
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/test-course/enroll")
    await client.get("/courses/test-course/modules/first")
    response = await post(client, "/courses/test-course/withdraw")
    assert "You have withdrawn" in response.text
    (enrollment,) = await enrollments(db)
    assert enrollment.status == "withdrawn" and enrollment.withdrawn_at is not None
    assert (await client.get("/courses/test-course/modules/first")).status_code == 403
    response = await post(client, "/courses/test-course/enroll")
    assert "You are enrolled" in response.text
    (again,) = await enrollments(db)
    await db.refresh(again)
    assert again.id == enrollment.id and again.status == "active"
    progress = await db.scalar(select(func.count()).select_from(ModuleProgress))
    assert progress == 1


async def test_pretest_comes_first_and_modules_unlock_in_order(client, db, shipped, people):
    course = await definition(db, "sop-intro")
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/sop-intro/enroll")
    first, second = course.modules[0].id, course.modules[1].id
    locked = await client.get(f"/courses/sop-intro/modules/{first}")
    assert locked.status_code == 403 and "Take the pre-test before the first module" in locked.text
    _, result = await take_quiz(client, "/courses/sop-intro/pretest/start", course, right=False)
    assert "Pre-test recorded" in result.text and "does not count" in result.text
    again = await post(client, "/courses/sop-intro/pretest/start")
    assert again.status_code == 409 and "already taken the pre-test" in again.text
    assert (await client.get(f"/courses/sop-intro/modules/{first}")).status_code == 200
    locked = await client.get(f"/courses/sop-intro/modules/{second}")
    assert locked.status_code == 403 and "This module is locked" in locked.text
    final = await post(client, "/courses/sop-intro/final/start")
    assert final.status_code == 403 and "when every module is complete" in final.text


async def test_failed_then_passed_knowledge_check(client, db, small, people):
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/test-course/enroll")
    start = "/courses/test-course/modules/first/quiz/start"
    _, result = await take_quiz(client, start, small, right=False)
    assert "You scored 0%" in result.text and "pass mark is 50%" in result.text
    assert "Not correct" in result.text
    module = await client.get("/courses/test-course/modules/first")
    assert "Knowledge check not passed yet" in module.text
    assert (await client.get("/courses/test-course/modules/second")).status_code == 403
    _, result = await take_quiz(client, start, small, right=True)
    assert "You passed with 100%" in result.text
    assert "correct answer" in result.text  # explanations and answers after grading
    assert "Start: Module 2, The second module" in result.text
    attempts = (await db.scalars(select(Attempt).order_by(Attempt.id))).all()
    assert [(a.number, a.passed) for a in attempts] == [(1, False), (2, True)]
    done = await post(client, start, token_from="/courses/test-course/modules/first")
    assert done.status_code == 409


async def test_module_without_a_quiz_is_marked_done(client, db, small, people):
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/test-course/enroll")
    await take_quiz(client, "/courses/test-course/modules/first/quiz/start", small)
    refused = await post(client, "/courses/test-course/modules/first/done")
    assert refused.status_code == 400 and "knowledge check is passed" in refused.text
    page = await client.get("/courses/test-course/modules/second")
    assert "Mark this module done" in page.text
    response = await client.post(
        "/courses/test-course/modules/second/done", data={"_csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 200
    (enrollment,) = await enrollments(db)
    await db.refresh(enrollment)
    assert enrollment.status == "completed" and enrollment.completed_at is not None


async def test_time_spent_is_recorded(client, db, small, people):
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/test-course/enroll")
    await client.get("/courses/test-course/modules/first")
    row = await db.scalar(select(ModuleProgress))
    row.last_seen_at -= timedelta(minutes=4)
    await db.commit()
    await client.get("/courses/test-course/modules/first")
    await db.refresh(row)
    assert 235 <= row.seconds_spent <= 260
    # Back after a long break: the time away is not reading time.
    spent = row.seconds_spent
    row.last_seen_at -= timedelta(hours=2)
    await db.commit()
    await client.get("/courses/test-course/modules/first")
    await db.refresh(row)
    assert row.seconds_spent == spent
    assert utcnow() - row.last_seen_at < timedelta(minutes=1)


async def test_correct_answers_never_reach_the_page_before_grading(client, db, small, people):
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/test-course/enroll")
    page = await post(
        client,
        "/courses/test-course/modules/first/quiz/start",
        token_from="/courses/test-course/modules/first",
    )
    assert page.url.path.startswith("/attempts/")
    assert "correct" not in page.text.lower().replace("not correct", "")
    assert "This one" in page.text and "That one" in page.text


async def test_two_tabs_share_one_attempt_and_double_submit_records_one(client, db, small, people):
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/test-course/enroll")
    start = "/courses/test-course/modules/first/quiz/start"
    one = await post(client, start, token_from="/courses/test-course/modules/first")
    two = await post(client, start, token_from="/courses/test-course/modules/first")
    assert one.url.path == two.url.path
    data = {"_csrf_token": csrf_token(one.text), **answers(small, one.text, right=True)}
    first = await client.post(f"{one.url.path}/submit", data=data)
    second = await client.post(f"{one.url.path}/submit", data=data)
    assert "You passed" in first.text and "You passed" in second.text
    attempts = (await db.scalars(select(Attempt))).all()
    assert len(attempts) == 1 and attempts[0].passed


async def test_tampered_answers_are_refused_and_change_nothing(client, db, small, people):
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/test-course/enroll")
    page = await post(
        client,
        "/courses/test-course/modules/first/quiz/start",
        token_from="/courses/test-course/modules/first",
    )
    token = csrf_token(page.text)
    path = page.url.path
    cases = [
        ({"q:not-in-attempt": "0"}, "not in this attempt"),
        ({"q:q1": "7"}, "not one of the choices"),
        ({"q:q1": "zero"}, "not one of the choices"),
        ({"q:q1": ["0", "1"]}, "takes exactly one answer"),
        ({"q:q2": "maybe"}, "not an answer"),
    ]
    for data, message in cases:
        response = await client.post(f"{path}/submit", data={"_csrf_token": token, **data})
        assert response.status_code == 400 and message in response.text, data
    attempt = await db.scalar(select(Attempt))
    assert attempt.submitted_at is None


async def test_answers_are_saved_as_the_learner_goes(client, db, small, people):
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/test-course/enroll")
    page = await post(
        client,
        "/courses/test-course/modules/first/quiz/start",
        token_from="/courses/test-course/modules/first",
    )
    saved = await client.post(
        f"{page.url.path}/save",
        data={"q:q1": "0"},
        headers={"Accept": "application/json", "X-CSRFToken": csrf_token(page.text)},
    )
    assert saved.status_code == 200 and saved.json()["saved"] == 1
    # The connection drops; the learner comes back and the answer is still there.
    again = await client.get(page.url.path)
    assert 'value="0" checked' in again.text and "1 of 2 answers saved" in again.text
    no_js = await client.post(
        f"{page.url.path}/save", data={"_csrf_token": csrf_token(again.text), "q:q2": "true"}
    )
    assert "Your answers are saved" in no_js.text and "2 of 2 answers saved" in no_js.text


async def test_submission_after_the_time_limit_counts_only_answers_saved_in_time(
    client, db, shipped, people
):
    course = await definition(db, "sop-intro")
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/sop-intro/enroll")
    await take_quiz(client, "/courses/sop-intro/pretest/start", course)
    for module in course.modules:
        await take_quiz(client, f"/courses/sop-intro/modules/{module.id}/quiz/start", course)
    page = await post(
        client, "/courses/sop-intro/final/start", token_from="/courses/sop-intro/final"
    )
    assert "Time limit: submit by" in page.text
    right = answers(course, page.text, right=True)
    first_qid = question_ids(page.text)[0]
    await client.post(
        f"{page.url.path}/save",
        data={"q:" + first_qid: right["q:" + first_qid], "_csrf_token": csrf_token(page.text)},
    )
    attempt = await db.scalar(select(Attempt).where(Attempt.target == "final"))
    # Move the whole attempt 50 minutes into the past: its 45-minute limit has passed.
    shift = timedelta(minutes=50)
    attempt.started_at -= shift
    attempt.deadline_at -= shift
    for saved in (await db.scalars(select(AttemptAnswer))).all():
        saved.saved_at -= shift
    await db.commit()
    late_save = await client.post(
        f"{page.url.path}/save", data={"_csrf_token": csrf_token(page.text), **right}
    )
    assert late_save.status_code == 409 and "Time is up" in late_save.text
    result = await client.post(
        f"{page.url.path}/submit", data={"_csrf_token": csrf_token(page.text), **right}
    )
    assert "submitted after its time limit" in result.text
    await db.refresh(attempt)
    assert attempt.late and attempt.points == 1 and not attempt.passed


async def test_attempt_limit_is_enforced_on_the_server(client, db, shipped, people):
    course = await definition(db, "sop-intro")
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/sop-intro/enroll")
    await take_quiz(client, "/courses/sop-intro/pretest/start", course)
    for module in course.modules:
        await take_quiz(client, f"/courses/sop-intro/modules/{module.id}/quiz/start", course)
    for _ in range(course.final.max_attempts):
        _, result = await take_quiz(client, "/courses/sop-intro/final/start", course, right=False)
        assert "You scored" in result.text
    refused = await post(client, "/courses/sop-intro/final/start", token_from="/courses/sop-intro")
    assert refused.status_code == 403 and "used all 3 attempts" in refused.text
    page = await client.get("/courses/sop-intro")
    assert "No final assessment attempts left" in page.text


async def test_learners_see_only_their_own_attempts(client, db, settings, small, people):
    from litestar.testing import AsyncTestClient

    from lms.app import create_app

    await sign_in(client, "learner@example.org")
    await post(client, "/courses/test-course/enroll")
    page = await post(
        client,
        "/courses/test-course/modules/first/quiz/start",
        token_from="/courses/test-course/modules/first",
    )
    async with AsyncTestClient(app=create_app(settings)) as other:
        await sign_in(other, "learner2@example.org")
        assert (await other.get(page.url.path)).status_code == 404
        stolen = await other.post(
            f"{page.url.path}/submit", data={"_csrf_token": csrf_token((await other.get("/")).text)}
        )
        assert stolen.status_code == 404
        assert (await other.get("/courses/test-course/modules/first")).status_code == 403
    attempt = await db.scalar(select(Attempt))
    assert attempt.submitted_at is None


async def test_a_learner_completes_sop_intro(client, db, shipped, people):
    course = await definition(db, "sop-intro")
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/sop-intro/enroll")
    await take_quiz(client, "/courses/sop-intro/pretest/start", course, right=False)
    for module in course.modules:
        await take_quiz(client, f"/courses/sop-intro/modules/{module.id}/quiz/start", course)
    _, result = await take_quiz(client, "/courses/sop-intro/final/start", course)
    assert "You passed with 100%" in result.text
    assert "Knowledge gain: pre-test 0% → first final attempt 100% (+100 points)" in result.text
    assert "Complete the course evaluation" in result.text
    evaluation = await client.get("/courses/sop-intro/evaluation")
    refused = await client.post(
        "/courses/sop-intro/evaluation", data={"_csrf_token": csrf_token(evaluation.text)}
    )
    assert refused.status_code == 400 and "Please answer" in refused.text
    data = {"_csrf_token": csrf_token(evaluation.text)}
    for q in course.evaluation.questions:
        if q.type == "likert":
            data[q.id] = "5"
        elif q.type == "single":
            data[q.id] = q.choices[0]
    bad = await client.post(
        "/courses/sop-intro/evaluation", data={**data, course.evaluation.questions[2].id: "9"}
    )
    assert bad.status_code == 400
    done = await client.post("/courses/sop-intro/evaluation", data=data)
    assert "your evaluation has been recorded" in done.text
    # What is left is the field activity, which the learner's supervisor signs off.
    [activity] = course.activities
    assert f"Do the field activity: {activity.title}" in done.text
    (enrollment,) = await enrollments(db)
    assert enrollment.status == "active"
    people["learner"].supervisor_id = people["learner2"].id
    await db.commit()
    path = f"/courses/sop-intro/activities/{activity.id}"
    form = await client.get(path)
    sent = await client.post(
        path,
        data={
            "_csrf_token": csrf_token(form.text),
            "revision": "0",
            "reflection": "The mother named what was working: her sister's daily visits.",
        },
    )
    assert "Waiting for sign-off" in sent.text
    record = await db.scalar(select(FieldActivity))
    await post(client, "/sign-out", {}, token_from="/")
    await sign_in(client, "learner2@example.org")
    top = {f"score-{c.id}": str(c.levels[-1].score) for c in activity.rubric}
    signed = await post(
        client,
        f"/sign-offs/{record.id}",
        {"decision": "sign_off", "revision": "1", "comment": "Well done.", **top},
    )
    assert "The activity is signed off" in signed.text
    await db.refresh(enrollment)
    assert enrollment.status == "completed"
    await post(client, "/sign-out", {}, token_from="/")
    await sign_in(client, "learner@example.org")
    home = await client.get("/")
    assert "Completed" in home.text and "Introduction to Safety Organized Practice" in home.text
    # Completion opens the courses that need it.
    assert "You are enrolled" in (await post(client, "/courses/supervisor-core/enroll")).text


async def test_an_enrollment_keeps_its_version_when_the_course_changes(
    client, db, settings, people, tmp_path
):
    root = tmp_path / "courses"
    write_course(root)
    await load_courses(db, root)
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/test-course/enroll")
    write_course(
        root, changes={"course.yaml": COURSE_YAML.replace("Test Course", "Renamed Course")}
    )
    await load_courses(db, root)
    page = await client.get("/courses/test-course")
    assert "<h1>Test Course</h1>" in page.text  # still the version they started on
    await sign_in(client, "learner2@example.org")
    await post(client, "/courses/test-course/enroll")
    first, second = await enrollments(db)
    assert first.version_id != second.version_id
    assert "<h1>Renamed Course</h1>" in (await client.get("/courses/test-course")).text


async def test_a_retired_course_is_closed_to_new_enrollments(client, db, people, tmp_path):
    import shutil

    root = tmp_path / "courses"
    folder = write_course(root)
    await load_courses(db, root)
    shutil.rmtree(folder)
    write_course(root, "other")
    await load_courses(db, root)
    await sign_in(client, "learner@example.org")
    catalog_page = (await client.get("/courses")).text
    assert (
        'href="/courses/test-course"' not in catalog_page
        and 'href="/courses/other"' in catalog_page
    )
    response = await post(client, "/courses/test-course/enroll")
    assert response.status_code == 409 and "not open for enrollment" in response.text


async def test_resource_library_filters_and_downloads(client, db, shipped, people):
    await sign_in(client, "learner@example.org")
    everything = await client.get("/resources")
    assert "Three-Column Map" in everything.text or "three-column" in everything.text.lower()
    worksheets = await client.get("/resources", params={"kind": "worksheet"})
    assert "Showing" in worksheets.text
    rows = worksheets.text.count("<tr>") - 1
    assert 0 < rows < everything.text.count("<tr>") - 1
    assert "Field tool</td>" not in worksheets.text
    supervisors = await client.get("/resources", params={"course": "supervisor-core"})
    assert "SOP Core for Supervisors" in supervisors.text
    assert "Best Practices in Emergency Response</a>" not in supervisors.text
    link = (
        __import__("re").search(r'href="(/resources/[0-9a-f]{64}/[^"]+)"', everything.text).group(1)
    )
    download = await client.get(link)
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith('attachment; filename="')
    assert download.content.startswith(b"%PDF")
    # The digest with a name no course gives that file is not an address we handed out.
    renamed = await client.get(link.rsplit("/", 1)[0] + "/payroll.pdf")
    assert renamed.status_code == 404 and not renamed.content.startswith(b"%PDF")


async def test_downloads_resist_path_tricks(client, db, shipped, people):
    await sign_in(client, "learner@example.org")
    for path in [
        "/resources/../../etc/passwd",
        "/resources/" + "0" * 64 + "/x.pdf",
        "/resources/abc/..%2F..%2Fpyproject.toml",
        "/resources/%2e%2e/%2e%2e",
    ]:
        response = await client.get(path)
        assert response.status_code == 404, path
        assert b"[project]" not in response.content


async def test_resources_need_a_signed_in_person(client, shipped):
    response = await client.get("/resources", follow_redirects=False)
    assert response.status_code == 303


@pytest.fixture
async def seat_time(db, tmp_path):
    """The test course asking half of each module's 90 minutes: 45 minutes of reading each."""
    changes = {"course.yaml": COURSE_YAML + "seat_time: 50\n"}
    await load_courses(db, write_course(tmp_path / "courses", changes=changes).parent)
    return await definition(db, "test-course")


async def _reading_row(db, module_id: str) -> ModuleProgress:
    row = await db.scalar(select(ModuleProgress).where(ModuleProgress.module_id == module_id))
    assert row is not None
    return row


async def test_a_seat_time_module_cannot_be_completed_early(client, db, seat_time, people):
    assert seat_time.seat_time == 50
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/test-course/enroll")
    page = await client.get("/courses/test-course/modules/first")
    assert "about 45 more minutes to go" in page.text and 'data-reading method="post"' in page.text
    refused = await post(
        client,
        "/courses/test-course/modules/first/quiz/start",
        token_from="/courses/test-course/modules/first",
    )
    assert refused.status_code == 403
    assert "at least 50% of the module&#39;s 90 minutes" in refused.text
    # Not a permissions error: a "not yet" with the way back to the reading.
    assert "<h1>Not yet</h1>" in refused.text and "do not have access" not in refused.text
    assert 'href="/courses/test-course/modules/first">Back to the module' in refused.text
    assert await db.scalar(select(func.count()).select_from(Attempt)) == 0

    # The page's script says it is still being read: 20 minutes since the last sign count.
    row = await _reading_row(db, "first")
    row.last_seen_at -= timedelta(minutes=20)
    await db.commit()
    token = csrf_token(page.text)
    ping = await client.post(
        "/courses/test-course/modules/first/reading",
        headers={"Accept": "application/json", "X-CSRFToken": token},
    )
    assert ping.status_code == 200
    assert 25 * 60 - 30 <= ping.json()["seconds_left"] <= 25 * 60
    await db.refresh(row)
    assert 20 * 60 <= row.seconds_spent <= 20 * 60 + 30
    # A page left open over a long break counts nothing for the break.
    row.last_seen_at -= timedelta(hours=2)
    await db.commit()
    await client.post(
        "/courses/test-course/modules/first/reading",
        headers={"Accept": "application/json", "X-CSRFToken": token},
    )
    await db.refresh(row)
    assert row.seconds_spent <= 20 * 60 + 30
    # Without the script the same post answers with the module page.
    back = await post(
        client,
        "/courses/test-course/modules/first/reading",
        token_from="/courses/test-course/modules/first",
    )
    assert back.status_code == 200 and back.url.path == "/courses/test-course/modules/first"

    row.seconds_spent = 45 * 60
    await db.commit()
    attempt_url, result = await take_quiz(
        client, "/courses/test-course/modules/first/quiz/start", seat_time
    )
    assert "You passed with 100%" in result.text

    await client.get("/courses/test-course/modules/second")
    early = await post(
        client,
        "/courses/test-course/modules/second/done",
        token_from="/courses/test-course/modules/second",
    )
    assert early.status_code == 403 and "mark it done" in early.text
    second = await _reading_row(db, "second")
    assert second.status != "done"
    second.seconds_spent = 45 * 60 - 10  # ten seconds short, but ten seconds ago it was read
    second.last_seen_at = utcnow() - timedelta(seconds=15)
    await db.commit()
    done = await post(
        client,
        "/courses/test-course/modules/second/done",
        token_from="/courses/test-course/modules/second",
    )
    assert done.status_code == 200
    await db.refresh(second)
    assert second.status == "done"
