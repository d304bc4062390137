"""Learner pages: catalog, course page, enrollment, modules, evaluation, My learning."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from litestar import Request, Router, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from lms import times
from lms.accounts.models import User
from lms.auth import signed_in
from lms.catalog import service as catalog
from lms.catalog.models import Course
from lms.certificates import service as certificates
from lms.compliance import service as compliance
from lms.compliance.models import STATUSES
from lms.db import utcnow
from lms.errors import DomainError
from lms.forms import EVERY_FIELD, Answers, read_fields, shown
from lms.inject import DB, AppSettings
from lms.learning import service
from lms.learning.models import ACTIVE
from lms.learning.progress import of_person, progress_of
from lms.pages import page, redirect_to, wants_json

Req = Request[User, Any, Any]
guards = [signed_in]


@get("/courses", name="learning.catalog", guards=guards)
async def catalog_page(
    request: Req, db: DB, q: FromQuery[str] = "", audience: FromQuery[str] = ""
) -> Template:
    courses = await catalog.search_courses(db, q, audience)
    mine = {e.course_id: e for e in await service.enrollments_of(db, request.user.id)}
    return page(
        "learning/catalog.html",
        courses=courses,
        mine=mine,
        q=q,
        audience=audience,
        audiences=await catalog.audiences(db),
    )


async def _course_page(
    request: Req, db: DB, course: Course, error: str | None = None, status_code: int = 200
) -> Template:
    if course.current_version_id is None:
        raise DomainError("This course is not available yet.")
    enrollment = await service.find_enrollment(db, request.user.id, course.id)
    progress = await progress_of(db, enrollment) if enrollment else None
    definition = (
        progress.course if progress else await catalog.get_definition(db, course.current_version_id)
    )
    completed = await service.completed_slugs(db, request.user.id)
    prerequisites = [
        (slug, await _course_title(db, slug), slug in completed)
        for slug in definition.prerequisites
    ]
    return page(
        "learning/course.html",
        status_code,
        course=course,
        definition=definition,
        enrollment=enrollment,
        progress=progress,
        prerequisites=prerequisites,
        missing_prerequisites=[(slug, title) for slug, title, done in prerequisites if not done],
        error=error,
    )


async def _course_title(db: DB, slug: str) -> str:
    try:
        course = await catalog.get_course(db, slug)
    except DomainError:
        return slug
    return course.current_version.title if course.current_version else slug


@get("/courses/{slug:str}", name="learning.course", guards=guards)
async def course_page(request: Req, db: DB, slug: FromPath[str]) -> Template:
    return await _course_page(request, db, await catalog.get_course(db, slug))


@post("/courses/{slug:str}/enroll", name="learning.enroll", guards=guards)
async def enroll(request: Req, db: DB, slug: FromPath[str]) -> Any:
    course = await catalog.get_course(db, slug)
    try:
        _, changed = await service.enroll(db, request.user, course)
    except DomainError as exc:
        return await _course_page(request, db, course, str(exc), exc.status_code)
    return redirect_to("learning.course", "enrolled" if changed else "already-enrolled", slug=slug)


@post("/courses/{slug:str}/withdraw", name="learning.withdraw", guards=guards)
async def withdraw(request: Req, db: DB, slug: FromPath[str]) -> Any:
    enrollment = await service.get_enrollment(db, request.user, slug)
    await service.withdraw(db, enrollment, request.user)
    return redirect_to("learning.course", "withdrawn", slug=slug)


@get("/courses/{slug:str}/modules/{module_id:str}", name="learning.module", guards=guards)
async def module_page(
    request: Req, db: DB, slug: FromPath[str], module_id: FromPath[str]
) -> Template:
    enrollment = await service.get_enrollment(db, request.user, slug)
    progress = await service.open_module(db, enrollment, module_id)
    state = progress.module_state(module_id)
    index = state.number - 1
    modules = progress.modules
    return page(
        "learning/module.html",
        progress=progress,
        state=state,
        module=state.module,
        previous=modules[index - 1] if index > 0 else None,
        next=modules[index + 1] if index + 1 < len(modules) else None,
        seat_seconds_left=progress.seat_seconds_left(module_id, utcnow()),
    )


@post("/courses/{slug:str}/modules/{module_id:str}/reading", name="learning.reading", guards=guards)
async def module_reading(
    request: Req, db: DB, slug: FromPath[str], module_id: FromPath[str]
) -> Any:
    """The module page's script says, each minute it is in view, that it is still being read.

    Time spent counts between two signs of reading no more than IDLE_LIMIT apart, so without
    this a long read on one page view would count for nothing.
    """
    enrollment = await service.get_enrollment(db, request.user, slug)
    progress = await service.open_module(db, enrollment, module_id)
    if wants_json(request):
        left = progress.seat_seconds_left(module_id, utcnow())
        return Response({"seconds_left": left}, status_code=200)
    return redirect_to("learning.module", slug=slug, module_id=module_id)


@post("/courses/{slug:str}/modules/{module_id:str}/done", name="learning.done", guards=guards)
async def module_done(
    request: Req, db: DB, settings: AppSettings, slug: FromPath[str], module_id: FromPath[str]
) -> Any:
    enrollment = await service.get_enrollment(db, request.user, slug)
    await service.mark_done(db, settings, enrollment, module_id)
    progress = await progress_of(db, enrollment)
    words, link = progress.next_step
    if link:
        return redirect_to(link.name, "module-done", **link.params)
    return redirect_to("learning.course", "module-done", slug=slug)


@get("/courses/{slug:str}/evaluation", name="learning.evaluation", guards=guards)
async def evaluation_page(request: Req, db: DB, slug: FromPath[str]) -> Any:
    enrollment = await service.get_enrollment(db, request.user, slug)
    progress = await progress_of(db, enrollment)
    if progress.evaluation_done:
        return redirect_to("learning.course", "evaluation-done", slug=slug)
    return page("learning/evaluation.html", progress=progress, values={})


@post("/courses/{slug:str}/evaluation", name="learning.evaluation_submit", guards=guards)
async def evaluation_submit(
    request: Req, db: DB, settings: AppSettings, slug: FromPath[str]
) -> Any:
    enrollment = await service.get_enrollment(db, request.user, slug)
    data = await read_fields(request, EVERY_FIELD)
    try:
        await service.submit_evaluation(db, settings, enrollment, Answers.from_form(data))
    except DomainError as exc:
        progress = await progress_of(db, enrollment)
        return page(
            "learning/evaluation.html",
            exc.status_code,
            progress=progress,
            values=shown(data),
            error=str(exc),
        )
    return redirect_to("learning.course", "evaluation-done", slug=slug)


# Open to everyone: a visitor who is not signed in gets the welcome page, not a sign-in.
@get("/", name="learning.dashboard")
async def dashboard(request: Request[Any, Any, Any], db: DB, settings: AppSettings) -> Template:
    """My learning for a signed-in person; a welcome for everyone else."""
    if request.user is None:
        return page("home.html")
    return page(
        "learning/dashboard.html", **await dashboard_context(db, request.user, settings.zone)
    )


@get("/my-learning", name="learning.my_learning", guards=guards)
async def my_learning(request: Req) -> Redirect:
    """My learning's old address: a plain 302 to where it lives now, "/"."""
    return Redirect(request.app.route_reverse("learning.dashboard"))


async def dashboard_context(db: DB, user: User, zone: tzinfo) -> dict[str, Any]:
    progresses = await of_person(db, user.id)
    held = [p.certificate for p in progresses if p.certificate is not None]
    now = utcnow()
    return {
        # What the person's training plans require of them comes first (issue 18).
        "requirements": await compliance.requirements_of(db, user, times.local_date(now, zone)),
        "requirement_statuses": STATUSES,
        "certificates": {c.enrollment_id: c for c in held},
        "expiring": certificates.expiring_among(held, now),
        "now": now,
        "current": [p for p in progresses if p.enrollment.status == ACTIVE],
        "completed": [p for p in progresses if p.enrollment.status == "completed"],
        "withdrawn": [p for p in progresses if p.enrollment.status == "withdrawn"],
    }


router = Router(
    path="/",
    route_handlers=[
        catalog_page,
        course_page,
        enroll,
        withdraw,
        module_page,
        module_reading,
        module_done,
        evaluation_page,
        evaluation_submit,
        dashboard,
        my_learning,
    ],
)
