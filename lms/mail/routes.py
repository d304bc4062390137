"""The admin outbox: every email the system queued, its status, and its text."""

from __future__ import annotations

from typing import Any

from litestar import Response, Router, get, post
from litestar.params import FromQuery
from litestar.response import Template

from lms.auth import requires
from lms.inject import DB, AppSettings, PathInt
from lms.mail import service
from lms.mail.models import STATUSES
from lms.pages import page, redirect_to

admin_only = [requires("admin")]


@get("/admin/outbox", name="mail.outbox", guards=admin_only)
async def outbox(
    db: DB,
    settings: AppSettings,
    status: FromQuery[str] = "",
    kind: FromQuery[str] = "",
    q: FromQuery[str] = "",
) -> Template:
    return page(
        "mail/outbox.html",
        messages=await service.search_outbox(db, status, kind, q),
        counts=await service.outbox_counts(db),
        statuses=STATUSES,
        kinds=service.KINDS,
        status=status,
        kind=kind,
        q=q,
        smtp_configured=bool(settings.smtp_url),
    )


@get("/admin/outbox/{message_id:int}", name="mail.message", guards=admin_only)
async def message(db: DB, message_id: PathInt) -> Template:
    return page("mail/message.html", message=await service.get_message(db, message_id))


@get("/admin/outbox/{message_id:int}/html", name="mail.message_html", guards=admin_only)
async def message_html(db: DB, message_id: PathInt) -> Response[str]:
    """The HTML body as a file to open locally, never rendered inside the site."""
    found = await service.get_message(db, message_id)
    return Response(
        found.html_body,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="message-{found.id}.html"',
            "Cache-Control": "private, no-store",
        },
    )


@post("/admin/outbox/{message_id:int}/retry", name="mail.retry", guards=admin_only)
async def retry(db: DB, message_id: PathInt) -> Any:
    await service.send_again(db, await service.get_message(db, message_id))
    return redirect_to("mail.message", "mail-queued-again", message_id=message_id)


router = Router(path="/", route_handlers=[outbox, message, message_html, retry])
