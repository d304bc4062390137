"""Trainers and admins: cohorts, rosters, attendance, the progress matrix, reports, exports."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, func, select, update

from lms import times
from lms.accounts.models import User
from lms.audit import AuditEvent
from lms.catalog.models import Course
from lms.cohorts import progress
from lms.cohorts.models import Cohort, CohortMember, LiveSession
from lms.db import create_engine, create_sessionmaker, utcnow
from lms.learning.models import Enrollment, ModuleProgress
from lms.settings import Settings
from tests.conftest import csrf_token, lift_retention, make_person, post, sign_in
from tests.course_factory import COURSE_YAML

ZONE = Settings().zone  # the tests' academy: America/Los_Angeles

LIVE = COURSE_YAML.replace("hours: 2", "hours: 2\nlive_sessions: 1\nenrollment: assigned").replace(
    "title: Test Course", "title: Live Course"
)


# Loaded by the `courses` fixture in conftest.py.
COURSES = {"online": {}, "live": {"course.yaml": LIVE}}


async def new_cohort(client, courses, name="Shasta spring 2026", due="2026-12-31") -> int:
    data = {
        "name": name,
        "starts_on": "2026-01-05",
        "ends_on": "2026-12-31",
    }
    for course in courses.values():
        data[f"course_{course.id}"] = "1"
        data[f"due_{course.id}"] = due
    response = await post(client, "/cohorts/new", data, token_from="/cohorts/new")
    assert response.status_code == 200, response.text[:300]
    return int(re.search(r"/cohorts/(\d+)", str(response.url)).group(1))


async def add(client, cohort_id: int, email: str, name: str = "") -> str:
    form = {"email": email, "name": name}
    response = await post(client, f"/cohorts/{cohort_id}/members", form, f"/cohorts/{cohort_id}")
    return response.text


async def enroll_roster(client, cohort_id: int, move: tuple[int, ...] = ()):
    """Enroll the roster as a trainer does: open the preview, then its button; the page after.

    `move` ticks those enrollments (through another cohort) to move into this one.
    """
    preview = await client.get(f"/cohorts/{cohort_id}/enroll")
    assert preview.status_code == 200, preview.text[:300]
    return await client.post(
        f"/cohorts/{cohort_id}/enroll",
        data={"_csrf_token": csrf_token(preview.text), "move": [str(i) for i in move]},
    )


async def test_trainer_creates_a_cohort_and_sees_only_their_own(client, db, courses, people):
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    page = await client.get(f"/cohorts/{cohort_id}")
    assert "Shasta spring 2026" in page.text and "due Dec 31, 2026" in page.text
    await sign_in(client, "trainer2@example.org")
    assert "Shasta spring 2026" not in (await client.get("/cohorts")).text
    assert (await client.get(f"/cohorts/{cohort_id}")).status_code == 404
    await sign_in(client, "admin@example.org")
    assert "Shasta spring 2026" in (await client.get("/cohorts")).text
    event_ = await db.scalar(select(AuditEvent).where(AuditEvent.action == "cohort.create"))
    assert event_.actor_id == people["trainer"].id and event_.after["name"] == "Shasta spring 2026"


async def test_bad_cohort_forms_change_nothing(client, db, courses, people):
    await sign_in(client, "trainer@example.org")
    page = await client.get("/cohorts/new")
    for data, message in [
        ({"name": ""}, "Give the cohort a name"),
        ({"name": "X", "starts_on": "2026-05-01", "ends_on": "2026-04-01"}, "before the start"),
        ({"name": "X", "starts_on": "not a date"}, "must be a date"),
        ({"name": "X", "trainer": "abc"}, "not valid"),
    ]:
        response = await client.post(
            "/cohorts/new", data={"_csrf_token": csrf_token(page.text), **data}
        )
        assert response.status_code == 400 and message in response.text
    assert await db.scalar(select(func.count()).select_from(Cohort)) == 0


async def test_adding_an_unknown_email_creates_an_account_with_a_one_time_link(
    client, db, courses, people
):
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    text = await add(client, cohort_id, "New.Worker@County.ca.gov", "Nia Worker")
    link = re.search(r"/account/set-password/([A-Za-z0-9_-]+)", text).group(0)
    assert "Nia Worker" in text
    await add(client, cohort_id, "learner@example.org")  # existing account: no link
    members = await db.scalar(select(func.count()).select_from(CohortMember))
    assert members == 2
    await post(client, "/sign-out", token_from="/")
    form = await client.get(link)
    assert "Choose a password for <strong>new.worker@county.ca.gov</strong>" in form.text
    done = await client.post(
        link,
        data={
            "_csrf_token": csrf_token(form.text),
            "password": "a long new password",
            "confirm": "a long new password",
        },
    )
    assert "Your password is set" in done.text
    again = await client.get(link)
    assert again.status_code == 400 and "not valid" in again.text


GOOD_CSV = "email,name,county\nana@example.org,Ana Ruiz,Shasta\nlearner@example.org,Learner,Shasta\nbo@example.org,Bo Li,butte county\n"
BAD_CSV = "email,name,county\nana@example.org,Ana Ruiz,Shasta\nnot-an-email,Bad,Shasta\ncy@example.org,Cy,Atlantis\nana@example.org,Ana Again,\n"


async def schedule_session(client, cohort_id: int, page, courses, **where: str):
    """Schedule a live session of the live course; in a training room unless told where."""
    return await client.post(
        f"/cohorts/{cohort_id}/sessions",
        data={
            "_csrf_token": csrf_token(page.text),
            "course": str(courses["live"].id),
            "title": "Simulation",
            "starts_at": "2026-03-02T09:00",
            "minutes": "120",
            **(where or {"place": "Redding training room"}),
        },
    )


async def upload(client, cohort_id: int, content: str):
    page = await client.get(f"/cohorts/{cohort_id}/roster")
    return await client.post(
        f"/cohorts/{cohort_id}/roster",
        data={"_csrf_token": csrf_token(page.text)},
        files={"file": ("roster.csv", content.encode(), "text/csv")},
    )


def preview_rows(preview) -> dict[str, str]:
    """The preview table's rows, keyed by their email cell ("<td>ana@example.org")."""
    return {r.split("</td>")[1]: r for r in preview.text.split("<tr>") if "@example.org" in r}


async def apply_previewed(client, cohort_id: int, preview):
    """Press "Apply these changes": post the file the preview carries, as the browser does."""
    content = re.search(r'name="content" value="([^"]*)"', preview.text, re.S).group(1)
    return await client.post(
        f"/cohorts/{cohort_id}/roster/apply",
        data={"_csrf_token": csrf_token(preview.text), "content": html.unescape(content)},
    )


async def test_roster_import_previews_then_applies(client, db, courses, people):
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    await add(client, cohort_id, "learner2@example.org")  # not in the file: must stay
    preview = await upload(client, cohort_id, GOOD_CSV)
    assert "2 new accounts, 1 existing account added to the roster" in preview.text
    assert await db.scalar(select(func.count()).select_from(CohortMember)) == 1  # nothing yet
    done = await apply_previewed(client, cohort_id, preview)
    assert "Roster imported" in done.text and done.text.count("/account/set-password/") == 2
    emails = set(
        (
            await db.scalars(select(User.email).join(CohortMember, CohortMember.user_id == User.id))
        ).all()
    )
    assert emails == {
        "ana@example.org",
        "bo@example.org",
        "learner@example.org",
        "learner2@example.org",
    }


async def test_a_roster_with_broken_rows_changes_nothing(client, db, courses, people):
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    users_before = await db.scalar(select(func.count()).select_from(User))
    preview = await upload(client, cohort_id, BAD_CSV)
    assert preview.status_code == 400 and "Nothing has been changed" in preview.text
    for message in [
        "Line 3: Enter an email address like",
        "Line 4: &#39;Atlantis&#39; is not a California county",
        "Line 5: ana@example.org is already on line 2",
    ]:
        assert message in preview.text, message
    assert "Apply these changes" not in preview.text
    forced = await client.post(
        f"/cohorts/{cohort_id}/roster/apply",
        data={"_csrf_token": csrf_token(preview.text), "content": BAD_CSV},
    )
    assert forced.status_code == 400
    assert await db.scalar(select(func.count()).select_from(User)) == users_before
    assert await db.scalar(select(func.count()).select_from(CohortMember)) == 0
    for content, message in [
        ("", "The file is empty"),
        ("name\nx\n", "missing: email"),
        ("email,name\n\xff", ""),
    ]:
        response = await upload(client, cohort_id, content)
        assert response.status_code == 400 and message in response.text


async def person_fields(db, user_id: int) -> tuple:
    """A person's name, email, roles and county as the database holds them now."""
    columns = (User.name, User.email, User.is_admin, User.is_trainer, User.is_learner)
    found = await db.execute(select(*columns, User.county_id).where(User.id == user_id))
    return tuple(found.one())


async def test_a_roster_import_never_changes_an_existing_person(client, db, courses, people):
    """A trainer lists the admin and another trainer's learner with new names: both are put
    on the roster as they are, and the preview says which of the file's values are not used."""
    other = Cohort(name="Fresno fall")
    db.add(other)
    await db.flush()
    from lms.cohorts.models import CohortTrainer

    db.add(CohortTrainer(cohort_id=other.id, user_id=people["trainer2"].id))
    db.add(CohortMember(cohort_id=other.id, user_id=people["learner2"].id))
    await db.commit()
    before = {key: await person_fields(db, people[key].id) for key in ("admin", "learner2")}
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    content = (
        "email,name,county\n"
        "admin@example.org,Renamed By Trainer1,\n"
        "learner2@example.org,Renamed Learner,Shasta\n"
    )
    preview = await upload(client, cohort_id, content)
    assert preview.status_code == 200
    rows = preview_rows(preview)
    assert "new member (exists: name not changed)" in rows["<td>admin@example.org"]
    assert "exists: name not changed, county not changed" in rows["<td>learner2@example.org"]
    assert "update" not in preview.text

    done = await apply_previewed(client, cohort_id, preview)
    assert done.status_code == 200 and "2 added from existing accounts" in done.text
    for key in ("admin", "learner2"):
        assert await person_fields(db, people[key].id) == before[key], key
    on_roster = set(
        (
            await db.scalars(
                select(CohortMember.user_id).where(CohortMember.cohort_id == cohort_id)
            )
        ).all()
    )
    assert on_roster == {people["admin"].id, people["learner2"].id}
    assert await db.scalar(select(CohortMember.user_id).where(CohortMember.cohort_id == other.id))
    edits = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "person.update")
    assert await db.scalar(edits) == 0
    # Imported again, with both on the roster now: still nothing about them changes.
    again = await upload(client, cohort_id, content)
    assert "no change (exists: name not changed)" in again.text
    assert "2 already on the roster" in again.text


async def test_enrolling_a_cohort_and_attendance_completing_a_course(
    client, db, settings, courses, people
):
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    await add(client, cohort_id, "learner@example.org")
    preview = await client.get(f"/cohorts/{cohort_id}/enroll")
    assert "2 enrollments to make" in preview.text
    assert await db.scalar(select(func.count()).select_from(Enrollment)) == 0  # not yet
    done = await client.post(
        f"/cohorts/{cohort_id}/enroll", data={"_csrf_token": csrf_token(preview.text)}
    )
    assert done.history[0].status_code == 303 and "The roster is enrolled" in done.text
    assert "0 enrollments to make" in done.text and "2 already in place" in done.text
    again = await client.post(
        f"/cohorts/{cohort_id}/enroll", data={"_csrf_token": csrf_token(preview.text)}
    )
    assert "0 enrollments to make" in again.text and "2 already in place" in again.text
    page = await client.get(f"/cohorts/{cohort_id}")
    enrollments = (await db.scalars(select(Enrollment))).unique().all()
    assert all(
        e.cohort_id == cohort_id and times.local_date(e.due_at, ZONE).isoformat() == "2026-12-31"
        for e in enrollments
    )
    # The learner finishes the live course's modules; only attendance is missing.
    from lms.learning import service as learning

    live = next(e for e in enrollments if e.course_id == courses["live"].id)
    for module_id in ("first", "second"):
        await learning.complete_module(db, settings, live, module_id)
    await db.commit()
    await db.refresh(live)
    assert live.status == "active"
    page = await client.get(f"/cohorts/{cohort_id}")
    bad = await schedule_session(
        client, cohort_id, page, courses, webinar_url="http://insecure.example"
    )
    assert bad.status_code == 400 and "https://" in bad.text
    scheduled = await schedule_session(client, cohort_id, page, courses)
    assert "The session is scheduled" in scheduled.text
    session_id = await db.scalar(select(LiveSession.id))
    saved = await client.post(
        f"/cohorts/{cohort_id}/sessions/{session_id}",
        data={"_csrf_token": csrf_token(scheduled.text), "present": str(people["learner"].id)},
    )
    assert "Attendance has been recorded" in saved.text
    await db.refresh(live)
    assert live.status == "completed"
    outsider = await client.post(
        f"/cohorts/{cohort_id}/sessions/{session_id}",
        data={"_csrf_token": csrf_token(scheduled.text), "present": str(people["learner2"].id)},
    )
    assert outsider.status_code == 400


async def placements(db, user_id: int) -> dict[str, tuple[int | None, str | None]]:
    """{course slug: (cohort id, due date)} of a person's enrollments, as stored now."""
    rows = await db.execute(
        select(Course.slug, Enrollment.cohort_id, Enrollment.due_at)
        .join(Course, Course.id == Enrollment.course_id)
        .where(Enrollment.user_id == user_id)
    )
    return {
        slug: (c, times.local_date(due, ZONE).isoformat() if due else None)
        for slug, c, due in rows.all()
    }


async def enrollment_id(db, user_id: int, course_id: int) -> int:
    query = select(Enrollment.id).where(
        Enrollment.user_id == user_id, Enrollment.course_id == course_id
    )
    return await db.scalar(query)


async def audited(db, action: str) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    return list((await db.scalars(query)).all())


async def test_enrolling_a_second_cohort_leaves_the_first_cohorts_enrollments_unless_moved(
    client, db, courses, people
):
    learner = people["learner"].id
    await sign_in(client, "trainer@example.org")
    first = await new_cohort(client, courses, name="Shasta winter", due="2027-01-03")
    await add(client, first, "learner@example.org")
    await enroll_roster(client, first)
    second = await new_cohort(client, courses, name="Shasta spring", due="2027-02-28")
    await add(client, second, "learner@example.org")
    await add(client, second, "learner2@example.org")
    in_first = {"online": (first, "2027-01-03"), "live": (first, "2027-01-03")}

    # (a) Before acting, the page lists the member where they are; enrolling leaves them.
    preview = await client.get(f"/cohorts/{second}/enroll")
    assert "<td>Learner</td><td>Test Course</td><td>Shasta winter</td><td>Jan 3, 2027</td>" in (
        preview.text
    )
    assert "2 enrollments to make" in preview.text  # Learner2's
    assert "2 enrolled through another cohort" in preview.text
    done = await enroll_roster(client, second)
    assert done.history[0].status_code == 303 and "The roster is enrolled" in done.text
    assert "Shasta winter" in done.text  # still listed where they are
    assert await placements(db, learner) == in_first
    assert set((await placements(db, people["learner2"].id)).values()) == {(second, "2027-02-28")}

    # (d) Enrolling again changes nothing and records nothing.
    events = await db.scalar(select(func.count()).select_from(AuditEvent))
    await enroll_roster(client, second)
    assert await placements(db, learner) == in_first
    assert await db.scalar(select(func.count()).select_from(AuditEvent)) == events

    # (b) Ticked, one enrollment moves, with its due date, and the move is audited.
    online = await enrollment_id(db, learner, courses["online"].id)
    moved = await enroll_roster(client, second, move=(online,))
    assert moved.status_code == 200
    assert await placements(db, learner) == {
        "online": (second, "2027-02-28"),
        "live": (first, "2027-01-03"),
    }
    [event] = await audited(db, "enrollment.move")
    assert event.actor_id == people["trainer"].id and event.entity_id == str(online)
    assert event.before == {"cohort_id": first, "due_on": "2027-01-03"}
    assert event.after == {"cohort_id": second, "due_on": "2027-02-28", "user_id": learner}
    # The same form sent twice (a double click) moves nothing more.
    await enroll_roster(client, second, move=(online,))
    assert len(await audited(db, "enrollment.move")) == 1


async def test_a_trainer_cannot_move_a_learner_out_of_another_trainers_cohort(
    client, db, courses, people
):
    learner = people["learner"].id
    await sign_in(client, "trainer@example.org")
    first = await new_cohort(client, courses, name="Shasta winter", due="2027-01-03")
    await add(client, first, "learner@example.org")
    await enroll_roster(client, first)
    await sign_in(client, "trainer2@example.org")
    second = await new_cohort(client, courses, name="Fresno spring", due="2027-02-28")
    await add(client, second, "learner@example.org")
    await add(client, second, "learner2@example.org")
    in_first = {"online": (first, "2027-01-03"), "live": (first, "2027-01-03")}

    preview = await client.get(f"/cohorts/{second}/enroll")
    assert "<td>Shasta winter</td><td>Jan 3, 2027</td>" in preview.text
    assert "You do not run Shasta winter" in preview.text and 'name="move"' not in preview.text
    online = await enrollment_id(db, learner, courses["online"].id)
    refused = await client.post(
        f"/cohorts/{second}/enroll",
        data={"_csrf_token": csrf_token(preview.text), "move": str(online)},
    )
    assert refused.status_code == 403
    assert "through Shasta winter, which you do not run, so nothing was changed" in refused.text
    assert await placements(db, learner) == in_first
    assert await placements(db, people["learner2"].id) == {}  # nothing at all was done
    assert await audited(db, "enrollment.move") == []
    junk = await client.post(
        f"/cohorts/{second}/enroll", data={"_csrf_token": csrf_token(preview.text), "move": "x"}
    )
    assert junk.status_code == 400 and "not valid" in junk.text

    # An administrator may move them.
    await sign_in(client, "admin@example.org")
    await enroll_roster(client, second, move=(online,))
    assert (await placements(db, learner))["online"] == (second, "2027-02-28")
    [event] = await audited(db, "enrollment.move")
    assert event.actor_id == people["admin"].id


async def test_a_learner_enrolled_on_their_own_joins_the_cohort_with_their_progress(
    client, db, settings, courses, people
):
    from lms.learning import service as learning

    own, _ = await learning.enroll(db, people["learner"], courses["online"])
    await db.flush()
    await learning.complete_module(db, settings, own, "first")
    await db.commit()
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses, due="2027-01-03")
    await add(client, cohort_id, "learner@example.org")
    preview = await client.get(f"/cohorts/{cohort_id}/enroll")
    assert "1 enrolled on their own" in preview.text and "1 enrollment to make" in preview.text
    await enroll_roster(client, cohort_id)
    assert await placements(db, people["learner"].id) == {
        "online": (cohort_id, "2027-01-03"),
        "live": (cohort_id, "2027-01-03"),
    }
    assert await enrollment_id(db, people["learner"].id, courses["online"].id) == own.id
    [event] = await audited(db, "enrollment.attach")
    assert event.before == {"cohort_id": None, "due_on": None}
    assert event.after["cohort_id"] == cohort_id


async def test_matrix_shows_status_and_uses_a_fixed_number_of_queries(
    client, db, settings, courses, people
):
    from lms.learning import service as learning

    cohort = Cohort(name="Big cohort")
    db.add(cohort)
    await db.flush()

    async def grow(count: int) -> None:
        start = await db.scalar(select(func.count()).select_from(CohortMember))
        for i in range(start, start + count):
            user = await make_person(db, settings, f"m{i}@example.org", name=f"Member {i:03d}")
            db.add(CohortMember(cohort_id=cohort.id, user_id=user.id))
            enrollment, _ = await learning.enroll(db, user, courses["online"])
            await db.flush()
            if i % 2:
                await learning.complete_module(db, settings, enrollment, "first")
        await db.commit()

    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    counted: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: counted.append(a[2]))

    async def queries() -> tuple[int, progress.Matrix]:
        counted.clear()
        async with sessionmaker() as session:
            chosen = await session.get(Course, courses["online"].id)
            found = await progress.build_matrix(
                session, await session.get(Cohort, cohort.id), chosen, zone=settings.zone
            )
        return len(counted), found

    await grow(4)
    small, matrix = await queries()
    await grow(16)
    large, matrix = await queries()
    await engine.dispose()
    assert small == large, (small, large)
    assert len(matrix.rows) == 20
    counts = matrix.counts()
    assert counts == {"in progress": 10, "not started": 10}
    states = {r.learner.name: r.statuses[0] for r in matrix.rows}
    assert states["Member 001"] == "done" and states["Member 000"] == "available"


async def test_the_reports_status_counts_agree_with_the_matrix(
    client, db, settings, courses, people
):
    """The cohort report counts statuses without building the matrix, by the same rule."""
    from lms.learning import service as learning

    cohort = Cohort(name="Mixed cohort")
    db.add(cohort)
    await db.flush()
    kinds = ["not enrolled", "not started", "in progress", "completed", "withdrawn", "in progress"]
    for i, kind in enumerate(kinds):
        user = await make_person(db, settings, f"mix{i}@example.org", name=f"Mixed {i}")
        db.add(CohortMember(cohort_id=cohort.id, user_id=user.id))
        if kind == "not enrolled":
            continue
        enrollment, _ = await learning.enroll(db, user, courses["online"])
        await db.flush()
        if kind != "not started":
            await learning.complete_module(db, settings, enrollment, "first")
        if kind == "completed":
            enrollment.status, enrollment.completed_at = "completed", utcnow()
        if kind == "withdrawn":
            enrollment.status = "withdrawn"
    await db.commit()
    matrix = await progress.build_matrix(db, cohort, courses["online"], zone=settings.zone)
    counted = await progress.status_counts(db, cohort, courses["online"])
    assert (
        counted.counts
        == matrix.counts()
        == {
            "not enrolled": 1,
            "not started": 1,
            "in progress": 2,
            "completed": 1,
            "withdrawn": 1,
        }
    )
    assert counted.members == 6 and len(counted.completed_at) == 1


async def test_matrix_seen_again_shows_what_changed_since(client, db, settings, courses, people):
    """A worker keeps the rows it has worked out; none may outlive a change to their facts."""
    from lms.learning import service as learning

    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    await add(client, cohort_id, "learner@example.org")
    page = await enroll_roster(client, cohort_id)
    online = f"/cohorts/{cohort_id}/progress?course=online"
    live = f"/cohorts/{cohort_id}/progress?course=live"

    def learner_row(html: str) -> str:
        return next(r for r in html.split("<tr>") if "/learners/" in r)

    first = learner_row((await client.get(online)).text)
    assert "not started" in first and "cell-done" not in first
    enrollments = {
        e.course_id: e
        for e in (
            await db.scalars(select(Enrollment).where(Enrollment.user_id == people["learner"].id))
        ).unique()
    }
    await learning.complete_module(db, settings, enrollments[courses["online"].id], "first")
    await db.commit()
    second = learner_row((await client.get(online)).text)
    assert "in progress" in second and second.count("cell-done") == 1

    learner = await db.get(User, people["learner"].id)
    learner.name = "Renamed <Learner>"
    await db.commit()
    assert "Renamed &lt;Learner&gt;" in learner_row((await client.get(online)).text)

    for module_id in ("first", "second"):
        await learning.complete_module(db, settings, enrollments[courses["live"].id], module_id)
    await db.commit()
    before = learner_row((await client.get(live)).text)
    assert "in progress" in before and "completed" not in before
    scheduled = await schedule_session(client, cohort_id, page, courses)
    session_id = await db.scalar(select(LiveSession.id))
    await client.post(
        f"/cohorts/{cohort_id}/sessions/{session_id}",
        data={"_csrf_token": csrf_token(scheduled.text), "present": str(people["learner"].id)},
    )
    after = learner_row((await client.get(live)).text)
    assert "completed" in after and "100%" in after


async def test_matrix_last_activity_counts_reading_a_module(client, db, settings, courses, people):
    """A module page view writes only its module row; trainers still see it as activity."""

    def shown(moment) -> str:  # the academy's local date, as every page shows dates
        return times.show_date(moment, settings.zone)

    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses, due="2030-12-31")
    await add(client, cohort_id, "learner@example.org")
    await enroll_roster(client, cohort_id)
    matrix = f"/cohorts/{cohort_id}/progress?course=online"

    async def learner_row() -> str:
        html = (await client.get(matrix)).text
        return next(r for r in html.split("<tr>") if "/learners/" in r)

    enrollment = await db.scalar(
        select(Enrollment).where(
            Enrollment.user_id == people["learner"].id,
            Enrollment.course_id == courses["online"].id,
        )
    )
    month_ago = utcnow() - timedelta(days=30)
    enrollment.last_activity_at = month_ago
    await db.commit()
    idle = await learner_row()
    assert shown(month_ago) in idle and "At risk" in idle

    await sign_in(client, "learner@example.org")
    assert (await client.get("/courses/online/modules/first")).status_code == 200
    await sign_in(client, "trainer@example.org")
    read = await learner_row()
    assert shown(utcnow()) in read and "At risk" not in read

    # Whichever is later counts: a save after the last reading.
    await db.execute(update(ModuleProgress).values(last_seen_at=month_ago))
    enrollment.last_activity_at = week_ago = utcnow() - timedelta(days=7)
    await db.commit()
    saved = await learner_row()
    assert shown(week_ago) in saved and "At risk" not in saved


async def test_time_spent_reading_shows_on_the_matrix_learner_page_and_export(
    client, db, settings, courses, people
):
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses, due="2030-12-31")
    await add(client, cohort_id, "learner@example.org")
    await enroll_roster(client, cohort_id)
    await sign_in(client, "learner@example.org")
    assert (await client.get("/courses/online/modules/first")).status_code == 200
    await db.execute(update(ModuleProgress).values(seconds_spent=37 * 60 + 10))
    await db.commit()
    await sign_in(client, "trainer@example.org")
    html = (await client.get(f"/cohorts/{cohort_id}/progress?course=online")).text
    row = next(r for r in html.split("<tr>") if "/learners/" in r)
    assert "<td>37 min</td>" in row
    learner = await client.get(f"/cohorts/{cohort_id}/learners/{people['learner'].id}")
    assert "37 min reading the modules" in learner.text and "· 37 min</li>" in learner.text
    response = await client.get(f"/cohorts/{cohort_id}/export/matrix.csv?course=online")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    column = rows[0].index("Minutes spent")
    learner_row = next(r for r in rows[1:] if r[1] == "learner@example.org")
    assert learner_row[column] == "37"


async def test_trainer_on_their_own_roster_sees_their_own_learner_page(client, courses, people):
    # The signed-in person is loaded without their county; this page shows it.
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    await add(client, cohort_id, "trainer@example.org")
    response = await client.get(f"/cohorts/{cohort_id}/learners/{people['trainer'].id}")
    assert response.status_code == 200
    assert "Shasta County" in response.text


async def test_the_matrix_links_each_learner_to_the_learner_page_route(
    app, client, courses, people
):
    # The row's HTML writes the address out (it is built for thousands of rows); it must stay
    # the address of the named route.
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    await add(client, cohort_id, "learner@example.org")
    matrix = await client.get(f"/cohorts/{cohort_id}/progress")
    route = app.route_reverse(
        "gradebook.learner", cohort_id=cohort_id, user_id=people["learner"].id
    )
    assert f'<a href="{route}">' in matrix.text
    assert (await client.get(route)).status_code == 200


async def test_exports_neutralise_formulas(client, db, settings, courses, people):
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    await make_person(
        db, settings, "evil@example.org", name='=HYPERLINK("http://x.example","click")'
    )
    await add(client, cohort_id, "evil@example.org")
    await enroll_roster(client, cohort_id)
    response = await client.get(f"/cohorts/{cohort_id}/export/matrix.csv?course=online")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Learner" and rows[1][0] == '\'=HYPERLINK("http://x.example","click")'
    xlsx = await client.get(f"/cohorts/{cohort_id}/export/matrix.xlsx?course=online")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet["A2"].value.startswith("'=") and sheet["A2"].data_type == "s"
    for name in ("completions.csv", "attendance.xlsx"):
        assert (await client.get(f"/cohorts/{cohort_id}/export/{name}")).status_code == 200
    assert (await client.get(f"/cohorts/{cohort_id}/export/secrets.csv")).status_code == 404


async def test_course_report_and_admin_completions(client, db, settings, courses, people):
    from lms.learning import service as learning

    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    await add(client, cohort_id, "learner@example.org")
    await enroll_roster(client, cohort_id)
    await sign_in(client, "learner@example.org")
    from tests.learning_helpers import definition, take_quiz

    online = await definition(db, "online")
    await take_quiz(client, "/courses/online/modules/first/quiz/start", online, right=False)
    await take_quiz(client, "/courses/online/modules/first/quiz/start", online, right=True)
    enrollment = await db.scalar(
        select(Enrollment).where(Enrollment.course_id == courses["online"].id)
    )
    await learning.complete_module(db, settings, enrollment, "second")
    await db.commit()
    await sign_in(client, "trainer@example.org")
    report = await client.get(f"/cohorts/{cohort_id}/report?course=online")
    assert report.status_code == 200
    assert (
        "Which is right?" in report.text
        and "from 1 first graded attempt by 1 learner (retakes are left out)" in report.text
        and "That one: 1 (top 0, bottom 0)" in report.text
    )
    assert "<svg" in report.text and "Learners by status" in report.text
    assert f"/cohorts/{cohort_id}/export/items.csv?course=online" in report.text
    item_rows = await client.get(f"/cohorts/{cohort_id}/export/items.csv?course=online")
    lines = item_rows.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Question,Where,Module measured,Objective,Prompt,First attempts")
    assert lines[1].startswith("q1,The first module,The first module,,Which is right?,1,0.0,")
    await sign_in(client, "admin@example.org")
    by_county = await client.get("/admin/completions?by=county")
    assert "Shasta" in by_county.text and "Learner" in by_county.text
    exported = await client.get("/admin/completions?by=county&fmt=csv")
    assert "Learner" in exported.content.decode("utf-8-sig")
    audit = await client.get("/admin/audit?action=cohort.create")
    assert "cohort.create" in audit.text and "Trainer" in audit.text


async def test_trainer_downloads_certificates_of_their_own_learners_only(
    client, db, settings, courses, people
):
    from lms.certificates.models import Certificate
    from lms.learning import service as learning

    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    await add(client, cohort_id, "learner@example.org")
    enrollment, _ = await learning.enroll(db, people["learner"], courses["online"])
    await db.flush()
    for module_id in ("first", "second"):
        await learning.complete_module(db, settings, enrollment, module_id)
    await db.commit()
    serial = await db.scalar(select(Certificate.serial))
    assert (await client.get(f"/certificates/{serial}.pdf")).status_code == 200
    await sign_in(client, "trainer2@example.org")
    assert (await client.get(f"/certificates/{serial}.pdf")).status_code == 404


ROUTES = [
    ("get", "/cohorts"),
    ("get", "/cohorts/new"),
    ("get", "/cohorts/{id}"),
    ("get", "/cohorts/{id}/edit"),
    ("get", "/cohorts/{id}/roster"),
    ("get", "/cohorts/{id}/progress"),
    ("get", "/cohorts/{id}/report"),
    ("get", "/cohorts/{id}/learners/{learner}"),
    ("get", "/cohorts/{id}/export/matrix.csv"),
    ("get", "/cohorts/{id}/export/completions.xlsx"),
    ("get", "/cohorts/{id}/sessions/{session}"),
    ("get", "/cohorts/{id}/enroll"),
    ("post", "/cohorts/{id}/enroll"),
    ("post", "/cohorts/{id}/members"),
    ("post", "/cohorts/{id}/sessions/{session}"),
    ("post", "/cohorts/{id}/members/{learner}/remove"),
    ("get", "/cohorts/{id}/members/{learner}/remove"),
    ("get", "/admin/completions"),
    ("get", "/admin/audit"),
    ("get", "/admin/certificates"),
    ("get", "/admin/people"),
    ("get", "/admin/courses"),
]
ADMIN_ONLY = {
    "/admin/completions",
    "/admin/audit",
    "/admin/certificates",
    "/admin/people",
    "/admin/courses",
}
NOT_PER_COHORT = {"/cohorts", "/cohorts/new"}


@pytest.mark.parametrize("method,path", ROUTES)
@pytest.mark.parametrize("who", ["learner", "trainer2", "trainer", "admin"])
async def test_permission_matrix(client, db, courses, people, method, path, who):
    """Every trainer and admin route, as a learner, another cohort's trainer, the trainer, an admin."""
    cohort = Cohort(name="Permissions")
    db.add(cohort)
    await db.flush()
    from lms.cohorts.models import CohortCourse, CohortTrainer

    db.add(CohortTrainer(cohort_id=cohort.id, user_id=people["trainer"].id))
    db.add(CohortMember(cohort_id=cohort.id, user_id=people["learner"].id))
    db.add(CohortCourse(cohort_id=cohort.id, course_id=courses["online"].id))
    session = LiveSession(
        cohort_id=cohort.id,
        course_id=courses["online"].id,
        title="S",
        starts_at=__import__("datetime").datetime(2026, 3, 1, 9),
        place="Room",
    )
    db.add(session)
    await db.commit()
    url = path.format(id=cohort.id, learner=people["learner"].id, session=session.id)
    await sign_in(client, f"{who}@example.org")
    if method == "get":
        response = await client.get(url)
    else:
        response = await client.post(
            url,
            data={
                "_csrf_token": csrf_token((await client.get("/")).text),
                "email": "x@example.org",
                "name": "X Person",
            },
        )
    if who == "learner":
        expected = {403}
    elif path in ADMIN_ONLY:
        expected = {200} if who == "admin" else {403}
    elif who == "trainer2" and path not in NOT_PER_COHORT:
        expected = {404}
    else:
        expected = {200}
    assert response.status_code in expected, (who, url, response.status_code)
    if who in ("learner", "trainer2") and method == "post":
        assert await db.scalar(select(func.count()).select_from(CohortMember)) == 1


async def test_every_change_to_progress_raises_the_enrollment_revision(
    db, settings, courses, people
):
    """The matrix keeps summaries by (enrollment, revision): triggers must raise it for each
    kind of fact progress is made of, and for nothing else."""
    from lms.cohorts.models import Attendance
    from lms.db import utcnow
    from lms.learning import service as learning
    from lms.learning.models import EvaluationResponse, ModuleProgress
    from lms.quizzes.models import Attempt

    learner = people["learner"]
    enrollment, _ = await learning.enroll(db, learner, courses["live"], by=people["admin"])
    await db.commit()
    seen: list[int] = []

    async def changed(step) -> bool:
        done = step()
        if done is not None:  # db.delete is a coroutine
            await done
        await db.commit()
        revision = await db.scalar(
            select(Enrollment.progress_revision).where(Enrollment.id == enrollment.id)
        )
        seen.append(revision)
        return len(seen) < 2 or seen[-1] > seen[-2]

    now = utcnow()
    row = ModuleProgress(
        enrollment_id=enrollment.id, module_id="first", opened_at=now, last_seen_at=now
    )
    attempt = Attempt(enrollment_id=enrollment.id, target="module:first", number=1, layout=[])
    cohort = Cohort(name="Revisions")
    assert await changed(lambda: db.add(row))
    assert await changed(lambda: setattr(row, "status", "done"))
    assert not await changed(lambda: setattr(row, "seconds_spent", 60))
    assert not await changed(lambda: db.add(attempt))  # started, not submitted
    assert await changed(lambda: setattr(attempt, "submitted_at", now))
    assert await changed(
        lambda: db.add(
            EvaluationResponse(
                enrollment_id=enrollment.id, version_id=enrollment.version_id, answers={}
            )
        )
    )
    assert not await changed(lambda: db.add(cohort))
    session = LiveSession(
        cohort_id=cohort.id, course_id=courses["live"].id, title="Day one", starts_at=now
    )
    assert not await changed(lambda: db.add(session))
    mark = Attendance(session_id=session.id, user_id=learner.id, present=True)
    assert await changed(lambda: db.add(mark))
    assert await changed(lambda: setattr(mark, "present", False))
    await lift_retention(db)  # deleting is what an expired record's removal does
    assert await changed(lambda: db.delete(mark))
    assert await changed(lambda: db.delete(row))
