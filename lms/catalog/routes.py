"""Admin pages for the catalog: every course with its versions, load status and errors."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.params import FromPath
from litestar.response import Template

from lms import audit
from lms.auth import requires
from lms.catalog import service
from lms.inject import DB, AppSettings
from lms.pages import page, redirect

admin_only = [requires("admin")]


@get("/admin/courses", name="catalog.admin_courses", guards=admin_only)
async def admin_courses(db: DB) -> Template:
    courses = await service.list_courses(db)
    counts = await service.version_counts(db)
    return page("catalog/admin_courses.html", courses=courses, counts=counts)


@get("/admin/courses/{slug:str}", name="catalog.admin_course", guards=admin_only)
async def admin_course(db: DB, slug: FromPath[str]) -> Template:
    course = await service.get_course(db, slug)
    versions = await service.versions_of(db, course.id)
    current = (
        await service.get_definition(db, course.current_version_id)
        if course.current_version_id
        else None
    )
    return page("catalog/admin_course.html", course=course, versions=versions, current=current)


@post("/admin/courses/sync", name="catalog.admin_sync", guards=admin_only)
async def admin_sync(request: Request[Any, Any, Any], db: DB, settings: AppSettings) -> Any:
    report = await service.sync_courses(db, settings.courses_dir)
    changes = [str(r) for r in report.results if r.outcome != "unchanged"]
    audit.record(db, request.user, "courses.sync", "catalog", "all", after={"results": changes})
    return redirect("/admin/courses", "courses-synced")


router = Router(path="/", route_handlers=[admin_courses, admin_course, admin_sync])
