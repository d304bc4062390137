"""Domain errors raised by services, and the handlers that turn errors into pages."""

from __future__ import annotations

import logging

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_500_INTERNAL_SERVER_ERROR,
)

from lms.links import Link
from lms.pages import page, redirect_to

log = logging.getLogger("lms")


class DomainError(Exception):
    """A rule was broken; the message is meant for the person who broke it."""

    status_code = 400
    title: str | None = None  # the page's heading, when the status's own would mislead
    back: Link | None = None  # where to go on from the error page, when not the home page
    back_label = ""


class InvalidInput(DomainError):
    """A form field or file is malformed; `field` names which one when known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class NotYet(Forbidden):
    """Allowed later, not now (a module's reading time is not spent yet): says how to get there."""

    title = "Not yet"

    def __init__(self, message: str, back: Link, back_label: str) -> None:
        super().__init__(message)
        self.back = back
        self.back_label = back_label


class Conflict(DomainError):
    status_code = 409


class Gone(DomainError):
    """It existed and was withdrawn (a revoked certificate): not an error in the address."""

    status_code = 410


class TooManyAttempts(DomainError):
    status_code = 429


TITLES = {
    400: "That did not work",
    401: "Please sign in",
    403: "You do not have access to this page",
    404: "Page not found",
    405: "That action is not allowed here",
    409: "That conflicts with what is already recorded",
    410: "This is no longer available",
    429: "Too many attempts",
    500: "Something went wrong on our side",
}

DEFAULT_DETAILS = {
    403: "Your account does not have the role this page needs. If you think it should, ask "
    "an administrator.",
    404: "The address may be mistyped, or the page may have moved.",
    500: "The problem has been logged. Please try again in a moment.",
}


def _is_api(request: Request) -> bool:
    """The JSON API answers errors in JSON; the pages answer with an error page."""
    return request.url.path.startswith("/api/")


def error_page(
    request: Request, status: int, detail: str | None, exc: DomainError | None = None
) -> Response:
    detail = detail or DEFAULT_DETAILS.get(status, "")
    if _is_api(request):
        return Response({"status": status, "detail": detail}, status_code=status)
    title = (exc.title if exc else None) or TITLES.get(status, "Error")
    return page(
        "errors/error.html",
        status,
        status=status,
        title=title,
        detail=detail,
        back=exc.back if exc else None,
        back_label=exc.back_label if exc else "",
    )


def handle_domain_error(request: Request, exc: DomainError) -> Response:
    return error_page(request, exc.status_code, str(exc), exc)


def _names_nothing(exc: HTTPException) -> bool:
    """A path id out of bounds (lms.inject.PathInt): no such page, rather than a bad form."""
    extra = exc.extra if isinstance(exc, ValidationException) else None
    return isinstance(extra, list) and any(
        isinstance(e, dict) and e.get("source") == "path" for e in extra
    )


def handle_http_exception(request: Request, exc: HTTPException) -> Response:
    if _names_nothing(exc):
        return error_page(request, HTTP_404_NOT_FOUND, None)
    status = exc.status_code
    if isinstance(exc, NotAuthorizedException) and not _is_api(request):
        target = request.url.path
        if request.method == "GET" and request.url.query:
            target = f"{target}?{request.url.query}"
        return redirect_to("accounts.sign_in", query={"next": target})
    if isinstance(exc, PermissionDeniedException) and "CSRF" in str(exc.detail):
        detail = (
            "This form has expired or was not sent from this site. Go back, reload the page "
            "and try again."
        )
    elif isinstance(exc, NotFoundException) or status >= 500:
        detail = None
    elif status == 400:
        detail = "The request was not understood. Check the form and try again."
    else:
        detail = exc.detail if exc.detail and exc.detail != TITLES.get(status) else None
    response = error_page(request, status, detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def handle_undecodable(request: Request, exc: UnicodeDecodeError) -> Response:
    """A form whose bytes are not UTF-8 was not sent by a browser from our pages."""
    return error_page(
        request,
        HTTP_400_BAD_REQUEST,
        "The form was not sent as UTF-8 text. Reload the page and try again.",
    )


def handle_server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(request, HTTP_500_INTERNAL_SERVER_ERROR, None)


EXCEPTION_HANDLERS = {
    DomainError: handle_domain_error,
    HTTPException: handle_http_exception,
    UnicodeDecodeError: handle_undecodable,
    Exception: handle_server_error,
}
