"""What compliance counts from, on each person: admins set and clear it, a roster file gives
it to the accounts it creates, and bad values are refused; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from lms.accounts.models import User
from lms.audit import AuditEvent
from lms.settings import Settings
from tests.conftest import form_token, sign_in
from tests.test_cohorts import apply_previewed, new_cohort, preview_rows, upload

# Loaded by the `courses` fixture in conftest.py (a cohort needs a course).
COURSES = {"online": {}}
FIELDS = ("hire_date", "role_date", "classification", "license_type", "license_number")
ALL_FIELDS = (*FIELDS, "license_expires")
FILLED = {
    "hire_date": "2018-09-04",
    "role_date": "2023-02-01",
    "classification": "supervisor",
    "license_type": "LCSW",
    "license_number": "LCS-12345/B",
    "license_expires": "2027-10-31",
}


def base(person: User) -> dict[str, str]:
    return {"email": person.email, "name": person.name, "role_learner": "1"}


async def save(client, person_id: int, data: dict[str, str]):
    path = f"/admin/people/{person_id}"
    token = await form_token(client, path)
    return await client.post(path, data={"_csrf_token": token, **data}, follow_redirects=False)


async def record(db, person_id: int) -> tuple:
    user = await db.get(User, person_id)
    await db.refresh(user)
    return tuple(getattr(user, f) for f in ALL_FIELDS)


async def test_an_admin_sets_and_clears_each_field(client, db, people):
    learner = people["learner"]
    await sign_in(client, "admin@example.org")
    form = await client.get(f"/admin/people/{learner.id}")
    assert "<legend>Compliance</legend>" in form.text
    assert '<option value="">Not set</option>' in form.text
    response = await save(client, learner.id, base(learner) | FILLED)
    assert response.status_code == 303, response.text[:500]
    assert await record(db, learner.id) == (
        date(2018, 9, 4),
        date(2023, 2, 1),
        "supervisor",
        "LCSW",
        "LCS-12345/B",
        date(2027, 10, 31),
    )
    shown = (await client.get(f"/admin/people/{learner.id}")).text
    for field, value in FILLED.items():
        if field == "classification":
            assert '<option value="supervisor" selected>Supervisor</option>' in shown
        else:
            assert f'name="{field}" type="' in shown and f'value="{value}"' in shown, field
    response = await save(client, learner.id, base(learner) | {f: "" for f in ALL_FIELDS})
    assert response.status_code == 303
    assert await record(db, learner.id) == (None,) * 6
    [first, second] = (
        await db.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "person.update", AuditEvent.entity_id == str(learner.id))
            .order_by(AuditEvent.id)
        )
    ).all()
    assert first.actor_id == people["admin"].id
    assert first.before["hire_date"] is None and first.after["hire_date"] == "2018-09-04"
    assert first.after["classification"] == "supervisor"
    assert first.after["license_expires"] == "2027-10-31"
    assert second.before["license_number"] == "LCS-12345/B"
    assert second.after["license_number"] is None and second.after["role_date"] is None


async def test_an_admin_creates_a_person_with_the_fields(client, db, people):
    await sign_in(client, "admin@example.org")
    token = await form_token(client, "/admin/people/new")
    data = {"email": "new@example.org", "name": "New Hire", "role_learner": "1"}
    response = await client.post(
        "/admin/people/new",
        data={"_csrf_token": token, "password": "temporary-pass-1", **data, **FILLED},
    )
    assert "The account has been created." in response.text
    user = await db.scalar(select(User).where(User.email == "new@example.org"))
    assert (user.hire_date, user.classification) == (date(2018, 9, 4), "supervisor")
    event = await db.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "person.create", AuditEvent.entity_id == str(user.id)
        )
    )
    assert event.after["role_date"] == "2023-02-01"
    assert event.after["license_number"] == "LCS-12345/B"


def _future() -> str:
    # Two days ahead of the academy's today, whatever the hour here.
    return (datetime.now(Settings().zone).date() + timedelta(days=2)).isoformat()


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"hire_date": "future"}, "The hire date cannot be in the future"),
        ({"role_date": "future"}, "The date of the current role cannot be in the future"),
        ({"hire_date": "1949-12-31"}, "The hire date cannot be before 1950-01-01."),
        ({"role_date": "1949-12-31"}, "cannot be before 1950-01-01."),
        (
            {"hire_date": "2020-05-01", "role_date": "2020-04-30"},
            "The date of the current role cannot be before the hire date.",
        ),
        ({"hire_date": "2020-13-01"}, "The hire date must be a date like 2026-03-31."),
        ({"classification": "director"}, "Choose a classification from the list"),
        ({"license_number": "LCS\x001"}, "License number contains a control character"),
        ({"license_number": "<script>"}, "only letters, digits, spaces, hyphens and slashes"),
        ({"license_type": "LCSW\x07"}, "License type contains a control character"),
        ({"license_type": "L" * 41}, "License type can be at most 40 characters."),
        ({"license_number": "1" * 41}, "License number can be at most 40 characters."),
        ({"license_expires": "1949-06-30"}, "The license expiry cannot be before 1950-01-01."),
    ],
)
async def test_bad_values_are_refused_and_nothing_changes(client, db, people, changes, message):
    learner = people["learner"]
    await sign_in(client, "admin@example.org")
    assert (await save(client, learner.id, base(learner) | FILLED)).status_code == 303
    before = await record(db, learner.id)
    changes = {k: _future() if v == "future" else v for k, v in changes.items()}
    response = await save(client, learner.id, base(learner) | FILLED | changes)
    assert response.status_code == 400
    assert message in response.text
    assert "<script>" not in response.text
    assert await record(db, learner.id) == before
    edits = select(AuditEvent.id).where(AuditEvent.action == "person.update")
    assert len((await db.scalars(edits)).all()) == 1  # the first save only


async def test_a_new_account_is_refused_a_future_hire_date(client, db, people):
    await sign_in(client, "admin@example.org")
    token = await form_token(client, "/admin/people/new")
    data = {"email": "new@example.org", "name": "New Hire", "role_learner": "1"}
    response = await client.post(
        "/admin/people/new",
        data={"_csrf_token": token, "password": "temporary-pass-1", "hire_date": _future(), **data},
    )
    assert response.status_code == 400 and "cannot be in the future" in response.text
    assert await db.scalar(select(User.id).where(User.email == "new@example.org")) is None


ROSTER = (
    "email,name,hire_date,role_date,classification,license_type,license_number\n"
    "ana@example.org,Ana Ruiz,2021-03-15,2024-01-08,Social Worker,ASW,ASW 98765\n"
    "learner@example.org,Renamed,2010-01-01,,manager,,\n"
)


async def test_a_roster_gives_new_accounts_its_columns_and_keeps_existing_ones(
    client, db, courses, people
):
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    preview = await upload(client, cohort_id, ROSTER)
    assert preview.status_code == 200, preview.text[:500]
    for column in FIELDS:
        assert f'<th scope="col"><code>{column}</code></th>' in preview.text, column
    assert "<code>license_expires</code></th>" not in preview.text  # not in the file
    rows = preview_rows(preview)
    assert (
        "<td>2021-03-15</td><td>2024-01-08</td><td>social_worker</td>"
        in rows["<td>ana@example.org"]
    )
    assert (
        "exists: name not changed, hire_date not changed, classification not changed"
        in rows["<td>learner@example.org"]
    )
    done = await apply_previewed(client, cohort_id, preview)
    assert done.status_code == 200 and "Roster imported" in done.text
    ana = await db.scalar(select(User).where(User.email == "ana@example.org"))
    assert (ana.hire_date, ana.role_date, ana.classification) == (
        date(2021, 3, 15),
        date(2024, 1, 8),
        "social_worker",
    )
    assert (ana.license_type, ana.license_number, ana.license_expires) == (
        "ASW",
        "ASW 98765",
        None,
    )
    assert await record(db, people["learner"].id) == (None,) * 6
    set_by_import = await db.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "person.update", AuditEvent.entity_id == str(ana.id)
        )
    )
    assert set_by_import.after["hire_date"] == "2021-03-15"
    assert set_by_import.after["via"] == f"roster {cohort_id}"


@pytest.mark.parametrize(
    "row,message",
    [
        ("bo@example.org,Bo,2021-02-30,", "Line 3: hire_date must be a date like 2026-03-31."),
        ("bo@example.org,Bo,1900-01-01,", "Line 3: The hire date cannot be before 1950-01-01."),
        ("bo@example.org,Bo,2099-01-01,", "Line 3: The hire date cannot be in the future"),
        ("bo@example.org,Bo,,director", "Line 3: Choose a classification from the list"),
        ("bo@example.org,Bo,,,LCS&lt;1", "Line 3: A license number can hold only letters"),
        ("learner@example.org,,2021-02-30,", "Line 3: hire_date must be a date like"),
    ],
)
async def test_a_roster_with_a_bad_value_is_refused_with_its_line(
    client, db, courses, people, row, message
):
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    users_before = len((await db.scalars(select(User.id))).all())
    content = (
        "email,name,hire_date,classification,license_number\n"
        "cy@example.org,Cy,2020-01-06,social_worker,\n" + row.replace("&lt;", "<") + "\n"
    )
    preview = await upload(client, cohort_id, content)
    assert preview.status_code == 400 and "Nothing has been changed" in preview.text
    assert message in preview.text
    assert "Apply these changes" not in preview.text
    assert len((await db.scalars(select(User.id))).all()) == users_before


async def test_the_roster_header_message_lists_the_new_columns(client, courses, people):
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    response = await upload(client, cohort_id, "name,hire_date\nA,2020-01-01\n")
    assert response.status_code == 400
    assert "hire_date, role_date, classification, license_type, license_number and " in (
        response.text
    )
    assert "license_expires; missing: email." in response.text
