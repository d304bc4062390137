"""Admin pages for the catalog: every course with its versions, load status and errors."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from lms import audit
from lms.auth import requires, signed_in
from lms.catalog import service
from lms.forms import safe_file_name
from lms.inject import DB, AppSettings
from lms.pages import attachment, page, redirect_to

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
    return redirect_to("catalog.admin_courses", "courses-synced")


CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "doc": "application/msword",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "mp4": "video/mp4",
    "mp3": "audio/mpeg",
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}
KIND_LABELS = {
    "quick_guide": "Quick guide",
    "practice_brief": "Practice brief",
    "field_tool": "Field tool",
    "video": "Video",
    "article": "Article",
    "worksheet": "Worksheet",
}


@get("/resources", name="catalog.library", guards=[signed_in])
async def resource_library(
    db: DB, kind: FromQuery[str] = "", course: FromQuery[str] = "", audience: FromQuery[str] = ""
) -> Template:
    items = await service.library(db)
    courses = sorted({(i.course_slug, i.course_title) for i in items}, key=lambda c: c[1])
    audiences = sorted({a for i in items for a in i.audience})
    shown = [
        i
        for i in items
        if (not kind or i.resource.kind == kind)
        and (not course or i.course_slug == course)
        and (not audience or not i.audience or audience in i.audience)
    ]
    return page(
        "catalog/library.html",
        items=shown,
        total=len(items),
        kinds=KIND_LABELS,
        courses=courses,
        audiences=audiences,
        kind=kind,
        course=course,
        audience=audience,
    )


# The file name is only for the browser; `file_name`, as route_reverse takes `name` itself.
@get("/resources/{sha256:str}/{file_name:str}", name="catalog.download", guards=[signed_in])
async def download(db: DB, sha256: FromPath[str], file_name: FromPath[str]) -> Response[bytes]:
    stored = await service.get_file(db, sha256, file_name)
    filename = safe_file_name(file_name, "resource")
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    media_type = CONTENT_TYPES.get(extension, "application/octet-stream")
    return attachment(stored.content, media_type, filename, "private, max-age=86400, immutable")


router = Router(
    path="/",
    route_handlers=[admin_courses, admin_course, admin_sync, resource_library, download],
)
