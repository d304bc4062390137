"""Every route is guarded or listed public: the route table is the list, so a new route fails
here until it has a guard or a line below saying why anyone may open it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from litestar import Litestar, Router, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.routes import BaseRoute, HTTPRoute

from lms.app import create_app
from lms.auth import signed_in
from tests.conftest import sign_in

# Route name: why a person who is not signed in may use it.
PUBLIC = {
    "learning.dashboard": "the welcome page for visitors; My learning once signed in",
    "accounts.sign_in": "the sign-in page",
    "accounts.sign_in_submit": "signing in (throttled by account and by address)",
    "accounts.sign_out": "ends whatever session the cookie names; without one it does nothing",
    "accounts.forgot": "asking for a link to set a new password",
    "accounts.forgot_submit": "the same answer whether or not the address has an account",
    "accounts.set_password": "the emailed one-time link: its token is the credential",
    "accounts.set_password_submit": "setting a password with that one-time token",
    "certificates.verify_form": "anyone may check a certificate by its serial",
    "certificates.verify": "the public record that a certificate's QR code opens",
    "certificates.verify_file": "checking a PDF against that record (only its digest is kept)",
    "certificates.verify_api": "the same public record as JSON, for machines",
    "site.health": "the load balancer's health check",
    "site.favicon": "browsers ask every site for /favicon.ico",
    "site.static": "the stylesheet and script, the same for everyone",
    "site.static/head": "HEAD of the same (Litestar names it after the static router)",
}


def _is_automatic_options(handler: HTTPRouteHandler) -> bool:
    """Litestar's own OPTIONS answer on every path: the Allow header, no handler code, no data."""
    return handler.http_methods == {"OPTIONS"} and handler.name is None


def http_handlers(routes: Iterable[BaseRoute]) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    """(method, path, handler) for every HTTP route handler and method in a route table."""
    for route in routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods):
                yield method, route.path, handler


def unguarded(routes: Iterable[BaseRoute]) -> list[str]:
    """Each handler and method with no guard (on it, its router or the app) that is not PUBLIC."""
    return [
        f"{method} {path} ({handler.name})"
        for method, path, handler in http_handlers(routes)
        if not handler.resolve_guards()
        and handler.name not in PUBLIC
        and not _is_automatic_options(handler)
    ]


def test_every_route_is_guarded_or_listed_public():
    problems = unguarded(create_app().routes)
    assert problems == [], (
        "These routes have no guard: add one (lms.auth signed_in, requires(role)) or list the "
        f"route in PUBLIC with the reason anyone may open it: {problems}"
    )


def test_the_public_list_names_only_routes_that_exist_unguarded():
    """A stale line in PUBLIC would hide the next route given that name."""
    handlers = {h.name: h for _, _, h in http_handlers(create_app().routes)}
    assert set(PUBLIC) - set(handlers) == set()
    assert [name for name in PUBLIC if handlers[name].resolve_guards()] == []


@get("/oops", name="learning.oops")
async def _oops() -> str:
    return "anyone can read this"


@post("/oops", name="learning.oops_submit")
async def _oops_submit() -> str:
    return "anyone can do this"


@get("/fine", name="learning.fine")
async def _guarded_by_its_router() -> str:
    return "signed in only"


def test_a_route_without_a_guard_is_caught():
    """The check above is not vacuous: a handler without a guard, added to the app's route
    table, is named; one guarded only by its router is not."""
    extra = Litestar(
        route_handlers=[
            _oops,
            _oops_submit,
            Router("/", guards=[signed_in], route_handlers=[_guarded_by_its_router]),
        ],
        openapi_config=None,
    )
    app_routes = create_app().routes
    caught = set(unguarded([*app_routes, *extra.routes])) - set(unguarded(app_routes))
    assert caught == {"GET /oops (learning.oops)", "POST /oops (learning.oops_submit)"}


def guarded_gets(app: Litestar) -> list[tuple[str, str, list]]:
    """(name, path with every path parameter 1, guards) of each guarded GET route."""
    return [
        (handler.name, re.sub(r"\{[^}]+\}", "1", path), handler.resolve_guards())
        for method, path, handler in http_handlers(app.routes)
        if method == "GET" and handler.resolve_guards()
    ]


def _is_refusal(response, sign_in_path: str) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.status_code == 303 and response.headers["location"].startswith(
        f"{sign_in_path}?next="
    )


async def test_no_guarded_page_answers_a_visitor_who_is_not_signed_in(client):
    sign_in_path = client.app.route_reverse("accounts.sign_in")
    routes = guarded_gets(client.app)
    assert len(routes) > 30
    answered = {}
    for name, path, _ in routes:
        response = await client.get(path, follow_redirects=False)
        if not _is_refusal(response, sign_in_path):
            answered[name] = (path, response.status_code, response.headers.get("location"))
    assert answered == {}


async def test_no_page_for_a_role_answers_a_learner(client, people):
    """Every GET route with a role guard (more than signed_in) refuses a plain learner."""
    await sign_in(client, "learner@example.org")
    role_guarded = [
        (name, path)
        for name, path, guards in guarded_gets(client.app)
        if any(guard is not signed_in for guard in guards)
    ]
    assert len(role_guarded) > 25
    answered = {}
    for name, path in role_guarded:
        response = await client.get(path, follow_redirects=False)
        if response.status_code != 403:
            answered[name] = (path, response.status_code)
    assert answered == {}
