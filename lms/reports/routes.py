"""Report pages: a cohort's course report, completions for admins, and the audit log."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, tzinfo
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Router, get
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Template

from lms import times
from lms.accounts.models import User
from lms.auth import requires, requires_any
from lms.catalog import service as catalog
from lms.certificates import transcripts
from lms.cohorts import progress
from lms.cohorts import service as cohorts
from lms.db import utcnow
from lms.errors import InvalidInput
from lms.forms import parse_id, parse_page
from lms.inject import DB, AppSettings, PathInt
from lms.pages import page
from lms.reports import charts, cqi, exports, items, service
from lms.reports import completions as completions_report

Req = Request[User, Any, Any]
admin_only = [requires("admin")]
staff = [requires_any("trainer", "admin")]


@get("/cohorts/{cohort_id:int}/report", name="reports.cohort", guards=staff)
async def cohort_report(
    request: Req, db: DB, settings: AppSettings, cohort_id: PathInt, course: FromQuery[str] = ""
) -> Template:
    cohort = await cohorts.get_cohort(db, request.user, cohort_id)
    courses = await cohorts.courses_of(db, cohort.id)
    chosen = cohorts.chosen_course(courses, course)
    statuses = await progress.status_counts(db, cohort, chosen)
    counts = service.by_status(statuses.counts)
    # Each chart is described by its table (the template gives the table these ids).
    status_chart = charts.bar_chart("Learners by status", counts, described_by="status-data")
    # The academy's days: a 7:30 PM completion in California counts that day, not the next.
    completed_days = [times.local_date(at, settings.zone) for at in statuses.completed_at]
    completion_chart = charts.cumulative_chart(
        "Completions over time", completed_days, statuses.members, "completions-data"
    )
    assessed = await items.evidence(
        db, items.Scope(chosen.id, cohort.id), chosen, with_evaluation=True
    )
    responses, evaluation = assessed.responses, assessed.evaluation
    # Every Likert statement in one chart: a bar each, under one legend.
    statements = [r for r in evaluation if r.type == "likert"]
    statements_chart = charts.likert_chart(
        "Evaluation statements, from Strongly disagree to Strongly agree",
        service.LIKERT,
        [(r.prompt_text, [n for _, n in r.counts]) for r in statements],
        described_by="evaluation-statements-data",
    )
    evaluation_charts = {
        r.question_id: charts.bar_chart(
            r.prompt_text, r.counts, described_by=f"evaluation-{r.question_id}-data"
        )
        for r in evaluation
        if r.type == "single"
    }
    return page(
        "reports/cohort.html",
        cohort=cohort,
        course=chosen,
        definition=statuses.definition,
        courses=courses,
        learners=statuses.members,
        counts=counts,
        status_chart=status_chart,
        completion_chart=completion_chart,
        completed=len(completed_days),
        completed_days=sorted(Counter(completed_days).items()),
        assessed=assessed,
        reliable_from=items.RELIABLE_FROM,
        evaluation=evaluation,
        evaluation_summary=service.summarise_evaluation(responses, evaluation),
        statements=statements,
        statements_chart=statements_chart if statements else "",
        evaluation_charts=evaluation_charts,
    )


def _month(raw: str, label: str) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d")
    except ValueError:
        raise InvalidInput(f"{label} must be a date like 2026-01-01.") from None


def _date_range(since: str, until: str, zone: tzinfo) -> tuple[datetime | None, datetime | None]:
    """From the start of the first day to the end of the last, where the academy is (UTC)."""
    start, end = _month(since, "From"), _month(until, "To")
    return (
        times.to_utc(start, zone) if start else None,
        times.to_utc(end + timedelta(days=1), zone) if end else None,
    )


def _choice_id(raw: str) -> int | None:
    """A county or region chosen from the list; anything else filters nothing, as "All"."""
    return parse_id(raw)


# Numbered pages with OFFSET rather than keyset links: "Showing 51-100 of N" and a page
# number that can be shared need the position anyway, and skipping even the last page of
# 30,000 completions reads only the index of completed enrollments (a few milliseconds).
PER_PAGE = 50


@get("/admin/completions", name="reports.completions", guards=admin_only)
async def completions(
    db: DB,
    settings: AppSettings,
    by: FromQuery[str] = "county",
    course: FromQuery[str] = "",
    county: FromQuery[str] = "",
    region: FromQuery[str] = "",
    since: FromQuery[str] = "",
    until: FromQuery[str] = "",
    fmt: FromQuery[str] = "",
    page_number: Annotated[str, QueryParameter(name="page")] = "",
) -> Any:
    filters = (
        course,
        _choice_id(county),
        _choice_id(region),
        *_date_range(since, until, settings.zone),
    )
    if fmt in ("csv", "xlsx"):
        table = exports.completions_table(await completions_report.completions(db, *filters))
        return exports.download("completions", fmt, "Completions", *table, settings.zone)
    number = parse_page(page_number)
    total, groups = await completions_report.completion_totals(db, by, *filters, zone=settings.zone)
    # Past the last page (the filters changed, or a shared link is older than a change)
    # shows the last one rather than an empty table.
    pages = max(1, -(-total // PER_PAGE))
    number = min(number, pages)
    rows = await completions_report.completions(
        db, *filters, limit=PER_PAGE, offset=(number - 1) * PER_PAGE
    )
    courses, regions, counties = await completions_report.completion_choices(db)
    filtered = {"by": by, "course": course, "county": county, "region": region}
    query = urlencode({**filtered, "since": since, "until": until})
    return page(
        "reports/completions.html",
        rows=rows,
        total=total,
        page=number,
        pages=pages,
        first=(number - 1) * PER_PAGE + 1,
        groups=groups,
        chart=charts.bar_chart(f"Completions by {by}", [(g, n) for g, n, _ in groups[:20]]),
        by=by,
        course=course,
        county=county,
        region=region,
        since=since,
        until=until,
        query=query,
        courses=courses,
        counties=counties,
        regions=regions,
    )


@get("/admin/audit", name="reports.audit", guards=admin_only)
async def audit_log(
    db: DB,
    settings: AppSettings,
    action: FromQuery[str] = "",
    actor: FromQuery[str] = "",
    entity: FromQuery[str] = "",
    since: FromQuery[str] = "",
) -> Template:
    start = _month(since, "Since")
    # Since the start of that day where the academy is, as the times on the page are shown.
    start = times.to_utc(start, settings.zone) if start else None
    events = await service.audit_events(db, action, actor, entity, start)
    return page(
        "reports/audit.html",
        events=events,
        actions=await service.audit_actions(db),
        action=action,
        actor=actor,
        entity=entity,
        since=since,
    )


@get("/admin/courses/{slug:str}/report", name="reports.course", guards=admin_only)
async def course_report(
    db: DB,
    settings: AppSettings,
    slug: FromPath[str],
    version: FromQuery[str] = "",
    cohort: FromQuery[str] = "",
    since: FromQuery[str] = "",
    until: FromQuery[str] = "",
    fmt: FromQuery[str] = "",
) -> Any:
    """A course's assessments across cohorts, for one version or all, over a date range."""
    course = await catalog.get_course(db, slug)
    versions = await catalog.versions_of(db, course.id)
    cohort_list = await cohorts.all_cohorts(db)
    version_id, cohort_id = _choice_id(version), _choice_id(cohort)
    scope = items.Scope(
        course.id,
        cohort_id if any(c.id == cohort_id for c in cohort_list) else None,
        version_id if any(v.id == version_id for v in versions) else None,
        *_date_range(since, until, settings.zone),
    )
    assessed = await items.evidence(db, scope, course)
    if fmt in ("csv", "xlsx"):
        table = items.item_table(assessed.analysis)
        return exports.download(f"items-{course.slug}", fmt, "Item analysis", *table, settings.zone)
    filters = {"version": version, "cohort": cohort, "since": since, "until": until}
    query = urlencode({k: v for k, v in filters.items() if v})
    return page(
        "reports/course.html",
        course=course,
        definition=await catalog.current_definition(db, course),
        versions=versions,
        cohorts=cohort_list,
        scope=scope,
        since=since,
        until=until,
        query=query,
        assessed=assessed,
        reliable_from=items.RELIABLE_FROM,
    )


@get("/admin/courses/{slug:str}/ce-roster", name="reports.ce_roster", guards=admin_only)
async def ce_roster(
    db: DB,
    settings: AppSettings,
    slug: FromPath[str],
    since: FromQuery[str] = "",
    until: FromQuery[str] = "",
    fmt: FromQuery[str] = "",
) -> Any:
    """Who earned the course's CE credit, with license numbers: the roster a CE provider
    keeps for four years. CSV or XLSX; the page shows the same rows."""
    course = await catalog.get_course(db, slug)
    start, end = _date_range(since, until, settings.zone)
    lines = await transcripts.ce_roster(db, course.id, start, end, utcnow(), settings.zone)
    if fmt in ("csv", "xlsx"):
        name = f"ce-roster-{course.slug}"
        table = transcripts.roster_table(lines)
        return exports.download(name, fmt, "CE roster", *table, settings.zone)
    return page(
        "reports/ce_roster.html",
        course=course,
        lines=lines,
        since=since,
        until=until,
        query=urlencode({"since": since, "until": until}),
    )


@get("/admin/courses/{slug:str}/cqi", name="reports.cqi", guards=admin_only)
async def cqi_report(
    db: DB,
    settings: AppSettings,
    slug: FromPath[str],
    version: FromQuery[str] = "",
    cohort: FromQuery[str] = "",
    trainer: FromQuery[str] = "",
    county: FromQuery[str] = "",
    region: FromQuery[str] = "",
    since: FromQuery[str] = "",
    until: FromQuery[str] = "",
    fmt: FromQuery[str] = "",
) -> Any:
    """The chain of evidence: the seven levels of the state's framework, side by side."""
    course = await catalog.get_course(db, slug)
    definition = await catalog.current_definition(db, course)
    versions = await catalog.versions_of(db, course.id)
    scope = cqi.Scope(
        course.id,
        _choice_id(cohort),
        _choice_id(trainer),
        _choice_id(county),
        _choice_id(region),
        _choice_id(version),
        *_date_range(since, until, settings.zone),
    )
    found = await cqi.chain(db, scope, definition)
    if fmt in ("csv", "xlsx"):
        return exports.download(
            f"cqi-{course.slug}", fmt, "Chain of evidence", *cqi.table(found), settings.zone
        )
    _, regions, counties = await completions_report.completion_choices(db)
    filters = {
        "version": version,
        "cohort": cohort,
        "trainer": trainer,
        "county": county,
        "region": region,
        "since": since,
        "until": until,
    }
    return page(
        "reports/cqi.html",
        course=course,
        definition=definition,
        chain=found,
        scope=scope,
        versions=versions,
        cohorts=await cohorts.all_cohorts(db),
        trainers=await cohorts.trainers(db),
        counties=counties,
        regions=regions,
        since=since,
        until=until,
        query=urlencode({k: v for k, v in filters.items() if v}),
        low_fidelity=round(100 * cqi.LOW_FIDELITY),
    )


router = Router(
    path="/",
    route_handlers=[cohort_report, course_report, cqi_report, ce_roster, completions, audit_log],
)
