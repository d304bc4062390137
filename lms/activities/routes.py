"""Field activity pages: the learner's activity, the reviewer's queue and decision, files."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.params import FromPath
from litestar.response import Response, Template

from lms.accounts.models import User
from lms.activities import service
from lms.auth import signed_in
from lms.db import utcnow
from lms.errors import DomainError
from lms.forms import read_fields, read_upload, shown
from lms.inject import DB, AppSettings, PathInt
from lms.learning import service as learning
from lms.pages import attachment, page, redirect_to

Req = Request[User, Any, Any]
# Who may see what is decided in the service (the learner, their reviewers, admins): every
# page here only needs someone signed in.
guards = [signed_in]
# A 10 MB file and the form around it.
MAX_BODY = service.MAX_FILE + 256 * 1024


async def _activity_page(
    db: DB,
    user: User,
    slug: str,
    activity_id: str,
    status_code: int = 200,
    **context: Any,
) -> Template:
    enrollment = await learning.get_enrollment(db, user, slug)
    found = await service.view(db, enrollment, user, activity_id)
    return page("activities/activity.html", status_code, view=found, **context)


@get("/courses/{slug:str}/activities/{activity_id:str}", name="activities.activity", guards=guards)
async def activity_page(
    request: Req, db: DB, slug: FromPath[str], activity_id: FromPath[str]
) -> Template:
    return await _activity_page(db, request.user, slug, activity_id, values={})


@post(
    "/courses/{slug:str}/activities/{activity_id:str}",
    name="activities.submit",
    guards=guards,
    request_max_body_size=MAX_BODY,
)
async def submit(
    request: Req, db: DB, settings: AppSettings, slug: FromPath[str], activity_id: FromPath[str]
) -> Any:
    enrollment = await learning.get_enrollment(db, request.user, slug)
    data = await read_fields(request, multiline=("reflection",))
    try:
        form = service.SubmissionForm.from_form(data)
        upload = await read_upload(request, "file")
        await service.submit(db, settings, enrollment, request.user, activity_id, form, upload)
    except DomainError as exc:
        if exc.status_code != 400:
            raise
        return await _activity_page(
            db, request.user, slug, activity_id, 400, values=shown(data), error=str(exc)
        )
    return redirect_to(
        "activities.activity", "activity-submitted", slug=slug, activity_id=activity_id
    )


@get("/sign-offs", name="activities.queue", guards=guards)
async def queue_page(request: Req, db: DB) -> Template:
    """What waits for the signed-in person's sign-off: empty for anyone who reviews nobody."""
    now = utcnow()
    return page(
        "activities/queue.html",
        waiting=await service.queue(db, request.user, now),
        decided=await service.queue(db, request.user, now, decided=True),
    )


async def _review_page(
    db: DB, user: User, record_id: int, status_code: int = 200, **context: Any
) -> Template:
    found = await service.review(db, user, record_id)
    return page("activities/review.html", status_code, review=found, **context)


@get("/sign-offs/{record_id:int}", name="activities.review", guards=guards)
async def review_page(request: Req, db: DB, record_id: PathInt) -> Template:
    return await _review_page(db, request.user, record_id, values={})


@post("/sign-offs/{record_id:int}", name="activities.decide", guards=guards)
async def decide(request: Req, db: DB, settings: AppSettings, record_id: PathInt) -> Any:
    found = await service.review(db, request.user, record_id)
    data = await read_fields(request, multiline=("comment",))
    try:
        form = service.DecisionForm.from_form(data, found.rubric)
        await service.decide(db, settings, request.user, record_id, form)
    except DomainError as exc:
        if exc.status_code not in (400, 409):
            raise
        return await _review_page(
            db, request.user, record_id, exc.status_code, values=shown(data), error=str(exc)
        )
    notice = "activity-signed-off" if form.decision == service.SIGN_OFF else "activity-returned"
    return redirect_to("activities.queue", notice)


# The file name is only for the browser; `file_name`, as route_reverse takes `name` itself.
@get("/activity-files/{file_id:int}/{file_name:str}", name="activities.file", guards=guards)
async def download(
    request: Req, db: DB, file_id: PathInt, file_name: FromPath[str]
) -> Response[bytes]:
    stored = await service.get_file(db, request.user, file_id)
    return attachment(stored.content, stored.media_type, stored.name, "private, no-store")


router = Router(
    path="/", route_handlers=[activity_page, submit, queue_page, review_page, decide, download]
)
