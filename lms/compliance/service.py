"""Training plans applied to people: each requirement's due date from the person's hire or
role date, met by a completion of its course, extended per person with a reason.

The requirements are kept as rows (`compliance.models.Requirement`), rewritten by `refresh`
in the same transaction as whatever changes them, so that every page reads them with a
fixed number of statements and the status of a day is plain SQL on `due_on` and `met_on`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from lms import audit, times
from lms.accounts.models import CLASSIFICATIONS, County, Region, User
from lms.catalog.models import Course, CourseVersion, TrainingPlan
from lms.catalog.plans import PlanDefinition, PlanRequirement
from lms.compliance.models import (
    DUE_SOON,
    DUE_SOON_DAYS,
    MET,
    NO_DATE,
    ON_TRACK,
    OVERDUE,
    PERSONAL_KINDS,
    STATUSES,
    Requirement,
    RequirementExtension,
    reminder_key,
    status_of,
)
from lms.db import Kept, add_once, bump_revision, revision, table_of, utcnow
from lms.errors import Conflict, Forbidden, InvalidInput, NotFound
from lms.forms import Fields, long_text, parse_date, parse_id, required_id, text
from lms.learning.models import COMPLETED, Enrollment
from lms.mail.models import CANCELLED, QUEUED, OutboxMessage


@dataclass(frozen=True)
class Cycle:
    """Where one requirement stands for one person, as `schedule` works it out."""

    due_on: date | None
    first_due_on: date | None
    met_on: date | None
    late: bool
    last_completed_on: date | None
    extended: bool


def first_due(start: date, requirement: PlanRequirement) -> date:
    if requirement.within_months is not None:
        return times.add_months(start, requirement.within_months)
    return start + timedelta(days=requirement.within_days or 0)


def schedule(
    start: date | None,
    requirement: PlanRequirement,
    completions: Sequence[date],
    extensions: dict[date, date],
) -> Cycle:
    """The requirement's current cycle from the person's start date and completions.

    The first due date counts from `start`; any completion meets it (after the due date, it
    is met late). A recurring requirement comes due again `every_months` after each
    completion, and the next completion after that one meets it. `extensions` maps a due
    date to the date it was extended to.
    """
    if start is None:
        return Cycle(None, None, None, False, max(completions, default=None), False)
    due = first_due(start, requirement)
    first = due
    done = sorted(completions)
    last: date | None = None
    while True:
        extended = due in extensions
        effective = extensions.get(due, due)
        after = [d for d in done if last is None or d > last]
        if not after:
            return Cycle(effective, first, None, False, last, extended)
        met = after[0]
        if requirement.every_months is None:
            return Cycle(effective, first, met, met > effective, met, extended)
        last, due = met, times.add_months(met, requirement.every_months)
        first = due


@dataclass(frozen=True)
class Person:
    id: int
    classification: str | None
    county: str | None
    hire_date: date | None
    role_date: date | None


async def active_plans(db: AsyncSession) -> list[tuple[int, PlanDefinition]]:
    rows = await db.execute(
        select(TrainingPlan.id, TrainingPlan.content)
        .where(TrainingPlan.status == "active")
        .order_by(TrainingPlan.title, TrainingPlan.id)
    )
    return [(plan_id, PlanDefinition.from_content(content)) for plan_id, content in rows.all()]


# The revision `refresh` raises (lms.db.Revision): the report's kept totals hold while it stands.
REQUIREMENTS = "requirements"


async def refresh(db: AsyncSession, zone: tzinfo, user_ids: Iterable[int] | None = None) -> int:
    """Rewrite the requirement rows of these people (everyone, when None), and cancel their
    queued reminders that no longer hold; returns how many rows they have now. Inactive
    people have none: they are no longer anyone's worry."""
    ids = None if user_ids is None else sorted(set(user_ids))
    count = await _rewrite(db, zone, ids)
    await cancel_moot(db, ids)
    if ids is None or ids:
        await bump_revision(db, REQUIREMENTS)  # what workers keep of them is stale
    return count


async def _rewrite(db: AsyncSession, zone: tzinfo, ids: list[int] | None) -> int:
    plans = await active_plans(db)
    requirements = table_of(Requirement)
    if ids is not None and not ids:
        return 0
    if ids is None:
        await db.execute(delete(requirements))
    else:
        await db.execute(delete(requirements).where(requirements.c.user_id.in_(ids)))
    if not plans:
        return 0
    people_query = (
        select(User.id, User.classification, County.name, User.hire_date, User.role_date)
        .outerjoin(County, County.id == User.county_id)
        .where(User.active.is_(True), User.classification.is_not(None))
    )
    if ids is not None:
        people_query = people_query.where(User.id.in_(ids))
    people = [Person(*row) for row in (await db.execute(people_query)).all()]
    if not people:
        return 0
    slugs = sorted({r.course for _, plan in plans for r in plan.requirements})
    completions_query = (
        select(Enrollment.user_id, Course.slug, Enrollment.completed_at)
        .join(Course, Course.id == Enrollment.course_id)
        .where(
            Enrollment.status == COMPLETED,
            Enrollment.completed_at.is_not(None),
            Course.slug.in_(slugs),
        )
    )
    extensions_query = select(
        RequirementExtension.user_id,
        RequirementExtension.plan_id,
        RequirementExtension.course_slug,
        RequirementExtension.due_on,
        RequirementExtension.extended_to,
    )
    if ids is not None:
        completions_query = completions_query.where(Enrollment.user_id.in_(ids))
        extensions_query = extensions_query.where(RequirementExtension.user_id.in_(ids))
    completed: dict[tuple[int, str], list[date]] = defaultdict(list)
    for user_id, slug, at in (await db.execute(completions_query)).all():
        if at is not None:  # the query asks for completed_at; the type cannot say so
            completed[(user_id, slug)].append(times.local_date(at, zone))
    extended: dict[tuple[int, int, str], dict[date, date]] = defaultdict(dict)
    for user_id, plan_id, slug, due_on, to in (await db.execute(extensions_query)).all():
        extended[(user_id, plan_id, slug)][due_on] = to
    rows = []
    for person in people:
        for plan_id, plan in plans:
            if not plan.applies_to(person.classification, person.county):
                continue
            start = person.hire_date if plan.starts == "hire_date" else person.role_date
            for position, requirement in enumerate(plan.requirements):
                slug = requirement.course
                cycle = schedule(
                    start,
                    requirement,
                    completed.get((person.id, slug), []),
                    extended.get((person.id, plan_id, slug), {}),
                )
                rows.append(
                    {
                        "user_id": person.id,
                        "plan_id": plan_id,
                        "position": position,
                        "course_slug": slug,
                        "due_on": cycle.due_on,
                        "first_due_on": cycle.first_due_on,
                        "met_on": cycle.met_on,
                        "late": cycle.late,
                        "last_completed_on": cycle.last_completed_on,
                        "extended": cycle.extended,
                    }
                )
    for start_at in range(0, len(rows), 5000):
        await db.execute(insert(requirements), rows[start_at : start_at + 5000])
    return len(rows)


def status_column(today: date) -> ColumnElement[str]:
    """The status of a requirement row on `today`, in SQL (the same rule as `status_on`)."""
    return case(
        (Requirement.met_on.is_not(None), literal(MET)),
        (Requirement.due_on.is_(None), literal(NO_DATE)),
        (Requirement.due_on < today, literal(OVERDUE)),
        (Requirement.due_on <= today + timedelta(days=DUE_SOON_DAYS), literal(DUE_SOON)),
        else_=literal(ON_TRACK),
    )


# Most urgent first: overdue, then due soon, then on track, then met; earliest due first.
URGENCY = {OVERDUE: 0, DUE_SOON: 1, NO_DATE: 2, ON_TRACK: 3, MET: 4}


@dataclass(frozen=True)
class RequirementView:
    """One requirement as a page shows it."""

    row: Requirement
    plan_title: str
    course_title: str
    course_id: int | None
    status: str


# Built once: My learning runs it on every visit, and building a statement costs more than
# running this one.
_REQUIREMENTS_OF = (
    select(Requirement, TrainingPlan.title, Course.id, CourseVersion.title)
    .join(TrainingPlan, TrainingPlan.id == Requirement.plan_id)
    .outerjoin(Course, Course.slug == Requirement.course_slug)
    .outerjoin(CourseVersion, CourseVersion.id == Course.current_version_id)
    .where(Requirement.user_id == bindparam("user_id"))
)


async def requirements_of(db: AsyncSession, person: User, today: date) -> list[RequirementView]:
    """One person's requirements, most urgent first: one statement (sorted here: a person
    has a handful, and My learning runs it on every visit), or none for someone with no job
    classification (no plan can apply to them)."""
    if person.classification is None:
        return []
    rows = await db.execute(_REQUIREMENTS_OF, {"user_id": person.id})
    views = [
        RequirementView(row, plan_title, title or row.course_slug, course_id, row.status_on(today))
        for row, plan_title, course_id, title in rows
    ]
    return sorted(
        views,
        key=lambda v: (URGENCY[v.status], v.row.due_on or date.max, v.plan_title),
    )


# --- extensions -------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtensionForm:
    """A new due date for one requirement, with the reason; `seen` is the due date the
    person extending saw, so that two people extending at once do not both succeed."""

    plan_id: int
    course_slug: str
    seen: date
    extended_to: date
    reason: str

    @classmethod
    def from_form(cls, data: Fields) -> ExtensionForm:
        plan_id = required_id(data, "plan", "That requirement is not known.")
        course_slug = text(data, "course")
        seen = parse_date(text(data, "seen"), "The current due date", "seen")
        to = parse_date(text(data, "extended_to"), "The new due date", "extended_to")
        if not course_slug or seen is None:
            raise InvalidInput("That requirement is not known.", "course")
        if to is None:
            raise InvalidInput("Give the new due date.", "extended_to")
        if to <= seen:
            raise InvalidInput("The new due date must be after the current one.", "extended_to")
        reason = long_text(data, "reason", 1000, "The reason")
        if not reason:
            raise InvalidInput("Give the reason for the extension; it is kept.", "reason")
        return cls(plan_id, course_slug, seen, to, reason)


def may_extend(viewer: User, person: User) -> bool:
    """An admin, or the person's supervisor; nobody extends their own requirement."""
    if viewer.id == person.id:
        return False
    return viewer.is_admin or person.supervisor_id == viewer.id


async def extend(
    db: AsyncSession, zone: tzinfo, viewer: User, person: User, form: ExtensionForm
) -> Requirement:
    """Extend one requirement's current due date for one person; audited. The new date is
    from today (the academy's) to a year from today: a deadline long past is extended from
    now, not by a year from when it fell."""
    if not may_extend(viewer, person):
        raise Forbidden("Only an admin or this person's supervisor can extend a requirement.")
    today = datetime.now(zone).date()
    if form.extended_to < today:
        raise InvalidInput("The new due date cannot be in the past.", "extended_to")
    if form.extended_to > today + timedelta(days=366):
        raise InvalidInput("An extension reaches a year from today at most.", "extended_to")
    row = await db.scalar(
        select(Requirement).where(
            Requirement.user_id == person.id,
            Requirement.plan_id == form.plan_id,
            Requirement.course_slug == form.course_slug,
        )
    )
    if row is None or row.due_on is None:
        raise NotFound("That requirement is not known.")
    if row.met_on is not None:
        raise Conflict("That requirement is met; there is nothing to extend.")
    if row.due_on != form.seen:
        raise Conflict(
            f"This requirement is now due {times.show_date(row.due_on, zone)}, not "
            f"{times.show_date(form.seen, zone)}: someone changed it since you opened the "
            "page. Nothing was changed; look again."
        )
    base = row.first_due_on or row.due_on
    existing = await db.scalar(
        select(RequirementExtension).where(
            RequirementExtension.user_id == person.id,
            RequirementExtension.plan_id == form.plan_id,
            RequirementExtension.course_slug == form.course_slug,
            RequirementExtension.due_on == base,
        )
    )
    now = utcnow()
    if existing is None:
        added = await add_once(
            db,
            RequirementExtension(
                user_id=person.id,
                plan_id=form.plan_id,
                course_slug=form.course_slug,
                due_on=base,
                extended_to=form.extended_to,
                reason=form.reason,
                by_id=viewer.id,
                at=now,
            ),
        )
        if not added:
            raise Conflict("Someone extended this requirement a moment ago; look again.")
    else:
        changed = await db.execute(
            update(RequirementExtension)
            .where(
                RequirementExtension.id == existing.id,
                RequirementExtension.extended_to == form.seen,
            )
            .values(extended_to=form.extended_to, reason=form.reason, by_id=viewer.id, at=now)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
            raise Conflict("Someone extended this requirement a moment ago; look again.")
    audit.record(
        db,
        viewer,
        "requirement.extended",
        "user",
        person.id,
        {"plan_id": form.plan_id, "course": form.course_slug, "due": form.seen.isoformat()},
        {"due": form.extended_to.isoformat(), "reason": form.reason},
    )
    await refresh(db, zone, [person.id])
    found = await db.scalar(
        select(Requirement).where(
            Requirement.user_id == person.id,
            Requirement.plan_id == form.plan_id,
            Requirement.course_slug == form.course_slug,
        )
    )
    assert found is not None
    return found


# --- the compliance report -------------------------------------------------------------


@dataclass(frozen=True)
class ReportFilters:
    county_id: int | None = None
    region_id: int | None = None
    plan_id: int | None = None
    classification: str = ""
    status: str = ""

    @classmethod
    def from_query(
        cls, county: str, region: str, plan: str, classification: str, status: str
    ) -> ReportFilters:
        """Filters from the report's query string; anything unknown is ignored, not an error
        (a bookmarked report whose plan was retired still opens)."""
        return cls(
            parse_id(county),
            parse_id(region),
            parse_id(plan),
            classification if classification in CLASSIFICATIONS else "",
            status if status in STATUSES else "",
        )


@dataclass(frozen=True)
class ReportRow:
    user_id: int
    name: str
    email: str
    county: str
    region: str
    classification: str
    hire_date: date | None
    role_date: date | None
    plan: str
    course: str
    due_on: date | None
    status: str
    met_on: date | None
    late: bool
    extended: bool
    last_completed_on: date | None


def status_condition(status: str, today: date) -> ColumnElement[bool]:
    """The rows with this status on `today`, as plain conditions on `met_on` and `due_on` (so
    the index on open requirements' due dates serves them; `status_column` says the same)."""
    soon = today + timedelta(days=DUE_SOON_DAYS)
    open_ = Requirement.met_on.is_(None)
    return {
        MET: Requirement.met_on.is_not(None),
        NO_DATE: and_(open_, Requirement.due_on.is_(None)),
        OVERDUE: and_(open_, Requirement.due_on < today),
        DUE_SOON: and_(open_, Requirement.due_on >= today, Requirement.due_on <= soon),
        ON_TRACK: and_(open_, Requirement.due_on > soon),
    }[status]


def _report_query(
    columns: Sequence[Any], filters: ReportFilters, today: date, listing: bool = False
) -> Any:
    """The requirements the filters choose; `listing` joins what the rows show (a count joins
    people and counties only when a filter names them)."""
    query = select(*columns).select_from(Requirement)
    by_person = listing or filters.county_id or filters.region_id or filters.classification
    if by_person:
        query = query.join(User, User.id == Requirement.user_id)
    if listing or filters.region_id:
        query = query.outerjoin(County, County.id == User.county_id)
    if listing:
        query = query.join(TrainingPlan, TrainingPlan.id == Requirement.plan_id).outerjoin(
            Region, Region.id == County.region_id
        )
    if filters.county_id is not None:
        query = query.where(User.county_id == filters.county_id)
    if filters.region_id is not None:
        query = query.where(County.region_id == filters.region_id)
    if filters.plan_id is not None:
        query = query.where(Requirement.plan_id == filters.plan_id)
    if filters.classification:
        query = query.where(User.classification == filters.classification)
    if filters.status:
        query = query.where(status_condition(filters.status, today))
    return query


# The report's totals, kept by each worker while the requirements' revision stands: counting
# 55,000 requirements took 10 ms of every page of the report, and they change only when
# `refresh` runs (a completion, a person's dates or job, an extension, a plan).
_TOTALS: Kept[dict[str, int]] = Kept(256)


async def status_totals(db: AsyncSession, filters: ReportFilters, today: date) -> dict[str, int]:
    """How many requirements match, by status: one statement for the revision, and one more
    when the totals must be counted again. The revision is read before the count, so a kept
    total is never older than the revision it is kept under. (A transaction that has just
    refreshed requirements must not ask: it would keep totals it may yet roll back.)"""

    async def count() -> dict[str, int]:
        status = status_column(today).label("status")
        query = _report_query([status, func.count()], filters, today).group_by(status)
        found = {key: 0 for key in STATUSES}
        found.update({key: n for key, n in (await db.execute(query)).all()})
        return found

    mark = await revision(db, REQUIREMENTS)
    return dict(await _TOTALS.get_or((filters, today), mark, count))


async def report(
    db: AsyncSession,
    filters: ReportFilters,
    today: date,
    limit: int | None = None,
    offset: int = 0,
    open_count: int | None = None,
) -> list[ReportRow]:
    """The matching requirements, most urgent first: the open ones by due date (overdue, due
    soon, on track, then those with no date to count from), then the met ones, latest first.

    Up to three statements: the open rows and the met rows, each read in index order up to
    the page (`open_count`, from `status_totals`, says where the open ones end; a page of
    only one kind reads only that kind), then the courses' titles.
    """
    columns = [
        User.id,
        User.name,
        User.email,
        County.name,
        Region.name,
        User.classification,
        User.hire_date,
        User.role_date,
        TrainingPlan.title,
        Requirement.course_slug,
        Requirement.due_on,
        status_column(today),
        Requirement.met_on,
        Requirement.late,
        Requirement.extended,
        Requirement.last_completed_on,
    ]
    listed = _report_query(columns, filters, today, listing=True)
    open_rows = listed.where(Requirement.met_on.is_(None)).order_by(
        Requirement.due_on.asc().nulls_last(), Requirement.id
    )
    met_rows = listed.where(Requirement.met_on.is_not(None)).order_by(
        Requirement.met_on.desc(), Requirement.id
    )
    wanted_open = wanted_met = 1  # any: no limit
    if limit is not None:
        opened = open_count or 0
        wanted_open = max(0, min(limit, opened - offset))
        wanted_met = max(0, limit - max(0, opened - offset))
        open_rows = open_rows.limit(wanted_open).offset(offset)
        met_rows = met_rows.limit(wanted_met).offset(max(0, offset - opened))
    found = [*(await db.execute(open_rows)).all()] if wanted_open else []
    found += (await db.execute(met_rows)).all() if wanted_met else []
    titles = await titles_by_slug(db, {row[9] for row in found})
    return [
        ReportRow(
            user_id=row[0],
            name=row[1],
            email=row[2],
            county=row[3] or "",
            region=row[4] or "",
            classification=CLASSIFICATIONS.get(row[5] or "", ""),
            hire_date=row[6],
            role_date=row[7],
            plan=row[8],
            course=titles.get(row[9], row[9]),
            due_on=row[10],
            status=row[11],
            met_on=row[12],
            late=row[13],
            extended=row[14],
            last_completed_on=row[15],
        )
        for row in found
    ]


async def titles_by_slug(db: AsyncSession, slugs: set[str]) -> dict[str, str]:
    if not slugs:
        return {}
    rows = await db.execute(
        select(Course.slug, CourseVersion.title)
        .join(CourseVersion, CourseVersion.id == Course.current_version_id)
        .where(Course.slug.in_(slugs))
    )
    return dict(rows.all())


async def report_choices(db: AsyncSession) -> tuple[list[tuple[int, str]], list[Any]]:
    """The plans in force, and the counties with their regions (two statements)."""
    plans = (
        await db.execute(
            select(TrainingPlan.id, TrainingPlan.title)
            .where(TrainingPlan.status == "active")
            .order_by(TrainingPlan.title)
        )
    ).all()
    counties = (
        await db.execute(
            select(County.id, County.name, Region.id, Region.name)
            .join(Region, Region.id == County.region_id)
            .order_by(County.name)
        )
    ).all()
    return [(p[0], p[1]) for p in plans], list(counties)


def report_table(rows: Sequence[ReportRow]) -> tuple[list[str], list[list[Any]]]:
    header = [
        "Name",
        "Email",
        "County",
        "Region",
        "Classification",
        "Hire date",
        "Role date",
        "Plan",
        "Course",
        "Due",
        "Status",
        "Completed",
        "Late",
        "Extended",
    ]
    return header, [
        [
            r.name,
            r.email,
            r.county,
            r.region,
            r.classification,
            r.hire_date,
            r.role_date,
            r.plan,
            r.course,
            r.due_on,
            STATUSES[r.status],
            r.met_on or r.last_completed_on,
            "yes" if r.late else "",
            "yes" if r.extended else "",
        ]
        for r in rows
    ]


async def team_counts(db: AsyncSession, user_ids: Sequence[int], today: date) -> dict[int, Any]:
    """Each person's requirements by status (person -> {status: count}), one statement; the
    statuses are worked out here (a team is a few dozen rows)."""
    if not user_ids:
        return {}
    rows = await db.execute(
        select(Requirement.user_id, Requirement.met_on, Requirement.due_on).where(
            Requirement.user_id.in_(user_ids)
        )
    )
    found: dict[int, dict[str, int]] = defaultdict(dict)
    for user_id, met_on, due_on in rows:
        key = status_of(met_on, due_on, today)
        found[user_id][key] = found[user_id].get(key, 0) + 1
    return found


async def cancel_moot(db: AsyncSession, user_ids: Sequence[int] | None) -> None:
    """Cancel these people's queued requirement reminders that no longer hold: the
    requirement was met, extended or dropped since (called after their rows are rewritten)."""
    query = select(OutboxMessage.id, OutboxMessage.dedupe_key).where(
        OutboxMessage.status == QUEUED, OutboxMessage.kind.in_(PERSONAL_KINDS)
    )
    if user_ids is not None:
        query = query.where(OutboxMessage.user_id.in_(user_ids))
    queued = (await db.execute(query)).all()
    if not queued:
        return
    holders = {int(key.split(":")[1]) for _, key in queued if key}
    rows = (
        await db.scalars(
            select(Requirement).where(
                Requirement.user_id.in_(holders),
                Requirement.met_on.is_(None),
                Requirement.due_on.is_not(None),
            )
        )
    ).all()
    still = {reminder_key(kind, row) for row in rows for kind in PERSONAL_KINDS}
    moot = [message_id for message_id, key in queued if key not in still]
    if moot:
        await db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(moot), OutboxMessage.status == QUEUED)
            .values(
                status=CANCELLED,
                last_error="Not sent: the requirement was met or its due date changed.",
            )
            .execution_options(synchronize_session=False)
        )
