"""Loading course folders into versions, and finding courses and their content."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.accounts.models import County
from lms.catalog.definition import CourseDefinition, Resource, course_from_json
from lms.catalog.models import Course, CourseFile, CourseVersion, PlanVersion, TrainingPlan
from lms.catalog.plans import LoadedPlan, check_plan_counties
from lms.catalog.validate import CatalogCheck, LoadedCourse, check_catalog
from lms.compliance import service as compliance
from lms.db import utcnow
from lms.errors import NotFound
from lms.settings import Settings


@dataclass
class SyncResult:
    slug: str
    outcome: str  # new, new version, unchanged, retired, refused
    detail: str = ""
    problems: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.slug}: {self.outcome}{f' ({self.detail})' if self.detail else ''}"


@dataclass
class SyncReport:
    results: list[SyncResult]
    warnings: list[str]

    @property
    def refused(self) -> list[SyncResult]:
        return [r for r in self.results if r.outcome == "refused"]


async def sync_courses(
    db: AsyncSession,
    root: Path,
    checked: CatalogCheck | None = None,
    zone: tzinfo | None = None,
    with_plans: bool = True,
) -> SyncReport:
    """Store every valid course folder as a version; retire courses whose folder is gone;
    the same for the training plans in `root/plans`.

    Runs in the caller's transaction, so a sync that fails part way leaves nothing behind.
    `checked` is a check of `root` made before, against no known courses (the tests check
    the shipped courses once and load them into many empty databases). `zone` is the
    academy's, whose calendar days completions count on (the default academy's if None).
    `with_plans` False leaves the plans alone (a database migrated only part of the way, in
    the migration tests, has no table for them).
    """
    courses = {c.slug: c for c in (await db.scalars(select(Course))).all()}
    known = [slug for slug, c in courses.items() if c.current_version_id is not None]
    check = checked or check_catalog(root, known)
    results = [await _store(db, courses.get(loaded.slug), loaded) for loaded in check.courses]
    present = {loaded.slug for loaded in check.courses}
    now = utcnow()
    for slug, course in sorted(courses.items()):
        if slug not in present and course.status != "retired":
            course.status, course.retired_at, course.checked_at = "retired", now, now
            results.append(SyncResult(slug, "retired", "its folder is gone; history is kept"))
    await db.flush()
    plan_results = await _store_plans(db, check.plans) if with_plans else []
    if any(r.outcome not in ("unchanged", "refused") for r in plan_results):
        await compliance.refresh(db, zone or Settings().zone)
    return SyncReport(results + plan_results, check.warnings)


async def _store_plans(db: AsyncSession, loaded_plans: list[LoadedPlan]) -> list[SyncResult]:
    """Store each valid plan as a new version when it changed; retire plans whose file is
    gone. A refused plan keeps its last good version in force."""
    check_plan_counties(loaded_plans, set((await db.scalars(select(County.name))).all()))
    plans = {p.slug: p for p in (await db.scalars(select(TrainingPlan))).all()}
    results: list[SyncResult] = []
    now = utcnow()
    for loaded in loaded_plans:
        name = f"plans/{loaded.slug}"
        plan = plans.get(loaded.slug)
        if not loaded.ok or loaded.plan is None or loaded.fingerprint is None:
            problems = tuple(str(p) for p in loaded.problems)
            if plan is not None:
                plan.problems, plan.checked_at = list(problems), now
            serving = f"; still in force: version {plan.number}" if plan else ""
            results.append(
                SyncResult(name, "refused", f"{len(problems)} problem(s){serving}", problems)
            )
            continue
        content = loaded.plan.content()
        if plan is not None and plan.fingerprint == loaded.fingerprint:
            was_retired = plan.status == "retired"
            plan.status, plan.problems, plan.checked_at = "active", None, now
            outcome = "new version" if was_retired else "unchanged"
            results.append(SyncResult(name, outcome, "restored" if was_retired else ""))
            continue
        if plan is None:
            plan = TrainingPlan(slug=loaded.slug, number=0)
            db.add(plan)
        plan.number += 1
        plan.status, plan.problems, plan.checked_at = "active", None, now
        plan.fingerprint, plan.title, plan.content = loaded.fingerprint, loaded.plan.title, content
        await db.flush()
        db.add(
            PlanVersion(
                plan_id=plan.id,
                number=plan.number,
                fingerprint=loaded.fingerprint,
                title=loaded.plan.title,
                content=content,
                created_at=now,
            )
        )
        outcome = "new" if plan.number == 1 else "new version"
        results.append(SyncResult(name, outcome, f"version {plan.number}"))
    present = {loaded.slug for loaded in loaded_plans}
    for slug, plan in sorted(plans.items()):
        if slug not in present and plan.status != "retired":
            plan.status, plan.checked_at = "retired", now
            results.append(SyncResult(f"plans/{slug}", "retired", "its file is gone"))
    await db.flush()
    return results


async def _store(db: AsyncSession, course: Course | None, loaded: LoadedCourse) -> SyncResult:
    now = utcnow()
    if course is None:
        course = Course(slug=loaded.slug, status="active", checked_at=now)
        db.add(course)
        await db.flush()
    course.checked_at = now
    if not loaded.ok:
        course.problems = [str(p) for p in loaded.problems]
        serving = await _version_label(db, course.current_version_id)
        detail = f"{len(loaded.problems)} problem(s)"
        if serving:
            detail += f"; still serving {serving}"
        return SyncResult(loaded.slug, "refused", detail, tuple(course.problems))
    assert loaded.course is not None and loaded.fingerprint is not None
    was_retired = course.status == "retired"
    course.problems, course.status, course.retired_at = None, "active", None
    version = await db.scalar(
        select(CourseVersion).where(
            CourseVersion.course_id == course.id, CourseVersion.fingerprint == loaded.fingerprint
        )
    )
    if version is not None:
        if version.id == course.current_version_id:
            return SyncResult(loaded.slug, "unchanged", "restored" if was_retired else "")
        course.current_version_id = version.id
        return SyncResult(loaded.slug, "new version", f"back to version {version.number}")
    await _store_files(db, loaded)
    number = (
        await db.scalar(
            select(func.max(CourseVersion.number)).where(CourseVersion.course_id == course.id)
        )
        or 0
    ) + 1
    definition = loaded.course
    version = CourseVersion(
        course_id=course.id,
        number=number,
        fingerprint=loaded.fingerprint,
        label=definition.version,
        title=definition.title,
        hours=definition.hours,
        content=definition.to_json(),
        created_at=now,
    )
    db.add(version)
    await db.flush()
    course.current_version_id = version.id
    outcome = "new" if number == 1 else "new version"
    return SyncResult(loaded.slug, outcome, f"version {number}, labelled {definition.version}")


async def _store_files(db: AsyncSession, loaded: LoadedCourse) -> None:
    if not loaded.files:
        return
    have = set(
        await db.scalars(select(CourseFile.sha256).where(CourseFile.sha256.in_(loaded.files)))
    )
    for sha, blob in loaded.files.items():
        if sha not in have:
            content = blob.path.read_bytes()
            db.add(CourseFile(sha256=sha, name=blob.path.name, size=len(content), content=content))


async def _version_label(db: AsyncSession, version_id: int | None) -> str | None:
    if version_id is None:
        return None
    version = await db.get(CourseVersion, version_id)
    return f"version {version.number} ({version.label})" if version else None


# Versions never change, so each process parses a version's content once and keeps it.
_definitions: dict[int, CourseDefinition] = {}


def forget_definitions() -> None:
    """Drop the parsed versions (tests reuse version ids when they empty the database)."""
    _definitions.clear()


async def get_definition(db: AsyncSession, version_id: int) -> CourseDefinition:
    found = _definitions.get(version_id)
    if found is None:
        query = select(CourseVersion.content).where(CourseVersion.id == version_id)
        content = await db.scalar(query)
        if content is None:
            raise NotFound("That course version does not exist.")
        found = _definitions[version_id] = course_from_json(content)
    return found


async def get_definitions(db: AsyncSession, version_ids: set[int]) -> dict[int, CourseDefinition]:
    """Several versions' content, reading only the ones this process has not parsed yet."""
    missing = [v for v in version_ids if v not in _definitions]
    if missing:
        query = select(CourseVersion.id, CourseVersion.content).where(CourseVersion.id.in_(missing))
        for version_id, content in (await db.execute(query)).all():
            _definitions[version_id] = course_from_json(content)
    return {v: _definitions[v] for v in version_ids if v in _definitions}


async def list_courses(db: AsyncSession) -> list[Course]:
    return list((await db.scalars(select(Course).order_by(Course.slug))).unique().all())


async def current_definition(db: AsyncSession, course: Course) -> CourseDefinition:
    """The definition of the course's current version (NotFound before any version loads)."""
    if course.current_version_id is None:
        raise NotFound(f"The course '{course.slug}' has no version loaded yet.")
    return await get_definition(db, course.current_version_id)


async def current_definitions(
    db: AsyncSession, active_only: bool = False
) -> list[tuple[Course, CourseDefinition]]:
    """Every loaded course (or only the active ones) with its current version's definition."""
    courses = [c for c in await list_courses(db) if c.status == "active" or not active_only]
    return await with_definitions(db, courses)


async def with_definitions(
    db: AsyncSession, courses: Sequence[Course]
) -> list[tuple[Course, CourseDefinition]]:
    """Each course that has a current version, with that version's definition (one query)."""
    current = [(c, c.current_version_id) for c in courses if c.current_version_id is not None]
    definitions = await get_definitions(db, {version_id for _, version_id in current})
    return [(c, definitions[version_id]) for c, version_id in current]


async def get_course(db: AsyncSession, slug: str) -> Course:
    course = await db.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        raise NotFound(f"There is no course called '{slug}'.")
    return course


async def get_course_by_id(db: AsyncSession, course_id: int) -> Course:
    course = await db.get(Course, course_id)
    if course is None:
        raise NotFound("There is no such course.")
    return course


async def versions_of(db: AsyncSession, course_id: int) -> list[CourseVersion]:
    query = (
        select(CourseVersion)
        .where(CourseVersion.course_id == course_id)
        .order_by(CourseVersion.number.desc())
    )
    return list((await db.scalars(query)).all())


async def version_counts(db: AsyncSession) -> dict[int, int]:
    query = select(CourseVersion.course_id, func.count()).group_by(CourseVersion.course_id)
    return {course_id: count for course_id, count in (await db.execute(query)).all()}


async def get_file(db: AsyncSession, sha256: str, name: str) -> CourseFile:
    """The stored file with this digest, under a name a course gives it.

    Files are kept once per content, under the name they were first stored with; another
    course may offer the same bytes under its own name, and its links carry that name. Any
    other name is not an address we gave out.
    """
    found = await db.get(CourseFile, sha256) if len(sha256) == 64 else None
    if found is None or (name != found.name and not await _offered_as(db, sha256, name)):
        raise NotFound("There is no such file.")
    return found


async def _offered_as(db: AsyncSession, sha256: str, name: str) -> bool:
    return any(
        i.resource.sha256 == sha256 and (i.resource.file or "").split("/")[-1] == name
        for i in await library(db)
    )


@dataclass
class LibraryItem:
    course_slug: str
    course_title: str
    audience: tuple[str, ...]
    module_title: str
    resource: Resource


async def library(db: AsyncSession) -> list[LibraryItem]:
    """Every resource of every course's current version."""
    query = select(Course).where(Course.status == "active", Course.current_version_id.is_not(None))
    items = []
    for course, definition in await with_definitions(db, (await db.scalars(query)).unique().all()):
        for module in definition.modules:
            for resource in module.resources:
                items.append(
                    LibraryItem(
                        course.slug, definition.title, definition.audience, module.title, resource
                    )
                )
    items.sort(key=lambda i: (i.course_title, i.resource.title))
    return items


async def search_courses(
    db: AsyncSession, text: str = "", audience: str = ""
) -> list[tuple[Course, CourseDefinition]]:
    """The active courses a learner can find, matching every word of `text`, by title."""
    query = select(Course).where(Course.status == "active", Course.current_version_id.is_not(None))
    courses = (await db.scalars(query.order_by(Course.slug))).unique().all()
    found = []
    needle = text.strip().lower()
    for course, definition in await with_definitions(db, courses):
        if audience and definition.audience and audience not in definition.audience:
            continue
        haystack = " ".join(
            [definition.title, definition.summary, *definition.tags, *definition.audience]
        ).lower()
        if needle and not all(word in haystack for word in needle.split()):
            continue
        found.append((course, definition))
    found.sort(key=lambda pair: pair[1].title)
    return found


async def audiences(db: AsyncSession) -> list[str]:
    query = select(Course).where(Course.status == "active")
    courses = await with_definitions(db, (await db.scalars(query)).unique().all())
    return sorted({a for _, d in courses for a in d.audience})
