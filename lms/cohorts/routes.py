"""Trainer pages: cohorts, rosters, enrollment, live sessions, attendance, progress, exports."""

from __future__ import annotations

from dataclasses import asdict
from datetime import tzinfo
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from sqlalchemy import select

from lms import times
from lms.accounts import service as accounts
from lms.accounts.models import User
from lms.auth import check_signed_in
from lms.catalog import service as catalog
from lms.catalog.models import Course
from lms.cohorts import progress, roster, service
from lms.cohorts.models import Attendance, CohortCourse, LiveSession
from lms.errors import DomainError, Forbidden, InvalidInput, NotFound
from lms.forms import parse_id, parse_ids, read_form
from lms.inject import DB, AppSettings, PathInt
from lms.learning.service import STATE_LABELS
from lms.pages import carried, carry, confirm_page, page, redirect_to
from lms.quizzes.models import Attempt
from lms.reports import exports

Req = Request[User, Any, Any]

MAX_ROSTER = 2 * 1024 * 1024  # a statewide roster is well under this; bigger is a mistake


async def staff(connection: Any, _: Any) -> None:
    check_signed_in(connection)
    if not (connection.user.is_trainer or connection.user.is_admin):
        raise Forbidden("This page is for trainers and administrators.")


guards = [staff]


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
    trainers = (
        await db.scalars(select(User).where(User.is_trainer.is_(True)).order_by(User.name))
    ).all()
    courses = [
        (c, await catalog.get_definition(db, c.current_version_id))
        for c in await catalog.list_courses(db)
        if c.current_version_id and c.status == "active"
    ]
    return page(
        "cohorts/form.html",
        status_code,
        cohort=cohort,
        values=values,
        error=error,
        trainers=trainers,
        courses=courses,
        counties=await accounts.list_counties(db),
    )


@get("/cohorts/new", name="cohorts.new", guards=guards)
async def cohort_new(request: Req, db: DB) -> Template:
    return await _form_page(
        request, db, None, {"trainers": {request.user.id}, "counties": set(), "courses": {}}
    )


def _values(form: Any) -> dict[str, Any]:
    return {
        "name": form.get("name", ""),
        "starts_on": form.get("starts_on", ""),
        "ends_on": form.get("ends_on", ""),
        "trainers": {i for v in form.getall("trainer", []) if (i := parse_id(v))},
        "counties": {i for v in form.getall("county", []) if (i := parse_id(v))},
        "courses": {
            i: form.get(f"due_{i}", "")
            for k in form
            if k.startswith("course_") and (i := parse_id(k.removeprefix("course_")))
        },
    }


@post("/cohorts/new", name="cohorts.create", guards=guards)
async def cohort_create(request: Req, db: DB) -> Any:
    form = await read_form(request)
    try:
        parsed = await service.parse_cohort_form(db, form, request.user)
        cohort = await service.save_cohort(db, request.user, parsed)
    except DomainError as exc:
        return await _form_page(request, db, None, _values(form), str(exc), exc.status_code)
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
async def cohort_update(request: Req, db: DB, cohort_id: PathInt) -> Any:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    form = await read_form(request)
    try:
        parsed = await service.parse_cohort_form(db, form, request.user)
        await service.save_cohort(db, request.user, parsed, cohort)
    except DomainError as exc:
        return await _form_page(request, db, cohort, _values(form), str(exc), exc.status_code)
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
    form = await read_form(request)
    county = str(form.get("county_id", ""))
    try:
        added = await service.add_member(
            db,
            settings,
            cohort,
            request.user,
            str(form.get("email", "")),
            str(form.get("name", "")),
            parse_id(county),
        )
    except DomainError as exc:
        return await _cohort_page(
            request,
            db,
            cohort,
            exc.status_code,
            member_error=str(exc),
            member_values=dict(form.items()),
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
        action=f"/cohorts/{cohort.id}/members/{member.id}/remove",
        button="Take off the roster",
        cancel=f"/cohorts/{cohort.id}",
    )


@post(
    "/cohorts/{cohort_id:int}/members/{user_id:int}/remove",
    name="cohorts.remove_member",
    guards=guards,
)
async def remove_member(request: Req, db: DB, cohort_id: PathInt, user_id: PathInt) -> Any:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    if (await read_form(request)).get("confirmed") != "1":
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
    form = await read_form(request)
    move = parse_ids(form.getall("move", []))
    try:
        if move is None:
            raise InvalidInput("That choice of people to move is not valid.")
        await service.enroll_cohort(db, cohort, request.user, settings.zone, set(move))
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


async def _uploaded(request: Req) -> tuple[Any, bytes]:
    form = await read_form(request, multiline=("content",))  # the CSV text, carried over
    upload = form.get("file")
    if isinstance(upload, UploadFile):
        return form, await upload.read()
    return form, str(form.get("content", "")).encode()


def _text(raw: bytes) -> str:
    return raw.decode("utf-8-sig", errors="replace")


@post(
    "/cohorts/{cohort_id:int}/roster",
    name="cohorts.roster_upload",
    guards=guards,
    request_max_body_size=MAX_ROSTER,
)
async def roster_upload(request: Req, db: DB, cohort_id: PathInt) -> Any:
    """Check an uploaded file; a good one is kept for the preview page, a bad one refused here."""
    cohort = await service.get_cohort(db, request.user, cohort_id)
    _, raw = await _uploaded(request)
    try:
        plan = await roster.plan(db, cohort, raw)
    except InvalidInput as exc:
        return page("cohorts/roster.html", 400, cohort=cohort, plan=None, error=str(exc))
    if not plan.ok:
        return page("cohorts/roster.html", 400, cohort=cohort, plan=plan, content=_text(raw))
    await carry(request, db, _draft_key(cohort.id), _text(raw))
    return redirect_to("cohorts.roster_preview", cohort_id=cohort.id)


@get("/cohorts/{cohort_id:int}/roster/preview", name="cohorts.roster_preview", guards=guards)
async def roster_preview(request: Req, db: DB, cohort_id: PathInt) -> Any:
    """What the uploaded file would change, worked out again on each view; nothing is done."""
    cohort = await service.get_cohort(db, request.user, cohort_id)
    content = await carried(request, db, _draft_key(cohort.id), keep=True)
    if content is None:
        return redirect_to("cohorts.roster", cohort_id=cohort.id)
    plan = await roster.plan(db, cohort, content.encode())
    return page("cohorts/roster.html", cohort=cohort, plan=plan, content=content)


@post(
    "/cohorts/{cohort_id:int}/roster/apply",
    name="cohorts.roster_apply",
    guards=guards,
    request_max_body_size=MAX_ROSTER,
)
async def roster_apply(request: Req, db: DB, settings: AppSettings, cohort_id: PathInt) -> Any:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    _, raw = await _uploaded(request)
    try:
        plan, invitations = await roster.apply(db, settings, cohort, raw, request.user)
    except InvalidInput as exc:
        plan = await roster.plan(db, cohort, raw) if raw else None
        return page(
            "cohorts/roster.html", 400, cohort=cohort, plan=plan, error=str(exc), content=_text(raw)
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


async def _course_of(db: DB, cohort_id: int, slug: str) -> Course:
    return _chosen(await _courses_of(db, cohort_id), slug)


async def _courses_of(db: DB, cohort_id: int) -> list[Course]:
    query = (
        select(Course)
        .join(CohortCourse, CohortCourse.course_id == Course.id)
        .where(CohortCourse.cohort_id == cohort_id)
        .order_by(Course.slug)
    )
    return list((await db.scalars(query)).unique().all())


def _chosen(courses: list[Course], slug: str) -> Course:
    """The cohort's course with this slug; its first course when no slug is given."""
    if not courses:
        raise NotFound("Assign a course to this cohort first.")
    for course in courses:
        if course.slug == slug:
            return course
    if slug:
        raise NotFound("That course is not assigned to this cohort.")
    return courses[0]


@post("/cohorts/{cohort_id:int}/sessions", name="cohorts.schedule", guards=guards)
async def schedule(request: Req, db: DB, settings: AppSettings, cohort_id: PathInt) -> Any:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    form = await read_form(request)
    course = str(form.get("course", ""))
    try:
        course_id = parse_id(course)
        if course_id is None:
            raise InvalidInput("Choose one of the cohort's courses.", "course")
        session = await service.schedule_session(
            db, cohort, course_id, form, request.user, settings.zone
        )
    except DomainError as exc:
        return await _cohort_page(
            request,
            db,
            cohort,
            exc.status_code,
            session_error=str(exc),
            session_values=dict(form.items()),
        )
    return redirect_to(
        "cohorts.session", "session-scheduled", cohort_id=cohort.id, session_id=session.id
    )


@get("/cohorts/{cohort_id:int}/sessions/{session_id:int}", name="cohorts.session", guards=guards)
async def session_page(request: Req, db: DB, cohort_id: PathInt, session_id: PathInt) -> Template:
    cohort = await service.get_cohort(db, request.user, cohort_id)
    session = await service.get_session(db, cohort, session_id)
    return page(
        "cohorts/session.html",
        cohort=cohort,
        session=session,
        course=await db.get(Course, session.course_id),
        members=await service.members_of(db, cohort.id),
        attendance=await service.attendance_of(db, session.id),
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
    form = await read_form(request)
    present = parse_ids(form.getall("present", []))
    if present is None:
        raise InvalidInput("That attendance list is not valid.")
    await service.record_attendance(db, settings, cohort, session, set(present), request.user)
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
    courses = await _courses_of(db, cohort.id)
    matrix = await progress.build_matrix(
        db, cohort, _chosen(courses, course), sort, show, zone=settings.zone
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


@get(
    "/cohorts/{cohort_id:int}/learners/{user_id:int}",
    name="cohorts.learner",
    guards=guards,
)
async def learner_page(request: Req, db: DB, cohort_id: PathInt, user_id: PathInt) -> Template:
    from lms.learning import service as learning

    cohort = await service.get_cohort(db, request.user, cohort_id)
    members = {m.id: m for m in await service.members_of(db, cohort.id)}
    learner = members.get(user_id)
    if learner is None:
        raise NotFound("That person is not in this cohort.")
    progresses = await learning.dashboard(db, learner.id)
    ids = [p.enrollment.id for p in progresses]
    attempts = (
        await db.scalars(
            select(Attempt)
            .where(Attempt.enrollment_id.in_(ids), Attempt.submitted_at.is_not(None))
            .order_by(Attempt.submitted_at)
        )
    ).all()
    attended = (
        await db.execute(
            select(LiveSession, Attendance)
            .join(Attendance, Attendance.session_id == LiveSession.id)
            .where(Attendance.user_id == learner.id, LiveSession.cohort_id == cohort.id)
            .order_by(LiveSession.starts_at)
        )
    ).all()
    return page(
        "cohorts/learner.html",
        cohort=cohort,
        learner=learner,
        progresses=progresses,
        attempts=attempts,
        attended=attended,
    )


def _matrix_table(matrix: progress.Matrix, zone: tzinfo) -> tuple[list[str], list[list[Any]]]:
    modules = list(matrix.definition.modules)
    header = [
        "Learner",
        "Email",
        "County",
        "Status",
        "Progress %",
        *[f"Module {i}: {m.title}" for i, m in enumerate(modules, start=1)],
        "Best final %",
        "Last activity",
        "Due",
        "Overdue",
        "At risk",
    ]
    rows = []
    for row in matrix.rows:
        cells = [STATE_LABELS.get(status, "") for status in row.statuses]
        rows.append(
            [
                row.learner.name,
                row.learner.email,
                row.county,
                row.status,
                row.percent,
                *cells,
                row.best_final,
                row.last_activity,
                # A due date is a day (the academy's): YYYY-MM-DD, not the moment it ends.
                times.local_date(row.due_at, zone) if row.due_at else None,
                "yes" if row.overdue else "",
                "yes" if row.at_risk else "",
            ]
        )
    return header, rows


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
    from lms.reports import completions as reports

    cohort = await service.get_cohort(db, request.user, cohort_id)
    name, _, fmt = what.rpartition(".")
    if fmt not in ("csv", "xlsx") or name not in ("matrix", "completions", "attendance"):
        raise NotFound("There is no such export.")
    slug = f"cohort-{cohort.id}-{name}"
    if name == "matrix":
        chosen = await _course_of(db, cohort.id, course)
        matrix = await progress.build_matrix(db, cohort, chosen, zone=settings.zone)
        header, rows = _matrix_table(matrix, settings.zone)
        return exports.download(
            f"{slug}-{chosen.slug}", fmt, "Progress", header, rows, settings.zone
        )
    if name == "completions":
        members = [m.id for m in await service.members_of(db, cohort.id)]
        found = await reports.completions(db, user_ids=members)
        return exports.download(
            slug,
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
                for r in found
            ],
            settings.zone,
        )
    rows = []
    for session, record, learner in (
        await db.execute(
            select(LiveSession, Attendance, User)
            .join(Attendance, Attendance.session_id == LiveSession.id)
            .join(User, User.id == Attendance.user_id)
            .where(LiveSession.cohort_id == cohort.id)
            .order_by(LiveSession.starts_at, User.name)
        )
    ).all():
        rows.append(
            [
                session.title,
                session.starts_at,
                learner.name,
                learner.email,
                "present" if record.present else "absent",
            ]
        )
    return exports.download(
        slug,
        fmt,
        "Attendance",
        ["Session", "Starts", "Learner", "Email", "Attendance"],
        rows,
        settings.zone,
    )


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
        progress_page,
        learner_page,
        export,
    ],
)
