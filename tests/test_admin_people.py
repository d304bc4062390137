"""Admins create, edit, deactivate and reactivate people and set temporary passwords."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lms.accounts.models import County, User
from tests.conftest import PASSWORD, post, sign_in

ADMIN_PAGES = ["/admin/people", "/admin/people/new", "/admin/people/{learner}"]


@pytest.mark.parametrize("path", ADMIN_PAGES)
@pytest.mark.parametrize("who,status", [("learner", 403), ("trainer", 403), ("admin", 200)])
async def test_admin_pages_by_role(client, people, path, who, status):
    await sign_in(client, f"{who}@example.org")
    response = await client.get(path.format(learner=people["learner"].id))
    assert response.status_code == status
    if status == 403:
        assert "You do not have access to this page" in response.text


@pytest.mark.parametrize("path", ADMIN_PAGES)
async def test_admin_pages_send_strangers_to_sign_in(client, people, path):
    response = await client.get(path.format(learner=people["learner"].id), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in?next=")


async def test_learner_cannot_post_admin_forms(client, db, people):
    await sign_in(client, "learner@example.org")
    target = people["learner2"].id
    response = await post(
        client, f"/admin/people/{target}/active", {"active": "0", "confirmed": "1"}, "/"
    )
    assert response.status_code == 403
    assert (await db.get(User, target)).active is True


async def test_admin_creates_a_person_who_must_change_the_password(client, db, people):
    await sign_in(client, "admin@example.org")
    shasta = await db.scalar(select(County.id).where(County.name == "Shasta"))
    response = await post(
        client,
        "/admin/people/new",
        {
            "name": "Renée D'Souza",
            "email": "Renee@Example.org",
            "county_id": str(shasta),
            "role_learner": "1",
            "role_trainer": "1",
            "password": "temporary-pass-1",
        },
    )
    assert "The account has been created." in response.text
    assert "Renée D&#39;Souza" in response.text
    user = await db.scalar(select(User).where(User.email == "renee@example.org"))
    assert user.roles == ["learner", "trainer"] and user.must_change_password
    await post(client, "/sign-out", {}, token_from="/")
    response = await sign_in(client, "renee@example.org", "temporary-pass-1")
    assert "Choose your own password" in response.text


@pytest.mark.parametrize(
    "data,message",
    [
        ({"email": "", "name": "A", "role_learner": "1"}, "Enter an email address."),
        (
            {"email": "not-an-email", "name": "A", "role_learner": "1"},
            "Enter an email address like",
        ),
        ({"email": "a@example.org", "name": " ", "role_learner": "1"}, "Enter a name."),
        ({"email": "a@example.org", "name": "A" * 201, "role_learner": "1"}, "at most 200"),
        ({"email": "a@example.org", "name": "A"}, "at least one role"),
        (
            {"email": "a@example.org", "name": "A", "role_learner": "1", "county_id": "9999"},
            "Choose a county",
        ),
        (
            {"email": "a@example.org", "name": "A", "role_learner": "1", "password": "short"},
            "at least 10",
        ),
        ({"email": "LEARNER@example.org", "name": "A", "role_learner": "1"}, "already an account"),
    ],
)
async def test_bad_person_forms_change_nothing(client, db, people, data, message):
    await sign_in(client, "admin@example.org")
    before = len((await db.scalars(select(User))).all())
    response = await post(client, "/admin/people/new", {"password": "long enough pw", **data})
    assert response.status_code in (400, 409)
    assert message in response.text
    assert len((await db.scalars(select(User))).all()) == before


async def test_deactivate_signs_the_person_out_and_reactivate_lets_them_back(
    client, db, settings, people
):
    from litestar.testing import AsyncTestClient

    from lms.app import create_app

    async with AsyncTestClient(app=create_app(settings)) as learner_client:
        await sign_in(learner_client, "learner@example.org")
        await sign_in(client, "admin@example.org")
        path = f"/admin/people/{people['learner'].id}"
        response = await post(
            client, f"{path}/active", {"active": "0", "confirmed": "1"}, token_from=path
        )
        assert "deactivated and signed out everywhere" in response.text
        assert "Welcome" not in (await learner_client.get("/")).text
        assert (await sign_in(learner_client, "learner@example.org")).status_code == 400
        await post(client, f"{path}/active", {"active": "1"}, token_from=path)
        assert "Welcome" in (await sign_in(learner_client, "learner@example.org")).text


async def test_admin_cannot_lock_themselves_out(client, db, people):
    await sign_in(client, "admin@example.org")
    path = f"/admin/people/{people['admin'].id}"
    response = await post(
        client, f"{path}/active", {"active": "0", "confirmed": "1"}, token_from=path
    )
    assert response.status_code == 400
    assert (await db.get(User, people["admin"].id)).active is True


async def test_temporary_password(client, db, people):
    await sign_in(client, "admin@example.org")
    path = f"/admin/people/{people['learner'].id}"
    response = await post(client, f"{path}/password", {"password": "fresh-temp-pass"}, path)
    assert "must change it at sign-in" in response.text
    await post(client, "/sign-out", {}, token_from="/")
    assert (await sign_in(client, "learner@example.org", PASSWORD)).status_code == 400
    assert (
        "Choose your own password"
        in (await sign_in(client, "learner@example.org", "fresh-temp-pass")).text
    )


async def test_edit_roles_and_search(client, db, people):
    await sign_in(client, "admin@example.org")
    path = f"/admin/people/{people['learner'].id}"
    await post(
        client,
        path,
        {
            "email": "learner@example.org",
            "name": "Lee Learner",
            "role_trainer": "1",
            "role_learner": "1",
        },
    )
    user = await db.get(User, people["learner"].id)
    await db.refresh(user)
    assert user.roles == ["learner", "trainer"]
    response = await client.get("/admin/people", params={"q": "lee l", "role": "trainer"})
    assert "Lee Learner" in response.text and "learner2@example.org" not in response.text


async def test_person_names_are_escaped(client, db, settings, people):
    from tests.conftest import make_person

    await make_person(db, settings, "x@example.org", name="<script>alert(1)</script>")
    await sign_in(client, "admin@example.org")
    response = await client.get("/admin/people")
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


async def test_people_list_shows_the_signed_in_admins_own_county(client, people):
    # The signed-in person is loaded without their county (every request does it); the
    # people list loads everyone, the admin included, with theirs.
    await sign_in(client, "admin@example.org")
    response = await client.get("/admin/people", params={"q": "admin@example.org"})
    assert response.status_code == 200
    row = response.text[response.text.rindex("admin@example.org") :].split("</tr>")[0]
    assert "Shasta" in row
