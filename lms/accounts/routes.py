"""Sign-in, sign-out, a person's profile and password, and the admin pages for people."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from litestar import Request, Router, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from lms.accounts import service
from lms.accounts.models import CLASSIFICATIONS, ROLES, TOKEN_HOURS, User
from lms.auth import (
    client_address,
    requires,
    session_cookie,
    session_cookie_name,
    signed_in,
)
from lms.errors import Conflict, InvalidInput, TooManyAttempts
from lms.forms import read_fields, shown
from lms.inject import DB, AppSettings, PathInt
from lms.links import Link
from lms.pages import confirm_page, page, redirect_to, safe_next
from lms.settings import Settings


@get("/sign-in", name="accounts.sign_in")
async def sign_in_page(request: Request[Any, Any, Any], next: FromQuery[str | None] = None) -> Any:
    if request.user is not None:
        return Redirect(safe_next(next))  # ?next= is an address (checked), not a route name
    return page("accounts/sign_in.html", next=safe_next(next), email="")


@post("/sign-in", name="accounts.sign_in_submit")
async def sign_in(request: Request[Any, Any, Any], db: DB, settings: AppSettings) -> Any:
    form = service.SignInForm.from_form(await read_fields(request))
    next_path = safe_next(form.next)
    try:
        user = await service.authenticate(
            db, settings, form.email, form.password, client_address(request)
        )
    except (InvalidInput, TooManyAttempts) as exc:
        return page(
            "accounts/sign_in.html",
            exc.status_code,
            error=str(exc),
            email=form.email[:254],
            next=next_path,
        )
    old_token = request.cookies.get(session_cookie_name(settings))
    if old_token:
        await service.end_session(db, old_token)
    token = await service.start_session(db, settings, user)
    # next_path is an address from ?next= (checked by safe_next), not a route name.
    target = (
        request.app.route_reverse("accounts.password") if user.must_change_password else next_path
    )
    return Redirect(target, status_code=303, cookies=[session_cookie(settings, token)])


@post("/sign-out", name="accounts.sign_out")
async def sign_out(request: Request[Any, Any, Any], db: DB, settings: AppSettings) -> Any:
    token = request.cookies.get(session_cookie_name(settings))
    if token:
        await service.end_session(db, token)
    response = redirect_to("accounts.sign_in", "signed-out")
    response.cookies.append(session_cookie(settings, "", max_age=0))
    return response


@get("/account/password", name="accounts.password", guards=[signed_in])
async def password_page() -> Template:
    return page("accounts/password.html")


@post("/account/password", name="accounts.password_submit", guards=[signed_in])
async def password_submit(request: Request[Any, Any, Any], db: DB, settings: AppSettings) -> Any:
    form = service.PasswordForm.from_form(await read_fields(request))
    user = await service.get_person(db, request.user.id)
    try:
        await service.change_password(
            db,
            settings,
            user,
            form.current,
            form.password,
            form.confirm,
            keep_session=request.cookies.get(session_cookie_name(settings), ""),
        )
    except InvalidInput as exc:
        return page("accounts/password.html", 400, error=str(exc), field=exc.field)
    return redirect_to("learning.dashboard", "password-changed")


async def _profile_page(
    db: DB, user: User, values: dict[str, Any], error: str | None = None, field: str | None = None
) -> Template:
    profile = await service.profile_of(db, user)
    return page(
        "accounts/profile.html",
        400 if error else 200,
        profile=profile,
        values=values,
        classifications=CLASSIFICATIONS,
        error=error,
        field=field,
    )


@get("/account/profile", name="accounts.profile", guards=[signed_in])
async def profile(request: Request[Any, Any, Any], db: DB) -> Template:
    # No id in the address: a person's own profile is the only one this page shows.
    user = await service.get_person(db, request.user.id)
    return await _profile_page(
        db,
        user,
        {
            "name": user.name,
            "license_type": user.license_type or "",
            "license_number": user.license_number or "",
        },
    )


@post("/account/profile", name="accounts.profile_submit", guards=[signed_in])
async def profile_submit(request: Request[Any, Any, Any], db: DB) -> Any:
    data = await read_fields(request)
    user = await service.get_person(db, request.user.id)
    try:
        await service.update_profile(db, user, service.ProfileForm.from_form(data))
    except InvalidInput as exc:
        return await _profile_page(db, user, shown(data), str(exc), exc.field)
    return redirect_to("accounts.profile", "person-saved")


@get("/account/forgot", name="accounts.forgot")
async def forgot_page() -> Template:
    return page("accounts/forgot.html", email="", hours=TOKEN_HOURS["reset"])


@post("/account/forgot", name="accounts.forgot_submit")
async def forgot_submit(request: Request[Any, Any, Any], db: DB, settings: AppSettings) -> Any:
    email = service.EmailForm.from_form(await read_fields(request)).email
    try:
        await service.request_password_reset(db, settings, email, client_address(request))
    except (InvalidInput, TooManyAttempts) as exc:
        return page(
            "accounts/forgot.html",
            exc.status_code,
            error=str(exc),
            email=email[:254],
            hours=TOKEN_HOURS["reset"],
        )
    # The same answer whether or not the address has an account.
    return redirect_to("accounts.forgot", "reset-requested")


@get("/account/set-password/{token:str}", name="accounts.set_password")
async def set_password_page(db: DB, token: FromPath[str]) -> Template:
    try:
        _, user = await service.find_token(db, token)
    except InvalidInput as exc:
        return page("accounts/set_password.html", 400, invalid=str(exc))
    return page("accounts/set_password.html", token=token, person=user)


@post("/account/set-password/{token:str}", name="accounts.set_password_submit")
async def set_password_submit(
    request: Request[Any, Any, Any], db: DB, settings: AppSettings, token: FromPath[str]
) -> Any:
    form = service.PasswordForm.from_form(await read_fields(request))
    try:
        user = await service.use_token(db, settings, token, form.password, form.confirm)
    except InvalidInput as exc:
        if exc.field is None:
            return page("accounts/set_password.html", 400, invalid=str(exc))
        _, person = await service.find_token(db, token)
        return page("accounts/set_password.html", 400, token=token, person=person, error=str(exc))
    session_token = await service.start_session(db, settings, user)
    response = redirect_to("learning.dashboard", "password-set")
    response.cookies.append(session_cookie(settings, session_token))
    return response


admin_only = [requires("admin")]


@get("/admin/people", name="accounts.people", guards=admin_only)
async def people(db: DB, q: FromQuery[str] = "", role: FromQuery[str] = "") -> Template:
    found = await service.search_people(db, q, role)
    return page("accounts/people.html", people=found, q=q, role=role, roles=ROLES)


async def _person_form_page(
    db: DB,
    person: User | None,
    values: dict[str, Any],
    error: str | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        "accounts/person.html",
        status_code,
        person=person,
        values=values,
        counties=await service.list_counties(db),
        roles=ROLES,
        classifications=CLASSIFICATIONS,
        error=error,
    )


def _today(settings: Settings) -> date:
    """The academy's today, against which hire and role dates are checked."""
    return datetime.now(settings.zone).date()


async def _values_of(db: DB, user: User) -> dict[str, Any]:
    supervisor = await service.supervisor_of(db, user)
    return {
        "email": user.email,
        "name": user.name,
        "county_id": str(user.county_id or ""),
        "supervisor_email": supervisor.email if supervisor else "",
        **{f"role_{role}": user.has_role(role) for role in ROLES},
        **{name: str(getattr(user, name) or "") for name in service.COMPLIANCE_FIELDS},
    }


@get("/admin/people/new", name="accounts.person_new", guards=admin_only)
async def person_new(db: DB) -> Template:
    return await _person_form_page(db, None, {"role_learner": True})


@post("/admin/people/new", name="accounts.person_create", guards=admin_only)
async def person_create(request: Request[Any, Any, Any], db: DB, settings: AppSettings) -> Any:
    data = await read_fields(request)
    try:
        form = await service.parse_person_form(db, data, _today(settings))
        password = service.PasswordForm.from_form(data).password
        user = await service.create_person(db, settings, form, password, request.user)
    except (InvalidInput, Conflict) as exc:
        return await _person_form_page(db, None, shown(data), str(exc), exc.status_code)
    return redirect_to("accounts.person", "person-created", person_id=user.id)


@get("/admin/people/{person_id:int}", name="accounts.person", guards=admin_only)
async def person_page(db: DB, person_id: PathInt) -> Template:
    person = await service.get_person(db, person_id)
    return await _person_form_page(db, person, await _values_of(db, person))


@post("/admin/people/{person_id:int}", name="accounts.person_update", guards=admin_only)
async def person_update(
    request: Request[Any, Any, Any], db: DB, settings: AppSettings, person_id: PathInt
) -> Any:
    person = await service.get_person(db, person_id)
    data = await read_fields(request)
    try:
        form = await service.parse_person_form(db, data, _today(settings))
        await service.update_person(db, person, form, request.user, settings.zone)
    except (InvalidInput, Conflict) as exc:
        return await _person_form_page(db, person, shown(data), str(exc), exc.status_code)
    return redirect_to("accounts.person", "person-saved", person_id=person.id)


@get(
    "/admin/people/{person_id:int}/deactivate",
    name="accounts.person_deactivate_confirm",
    guards=admin_only,
)
async def person_deactivate_confirm(db: DB, person_id: PathInt) -> Template:
    person = await service.get_person(db, person_id)
    return confirm_page(
        title="Deactivate an account",
        question=f"Deactivate the account of {person.name} ({person.email})?",
        consequence="They are signed out everywhere and cannot sign in until the account is "
        "reactivated. Their training records and certificates are kept.",
        action=Link("accounts.person_active", {"person_id": person.id}),
        button="Deactivate account",
        cancel=Link("accounts.person", {"person_id": person.id}),
        hidden={"active": "0"},
    )


@post("/admin/people/{person_id:int}/active", name="accounts.person_active", guards=admin_only)
async def person_active(
    request: Request[Any, Any, Any], db: DB, settings: AppSettings, person_id: PathInt
) -> Any:
    person = await service.get_person(db, person_id)
    form = service.ActiveForm.from_form(await read_fields(request))
    if not form.active and not form.confirmed:
        return redirect_to("accounts.person_deactivate_confirm", person_id=person.id)
    await service.set_active(db, person, form.active, request.user, settings.zone)
    notice = "person-reactivated" if form.active else "person-deactivated"
    return redirect_to("accounts.person", notice, person_id=person.id)


@post(
    "/admin/people/{person_id:int}/password",
    name="accounts.person_password",
    guards=admin_only,
)
async def person_password(
    request: Request[Any, Any, Any], db: DB, settings: AppSettings, person_id: PathInt
) -> Any:
    person = await service.get_person(db, person_id)
    password = service.PasswordForm.from_form(await read_fields(request)).password
    try:
        await service.set_temporary_password(db, settings, person, password, request.user)
    except InvalidInput as exc:
        return await _person_form_page(db, person, await _values_of(db, person), str(exc), 400)
    return redirect_to("accounts.person", "temporary-password-set", person_id=person.id)


router = Router(
    path="/",
    route_handlers=[
        sign_in_page,
        sign_in,
        sign_out,
        password_page,
        password_submit,
        profile,
        profile_submit,
        people,
        person_new,
        person_create,
        person_page,
        person_update,
        person_deactivate_confirm,
        person_active,
        person_password,
        set_password_page,
        set_password_submit,
        forgot_page,
        forgot_submit,
    ],
)
