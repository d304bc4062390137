"""Several workers share one database and nothing else: a sign-in on one works on all."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.servers import csrf_token, free_port, lms, lms_env, serving

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`lms serve --workers 2` on a fresh SQLite database with one learner."""
    folder = tmp_path_factory.mktemp("workers")
    env = lms_env(f"sqlite+aiosqlite:///{folder / 'lms.db'}", free_port())
    lms(env, "db", "upgrade")
    person = ["--email", "pat@example.org", "--name", "Pat Worker", "--role", "learner"]
    lms(env, "users", "create", *person, "--password", PASSWORD)
    with serving("server", env, folder, "--workers", "2") as server:
        yield server.url


def fresh(url: str, method: str, path: str, cookies: dict[str, str], **kwargs: object):
    """One request on a new connection, so that either worker may answer it."""
    with httpx.Client(base_url=url, cookies=cookies, timeout=10) as client:
        response = client.request(method, path, **kwargs)  # type: ignore[arg-type]  # **kwargs passed through to httpx untyped
    cookies.update({k: v for k, v in response.cookies.items() if v})
    return response


def test_sign_in_on_one_worker_and_carry_on_through_the_other(two_workers):
    cookies: dict[str, str] = {}
    form = fresh(two_workers, "GET", "/sign-in", cookies)
    token = csrf_token(form.text)
    form_worker = form.headers["x-worker"]
    # The sign-in form's CSRF token is good on any worker: post until another one answers.
    for _ in range(50):
        signed_in = fresh(
            two_workers,
            "POST",
            "/sign-in",
            dict(cookies),
            data={"_csrf_token": token, "email": "pat@example.org", "password": PASSWORD},
        )
        assert signed_in.status_code == 303, signed_in.text
        if signed_in.headers["x-worker"] != form_worker:
            break
    else:
        pytest.fail("every sign-in landed on the worker that served the form")
    cookies.update({k: v for k, v in signed_in.cookies.items() if v})
    assert "lms_session" in cookies
    seen = set()
    for _ in range(40):
        page = fresh(two_workers, "GET", "/", cookies)
        assert page.status_code == 200
        assert "Welcome, Pat Worker." in page.text  # signed in, whichever worker answered
        seen.add(page.headers["x-worker"])
    assert len(seen) == 2, f"only worker {seen} answered"
    assert form_worker in seen and signed_in.headers["x-worker"] in seen
    # Signing out on one worker signs out everywhere: the session lives in the database.
    page = fresh(two_workers, "GET", "/", cookies)
    token = csrf_token(page.text)
    out = fresh(two_workers, "POST", "/sign-out", dict(cookies), data={"_csrf_token": token})
    assert out.status_code == 303
    for _ in range(10):
        after = fresh(two_workers, "GET", "/", dict(cookies))
        assert "Welcome, Pat Worker." not in after.text
