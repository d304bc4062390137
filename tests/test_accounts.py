"""Sign-in, sign-out, sessions, throttling, CSRF and passwords, on SQLite and PostgreSQL."""

from __future__ import annotations

import inspect

from litestar.routes import HTTPRoute
from sqlalchemy import func, select

from lms.accounts.models import User, WebSession
from lms.app import create_app
from lms.audit import AuditEvent
from tests.conftest import PASSWORD, csrf_token, make_person, post, sign_in


async def test_sign_in_and_out(client, people):
    response = await sign_in(client, "learner@example.org")
    assert response.status_code == 200  # followed the redirect home
    assert "Welcome, Learner" in response.text
    assert "Sign out" in response.text

    response = await post(client, "/sign-out", {}, token_from="/")
    assert "You have signed out." in response.text
    assert (await client.get("/")).text.count("Welcome") == 0


async def test_email_is_case_insensitive(client, people):
    response = await sign_in(client, "  LEARNER@Example.ORG ")
    assert "Welcome, Learner" in response.text


async def test_wrong_password_and_unknown_email_get_the_same_message(client, people):
    wrong = await sign_in(client, "learner@example.org", "not the password")
    unknown = await sign_in(client, "nobody@example.org", "not the password")
    assert wrong.status_code == unknown.status_code == 400
    message = "That email and password do not match an active account."
    assert message in wrong.text and message in unknown.text
    assert wrong.text.replace("learner@", "X@") == unknown.text.replace("nobody@", "X@").replace(
        csrf_token(unknown.text), csrf_token(wrong.text)
    )


async def test_deactivated_account_cannot_sign_in(client, db, settings, people):
    user = await db.get(User, people["learner"].id)
    user.active = False
    await db.commit()
    response = await sign_in(client, "learner@example.org")
    assert response.status_code == 400
    assert "do not match an active account" in response.text


async def test_empty_and_overlong_passwords_get_clear_messages(client, people):
    response = await sign_in(client, "learner@example.org", "")
    assert response.status_code == 400
    assert "Enter your email address and password." in response.text
    response = await sign_in(client, "learner@example.org", "é" * 40)  # 80 bytes
    assert response.status_code == 400
    assert "at most 72 bytes" in response.text


async def test_sign_in_is_throttled_per_account(client, people, settings):
    for _ in range(settings.sign_in_limit_per_account):
        assert (await sign_in(client, "learner@example.org", "wrong password")).status_code == 400
    response = await sign_in(client, "learner@example.org")  # right password, too late
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.text
    # Another account from the same address is not locked by this one.
    assert "Welcome" in (await sign_in(client, "learner2@example.org")).text


async def test_sign_in_is_throttled_per_address(client, people, settings):
    for i in range(settings.sign_in_limit_per_address):
        await sign_in(client, f"guess{i}@example.org", "wrong password")
    response = await sign_in(client, "learner@example.org")
    assert response.status_code == 429


async def test_unknown_and_known_accounts_throttle_alike(client, people, settings):
    for _ in range(settings.sign_in_limit_per_account):
        await sign_in(client, "nobody@example.org", "wrong password")
    assert (await sign_in(client, "nobody@example.org", "x" * 12)).status_code == 429


async def test_form_without_csrf_token_is_refused(client, people):
    await client.get("/sign-in")
    response = await client.post(
        "/sign-in", data={"email": "learner@example.org", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "This form has expired" in response.text
    assert "Traceback" not in response.text
    assert "Welcome" not in (await client.get("/")).text


async def test_forged_csrf_token_is_refused(client, people):
    await client.get("/sign-in")
    response = await client.post(
        "/sign-in",
        data={"_csrf_token": "f" * 128, "email": "learner@example.org", "password": PASSWORD},
    )
    assert response.status_code == 403


async def test_session_id_changes_at_sign_in_and_ends_at_sign_out(client, db, people):
    await sign_in(client, "learner@example.org")
    first = client.cookies.get("lms_session")
    await post(client, "/sign-out", {}, token_from="/")
    await sign_in(client, "learner@example.org")
    second = client.cookies.get("lms_session")
    assert first and second and first != second
    # Replaying the first cookie after sign-out does not sign anyone in.
    client.cookies.set("lms_session", first)
    assert "Welcome" not in (await client.get("/")).text
    assert await db.scalar(select(func.count()).select_from(WebSession)) == 1


async def test_signing_in_again_replaces_the_old_session(client, db, people):
    await sign_in(client, "learner@example.org")
    await sign_in(client, "learner2@example.org")
    assert await db.scalar(select(func.count()).select_from(WebSession)) == 1


async def test_forged_session_cookie_is_anonymous(client, people):
    client.cookies.set("lms_session", "forged-token-value")
    response = await client.get("/")
    assert response.status_code == 200
    assert "Sign in" in response.text and "Welcome" not in response.text
    response = await client.get("/account/password", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in?next=")


async def test_expired_session_is_anonymous(client, db, people):
    await sign_in(client, "learner@example.org")
    session = await db.scalar(select(WebSession))
    session.expires_at = session.created_at
    await db.commit()
    assert "Welcome" not in (await client.get("/")).text


async def test_session_survives_a_restart(settings, people, client):
    from litestar.testing import AsyncTestClient

    from lms.app import create_app

    await sign_in(client, "learner@example.org")
    cookie = client.cookies.get("lms_session")
    async with AsyncTestClient(app=create_app(settings)) as other:
        other.cookies.set("lms_session", cookie)
        assert "Welcome, Learner" in (await other.get("/")).text


async def test_change_password(client, db, people):
    await sign_in(client, "learner@example.org")
    response = await post(
        client,
        "/account/password",
        {
            "current": PASSWORD,
            "password": "a new long passphrase",
            "confirm": "a new long passphrase",
        },
    )
    assert "Your password has been changed." in response.text
    await post(client, "/sign-out", {}, token_from="/")
    assert (await sign_in(client, "learner@example.org")).status_code == 400
    assert "Welcome" in (await sign_in(client, "learner@example.org", "a new long passphrase")).text


async def test_change_password_rejects_bad_input(client, people):
    await sign_in(client, "learner@example.org")
    cases = [
        (
            {"current": "wrong", "password": "x" * 12, "confirm": "x" * 12},
            "current password is not right",
        ),
        ({"current": PASSWORD, "password": "x" * 12, "confirm": "y" * 12}, "do not match"),
        ({"current": PASSWORD, "password": "short", "confirm": "short"}, "at least 10 characters"),
        ({"current": PASSWORD, "password": "ü" * 40, "confirm": "ü" * 40}, "at most 72 bytes"),
    ]
    for data, message in cases:
        response = await post(client, "/account/password", data)
        assert response.status_code == 400
        assert message in response.text


async def test_temporary_password_must_be_changed_first(client, db, settings, people):
    await make_person(db, settings, "new@example.org", must_change_password=True)
    response = await sign_in(client, "new@example.org")
    assert "Choose your own password to continue" in response.text
    # Every other page sends them back until they do.
    response = await client.get("/", follow_redirects=False)
    assert response.status_code == 302 or response.status_code == 307 or response.status_code == 303
    assert response.headers["location"] == "/account/password"
    await post(
        client,
        "/account/password",
        {"current": PASSWORD, "password": "my own passphrase", "confirm": "my own passphrase"},
    )
    assert "Welcome" in (await client.get("/")).text


async def test_next_parameter_only_redirects_within_the_site(client, people):
    token = csrf_token((await client.get("/sign-in")).text)
    data = {"_csrf_token": token, "email": "learner@example.org", "password": PASSWORD}
    response = await client.post(
        "/sign-in", data={**data, "next": "https://evil.example/"}, follow_redirects=False
    )
    assert response.headers["location"] == "/"
    token = csrf_token((await client.get("/sign-in")).text)
    response = await client.post(
        "/sign-in",
        data={**data, "_csrf_token": token, "next": "/account/password"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/account/password"


async def test_security_headers(client):
    response = await client.get("/sign-in")
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "httponly" in response.headers["set-cookie"].lower()


async def test_error_pages_share_the_layout_and_hide_internals(client):
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.text and 'class="site-header"' in response.text


async def test_failed_sign_ins_are_not_audited_but_admin_changes_are(client, db, people):
    await sign_in(client, "admin@example.org")
    await post(
        client,
        f"/admin/people/{people['learner'].id}/active",
        {"active": "0", "confirmed": "1"},
        token_from=f"/admin/people/{people['learner'].id}",
    )
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "person.deactivate"))
    assert event is not None
    assert event.actor_id == people["admin"].id
    assert event.before["active"] is True and event.after["active"] is False


async def test_an_unexpected_error_shows_the_500_page_without_internals(
    client, people, monkeypatch
):
    from lms.catalog import service as catalog

    async def broken(*args, **kwargs):
        raise RuntimeError("database exploded: secret detail")

    monkeypatch.setattr(catalog, "search_courses", broken)
    await sign_in(client, "learner@example.org")
    response = await client.get("/courses")
    assert response.status_code == 500
    assert (
        "Something went wrong on our side" in response.text
        and 'class="site-header"' in response.text
    )
    assert "secret detail" not in response.text and "Traceback" not in response.text


def test_passwords_are_hashed_on_spare_cpu_only():
    """bcrypt's thread runs in the idle class, so sign-ins cannot slow the pages served."""
    import os

    from lms.accounts import service

    policy = service._hashing.submit(os.sched_getscheduler, 0).result()
    assert policy == os.SCHED_IDLE
    assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the serving threads keep theirs


def test_every_guard_is_a_coroutine():
    """Litestar runs a guard that is a plain function in a worker thread, on every request."""
    guarded = 0
    for route in create_app().routes:
        for handler in route.route_handlers if isinstance(route, HTTPRoute) else []:
            for guard in handler.resolve_guards():
                assert inspect.iscoroutinefunction(guard), (handler.paths, guard)
                guarded += 1
    assert guarded > 50
