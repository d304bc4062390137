"""What every page shares: notices shown after a redirect, and the redirect itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from litestar import Request
from litestar.enums import MediaType
from litestar.response import Redirect, Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from lms.links import Link

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.response.base import ASGIResponse

NOTICES = {
    "signed-out": "You have signed out.",
    "password-changed": "Your password has been changed.",
    "password-set": "Your password is set and you are signed in.",
    "reset-requested": "If an account exists for that address, we have sent it a link to choose "
    "a new password. It can take a few minutes to arrive.",
    "mail-queued-again": "The message is queued to be sent again.",
    "person-created": "The account has been created.",
    "person-saved": "The changes have been saved.",
    "person-deactivated": "The account has been deactivated and signed out everywhere.",
    "person-reactivated": "The account has been reactivated.",
    "temporary-password-set": "The temporary password is set; they must change it at sign-in.",
    "courses-synced": "The course folders have been checked and loaded.",
    "enrolled": "You are enrolled. Your progress is saved as you go.",
    "already-enrolled": "You are already enrolled in this course.",
    "withdrawn": "You have withdrawn from this course. Your progress is kept if you return.",
    "module-done": "Module complete.",
    "evaluation-done": "Thank you: your evaluation has been recorded.",
    "nothing-selected-to-issue": "Nobody was selected, so no certificate was issued. Tick the "
    "people to issue to, or use “Issue to all”.",
    "nothing-selected-to-download": "No certificate was selected, so there is nothing to "
    "download. Tick the certificates to put in the ZIP file.",
    "only-invalid-selected": "Every certificate selected is revoked or superseded, so the ZIP "
    "would be empty. Tick “Include revoked and superseded certificates” to download them "
    "for the record.",
    "certificates-issued": "The certificates have been issued.",
    "certificate-revoked": "The certificate has been revoked; its verification page says so.",
    "certificate-reissued": "A new certificate is issued; the old serial shows as superseded.",
    "cohort-saved": "The cohort has been saved.",
    "cohort-enrolled": "The roster is enrolled. Anyone enrolled through another cohort stays "
    "there unless you chose to move them. This is where everyone stands now.",
    "member-removed": "The person has been taken off the roster; their enrollments are kept.",
    "session-scheduled": "The session is scheduled. Record attendance here after it happens.",
    "attendance-saved": "Attendance has been recorded.",
    "answers-saved": "Your answers are saved. You can come back and finish later.",
    "qualification-saved": "The qualification is recorded.",
    "fidelity-saved": "The delivery log is saved; the session's fidelity is shown beside it.",
    "skills-saved": "The skills scores are saved.",
    "transcript-issued": "A transcript is issued with its own serial: download it below.",
    "nobody-in-county": "Nobody in that county has an account.",
    "transcripts-issued": "The county's transcripts are issued; download them below.",
    "requirement-extended": "The requirement is extended; the reason is kept in the audit log.",
    "activity-submitted": "Your work has been sent for sign-off. You will get an email when it "
    "is signed off or returned.",
    "activity-signed-off": "The activity is signed off; the learner has been told.",
    "attempt-granted": "One more attempt is granted; the learner sees it on the quiz's page. "
    "The reason is kept in the audit log.",
    "due-date-moved": "The due date is moved; the reason is kept in the audit log.",
    "module-reopened": "The module is open again: the learner rereads it (and retakes its "
    "knowledge check, if it has one). The reason is kept in the audit log.",
    "activity-returned": "The activity is returned with your comment; the learner has been told.",
}


def wants_json(request: Request[Any, Any, Any]) -> bool:
    """A script's request (autosave, reading time), answered with JSON instead of a redirect."""
    return "application/json" in request.headers.get("accept", "")


def page(name: str, status_code: int = 200, **context: Any) -> Template:
    """Render templates/<name> as an HTML page (whatever the handler's return annotation)."""
    return Template(name, context=context, status_code=status_code, media_type=MediaType.HTML)


def confirm_page(
    title: str,
    question: str,
    action: Link,
    button: str,
    cancel: Link,
    consequence: str = "",
    hidden: dict[str, str] | None = None,
    reason_label: str = "",
    error: str = "",
) -> Template:
    """The confirmation step of a destructive action: its form posts `confirmed=1` to `action`.

    The action's POST handler sends anything without `confirmed` back here (`needs_confirmation`),
    so no old page or stray click acts in one step.
    """
    return page(
        "confirm.html",
        400 if error else 200,
        title=title,
        question=question,
        action=action,
        button=button,
        cancel=cancel,
        consequence=consequence,
        hidden=hidden or {},
        reason_label=reason_label,
        error=error,
    )


def _with_notice(path: str, notice: str | None) -> str:
    if not notice:
        return path
    assert notice in NOTICES, notice
    return f"{path}{'&' if '?' in path else '?'}{urlencode({'notice': notice})}"


class RouteRedirect(Redirect):
    """A 303 to a named route, its address reversed by the app that sends it.

    Reversing needs the app, which a handler may not have asked for: the response gets it
    from the request when it is sent, so handlers need no `request` parameter to redirect.
    """

    __slots__ = ("notice", "path_parameters", "query", "route")

    def __init__(
        self,
        route: str,
        notice: str | None,
        query: Mapping[str, str] | None,
        path_parameters: dict[str, Any],
    ) -> None:
        assert notice is None or notice in NOTICES, notice  # fail in the handler, not later
        super().__init__("", status_code=303)
        self.route, self.notice, self.query = route, notice, query
        self.path_parameters = path_parameters

    def to_asgi_response(
        self, app: Litestar | None, request: Request[Any, Any, Any], **kwargs: Any
    ) -> ASGIResponse:
        path = request.app.route_reverse(self.route, **self.path_parameters)
        if self.query:
            path = f"{path}?{urlencode(self.query)}"
        self.url = _with_notice(path, self.notice)
        return super().to_asgi_response(app, request, **kwargs)


def redirect_to(
    name: str,
    notice: str | None = None,
    *,
    query: Mapping[str, str] | None = None,
    **path_parameters: Any,
) -> Redirect:
    """Redirect after a successful POST to the route `name`, optionally with a notice key."""
    return RouteRedirect(name, notice, query, path_parameters)


def attachment(content: bytes, media_type: str, file_name: str, cache: str) -> Response[bytes]:
    """A file to download, under a name made safe for the header."""
    from lms.forms import safe_file_name  # here: lms.forms needs lms.errors, which needs this

    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{safe_file_name(file_name)}"',
            "Cache-Control": cache,
        },
    )


def safe_next(raw: str | None, default: str = "/") -> str:
    """Only follow a ?next= address that stays on this site."""
    if not raw:
        return default
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not raw.startswith("/") or raw.startswith("//"):
        return default
    if "\\" in raw:
        return default
    return raw


def _session_token(request: Request[Any, Any, Any]) -> str:
    from lms.auth import session_cookie_name  # here: lms.errors imports this module first

    return request.cookies.get(session_cookie_name(request.app.state.settings), "")


async def carry(request: Request[Any, Any, Any], db: AsyncSession, key: str, value: Any) -> None:
    """Hand `value` to the page a redirect leads to, when it cannot travel in the address."""
    from lms.accounts import service as accounts

    await accounts.carry(db, _session_token(request), key, value)


async def carried(
    request: Request[Any, Any, Any], db: AsyncSession, key: str, *, keep: bool = False
) -> Any:
    """What the page before the redirect handed on (None if nothing), forgotten unless `keep`."""
    from lms.accounts import service as accounts

    return await accounts.carried(db, _session_token(request), key, keep=keep)
