"""Report pages: a cohort's course report, completions for admins, and the audit log."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from litestar import Request, Router, get
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from sqlalchemy import select

from lms.accounts import service as accounts
from lms.accounts.models import Region, User
from lms.auth import requires
from lms.catalog import service as catalog
from lms.cohorts import progress
from lms.cohorts import service as cohorts
from lms.cohorts.routes import _course_of, guards
from lms.errors import InvalidInput
from lms.inject import DB
from lms.pages import page
from lms.reports import charts, exports, service

Req = Request[User, Any, Any]
admin_only = [requires("admin")]


@get("/cohorts/{cohort_id:int}/report", name="reports.cohort", guards=guards)
async def cohort_report(
    request: Req, db: DB, cohort_id: FromPath[int], course: FromQuery[str] = ""
) -> Template:
    cohort = await cohorts.get_cohort(db, request.user, cohort_id)
    chosen = await _course_of(db, cohort.id, course)
    matrix = await progress.build_matrix(db, cohort, chosen)
    counts = matrix.counts()
    status_chart = charts.bar_chart("Learners by status", sorted(counts.items()))
    completed_days = [r.completed_at.date() for r in matrix.rows if r.completed_at]
    completion_chart = charts.cumulative_chart(
        "Completions over time", completed_days, len(matrix.rows)
    )
    responses, evaluation = await service.evaluation_results(db, chosen, cohort.id)
    evaluation_charts = {
        r.question_id: charts.bar_chart(r.prompt, r.counts) for r in evaluation if r.counts
    }
    return page(
        "reports/cohort.html",
        cohort=cohort,
        course=chosen,
        definition=matrix.definition,
        info=await cohorts.detail(db, cohort),
        counts=counts,
        status_chart=status_chart,
        completion_chart=completion_chart,
        completed_days=sorted(Counter(completed_days).items()),
        questions=await service.question_stats(db, chosen, cohort.id),
        gain=await service.knowledge_gain(db, chosen, cohort.id),
        responses=responses,
        evaluation=evaluation,
        evaluation_charts=evaluation_charts,
    )


def _month(raw: str, label: str) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d")
    except ValueError:
        raise InvalidInput(f"{label} must be a date like 2026-01-01.") from None


@get("/admin/completions", name="reports.completions", guards=admin_only)
async def completions(
    db: DB,
    by: FromQuery[str] = "county",
    course: FromQuery[str] = "",
    county: FromQuery[str] = "",
    region: FromQuery[str] = "",
    since: FromQuery[str] = "",
    until: FromQuery[str] = "",
    fmt: FromQuery[str] = "",
) -> Any:
    start, end = _month(since, "From"), _month(until, "To")
    filters = (
        course,
        int(county) if county.isdigit() else None,
        int(region) if region.isdigit() else None,
        start,
        end + timedelta(days=1) if end else None,
    )
    if fmt in ("csv", "xlsx"):
        rows = await service.completions(db, *filters)
        return exports.download(
            "completions",
            fmt,
            "Completions",
            ["Learner", "Email", "County", "Region", "Course", "Completed", "Hours", "Certificate"],
            [
                [
                    r.learner,
                    r.email,
                    r.county,
                    r.region,
                    r.course,
                    r.completed_at,
                    r.hours,
                    r.certificate,
                ]
                for r in rows
            ],
        )
    # The page shows the totals and the latest 500; the export has every row.
    total, groups = await service.completion_totals(db, by, *filters)
    rows = await service.completions(db, *filters, limit=500)
    courses = [
        (c, await catalog.get_definition(db, c.current_version_id))
        for c in await catalog.list_courses(db)
        if c.current_version_id
    ]
    return page(
        "reports/completions.html",
        rows=rows,
        total=total,
        groups=groups,
        chart=charts.bar_chart(f"Completions by {by}", [(g, n) for g, n, _ in groups[:20]]),
        by=by,
        course=course,
        county=county,
        region=region,
        since=since,
        until=until,
        courses=courses,
        counties=await accounts.list_counties(db),
        regions=(await db.scalars(select(Region).order_by(Region.name))).all(),
    )


@get("/admin/audit", name="reports.audit", guards=admin_only)
async def audit_log(
    db: DB,
    action: FromQuery[str] = "",
    actor: FromQuery[str] = "",
    entity: FromQuery[str] = "",
    since: FromQuery[str] = "",
) -> Template:
    events = await service.audit_events(db, action, actor, entity, _month(since, "Since"))
    return page(
        "reports/audit.html",
        events=events,
        actions=await service.audit_actions(db),
        action=action,
        actor=actor,
        entity=entity,
        since=since,
    )


router = Router(path="/", route_handlers=[cohort_report, completions, audit_log])
