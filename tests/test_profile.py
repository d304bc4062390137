"""A person's own profile: the name their certificates print and their license, and what
the academy holds about them, read-only; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from lms.accounts.models import User
from lms.audit import AuditEvent
from tests.conftest import form_token, sign_in


async def submit(client, data: dict[str, str]):
    token = await form_token(client, "/account/profile")
    return await client.post(
        "/account/profile", data={"_csrf_token": token, **data}, follow_redirects=False
    )


async def test_the_profile_shows_what_the_academy_holds_read_only(client, db, people):
    learner = await db.get(User, people["learner"].id)
    learner.hire_date, learner.role_date = date(2019, 4, 1), date(2022, 7, 15)
    learner.classification, learner.license_expires = "supervisor", date(2027, 6, 30)
    learner.supervisor_id = people["trainer"].id
    await db.commit()
    await sign_in(client, "learner@example.org")
    home = await client.get("/")
    assert 'href="/account/profile">Profile</a>' in home.text
    response = await client.get("/account/profile")
    assert response.status_code == 200
    text = response.text
    assert "Name as printed on certificates" in text and 'value="Learner"' in text
    assert "Ask an administrator to change these" in text
    for shown in [
        "learner@example.org",
        "<dd>Shasta</dd>",
        "Trainer (trainer@example.org)",
        "<dd>Supervisor</dd>",
        "<dd>2019-04-01</dd>",
        "<dd>2022-07-15</dd>",
        "<dd>2027-06-30</dd>",
    ]:
        assert shown in text, shown
    assert 'href="/account/password">Password</a>' in text
    # The employer's record is shown, not offered for editing.
    for field in ("hire_date", "role_date", "classification", "license_expires", "email"):
        assert f'name="{field}"' not in text, field


async def test_a_stranger_is_sent_to_sign_in(client, people):
    response = await client.get("/account/profile", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in?next=")


async def test_a_learner_renames_themself_and_the_audit_has_before_and_after(client, db, people):
    await sign_in(client, "learner@example.org")
    response = await submit(
        client,
        {"name": "  Lee   Learner-Okafor ", "license_type": "ASW", "license_number": "ASW 123/4"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account/profile?notice=person-saved"
    page = await client.get(response.headers["location"])
    assert "The changes have been saved." in page.text
    assert 'value="Lee Learner-Okafor"' in page.text and 'value="ASW 123/4"' in page.text
    user = await db.scalar(select(User).where(User.id == people["learner"].id))
    await db.refresh(user)
    assert (user.name, user.license_type, user.license_number) == (
        "Lee Learner-Okafor",
        "ASW",
        "ASW 123/4",
    )
    event = await db.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "person.update", AuditEvent.entity_id == str(user.id)
        )
    )
    assert event.actor_id == user.id
    assert event.before["name"] == "Learner" and event.after["name"] == "Lee Learner-Okafor"
    assert event.before["license_number"] is None and event.after["license_number"] == "ASW 123/4"


async def test_saving_an_unchanged_profile_writes_no_audit(client, db, people):
    await sign_in(client, "learner@example.org")
    response = await submit(client, {"name": "Learner", "license_type": "", "license_number": ""})
    assert response.status_code == 303
    assert (
        await db.scalar(select(AuditEvent.id).where(AuditEvent.action == "person.update")) is None
    )


async def test_the_employers_fields_posted_to_the_profile_are_ignored(client, db, people):
    await sign_in(client, "learner@example.org")
    response = await submit(
        client,
        {
            "name": "Learner",
            "classification": "manager",
            "hire_date": "2001-01-01",
            "role_date": "2002-01-01",
            "license_expires": "2040-01-01",
            "email": "someone.else@example.org",
            "county_id": "1",
            "role_admin": "1",
        },
    )
    assert response.status_code == 303
    user = await db.get(User, people["learner"].id)
    await db.refresh(user)
    assert user.classification is None and user.hire_date is None and user.role_date is None
    assert user.license_expires is None and user.email == "learner@example.org"
    assert not user.is_admin and user.county.name == "Shasta"


async def test_another_persons_profile_is_not_reachable(client, db, people):
    await sign_in(client, "learner@example.org")
    other = people["learner2"].id
    assert (await client.get(f"/account/profile/{other}")).status_code == 404
    assert "learner2@example.org" not in (await client.get("/account/profile")).text
    # Naming the other person in the form changes only one's own account.
    response = await submit(client, {"name": "Taken Over", "id": str(other), "user_id": str(other)})
    assert response.status_code == 303
    mine, theirs = await db.get(User, people["learner"].id), await db.get(User, other)
    await db.refresh(mine)
    await db.refresh(theirs)
    assert mine.name == "Taken Over" and theirs.name == "Learner2"


async def test_bad_profile_input_is_refused_and_nothing_changes(client, db, people):
    await sign_in(client, "learner@example.org")
    for data, message in [
        ({"name": " "}, "Enter a name."),
        ({"name": "Lee", "license_number": "<b>1</b>"}, "only letters, digits, spaces"),
        ({"name": "Lee", "license_number": "12\x0734"}, "License number contains a control"),
        ({"name": "Lee", "license_type": "L" * 41}, "License type can be at most 40"),
    ]:
        response = await submit(client, data)
        assert response.status_code == 400, data
        assert message in response.text, data
        assert "<b>1</b>" not in response.text
    user = await db.get(User, people["learner"].id)
    await db.refresh(user)
    assert user.name == "Learner" and user.license_number is None and user.license_type is None
    assert (
        await db.scalar(select(AuditEvent.id).where(AuditEvent.action == "person.update")) is None
    )
