"""Completions for admins: the latest page by page, and totals by county, region, course, month."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    Date,
    DateTime,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    extract,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from lms import times
from lms.accounts.models import County, Region, User
from lms.catalog import service as catalog
from lms.catalog.models import Course, CourseVersion
from lms.certificates.models import Certificate
from lms.errors import InvalidInput
from lms.learning.models import COMPLETED, Enrollment
from lms.reports.models import NO_COUNTY, CompletionCount


@dataclass
class CompletionRow:
    learner: str
    email: str
    county: str
    region: str
    course: str
    completed_at: datetime
    hours: float
    certificate: str | None


class _Filters(NamedTuple):
    """Which filters a completions statement has, each sent as the bind parameter named."""

    course: bool = False
    county: bool = False
    region: bool = False
    start: str | None = None  # completed_at >= :start
    end: str | None = None  # completed_at < :end
    user_ids: bool = False


def _place(name: str) -> BindParameter[int]:
    """A county or region id, written into the SQL: a prepared statement's generic plan,
    made for any county, would find a large county's 6,000 people and look up each one's
    enrollments (35 ms), where the plan for that county hashes them (8 ms)."""
    return bindparam(name, type_=Integer, literal_execute=True)


def _completed(
    query: Select[*tuple[Any, ...]], given: _Filters, person: bool = False, place: bool = False
) -> Select[*tuple[Any, ...]]:
    """Completed enrollments, with the filters every completions query shares.

    The person (`person`), their county and region (`place`) are joined only when asked
    for: counting 30,000 completions costs a third as much without.
    """
    # Written into the SQL, not sent as a parameter, so that every plan may use the indexes
    # of completed enrollments, prepared statement or not.
    completed = literal(COMPLETED, literal_execute=True)
    query = query.select_from(Enrollment).where(Enrollment.status == completed)
    if person or place:
        query = query.join(User, User.id == Enrollment.user_id)
    if place:
        query = query.outerjoin(County, County.id == User.county_id).outerjoin(
            Region, Region.id == County.region_id
        )
    if given.course:
        course = select(Course.id).where(Course.slug == bindparam("course")).scalar_subquery()
        query = query.where(Enrollment.course_id == course)
    if given.county or given.region:
        people = select(User.id)
        if given.county:
            # A county's completions come in bursts, as its cohorts finish. Left to itself,
            # PostgreSQL reads completions newest first and looks up each one's learner until
            # it has a page of the county's, and may read a year's worth: 20-40 ms for the
            # first page of a large county. OFFSET 0 keeps the subquery apart, so it hashes
            # the county's people instead (5-8 ms; under 1 ms for a small county). A region's
            # completions are spread over time, and reading newest first takes 1 ms.
            people = people.where(User.county_id == _place("county")).offset(literal_column("0"))
        if given.region:
            people = people.join(County, County.id == User.county_id)
            people = people.where(County.region_id == _place("region"))
        query = query.where(Enrollment.user_id.in_(people))
    if given.start:
        query = query.where(Enrollment.completed_at >= bindparam(given.start, type_=DateTime))
    if given.end:
        query = query.where(Enrollment.completed_at < bindparam(given.end, type_=DateTime))
    if given.user_ids:
        query = query.where(Enrollment.user_id.in_(bindparam("user_ids", expanding=True)))
    return query


def _parameters(
    course_slug: str,
    county_id: int | None,
    region_id: int | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[_Filters, dict[str, Any]]:
    given = _Filters(
        bool(course_slug),
        bool(county_id),
        bool(region_id),
        "since" if since else None,
        "until" if until else None,
    )
    values = {
        "course": course_slug,
        "county": county_id,
        "region": region_id,
        "since": since,
        "until": until,
    }
    return given, values


@functools.cache
def _latest(given: _Filters, page: bool) -> Select[*tuple[Any, ...]]:
    """Completions latest first; built once for each set of filters."""
    columns = select(
        User.name,
        User.email,
        County.name,
        Region.name,
        Enrollment.completed_at,
        Enrollment.version_id,
        Certificate.serial,
    )
    latest_first = (Enrollment.completed_at.desc(), Enrollment.id.desc())
    if page:
        # Pick the page's enrollments first and join their people, places and certificates
        # after: otherwise every row skipped by the offset is joined too.
        chosen = _completed(select(Enrollment.id), given).order_by(*latest_first)
        chosen = chosen.limit(bindparam("limit")).offset(bindparam("offset"))
        query = (
            columns.select_from(Enrollment)
            .join(User, User.id == Enrollment.user_id)
            .outerjoin(County, County.id == User.county_id)
            .outerjoin(Region, Region.id == County.region_id)
            .where(Enrollment.id.in_(chosen.scalar_subquery()))
        )
    else:
        query = _completed(columns, given, person=True, place=True)
    return query.outerjoin(
        Certificate,
        (Certificate.enrollment_id == Enrollment.id) & Certificate.is_current.is_(True),
    ).order_by(*latest_first)


async def completions(
    db: AsyncSession,
    course_slug: str = "",
    county_id: int | None = None,
    region_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    user_ids: list[int] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[CompletionRow]:
    """Completed enrollments with who, where, what and when, latest first; one query."""
    given, values = _parameters(course_slug, county_id, region_id, since, until)
    given = given._replace(user_ids=user_ids is not None)
    query = _latest(given, limit is not None)
    parameters = {**values, "user_ids": user_ids, "limit": limit, "offset": offset}
    rows = (await db.execute(query, parameters)).all()
    definitions = await catalog.get_definitions(db, {r[5] for r in rows})
    return [
        CompletionRow(
            name,
            email,
            county or "",
            region or "",
            definitions[version].title,
            completed,
            definitions[version].hours,
            serial,
        )
        for name, email, county, region, completed, version, serial in rows
    ]


class Choice(NamedTuple):
    value: str
    label: str


# Courses (slug, title) and counties (id, name, region id, region name) in one statement:
# each statement costs a page about a millisecond under load, whatever it reads.
_CHOICES: CompoundSelect[*tuple[Any, ...]] = union_all(
    select(Course.slug, CourseVersion.title, null(), null()).join(
        CourseVersion, CourseVersion.id == Course.current_version_id
    ),
    select(cast(County.id, String), County.name, cast(Region.id, String), Region.name).join(
        Region, Region.id == County.region_id
    ),
)


async def completion_choices(
    db: AsyncSession,
) -> tuple[list[Choice], list[Choice], list[Choice]]:
    """The courses, regions and counties that completions can be filtered by."""
    courses, counties, regions = [], [], {}
    for value, label, region_id, region in (await db.execute(_CHOICES)).all():
        if region_id is None:
            courses.append(Choice(value, label))
        else:
            counties.append(Choice(value, label))
            regions[region] = Choice(region_id, region)
    courses.sort()
    counties.sort(key=lambda c: c.label)
    return courses, [regions[name] for name in sorted(regions)], counties


GROUPINGS = ("county", "region", "course", "month")


def _month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1)


def _next_month_start(moment: datetime) -> datetime:
    """The first midnight on the first of a month at or after `moment`."""
    start = _month_start(moment)
    if start == moment:
        return start
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1)


def _counted(by: str, given: _Filters) -> Select[Any]:
    """(key..., version, completions) from the monthly counts, between :whole_from and
    :whole_to (first days of months) when given as `start` and `end`."""
    keys: list[Any] = []
    if by == "month":
        keys = [extract(part, CompletionCount.month) for part in ("year", "month")]
    elif by == "county":
        keys = [CompletionCount.county_id]
    elif by == "region":
        keys = [County.region_id]
    query = select(
        *[k.label(f"key{i}") for i, k in enumerate(keys)],
        CompletionCount.version_id.label("version_id"),
        CompletionCount.completions.label("n"),
    ).select_from(CompletionCount)
    if by == "region" or given.region:
        query = query.outerjoin(County, County.id == CompletionCount.county_id)
    if given.course:
        versions = select(CourseVersion.id).join(Course, Course.id == CourseVersion.course_id)
        versions = versions.where(Course.slug == bindparam("course"))
        query = query.where(CompletionCount.version_id.in_(versions))
    if given.county:
        query = query.where(CompletionCount.county_id == _place("county"))
    if given.region:
        query = query.where(County.region_id == _place("region"))
    if given.start:
        query = query.where(CompletionCount.month >= bindparam("whole_from", type_=Date))
    if given.end:
        query = query.where(CompletionCount.month < bindparam("whole_to", type_=Date))
    return query


def _counted_live(by: str, given: _Filters) -> Select[Any]:
    """The same rows as `_counted`, counted from the enrollments themselves."""
    keys: list[Any] = []
    if by == "month":
        keys = [extract(part, Enrollment.completed_at) for part in ("year", "month")]
    elif by == "county":
        keys = [func.coalesce(User.county_id, NO_COUNTY)]
    elif by == "region":
        keys = [County.region_id]
    counted = select(
        *[k.label(f"key{i}") for i, k in enumerate(keys)],
        Enrollment.version_id.label("version_id"),
        func.count().label("n"),
    )
    query = _completed(counted, given, person=by == "county", place=by == "region")
    return query.group_by(*keys, Enrollment.version_id)


@functools.cache
def _totals(by: str, given: _Filters, head: bool, whole: bool, tail: bool) -> Select[Any]:
    """Completions and hours for each group: from the monthly counts for `whole` months, and
    from the enrollments for the part-months at the `head` (from :since) and `tail` (to
    :until) of a date range. Built once for each grouping, set of filters and layout."""
    parts = []
    if whole:
        parts.append(_counted(by, given))
    if head:
        end = "whole_from_at" if whole else given.end
        parts.append(_counted_live(by, given._replace(end=end)))
    if tail:
        parts.append(_counted_live(by, given._replace(start="whole_to_at")))
    counted = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery()
    keys: list[Any] = [c for c in counted.c if c.name.startswith("key")]
    if by == "course":
        keys = [CourseVersion.title]
    n = func.sum(counted.c.n)
    query = (
        select(*keys, n.label("n"), func.sum(counted.c.n * CourseVersion.hours).label("hours"))
        .select_from(counted)
        .join(CourseVersion, CourseVersion.id == counted.c.version_id)
        .group_by(*keys)
        .having(n > 0)
    )
    if by in ("county", "region"):
        # Count by county or region id first, then name the groups: cheaper than grouping
        # by name.
        named = Region if by == "region" else County
        inner = query.subquery()
        query = select(named.name, inner.c.n, inner.c.hours).outerjoin(
            named, named.id == inner.c.key0
        )
    return query


async def completion_totals(
    db: AsyncSession,
    by: str = "county",
    course_slug: str = "",
    county_id: int | None = None,
    region_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    zone: tzinfo = UTC,
) -> tuple[int, list[tuple[str, int, float]]]:
    """All completions, and (group, completions, hours) for each county, region, course or
    month; counted by the database, in one query, however many completions there are.

    Whole months come from completion_counts; only the part-months at the ends of a date
    range are counted from the enrollments, so the numbers are exact for any range.
    """
    if by not in GROUPINGS:
        raise InvalidInput("Group completions by county, region, course or month.", "by")
    given, values = _parameters(course_slug, county_id, region_id, since, until)
    whole_from = _next_month_start(since) if since else None
    whole_to = _month_start(until) if until else None
    whole = head = tail = False
    if since and until and whole_from and whole_to and whole_from >= whole_to:
        head = True  # no whole month between them: count it all from the enrollments
    else:
        whole = True
        head = bool(since and whole_from and since < whole_from)
        tail = bool(until and whole_to and whole_to < until)
    values.update(
        whole_from_at=whole_from,
        whole_to_at=whole_to,
        whole_from=whole_from.date() if whole_from else None,
        whole_to=whole_to.date() if whole_to else None,
    )
    rows = (await db.execute(_totals(by, given, head, whole, tail), values)).all()
    if by == "month":
        counted = {_month_name(int(y), int(m)): [int(n), float(h)] for y, m, n, h in rows}
        await _into_local_months(db, given, values, counted, zone)
        groups = [(name, int(n), float(h)) for name, (n, h) in counted.items() if n > 0]
    else:
        groups = [
            (key or ("No region" if by == "region" else "No county"), int(n), float(h))
            for key, n, h in rows
        ]
    groups.sort(reverse=by == "month")
    return sum(count for _, count, _ in groups), groups


def _month_name(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


async def _into_local_months(
    db: AsyncSession,
    given: _Filters,
    values: dict[str, Any],
    counted: dict[str, list[Any]],
    zone: tzinfo,
) -> None:
    """Move into the academy's months the completions counted in another month in UTC.

    The monthly counts (and the database's own month of a time) are UTC months: in
    California the last evening hours of a month belong to the next UTC month. Those are
    the completions between each UTC month start and the same midnight in the academy's
    zone, a few hours a month: read them and move each to its month.
    """
    starts = set()
    for name in counted:
        year, month = int(name[:4]), int(name[5:])
        starts.add(datetime(year, month, 1))
        starts.add(datetime(year + month // 12, month % 12 + 1, 1))
    slices = []
    for start in starts:
        edge = times.to_utc(start, zone)  # that midnight where the academy is, in UTC
        if edge != start:
            slices.append((min(start, edge), max(start, edge)))
    if not slices:
        return
    moments = [
        and_(
            Enrollment.completed_at >= bindparam(f"slice_from_{i}", lo, type_=DateTime),
            Enrollment.completed_at < bindparam(f"slice_to_{i}", hi, type_=DateTime),
        )
        for i, (lo, hi) in enumerate(sorted(slices))
    ]
    query = _completed(select(Enrollment.completed_at, CourseVersion.hours), given)
    query = query.join(CourseVersion, CourseVersion.id == Enrollment.version_id)
    for completed_at, hours in await db.execute(query.where(or_(*moments)), values):
        local = times.local(completed_at, zone)
        counted_in = _month_name(completed_at.year, completed_at.month)
        belongs_in = _month_name(local.year, local.month)
        if counted_in != belongs_in:
            counted_from = counted.setdefault(counted_in, [0, 0.0])
            counted_from[0] -= 1
            counted_from[1] -= float(hours)
            moved = counted.setdefault(belongs_in, [0, 0.0])
            moved[0] += 1
            moved[1] += float(hours)
