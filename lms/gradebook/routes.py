"""The gradebook's pages: one learner of a cohort, one of their attempts, and the actions."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.response import Template

from lms import times
from lms.accounts import service as accounts
from lms.accounts.models import User
from lms.auth import requires_any
from lms.cohorts import service as cohorts
from lms.cohorts.models import Cohort
from lms.db import utcnow
from lms.errors import DomainError
from lms.forms import read_fields, shown
from lms.gradebook import service
from lms.inject import DB, AppSettings, PathInt
from lms.pages import page, redirect_to
from lms.quizzes import service as quizzes

Req = Request[User, Any, Any]
guards = [requires_any("trainer", "admin")]
LEARNER = "/cohorts/{cohort_id:int}/learners/{user_id:int}"


async def _learner_page(
    db: DB,
    settings: AppSettings,
    cohort: Cohort,
    user_id: int,
    status_code: int = 200,
    **extra: Any,
) -> Template:
    record = await service.learner_record(db, cohort, user_id)
    return page(
        "gradebook/learner.html",
        status_code,
        cohort=cohort,
        record=record,
        learner=record.learner,
        retakes={p.enrollment.id: service.retakes(p) for p in record.progresses},
        today=times.local_date(utcnow(), settings.zone),
        error=extra.pop("error", ""),
        error_for=extra.pop("error_for", ""),
        values=extra.pop("values", {}),
    )


@get(LEARNER, name="gradebook.learner", guards=guards)
async def learner_page(
    request: Req, db: DB, settings: AppSettings, cohort_id: PathInt, user_id: PathInt
) -> Template:
    cohort = await cohorts.get_cohort(db, request.user, cohort_id)
    return await _learner_page(db, settings, cohort, user_id)


@get(LEARNER + "/attempts/{attempt_id:int}", name="gradebook.attempt", guards=guards)
async def attempt_page(
    request: Req, db: DB, cohort_id: PathInt, user_id: PathInt, attempt_id: PathInt
) -> Template:
    """The learner's answers against the key, whatever the learner's own page shows them."""
    cohort = await cohorts.get_cohort(db, request.user, cohort_id)
    # Found only when made by this learner in an enrollment through this cohort.
    view = await quizzes.get_attempt_in_cohort(db, attempt_id, user_id, cohort.id)
    return page(
        "gradebook/attempt.html",
        cohort=cohort,
        learner=await accounts.get_person(db, user_id),
        view=view,
    )


async def _act(
    request: Req, db: DB, settings: AppSettings, cohort_id: int, user_id: int, action: str
) -> Any:
    """Run one gradebook action; a refusal shows the learner page again with the message
    (each service refuses before it writes anything)."""
    cohort = await cohorts.get_cohort(db, request.user, cohort_id)
    data = await read_fields(request, ("reason",))
    try:
        if action == "grant":
            await service.grant_attempt(
                db, request.user, cohort, user_id, service.GrantForm.from_form(data)
            )
            notice = "attempt-granted"
        elif action == "due_date":
            form = service.DueDateForm.from_form(data)
            await service.move_due_date(db, settings.zone, request.user, cohort, user_id, form)
            notice = "due-date-moved"
        else:
            form_ = service.ReopenForm.from_form(data)
            await service.reopen_module(db, request.user, cohort, user_id, form_)
            notice = "module-reopened"
    except DomainError as exc:
        return await _learner_page(
            db,
            settings,
            cohort,
            user_id,
            exc.status_code,
            error=str(exc),
            error_for=f"{action}:{data.get('course', [''])[0]}",
            values=shown(data),
        )
    return redirect_to("gradebook.learner", notice, cohort_id=cohort.id, user_id=user_id)


@post(LEARNER + "/extra-attempt", name="gradebook.grant", guards=guards)
async def grant(
    request: Req, db: DB, settings: AppSettings, cohort_id: PathInt, user_id: PathInt
) -> Any:
    return await _act(request, db, settings, cohort_id, user_id, "grant")


@post(LEARNER + "/due-date", name="gradebook.due_date", guards=guards)
async def due_date(
    request: Req, db: DB, settings: AppSettings, cohort_id: PathInt, user_id: PathInt
) -> Any:
    return await _act(request, db, settings, cohort_id, user_id, "due_date")


@post(LEARNER + "/reopen", name="gradebook.reopen", guards=guards)
async def reopen(
    request: Req, db: DB, settings: AppSettings, cohort_id: PathInt, user_id: PathInt
) -> Any:
    return await _act(request, db, settings, cohort_id, user_id, "reopen")


router = Router(path="/", route_handlers=[learner_page, attempt_page, grant, due_date, reopen])
