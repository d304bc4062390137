"""Loading course folders into versions: new, unchanged, new version, refused, retired."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from lms.app import create_app
from lms.catalog import service
from lms.catalog.models import Course, CourseFile, CourseVersion
from tests.conftest import post, sign_in
from tests.course_factory import COURSE_YAML, FIRST_MODULE, write_course

ROOT = Path(__file__).resolve().parent.parent


async def sync(db, root: Path) -> dict[str, str]:
    report = await service.sync_courses(db, root)
    await db.commit()
    return {r.slug: r.outcome for r in report.results}


async def current(db, slug: str) -> CourseVersion:
    course = await db.scalar(select(Course).where(Course.slug == slug))
    await db.refresh(course)
    return await db.get(CourseVersion, course.current_version_id)


async def test_sync_reports_new_unchanged_and_new_version(db, tmp_path):
    root = tmp_path / "courses"
    write_course(root)
    assert await sync(db, root) == {"test-course": "new"}
    first = await current(db, "test-course")
    assert await sync(db, root) == {"test-course": "unchanged"}
    assert (await current(db, "test-course")).id == first.id

    write_course(
        root,
        changes={
            "modules/second.md": FIRST_MODULE.replace("first", "second")
            .replace("q1", "q3")
            .replace("q2", "q4")
        },
    )
    assert await sync(db, root) == {"test-course": "new version"}
    second = await current(db, "test-course")
    assert second.id != first.id and second.number == 2
    # The first version is immutable and still readable.
    old = await service.get_definition(db, first.id)
    assert old.modules[1].quiz is None
    assert (await service.get_definition(db, second.id)).modules[1].quiz is not None


async def test_same_content_gives_the_same_version(db, tmp_path):
    root = tmp_path / "courses"
    write_course(root)
    await sync(db, root)
    original = await current(db, "test-course")
    write_course(root, changes={"course.yaml": COURSE_YAML.replace("2", "3", 1)})
    await sync(db, root)
    write_course(root)  # the author reverts the edit
    await sync(db, root)
    assert (await current(db, "test-course")).id == original.id
    assert await db.scalar(select(func.count()).select_from(CourseVersion)) == 2


async def test_unreferenced_files_do_not_make_a_new_version(db, tmp_path):
    root = tmp_path / "courses"
    folder = write_course(root)
    await sync(db, root)
    (folder / "notes.txt").write_text("author's scratch notes")
    (folder / "resources" / "unused.pdf").write_text("not offered")
    assert await sync(db, root) == {"test-course": "unchanged"}


async def test_a_broken_edit_keeps_the_last_good_version_serving(db, tmp_path):
    root = tmp_path / "courses"
    write_course(root)
    await sync(db, root)
    good = await current(db, "test-course")
    write_course(root, changes={"course.yaml": COURSE_YAML + "pass_mak: 1\n"})
    report = await service.sync_courses(db, root)
    await db.commit()
    (result,) = report.results
    assert result.outcome == "refused" and "still serving version 1" in result.detail
    assert (await current(db, "test-course")).id == good.id
    course = await db.scalar(select(Course).where(Course.slug == "test-course"))
    await db.refresh(course)
    assert course.problems and "unknown field 'pass_mak'" in course.problems[0]
    write_course(root)
    await sync(db, root)
    await db.refresh(course)
    assert course.problems is None


async def test_a_removed_folder_retires_the_course_and_keeps_history(db, tmp_path):
    root = tmp_path / "courses"
    folder = write_course(root)
    write_course(root, "other")
    await sync(db, root)
    shutil.rmtree(folder)
    assert await sync(db, root) == {"other": "unchanged", "test-course": "retired"}
    course = await db.scalar(select(Course).where(Course.slug == "test-course"))
    await db.refresh(course)
    assert course.status == "retired" and course.current_version_id is not None
    assert await db.scalar(select(func.count()).select_from(CourseVersion)) == 2
    assert await sync(db, root) == {"other": "unchanged"}  # retired once, not every time
    write_course(root)  # the folder comes back
    assert await sync(db, root) == {"other": "unchanged", "test-course": "unchanged"}
    await db.refresh(course)
    assert course.status == "active"


async def test_resource_files_are_stored_once_by_content(db, tmp_path):
    root = tmp_path / "courses"
    write_course(root, "one")
    write_course(root, "two")
    await sync(db, root)
    stored = (await db.scalars(select(CourseFile))).all()
    assert len(stored) == 1 and stored[0].content == b"%PDF-1.4 test worksheet"


async def test_the_shipped_courses_sync(db):
    outcomes = await sync(db, ROOT / "courses")
    assert outcomes == {
        "emergency-response": "new",
        "sop-intro": "new",
        "supervisor-core": "new",
        "plans/new-social-worker": "new",
        "plans/new-supervisor": "new",
        "plans/sop-refresher": "new",
    }
    version = await current(db, "sop-intro")
    definition = await service.get_definition(db, version.id)
    assert version.title == "Introduction to Safety Organized Practice"
    assert "<script" not in definition.modules[0].body_html
    assert await sync(db, ROOT / "courses") == dict.fromkeys(outcomes, "unchanged")


async def test_a_prerequisite_loaded_earlier_still_counts(db, tmp_path):
    root = tmp_path / "courses"
    write_course(root, "base")
    await sync(db, root)
    shutil.rmtree(root / "base")
    write_course(root, "next", {"course.yaml": COURSE_YAML + "prerequisites: [base]\n"})
    outcomes = await sync(db, root)
    assert outcomes == {"next": "new", "base": "retired"}


@pytest.mark.parametrize("who,status", [("learner", 403), ("trainer", 403), ("admin", 200)])
async def test_admin_course_pages_by_role(client, db, people, who, status):
    await sync(db, ROOT / "courses")
    await sign_in(client, f"{who}@example.org")
    assert (await client.get("/admin/courses")).status_code == status
    assert (await client.get("/admin/courses/sop-intro")).status_code == status


async def test_admin_sees_versions_and_errors_and_can_reload(settings, people, tmp_path):
    root = tmp_path / "courses"
    write_course(root)
    write_course(root, "broken", {"course.yaml": COURSE_YAML + "pass_mak: 1\n"})
    app = create_app(replace(settings, courses_dir=root))
    async with AsyncTestClient(app=app) as client:
        await sign_in(client, "admin@example.org")
        response = await post(client, "/admin/courses/sync", {}, token_from="/admin/courses")
        assert "The course folders have been checked and loaded." in response.text
        assert "Test Course" in response.text and "1 problem" in response.text
        detail = await client.get("/admin/courses/broken")
        assert "unknown field &#39;pass_mak&#39;" in detail.text
        assert "The course is not available until these are fixed." in detail.text
        detail = await client.get("/admin/courses/test-course")
        assert "The first module" in detail.text and "current" in detail.text
        assert (await client.get("/admin/courses/nope")).status_code == 404


async def test_learner_cannot_trigger_a_reload(client, db, people):
    await sign_in(client, "learner@example.org")
    response = await post(client, "/admin/courses/sync", {}, token_from="/")
    assert response.status_code == 403
    assert await db.scalar(select(func.count()).select_from(Course)) == 0
