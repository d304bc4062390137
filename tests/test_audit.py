"""The audit log page: who did what to whom, by name, with what changed."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import event, select

from lms.accounts import service as accounts
from lms.accounts.models import County, User
from lms.certificates import service as certificates
from lms.certificates.models import Certificate
from lms.cohorts import service as cohorts
from lms.learning import service as learning
from tests.conftest import make_person, post, sign_in
from tests.course_factory import COURSE_YAML

# Loaded by the `courses` fixture in conftest.py.
COURSES = {"online": {}, "other": {"course.yaml": COURSE_YAML.replace("Test Course", "Other")}}


def audit_rows(html: str) -> list[str]:
    """The page's table, one string per event (the nested change tables keep <tr> unbroken)."""
    return html.split("<tr>\n")[1:]


def changes(row: str) -> list[tuple[str, str, str]]:
    return re.findall(r'<tr><th scope="row">(.*?)</th><td>(.*?)</td><td>(.*?)</td></tr>', row)


async def county_id(db, name: str) -> int:
    return (await db.scalars(select(County.id).where(County.name == name))).one()


async def test_an_edit_shows_names_and_what_changed_not_json_or_ids(client, db, settings, people):
    await make_person(db, settings, "chief@example.org", ("admin",), name="Zoë Chief")
    learner = people["learner"]
    await sign_in(client, "chief@example.org")
    path = f"/admin/people/{learner.id}"
    saved = await post(
        client,
        path,
        {
            "email": "learner@example.org",
            "name": "José Núñez",
            "role_learner": "1",
            "county_id": str(await county_id(db, "Fresno")),
        },
    )
    assert saved.status_code == 200, saved.text[:300]
    page = await client.get("/admin/audit")
    assert page.status_code == 200
    # Values as text, not JSON with \u escapes; people by name, not "user 16".
    assert "\\u00e9" not in page.text and "{&#34;" not in page.text and '{"' not in page.text
    assert f"user {learner.id}" not in page.text
    assert not re.search(r"\b(user|cohort|enrollment) [0-9]+\b", page.text)
    (row,) = [r for r in audit_rows(page.text) if "Edited a person" in r]
    assert "<td>Zoë Chief</td>" in row and "<td>José Núñez" in row
    # Only what changed: the email and the roles stayed the same.
    assert changes(row) == [("Name", "Learner", "José Núñez"), ("County", "Shasta", "Fresno")]
    # The filters still narrow the list.
    mine = await client.get("/admin/audit", params={"actor": "zoë", "action": "person.update"})
    assert [r for r in audit_rows(mine.text) if "Edited a person" in r]
    assert not [r for r in audit_rows(mine.text) if "Added a person" in r]
    others = await client.get("/admin/audit", params={"actor": "nobody-like-this"})
    assert "Nothing matches." in others.text


async def test_cohort_changes_show_counties_trainers_courses_and_members_by_name(
    client, db, settings, people, courses
):
    admin, trainer = people["admin"], people["trainer"]
    online, other = courses["online"], courses["other"]
    form = cohorts.CohortForm(
        name="Núñez cohort",
        starts_on=date(2026, 1, 5),
        ends_on=None,
        county_ids=[await county_id(db, "Shasta")],
        trainer_ids=[],
        courses={online.id: date(2026, 6, 30)},
    )
    cohort = await cohorts.save_cohort(db, admin, form)
    changed = cohorts.CohortForm(
        name="Núñez cohort",
        starts_on=date(2026, 1, 5),
        ends_on=None,
        county_ids=[await county_id(db, "Shasta"), await county_id(db, "Fresno")],
        trainer_ids=[trainer.id],
        courses={online.id: date(2026, 6, 30), other.id: None},
    )
    await cohorts.save_cohort(db, admin, changed, cohort)
    await cohorts.add_member(db, settings, cohort, admin, "learner2@example.org", "", None)
    enrollment, _ = await learning.enroll(db, people["learner2"], online, by=admin)
    await db.commit()
    await sign_in(client, "admin@example.org")
    rows = audit_rows((await client.get("/admin/audit")).text)
    (edited,) = [r for r in rows if "Edited a cohort" in r]
    assert "<td>Núñez cohort" in edited
    assert changes(edited) == [
        ("Counties", "Shasta", "Fresno, Shasta"),
        ("Trainers", "", "Trainer"),
        ("Courses", "Test Course (due 2026-06-30)", "Test Course (due 2026-06-30), Other"),
    ]
    (added,) = [r for r in rows if "Added a cohort member" in r]
    assert changes(added) == [("Person", "", "Learner2")]
    (enrolled,) = [r for r in rows if "Enrolled a learner" in r]
    assert "<td>Learner2 in Test Course" in enrolled
    assert changes(enrolled) == [("Person", "", "Learner2"), ("Course", "", "Test Course")]


async def test_the_audit_page_costs_the_same_queries_however_many_events(
    app, client, db, settings, people, courses
):
    statements: list[str] = []
    event.listen(
        app.state.engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2])
    )
    admin = people["admin"]

    async def changes_by_admin(n: int) -> None:
        person = await make_person(db, settings, f"p{n}@example.org", name=f"Person {n}")
        form = await accounts.parse_person_form(
            db, {"email": [person.email], "name": [f"Renamed {n}"], "role_learner": ["1"]}
        )
        await accounts.update_person(db, person, form, admin, settings.zone)
        cohort = await cohorts.save_cohort(
            db,
            admin,
            cohorts.CohortForm(f"Cohort {n}", None, None, [], [], {courses["online"].id: None}),
        )
        await cohorts.add_member(db, settings, cohort, admin, person.email, "", None)
        await learning.enroll(db, person, courses["other"], by=admin)
        await db.commit()

    await sign_in(client, "admin@example.org")
    await changes_by_admin(1)
    statements.clear()
    assert (await client.get("/admin/audit")).status_code == 200
    few = len(statements)
    for n in range(2, 8):
        await changes_by_admin(n)
    statements.clear()
    page = await client.get("/admin/audit")
    assert len(statements) == few, statements
    assert "Renamed 7" in page.text and "Cohort 7" in page.text
    assert (await db.scalar(select(User.name).where(User.email == "p7@example.org"))) in page.text


async def test_certificates_sessions_and_attendance_are_named(
    client, db, settings, people, courses
):
    admin, learner, learner2 = people["admin"], people["learner"], people["learner2"]
    online = courses["online"]
    enrollment, _ = await learning.enroll(db, learner, online)
    await db.flush()
    definition = await learning.catalog.get_definition(db, enrollment.version_id)
    for module in definition.modules:
        await learning.complete_module(db, settings, enrollment, module.id)
    certificate = await db.scalar(select(Certificate))
    await certificates.revoke(db, certificate, "Issued to the wrong person", admin)
    cohort = await cohorts.save_cohort(
        db, admin, cohorts.CohortForm("Evening", None, None, [], [], {online.id: None})
    )
    for person in (learner, learner2):
        await cohorts.add_member(db, settings, cohort, admin, person.email, "", None)
    typed = {"title": "Classroom día", "starts_at": "2026-03-02T09:00", "place": "Room 1"}
    form = cohorts.SessionForm.from_form(
        {"course": [str(online.id)]} | {k: [v] for k, v in typed.items()}
    )
    session = await cohorts.schedule_session(db, cohort, form, admin, settings.zone)
    await cohorts.record_attendance(
        db, settings, cohort, session, cohorts.AttendanceForm(frozenset({learner.id})), admin
    )
    await cohorts.record_attendance(
        db, settings, cohort, session, cohorts.AttendanceForm(frozenset({learner2.id})), admin
    )
    await db.commit()
    await sign_in(client, "admin@example.org")
    page = (await client.get("/admin/audit")).text
    rows = audit_rows(page)
    (revoked,) = [r for r in rows if "Revoked a certificate" in r]
    assert f"<td>{certificate.serial} (Learner, Test Course)" in revoked
    assert changes(revoked) == [("Reason", "", "Issued to the wrong person")]
    (scheduled,) = [r for r in rows if "Scheduled a live session" in r]
    assert "<td>Classroom día (Evening)" in scheduled
    assert changes(scheduled) == [("Cohort", "", "Evening"), ("Title", "", "Classroom día")]
    second, first = [r for r in rows if "Recorded attendance" in r]
    # A row per person whose attendance changed.
    assert sorted(changes(first)) == [("Learner", "", "present"), ("Learner2", "", "absent")]
    assert sorted(changes(second)) == [
        ("Learner", "present", "absent"),
        ("Learner2", "absent", "present"),
    ]
    assert not re.search(r"\b(user|cohort|live_session|enrollment) [0-9]+\b", page)


def test_an_entity_id_that_is_not_an_id_stays_text():
    from lms.audit import _key

    assert _key("person", "16") == ("person", 16)
    # A superscript two counts as a digit to str.isdigit, and int() refuses it.
    assert _key("person", "\u00b2") == ("person", "\u00b2")
    assert _key("certificate", "K7QH") == ("certificate", "K7QH")
