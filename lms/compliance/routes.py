"""Compliance pages: a person's requirements (with extensions) and the admins' report."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Router, get, post
from litestar.params import FromQuery, QueryParameter
from litestar.response import Template

from lms.accounts import service as accounts
from lms.accounts.models import CLASSIFICATIONS, User
from lms.auth import requires, signed_in
from lms.compliance import service
from lms.compliance.models import MET, STATUSES
from lms.errors import DomainError
from lms.forms import parse_page, read_fields, shown
from lms.inject import DB, AppSettings, PathInt
from lms.pages import page, redirect_to
from lms.reports import exports

Req = Request[User, Any, Any]
PER_PAGE = 50


async def _person_page(
    request: Req, db: DB, settings: Any, person: User, status_code: int = 200, **extra: Any
) -> Template:
    today = datetime.now(settings.zone).date()
    return page(
        "compliance/person.html",
        status_code,
        person=person,
        requirements=await service.requirements_of(db, person, today),
        may_extend=service.may_extend(request.user, person),
        statuses=STATUSES,
        values=extra.pop("values", {}),
        **extra,
    )


@get("/people/{person_id:int}/requirements", name="compliance.person", guards=[signed_in])
async def person_requirements(
    request: Req, db: DB, settings: AppSettings, person_id: PathInt
) -> Template:
    person = await accounts.readable_person(db, request.user, person_id)
    return await _person_page(request, db, settings, person)


@post("/people/{person_id:int}/requirements", name="compliance.extend", guards=[signed_in])
async def extend(request: Req, db: DB, settings: AppSettings, person_id: PathInt) -> Any:
    person = await accounts.readable_person(db, request.user, person_id)
    data = await read_fields(request)
    try:
        form = service.ExtensionForm.from_form(data)
        await service.extend(db, settings.zone, request.user, person, form)
    except DomainError as exc:
        return await _person_page(
            request,
            db,
            settings,
            person,
            exc.status_code,
            extension_error=str(exc),
            extension_for=(data.get("plan", [""])[0], data.get("course", [""])[0]),
            values=shown(data),
        )
    return redirect_to("compliance.person", "requirement-extended", person_id=person.id)


@get("/admin/compliance", name="compliance.report", guards=[requires("admin")])
async def report(
    db: DB,
    settings: AppSettings,
    county: FromQuery[str] = "",
    region: FromQuery[str] = "",
    plan: FromQuery[str] = "",
    classification: FromQuery[str] = "",
    status: FromQuery[str] = "",
    fmt: FromQuery[str] = "",
    page_number: Annotated[str, QueryParameter(name="page")] = "",
) -> Any:
    today = datetime.now(settings.zone).date()
    filters = service.ReportFilters.from_query(county, region, plan, classification, status)
    if fmt in ("csv", "xlsx"):
        table = service.report_table(await service.report(db, filters, today))
        return exports.download("compliance", fmt, "Compliance", *table, settings.zone)
    totals = await service.status_totals(db, filters, today)
    total = sum(totals.values())
    pages = max(1, -(-total // PER_PAGE))
    number = min(parse_page(page_number), pages)
    opened = total - totals[MET]
    rows = await service.report(db, filters, today, PER_PAGE, (number - 1) * PER_PAGE, opened)
    plans, counties = await service.report_choices(db)
    chosen = {
        "county": county,
        "region": region,
        "plan": plan,
        "classification": classification,
        "status": status,
    }
    return page(
        "compliance/report.html",
        rows=rows,
        totals=totals,
        total=total,
        page=number,
        pages=pages,
        first=(number - 1) * PER_PAGE + 1,
        plans=plans,
        counties=counties,
        regions=sorted({(r_id, r_name) for _, _, r_id, r_name in counties}, key=lambda r: r[1]),
        classifications=CLASSIFICATIONS,
        statuses=STATUSES,
        chosen=chosen,
        query=urlencode(chosen),
        today=today,
    )


router = Router(path="/", route_handlers=[person_requirements, extend, report])
