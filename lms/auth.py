"""Who is asking: the session cookie, the current user, and role guards for routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.response.redirect import ASGIRedirectResponse
from litestar.types import ASGIApp, Receive, Scope, Send

from lms.accounts import service
from lms.db import REQUEST_SESSION
from lms.settings import Settings

# Pages a person who must change a temporary password may still open.
PASSWORD_CHANGE_PATHS = ("/account/password", "/sign-out")


def session_cookie_name(settings: Settings) -> str:
    # The __Host- prefix makes browsers refuse the cookie unless it is Secure and host-only.
    return "__Host-lms_session" if settings.production else "lms_session"


def session_cookie(settings: Settings, token: str, max_age: int | None = None) -> Cookie:
    return Cookie(
        key=session_cookie_name(settings),
        value=token,
        path="/",
        httponly=True,
        secure=settings.production,
        samesite="lax",
        max_age=settings.session_hours * 3600 if max_age is None else max_age,
    )


class SessionMiddleware(ASGIMiddleware):
    """Put the signed-in user (or None) in scope["user"] for every request."""

    exclude_path_pattern = ("^/static/",)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        app = scope["litestar_app"]
        settings: Settings = app.state.settings
        token = ASGIConnection(scope).cookies.get(session_cookie_name(settings), "")
        if not token:
            scope["user"] = None
            await next_app(scope, receive, send)
            return
        async with app.state.sessionmaker() as db:
            # The handler's `db` is this session (see lms.db.session_scope).
            scope[REQUEST_SESSION] = db  # type: ignore[literal-required]  # our own key in the ASGI scope, which the TypedDict does not list
            user = await service.find_session_user(db, token)
            scope["user"] = user
            if (
                user is not None
                and user.must_change_password
                and not scope["path"].startswith(PASSWORD_CHANGE_PATHS)
                and scope.get("method") in ("GET", "HEAD")  # an HTTP scope; a websocket has none
            ):
                path = app.route_reverse("accounts.password")
                await ASGIRedirectResponse(path=path, status_code=303)(scope, receive, send)
                return
            await next_app(scope, receive, send)


# Guards are coroutines: Litestar runs a guard that is a plain function in a worker thread,
# a hop to another thread and back on every request.
Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


def check_signed_in(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    if connection.user is None:
        raise NotAuthorizedException("Please sign in to continue.")
    if connection.user.must_change_password and not connection.url.path.startswith(
        PASSWORD_CHANGE_PATHS
    ):
        raise PermissionDeniedException("Change your temporary password first.")


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    check_signed_in(connection)


def requires(role: str) -> Guard:
    """A guard that admits only signed-in people holding `role`."""
    return requires_any(role)


def requires_any(*roles: str) -> Guard:
    """A guard that admits only signed-in people holding at least one of `roles`."""
    named = " or ".join(roles)

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        check_signed_in(connection)
        if not any(connection.user.has_role(role) for role in roles):
            raise PermissionDeniedException(f"This page is for people with the {named} role.")

    guard.__name__ = "requires_" + "_or_".join(roles)
    return guard


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    return connection.client.host if connection.client else "unknown"
