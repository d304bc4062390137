"""Trainer pages: cohorts, rosters, enrollment, live sessions, attendance, progress, exports."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from lms import times
from lms.accounts import service as accounts
from lms.accounts.models import User
from lms.auth import requires, requires_any
from lms.catalog import service as catalog
from lms.cohorts import progress, qualifications, roster, service
from lms.cohorts.models import QUALIFICATION_BASES
from lms.db import utcnow
from lms.delivery import service as delivery
from lms.delivery.models import SEGMENT_STATES
from lms.errors import DomainError, InvalidInput, NotFound
from lms.forms import (
    EVERY_FIELD,
    Confirmation,
    Fields,
    parse_id,
    read_fields,
    read_upload,
    shown,
    text,
)
from lms.inject import DB, AppSettings, PathInt
from lms.links import Link
from lms.pages import carried, carry, confirm_page, page, redirect_to
from lms.reports import completions as completions_report
from lms.reports import exports, items

Req = Request[User, Any, Any]

MAX_ROSTER = 2 * 1024 * 1024  # a statewide roster is well under this; bigger is a mistake


guards = [requires_any("trainer", "admin")]


@get("/cohorts", name="cohorts.list", guards=guards)
async def cohort_list(request: Req, db: DB) -> Template:
    return page("cohorts/list.html", cohorts=await service.visible_cohorts(db, request.user))


async def _form_page(
    request: Req,
    db: DB,
    cohort: Any,
    values: dict[str, Any],
    error: str | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        "cohorts/form.html",
        status_code,
        cohort=cohort,
        values=values,
        error=error,
        trainers=await service.trainers(db),
        courses=await catalog.current_definitions(db, active_only=True),
        counties=await accounts.list_counties(db),
    )


@get("/cohorts/new", name="cohorts.new", guards=guards)
async def cohort_new(request: Req, db: DB) -> Template:
    return await _form_page(
        request, db, None, {"trainers": {request.user.id}, "counties": set(), "courses": {}}
    )


def _typed(data: Fields) -> dict[str, Any]:
    """A refused cohort form as it was typed, to show again (the ids that parse ticked)."""
    return {
        "override_reason": text(data, "override_reason"),
        "name": text(data, "name"),
        "starts_on": text(data, "starts_on"),
        "ends_on": text(data, "ends_on"),
        "trainers": {i for v in data.get("trainer", []) if (i := parse_id(v))},
        "counties": {i for v in data.get("county", []) if (i := parse_id(v))},
        "courses": {
            i: text(data, f"due_{i}")
            for k in data
            if k.startswith("course_") and (i := parse_id(k.removeprefix("course_")))
        },
    }


@post("/cohorts/new", name="cohorts.create", guards=guards)
async def cohort_create(request: Req, db: DB, settings: AppSettings) -> Any:
    data = await read_fields(request)
    try:
        today = times.local_date(utcnow(), settings.zone)
        typed = service.CohortForm.from_form(data)
        form = await service.check_cohort_form(db, typed, request.user, today)
        cohort = await service.save_cohort(db, request.user, form)
    except DomainError as exc:
        return await _form_page(request, db, None, _typed(data), str(exc), exc.status_code)
    return redirect_to("cohorts.cohort", "cohort-saved", cohort_id=cohort.id)


@get("/cohorts/{cohort_id:int}/edit", name="cohorts.edit", guards=guards)
async def cohort_edit(request: Req, db: DB, cohort_id: PathInt) -> Template:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    info = await service.detail(db, cohort)
    values = {
        "name": cohort.name,
        "starts_on": cohort.starts_on.isoformat() if cohort.starts_on else "",
        "ends_on": cohort.ends_on.isoformat() if cohort.ends_on else "",
        "trainers": {t.id for t in info.trainers},
        "counties": {c.id for c in info.counties},
        "courses": {c.id: a.due_on.isoformat() if a.due_on else "" for c, a in info.courses},
    }
    return await _form_page(request, db, cohort, values)


@post("/cohorts/{cohort_id:int}/edit", name="cohorts.update", guards=guards)
async def cohort_update(request: Req, db: DB, settings: AppSettings, cohort_id: PathInt) -> Any:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    data = await read_fields(request)
    try:
        today = times.local_date(utcnow(), settings.zone)
        typed = service.CohortForm.from_form(data)
        form = await service.check_cohort_form(db, typed, request.user, today, cohort)
        await service.save_cohort(db, request.user, form, cohort)
    except DomainError as exc:
        return await _form_page(request, db, cohort, _typed(data), str(exc), exc.status_code)
    return redirect_to("cohorts.cohort", "cohort-saved", cohort_id=cohort.id)


async def _cohort_page(
    request: Req, db: DB, cohort: Any, status_code: int = 200, **extra: Any
) -> Template:
    info = await service.detail(db, cohort)
    return page(
        "cohorts/cohort.html",
        status_code,
        info=info,
        counties=await accounts.list_counties(db),
        **extra,
    )


@get("/cohorts/{cohort_id:int}", name="cohorts.cohort", guards=guards)
async def cohort_page(
    request: Req, db: DB, settings: AppSettings, cohort_id: PathInt, added: FromQuery[str] = ""
) -> Template:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    # After "Add to roster" (?added=1): its notice and any new account's link, shown once.
    handed = await carried(request, db, f"added-to-{cohort.id}") if added else None
    added_now = handed or {}
    return await _cohort_page(
        request,
        db,
        cohort,
        notice_text=added_now.get("notice", ""),
        invitations=[roster.Invitation(**i) for i in added_now.get("invitations", [])],
        base_url=settings.base_url,
    )


@post("/cohorts/{cohort_id:int}/members", name="cohorts.add_member", guards=guards)
async def add_member(request: Req, db: DB, settings: AppSettings, cohort_id: PathInt) -> Any:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    data = await read_fields(request)
    try:
        form = service.MemberForm.from_form(data)
        added = await service.add_member(
            db, settings, cohort, request.user, form.email, form.name, form.county_id
        )
    except DomainError as exc:
        return await _cohort_page(
            request, db, cohort, exc.status_code, member_error=str(exc), member_values=shown(data)
        )
    invitations = []
    if added.invite_token:
        invitations.append(roster.Invitation(added.user.name, added.user.email, added.invite_token))
    await carry(
        request,
        db,
        f"added-to-{cohort.id}",
        {
            "notice": f"{added.user.name} is on the roster.",
            "invitations": [asdict(i) for i in invitations],
        },
    )
    return redirect_to("cohorts.cohort", query={"added": "1"}, cohort_id=cohort.id)


@get(
    "/cohorts/{cohort_id:int}/members/{user_id:int}/remove",
    name="cohorts.remove_member_confirm",
    guards=guards,
)
async def remove_member_confirm(
    request: Req, db: DB, cohort_id: PathInt, user_id: PathInt
) -> Template:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    member = await service.get_member(db, cohort, user_id)
    return confirm_page(
        title="Take off the roster",
        question=f"Take {member.name} ({member.email}) off the roster of {cohort.name}?",
        consequence="Their enrollments, progress and certificates are kept; they stop "
        "appearing in this cohort's matrix, attendance and exports.",
        action=Link("cohorts.remove_member", {"cohort_id": cohort.id, "user_id": member.id}),
        button="Take off the roster",
        cancel=Link("cohorts.cohort", {"cohort_id": cohort.id}),
    )


@post(
    "/cohorts/{cohort_id:int}/members/{user_id:int}/remove",
    name="cohorts.remove_member",
    guards=guards,
)
async def remove_member(request: Req, db: DB, cohort_id: PathInt, user_id: PathInt) -> Any:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    if not Confirmation.from_form(await read_fields(request)).confirmed:
        return redirect_to("cohorts.remove_member_confirm", cohort_id=cohort.id, user_id=user_id)
    await service.remove_member(db, cohort, user_id, request.user)
    return redirect_to("cohorts.cohort", "member-removed", cohort_id=cohort.id)


@get("/cohorts/{cohort_id:int}/enroll", name="cohorts.enroll_preview", guards=guards)
async def enroll_preview(request: Req, db: DB, cohort_id: PathInt) -> Template:
    """What enrolling the roster would do, before anything is done (and where it stands after)."""
    cohort = await service.get_cohort(db, request.user, cohort_id)
    plan = await service.plan_enrollment(db, cohort, request.user)
    return page("cohorts/enroll.html", plan=plan)


@post("/cohorts/{cohort_id:int}/enroll", name="cohorts.enroll", guards=guards)
async def enroll(request: Req, db: DB, settings: AppSettings, cohort_id: PathInt) -> Any:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    data = await read_fields(request)
    try:
        form = service.EnrollForm.from_form(data)
        await service.enroll_cohort(db, cohort, request.user, settings.zone, form.move)
    except DomainError as exc:
        # Refused before anything changed: the same page, saying why.
        plan = await service.plan_enrollment(db, cohort, request.user)
        return page("cohorts/enroll.html", exc.status_code, plan=plan, error=str(exc))
    return redirect_to("cohorts.enroll_preview", "cohort-enrolled", cohort_id=cohort.id)


@get("/cohorts/{cohort_id:int}/roster", name="cohorts.roster", guards=guards)
async def roster_page(request: Req, db: DB, cohort_id: PathInt) -> Template:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    return page("cohorts/roster.html", cohort=cohort, plan=None)


def _draft_key(cohort_id: int) -> str:
    return f"roster-draft-{cohort_id}"


def _imported_key(cohort_id: int) -> str:
    return f"roster-imported-{cohort_id}"


async def _uploaded(request: Req) -> bytes:
    """The roster file uploaded, or the CSV text the preview carried over in the form."""
    data = await read_fields(request, multiline=("content",))
    upload = await read_upload(request, "file")
    return upload.content if upload is not None else text(data, "content").encode()


def _text(raw: bytes) -> str:
    return raw.decode("utf-8-sig", errors="replace")


@post(
    "/cohorts/{cohort_id:int}/roster",
    name="cohorts.roster_upload",
    guards=guards,
    request_max_body_size=MAX_ROSTER,
)
async def roster_upload(request: Req, db: DB, settings: AppSettings, cohort_id: PathInt) -> Any:
    """Check an uploaded file; a good one is kept for the preview page, a bad one refused here."""
    cohort = await service.get_cohort(db, request.user, cohort_id)
    raw = await _uploaded(request)
    try:
        plan = await roster.plan(db, cohort, raw, times.local_date(utcnow(), settings.zone))
    except InvalidInput as exc:
        return page("cohorts/roster.html", 400, cohort=cohort, plan=None, error=str(exc))
    if not plan.ok:
        return page("cohorts/roster.html", 400, cohort=cohort, plan=plan, content=_text(raw))
    await carry(request, db, _draft_key(cohort.id), _text(raw))
    return redirect_to("cohorts.roster_preview", cohort_id=cohort.id)


@get("/cohorts/{cohort_id:int}/roster/preview", name="cohorts.roster_preview", guards=guards)
async def roster_preview(request: Req, db: DB, settings: AppSettings, cohort_id: PathInt) -> Any:
    """What the uploaded file would change, worked out again on each view; nothing is done."""
    cohort = await service.get_cohort(db, request.user, cohort_id)
    content = await carried(request, db, _draft_key(cohort.id), keep=True)
    if content is None:
        return redirect_to("cohorts.roster", cohort_id=cohort.id)
    plan = await roster.plan(
        db, cohort, content.encode(), times.local_date(utcnow(), settings.zone)
    )
    return page("cohorts/roster.html", cohort=cohort, plan=plan, content=content)


@post(
    "/cohorts/{cohort_id:int}/roster/apply",
    name="cohorts.roster_apply",
    guards=guards,
    request_max_body_size=MAX_ROSTER,
)
async def roster_apply(request: Req, db: DB, settings: AppSettings, cohort_id: PathInt) -> Any:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    raw = await _uploaded(request)
    try:
        plan, invitations = await roster.apply(db, settings, cohort, raw, request.user)
    except InvalidInput as exc:
        shown_plan = (
            await roster.plan(db, cohort, raw, times.local_date(utcnow(), settings.zone))
            if raw
            else None
        )
        return page(
            "cohorts/roster.html",
            400,
            cohort=cohort,
            plan=shown_plan,
            error=str(exc),
            content=_text(raw),
        )
    await carried(request, db, _draft_key(cohort.id))  # applied: the preview is done with
    counts = {action: plan.count(action) for action in ("new account", "new member", "no change")}
    imported = {"counts": counts, "invitations": [asdict(i) for i in invitations]}
    await carry(request, db, _imported_key(cohort.id), imported)
    return redirect_to("cohorts.roster_imported", cohort_id=cohort.id)


@get("/cohorts/{cohort_id:int}/roster/imported", name="cohorts.roster_imported", guards=guards)
async def roster_imported(request: Req, db: DB, settings: AppSettings, cohort_id: PathInt) -> Any:
    """What the import did, and the new accounts' links: shown once, then only the counts."""
    cohort = await service.get_cohort(db, request.user, cohort_id)
    imported = await carried(request, db, _imported_key(cohort.id))
    if imported is None:
        return redirect_to("cohorts.cohort", cohort_id=cohort.id)
    invitations = [roster.Invitation(**i) for i in imported["invitations"]]
    shown_before = bool(imported.get("links_shown"))
    # Kept for a reload, but not the links: each one is shown once.
    kept = imported | {"invitations": [], "links_shown": shown_before or bool(invitations)}
    await carry(request, db, _imported_key(cohort.id), kept)
    return page(
        "cohorts/roster_done.html",
        cohort=cohort,
        counts=imported["counts"],
        invitations=invitations,
        links_already_shown=shown_before,
        base_url=settings.base_url,
    )


@post("/cohorts/{cohort_id:int}/sessions", name="cohorts.schedule", guards=guards)
async def schedule(request: Req, db: DB, settings: AppSettings, cohort_id: PathInt) -> Any:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    data = await read_fields(request)
    try:
        form = service.SessionForm.from_form(data)
        session = await service.schedule_session(db, cohort, form, request.user, settings.zone)
    except DomainError as exc:
        return await _cohort_page(
            request, db, cohort, exc.status_code, session_error=str(exc), session_values=shown(data)
        )
    return redirect_to(
        "cohorts.session", "session-scheduled", cohort_id=cohort.id, session_id=session.id
    )


async def _session_page(
    request: Req, db: DB, cohort: Any, session: Any, status_code: int = 200, **extra: Any
) -> Template:
    return page(
        "cohorts/session.html",
        status_code,
        cohort=cohort,
        session=session,
        course=await catalog.get_course_by_id(db, session.course_id),
        members=await service.member_names(db, cohort.id),
        attendance=await service.attendance_of(db, session.id),
        partial=await service.partial_attendance_of(db, session.id),
        delivery=await delivery.session_delivery(db, session, request.user),
        checklist=delivery.CHECKLIST,
        segment_states=SEGMENT_STATES,
        values=extra.pop("values", {}),
        **extra,
    )


@get("/cohorts/{cohort_id:int}/sessions/{session_id:int}", name="cohorts.session", guards=guards)
async def session_page(request: Req, db: DB, cohort_id: PathInt, session_id: PathInt) -> Template:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    session = await service.get_session(db, cohort, session_id)
    return await _session_page(request, db, cohort, session)


@post(
    "/cohorts/{cohort_id:int}/sessions/{session_id:int}/fidelity",
    name="cohorts.fidelity",
    guards=guards,
)
async def fidelity(request: Req, db: DB, cohort_id: PathInt, session_id: PathInt) -> Any:
    """The trainer's log of how the session was delivered, or a second trainer's observation."""
    cohort = await service.get_cohort(db, request.user, cohort_id)
    session = await service.get_session(db, cohort, session_id)
    data = await read_fields(request, multiline=EVERY_FIELD)
    course = await delivery.course_of(db, session)
    written = delivery.written_session(course, session)
    try:
        form = delivery.FidelityForm.from_form(data, written.segments if written else ())
        await delivery.record_fidelity(db, course, session, request.user, form)
    except DomainError as exc:
        return await _session_page(
            request,
            db,
            cohort,
            session,
            exc.status_code,
            fidelity_error=str(exc),
            values=shown(data),
        )
    return redirect_to(
        "cohorts.session", "fidelity-saved", cohort_id=cohort.id, session_id=session.id
    )


async def _skills_page(
    request: Req,
    db: DB,
    cohort: Any,
    session: Any,
    learner: Any,
    status_code: int = 200,
    **extra: Any,
) -> Template:
    shown_delivery = await delivery.session_delivery(db, session, request.user)
    scored, before, after = shown_delivery.around(learner.id)
    return page(
        "cohorts/skills.html",
        status_code,
        cohort=cohort,
        session=session,
        learner=learner,
        delivery=shown_delivery,
        scored=scored,
        before=before,
        after=after,
        values=extra.pop("values", {}),
        **extra,
    )


@get(
    "/cohorts/{cohort_id:int}/sessions/{session_id:int}/skills/{user_id:int}",
    name="cohorts.learner_skills",
    guards=guards,
)
async def learner_skills(
    request: Req, db: DB, cohort_id: PathInt, session_id: PathInt, user_id: PathInt
) -> Template:
    """One attending learner's scoring form: the session page lists the attendees, and each
    learner is scored on a page of their own (a class of 170 is not 170 forms on one page)."""
    cohort = await service.get_cohort(db, request.user, cohort_id)
    session = await service.get_session(db, cohort, session_id)
    learner = await service.get_member(db, cohort, user_id)
    return await _skills_page(request, db, cohort, session, learner)


@post(
    "/cohorts/{cohort_id:int}/sessions/{session_id:int}/skills/{user_id:int}",
    name="cohorts.skills",
    guards=guards,
)
async def skills(
    request: Req,
    db: DB,
    settings: AppSettings,
    cohort_id: PathInt,
    session_id: PathInt,
    user_id: PathInt,
) -> Any:
    """One attending learner's skills scores, saved as the trainer goes."""
    cohort = await service.get_cohort(db, request.user, cohort_id)
    session = await service.get_session(db, cohort, session_id)
    learner = await service.get_member(db, cohort, user_id)
    data = await read_fields(request)
    course = await delivery.course_of(db, session)
    try:
        form = delivery.SkillsForm.from_form(data, delivery.skills_for(course, session))
        await delivery.score_learner(db, settings, course, session, learner, request.user, form)
    except DomainError as exc:
        return await _skills_page(
            request,
            db,
            cohort,
            session,
            learner,
            exc.status_code,
            skills_error=str(exc),
            values=shown(data),
        )
    return redirect_to(
        "cohorts.learner_skills",
        "skills-saved",
        cohort_id=cohort.id,
        session_id=session.id,
        user_id=learner.id,
    )


@post(
    "/cohorts/{cohort_id:int}/sessions/{session_id:int}",
    name="cohorts.attendance",
    guards=guards,
)
async def attendance(
    request: Req,
    db: DB,
    settings: AppSettings,
    cohort_id: PathInt,
    session_id: PathInt,
) -> Any:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    session = await service.get_session(db, cohort, session_id)
    form = service.AttendanceForm.from_form(await read_fields(request))
    await service.record_attendance(db, settings, cohort, session, form, request.user)
    return redirect_to(
        "cohorts.session", "attendance-saved", cohort_id=cohort.id, session_id=session.id
    )


@get("/cohorts/{cohort_id:int}/progress", name="cohorts.progress", guards=guards)
async def progress_page(
    request: Req,
    db: DB,
    settings: AppSettings,
    cohort_id: PathInt,
    course: FromQuery[str] = "",
    sort: FromQuery[str] = "name",
    show: FromQuery[str] = "",
) -> Template:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    courses = await service.courses_of(db, cohort.id)
    matrix = await progress.build_matrix(
        db, cohort, service.chosen_course(courses, course), sort, show, zone=settings.zone
    )
    return page(
        "cohorts/progress.html",
        matrix=matrix,
        courses=courses,
        sort=sort,
        show=show,
        filters=list(progress.FILTERS),
        sorts=list(progress.SORTS),
    )


EXPORTS = {
    "matrix": "Progress",
    "completions": "Completions",
    "attendance": "Attendance",
    "items": "Item analysis",
}


@get(
    "/cohorts/{cohort_id:int}/export/{what:str}",
    name="cohorts.export",
    guards=guards,
)
async def export(
    request: Req,
    db: DB,
    settings: AppSettings,
    cohort_id: PathInt,
    what: FromPath[str],
    course: FromQuery[str] = "",
) -> Response[bytes]:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    name, _, fmt = what.rpartition(".")
    if fmt not in ("csv", "xlsx") or name not in EXPORTS:
        raise NotFound("There is no such export.")
    filename = f"cohort-{cohort.id}-{name}"
    if name == "matrix":
        chosen = await service.course_of(db, cohort.id, course)
        matrix = await progress.build_matrix(db, cohort, chosen, zone=settings.zone)
        table = exports.matrix_table(matrix, settings.zone)
        filename = f"{filename}-{chosen.slug}"
    elif name == "items":
        chosen = await service.course_of(db, cohort.id, course)
        scope = items.Scope(chosen.id, cohort.id)
        table = items.item_table(await items.item_analysis(db, scope, chosen.current_version_id))
        filename = f"{filename}-{chosen.slug}"
    elif name == "completions":
        members = [m.id for m in await service.members_of(db, cohort.id)]
        table = exports.completions_table(
            await completions_report.completions(db, user_ids=members)
        )
    else:
        table = exports.attendance_table(await service.attendance_records(db, cohort.id))
    return exports.download(filename, fmt, EXPORTS[name], *table, settings.zone)


async def _qualifications_page(
    db: DB, settings: AppSettings, status_code: int = 200, **extra: Any
) -> Template:
    rows = await qualifications.listing(db)
    today = times.local_date(utcnow(), settings.zone)
    return page(
        "cohorts/qualifications.html",
        status_code,
        rows=rows,
        lapsing=qualifications.lapsing(rows, today),
        today=today,
        days=qualifications.LAPSING_DAYS,
        trainers=await service.trainers(db),
        courses=await catalog.current_definitions(db),
        bases=QUALIFICATION_BASES,
        values=extra.pop("values", {}),
        **extra,
    )


@get("/admin/qualifications", name="cohorts.qualifications", guards=[requires("admin")])
async def qualifications_page(db: DB, settings: AppSettings) -> Template:
    """Which trainers may deliver which course, and whose qualification lapses soon."""
    return await _qualifications_page(db, settings)


@post("/admin/qualifications", name="cohorts.qualify", guards=[requires("admin")])
async def qualify(request: Req, db: DB, settings: AppSettings) -> Any:
    data = await read_fields(request, multiline=("note",))
    try:
        form = qualifications.QualificationForm.from_form(data)
        await qualifications.record(db, request.user, form)
    except DomainError as exc:
        return await _qualifications_page(
            db, settings, exc.status_code, error=str(exc), values=shown(data)
        )
    return redirect_to("cohorts.qualifications", "qualification-saved")


router = Router(
    path="/",
    route_handlers=[
        cohort_list,
        cohort_new,
        cohort_create,
        cohort_edit,
        cohort_update,
        cohort_page,
        add_member,
        remove_member_confirm,
        remove_member,
        enroll_preview,
        enroll,
        roster_page,
        roster_upload,
        roster_preview,
        roster_apply,
        roster_imported,
        schedule,
        session_page,
        attendance,
        fidelity,
        learner_skills,
        skills,
        qualifications_page,
        qualify,
        progress_page,
        export,
    ],
)
