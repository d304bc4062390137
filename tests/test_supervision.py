"""Supervisors: set by an admin or a roster import, and "My team", which shows only the team."""

from __future__ import annotations

from sqlalchemy import select

from lms.accounts.models import User
from lms.audit import AuditEvent
from lms.learning import service as learning
from tests.conftest import make_person, post, sign_in
from tests.test_cohorts import COURSES, apply_previewed, new_cohort, preview_rows, upload

__all__ = ["COURSES"]  # the courses fixture loads the module's COURSES


async def _set_supervisor(client, person: User, supervisor_email: str):
    return await post(
        client,
        f"/admin/people/{person.id}",
        {
            "name": person.name,
            "email": person.email,
            "role_learner": "1",
            "supervisor_email": supervisor_email,
        },
    )


async def test_an_admin_sets_and_clears_a_supervisor(client, db, people):
    learner, supervisor = people["learner"], people["learner2"]
    await sign_in(client, "admin@example.org")
    saved = await _set_supervisor(client, learner, "Learner2@Example.org")
    assert "The changes have been saved." in saved.text
    assert 'value="learner2@example.org"' in saved.text  # shown back on the person's page
    await db.refresh(learner)
    assert learner.supervisor_id == supervisor.id
    entry = await db.scalar(
        select(AuditEvent).where(AuditEvent.action == "person.update").order_by(AuditEvent.id)
    )
    assert entry is not None and entry.after["supervisor_id"] == supervisor.id

    for email, message in [
        ("nobody@example.org", "There is no active account for nobody@example.org"),
        ("learner@example.org", "A person cannot be their own supervisor."),
        ("not an email", "Enter an email address like"),
    ]:
        refused = await _set_supervisor(client, learner, email)
        assert refused.status_code == 400 and message in refused.text, email
        await db.refresh(learner)
        assert learner.supervisor_id == supervisor.id, email  # nothing changed

    cleared = await _set_supervisor(client, learner, "")
    assert cleared.status_code == 200
    await db.refresh(learner)
    assert learner.supervisor_id is None


async def test_my_team_shows_the_team_and_nobody_else(client, db, settings, courses, people):
    supervisor = people["learner2"]
    people["learner"].supervisor_id = supervisor.id
    await learning.enroll(db, people["learner"], courses["online"])
    stranger = await make_person(db, settings, "stranger@example.org", name="Sam Stranger")
    await learning.enroll(db, stranger, courses["online"])  # not on the team
    await db.commit()

    await sign_in(client, "learner2@example.org")
    home = await client.get("/")
    assert 'href="/team"' in home.text  # the nav offers My team to a supervisor
    team = await client.get("/team")
    assert team.status_code == 200
    assert "learner@example.org" in team.text and "0 of 2" in team.text
    assert "stranger@example.org" not in team.text and "admin@example.org" not in team.text

    # Someone nobody names sees an empty page and no nav link, never anyone's data.
    await post(client, "/sign-out", {}, token_from="/")
    await sign_in(client, "trainer2@example.org")
    assert 'href="/team"' not in (await client.get("/")).text
    alone = await client.get("/team")
    assert alone.status_code == 200 and "Nobody names you as their supervisor" in alone.text
    assert "learner@example.org" not in alone.text


async def test_my_team_needs_a_signed_in_person(client, people):
    response = await client.get("/team", follow_redirects=False)
    assert response.status_code == 303 and "/sign-in" in response.headers["location"]


async def test_a_roster_import_sets_the_supervisor_of_new_accounts_only(
    client, db, courses, people
):
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    content = (
        "email,name,county,supervisor_email\n"
        "ana@example.org,Ana Diaz,Shasta,Learner2@example.org\n"
        "learner@example.org,,,learner2@example.org\n"
    )
    preview = await upload(client, cohort_id, content)
    assert preview.status_code == 200
    rows = preview_rows(preview)
    assert "(learner2@example.org)" in rows["<td>ana@example.org"]
    assert "supervisor not changed" in rows["<td>learner@example.org"]
    done = await apply_previewed(client, cohort_id, preview)
    assert done.status_code == 200
    ana = await db.scalar(select(User).where(User.email == "ana@example.org"))
    assert ana is not None and ana.supervisor_id == people["learner2"].id
    await db.refresh(people["learner"])
    assert people["learner"].supervisor_id is None  # a trainer's file changes no account

    unknown = await upload(
        client, cohort_id, "email,name,supervisor_email\nbo@example.org,Bo Li,ghost@example.org\n"
    )
    assert unknown.status_code == 400
    assert "Line 2: the supervisor ghost@example.org has no active account" in unknown.text
    assert await db.scalar(select(User).where(User.email == "bo@example.org")) is None
