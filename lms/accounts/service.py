"""Account rules: passwords, sign-in with throttling, sessions, and managing people."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, TypeVar

import bcrypt
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, raiseload, undefer

from lms import audit
from lms.accounts.models import (
    CLASSIFICATIONS,
    ROLES,
    TOKEN_HOURS,
    AccountToken,
    County,
    PasswordResetRequest,
    SignInFailure,
    User,
    WebSession,
)
from lms.compliance import service as compliance
from lms.db import add_once, utcnow
from lms.errors import Conflict, InvalidInput, NotFound, TooManyAttempts
from lms.forms import Fields, check_text, optional_id, parse_date, text, ticked
from lms.mail import service as mail
from lms.mail.models import OutboxMessage
from lms.settings import SITE_NAME, Settings

MAX_PASSWORD_BYTES = 72  # bcrypt ignores (bcrypt 5 refuses) anything longer
MIN_PASSWORD_LENGTH = 10
EMAIL_PATTERN = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}$")
# Nobody working today was hired earlier; an earlier date is a typing slip (1905 for 2005).
EARLIEST_DATE = date(1950, 1, 1)
LICENSE_LENGTH = 40  # users.license_type and users.license_number
# What license numbers look like (BBS "LCSW 12345", "ASW-1234/B"); nothing a page or a
# spreadsheet formula could take for markup.
LICENSE_NUMBER_PATTERN = re.compile(r"[A-Za-z0-9 /-]+")
SIGN_IN_FAILED = "That email and password do not match an active account."
THROTTLED = "Too many sign-in attempts. Wait {minutes} minutes and try again."
# Checked when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(4))
T = TypeVar("T")


def normalise_email(raw: str) -> str:
    email = raw.strip().lower()
    if not email:
        raise InvalidInput("Enter an email address.", "email")
    if len(email) > 254 or not EMAIL_PATTERN.match(email):
        raise InvalidInput("Enter an email address like name@county.ca.gov.", "email")
    return email


def check_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name:
        raise InvalidInput("Enter a name.", "name")
    if len(name) > 200:
        raise InvalidInput("Names can be at most 200 characters.", "name")
    return name


def check_new_password(password: str, email: str | None = None) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.", "password"
        )
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise InvalidInput(
            f"Passwords can be at most {MAX_PASSWORD_BYTES} bytes long (72 plain letters; "
            "fewer with accents or symbols).",
            "password",
        )
    if email and password.strip().lower() == email:
        raise InvalidInput("Your password cannot be your email address.", "password")


def _lower_priority() -> None:
    """Run this thread only on CPU time the threads serving pages leave over (Linux).

    SCHED_IDLE rather than `nice 19`: a niced thread still takes a share of a busy core,
    enough to raise other pages' p99 by half during a burst of sign-ins; an idle-class one
    yields the core at once. Hashes still finish: a busy server has gaps between requests.
    """
    thread = threading.get_native_id()
    try:
        os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, thread, 19)


# bcrypt at cost 12 is a third of a second of CPU. Each worker hashes in one thread, at the
# lowest priority: a burst of sign-ins then waits for spare CPU instead of slowing every page.
_hashing = ThreadPoolExecutor(
    max_workers=1, thread_name_prefix="bcrypt", initializer=_lower_priority
)


async def _hashing_thread(work: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_hashing, work, *args)


async def hash_password(password: str, rounds: int) -> str:
    """Hash in a worker thread: at cost 12 one hash takes about a third of a second."""
    digest = await _hashing_thread(bcrypt.hashpw, password.encode(), bcrypt.gensalt(rounds))
    return digest.decode()


async def password_matches(password: str, password_hash: str | None) -> bool:
    encoded = password.encode()
    if len(encoded) > MAX_PASSWORD_BYTES:
        return False
    stored = password_hash.encode() if password_hash else _DUMMY_HASH
    matched = await _hashing_thread(bcrypt.checkpw, encoded, stored)
    return matched and password_hash is not None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _failures_since(
    db: AsyncSession, column: InstrumentedAttribute[str], value: str, since: datetime
) -> int:
    query = select(func.count()).select_from(SignInFailure).where(column == value)
    return (await db.scalar(query.where(SignInFailure.at >= since))) or 0


async def check_throttle(db: AsyncSession, settings: Settings, email: str, address: str) -> None:
    since = utcnow() - timedelta(minutes=settings.sign_in_window_minutes)
    by_email = await _failures_since(db, SignInFailure.email, email, since)
    by_address = await _failures_since(db, SignInFailure.address, address, since)
    if (
        by_email >= settings.sign_in_limit_per_account
        or by_address >= settings.sign_in_limit_per_address
    ):
        raise TooManyAttempts(THROTTLED.format(minutes=settings.sign_in_window_minutes))


async def authenticate(
    db: AsyncSession, settings: Settings, raw_email: str, password: str, address: str
) -> User:
    """Return the active user with this email and password, or raise one generic error."""
    email = raw_email.strip().lower()[:254]
    if not email or not password:
        raise InvalidInput("Enter your email address and password.")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise InvalidInput(
            f"Passwords are at most {MAX_PASSWORD_BYTES} bytes long; check what you typed."
        )
    await check_throttle(db, settings, email, address)
    user = await db.scalar(select(User).where(User.email == email))
    matched = await password_matches(password, user.password_hash if user else None)
    if not (matched and user and user.active):
        db.add(SignInFailure(email=email, address=address[:64]))
        # The failure must be counted even though this request ends in an error.
        await db.commit()
        raise InvalidInput(SIGN_IN_FAILED)
    return user


async def start_session(db: AsyncSession, settings: Settings, user: User) -> str:
    """Create a new server-side session and return the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.add(
        WebSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(hours=settings.session_hours),
        )
    )
    user.last_sign_in_at = now
    await db.execute(delete(WebSession).where(WebSession.expires_at < now))
    return token


# Every request of a signed-in person runs this: built once, not on each request.
_SESSION_USER = (
    select(User)
    .join(WebSession, WebSession.user_id == User.id)
    .where(
        WebSession.token_hash == bindparam("token_hash"),
        WebSession.expires_at > bindparam("now"),
        User.active.is_(True),
    )
    .options(raiseload(User.county), undefer(User.leads_team))  # type: ignore[attr-defined]  # see accounts.models
)


async def find_session_user(db: AsyncSession, token: str) -> User | None:
    """The active user behind a session token, or None for a forged or expired one."""
    if not token or len(token) > 100:
        return None
    found: User | None = await db.scalar(
        _SESSION_USER, {"token_hash": _token_hash(token), "now": utcnow()}
    )
    return found


def _carry_cipher(token: str) -> Fernet:
    # The key comes from the cookie token, which only the browser holds: the database alone
    # cannot read what is carried (one-time set-password links among it).
    digest = hashlib.sha256(b"lms carried between pages\0" + token.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


async def _carried(db: AsyncSession, token: str) -> tuple[WebSession | None, dict[str, Any]]:
    row = await db.get(WebSession, _token_hash(token)) if token else None
    if row is None or not row.carried:
        return row, {}
    try:
        return row, json.loads(_carry_cipher(token).decrypt(row.carried.encode()))
    except (InvalidToken, ValueError):
        return row, {}


async def carry(db: AsyncSession, token: str, key: str, value: Any) -> None:
    """Keep `value` (JSON) for the next page this session's browser asks for."""
    row, carried = await _carried(db, token)
    if row is None:
        raise NotFound("Your session has ended; please sign in again.")
    carried[key] = value
    row.carried = _carry_cipher(token).encrypt(json.dumps(carried).encode()).decode()


async def carried(db: AsyncSession, token: str, key: str, *, keep: bool = False) -> Any:
    """What `carry` kept under `key` (None if nothing), forgotten unless `keep`."""
    row, found = await _carried(db, token)
    value = found.pop(key, None)
    if row is not None and value is not None and not keep:
        encrypted = _carry_cipher(token).encrypt(json.dumps(found).encode()).decode()
        row.carried = encrypted if found else None
    return value


async def end_session(db: AsyncSession, token: str) -> None:
    await db.execute(delete(WebSession).where(WebSession.token_hash == _token_hash(token)))


async def change_password(
    db: AsyncSession,
    settings: Settings,
    user: User,
    current: str,
    new: str,
    confirm: str,
    keep_session: str,
) -> None:
    """Change the password and sign out every other session: a stolen session ends with it.

    `keep_session` is the token of the session that changed it, which stays signed in.
    """
    if not await password_matches(current, user.password_hash):
        raise InvalidInput("Your current password is not right.", "current")
    if new != confirm:
        raise InvalidInput("The two new passwords do not match.", "confirm")
    if new == current:
        raise InvalidInput("Choose a new password that differs from the current one.", "password")
    check_new_password(new, user.email)
    user.password_hash = await hash_password(new, settings.bcrypt_rounds)
    user.must_change_password = False
    await db.execute(
        delete(WebSession).where(
            WebSession.user_id == user.id, WebSession.token_hash != _token_hash(keep_session)
        )
    )


def check_license(raw: str, field: str, label: str) -> str | None:
    """A license type or number as typed (spaces made one), None when blank."""
    value = " ".join(check_text(field, raw).split())
    if len(value) > LICENSE_LENGTH:
        raise InvalidInput(f"{label} can be at most {LICENSE_LENGTH} characters.", field)
    if field == "license_number" and value and not LICENSE_NUMBER_PATTERN.fullmatch(value):
        raise InvalidInput(
            "A license number can hold only letters, digits, spaces, hyphens and slashes.",
            field,
        )
    return value or None


def parse_classification(raw: str, by_label: bool = False) -> str | None:
    """A classification key (or, with `by_label`, its label in any case); None when blank."""
    value = raw.strip().lower()
    if not value:
        return None
    if value in CLASSIFICATIONS:
        return value
    if by_label:
        for key, label in CLASSIFICATIONS.items():
            if value == label.lower():
                return key
    choices = ", ".join(CLASSIFICATIONS.values())
    raise InvalidInput(f"Choose a classification from the list: {choices}.", "classification")


def check_dates(
    hire_date: date | None,
    role_date: date | None,
    license_expires: date | None,
    today: date | None,
) -> None:
    """The rules a person's dates meet; `today` None leaves out the one against the clock."""
    for value, field, label in (
        (hire_date, "hire_date", "The hire date"),
        (role_date, "role_date", "The date of the current role"),
    ):
        if value is None:
            continue
        if today is not None and value > today:
            raise InvalidInput(f"{label} cannot be in the future (today is {today}).", field)
        if value < EARLIEST_DATE:
            raise InvalidInput(f"{label} cannot be before {EARLIEST_DATE}.", field)
    if hire_date and role_date and role_date < hire_date:
        raise InvalidInput(
            "The date of the current role cannot be before the hire date.", "role_date"
        )
    if license_expires is not None and license_expires < EARLIEST_DATE:
        raise InvalidInput(
            f"The license expiry cannot be before {EARLIEST_DATE}.", "license_expires"
        )


@dataclass(frozen=True)
class PersonForm:
    """An admin's form for a person (a new one's password comes in `PasswordForm`)."""

    email: str
    name: str
    roles: Sequence[str]
    county_id: int | None
    supervisor_email: str = ""  # blank: no supervisor
    supervisor_id: int | None = None  # set by check_person_form from supervisor_email
    # What compliance counts from (the employer's record); each optional.
    hire_date: date | None = None
    role_date: date | None = None
    classification: str | None = None
    license_type: str | None = None
    license_number: str | None = None
    license_expires: date | None = None

    @classmethod
    def from_form(cls, data: Fields) -> PersonForm:
        roles = [role for role in ROLES if ticked(data, f"role_{role}")]
        if not roles:
            raise InvalidInput("Give the person at least one role.", "roles")
        county_id = optional_id(data, "county_id", "Choose a county from the list.")
        supervisor = text(data, "supervisor_email")
        return cls(
            email=normalise_email(text(data, "email")),
            name=check_name(text(data, "name")),
            roles=roles,
            county_id=county_id,
            supervisor_email=normalise_email(supervisor) if supervisor else "",
            hire_date=parse_date(text(data, "hire_date"), "The hire date", "hire_date"),
            role_date=parse_date(
                text(data, "role_date"), "The date of the current role", "role_date"
            ),
            classification=parse_classification(text(data, "classification")),
            license_type=check_license(text(data, "license_type"), "license_type", "License type"),
            license_number=check_license(
                text(data, "license_number"), "license_number", "License number"
            ),
            license_expires=parse_date(
                text(data, "license_expires"), "The license expiry", "license_expires"
            ),
        )


async def check_person_form(
    db: AsyncSession, form: PersonForm, today: date | None = None
) -> PersonForm:
    """The form, if its county exists and its dates are sound, with its supervisor's id when
    it names one. `today` (the academy's) is needed when the form carries a start date."""
    # A caller that cannot pass today (the roster's account for a name and an email) sends no
    # dates; one that forgot would let a future hire date through.
    assert today is not None or not (form.hire_date or form.role_date), "pass today"
    check_dates(form.hire_date, form.role_date, form.license_expires, today)
    if form.county_id is not None and await db.get(County, form.county_id) is None:
        raise InvalidInput("Choose a county from the list.", "county_id")
    if not form.supervisor_email:
        return replace(form, supervisor_id=None)
    supervisor = await find_supervisor(db, form.supervisor_email)
    if supervisor.email == form.email:
        raise InvalidInput("A person cannot be their own supervisor.", "supervisor_email")
    return replace(form, supervisor_id=supervisor.id)


async def find_supervisor(db: AsyncSession, email: str) -> User:
    """The existing, active person with this address, to be someone's supervisor."""
    found = await db.scalar(select(User).where(User.email == email, User.active.is_(True)))
    if found is None:
        raise InvalidInput(
            f"There is no active account for {email}; add the supervisor as a person first.",
            "supervisor_email",
        )
    return found


async def supervisor_of(db: AsyncSession, user: User) -> User | None:
    return await db.get(User, user.supervisor_id) if user.supervisor_id else None


async def parse_person_form(
    db: AsyncSession, data: Fields, today: date | None = None
) -> PersonForm:
    return await check_person_form(db, PersonForm.from_form(data), today)


@dataclass(frozen=True)
class SignInForm:
    email: str
    password: str
    next: str  # where to go after, checked by pages.safe_next

    @classmethod
    def from_form(cls, data: Fields) -> SignInForm:
        return cls(text(data, "email"), text(data, "password"), text(data, "next"))


@dataclass(frozen=True)
class EmailForm:
    """ "Forgot your password?": the address to send a reset link to."""

    email: str

    @classmethod
    def from_form(cls, data: Fields) -> EmailForm:
        return cls(text(data, "email"))


@dataclass(frozen=True)
class PasswordForm:
    """A new password typed twice (`confirm` is blank where the form asks once: an admin's)."""

    password: str
    confirm: str
    current: str = ""  # asked when a signed-in person changes their own

    @classmethod
    def from_form(cls, data: Fields) -> PasswordForm:
        return cls(text(data, "password"), text(data, "confirm"), text(data, "current"))


@dataclass(frozen=True)
class ActiveForm:
    """Deactivate (after the confirmation step) or reactivate an account."""

    active: bool
    confirmed: bool

    @classmethod
    def from_form(cls, data: Fields) -> ActiveForm:
        return cls(text(data, "active") == "1", text(data, "confirmed") == "1")


# The compliance record of a person, as the admin form, the profile and the roster name it.
COMPLIANCE_FIELDS = (
    "hire_date",
    "role_date",
    "classification",
    "license_type",
    "license_number",
    "license_expires",
)
# What the requirement rows (compliance.refresh) are worked out from.
_PLAN_INPUTS = ("hire_date", "role_date", "classification", "county_id", "active")


@dataclass(frozen=True)
class ProfileForm:
    """What a person edits of their own account: the name their certificates print and their
    license. Dates and classification are the employer's record: an administrator's form."""

    name: str
    license_type: str | None
    license_number: str | None

    @classmethod
    def from_form(cls, data: Fields) -> ProfileForm:
        return cls(
            name=check_name(text(data, "name")),
            license_type=check_license(text(data, "license_type"), "license_type", "License type"),
            license_number=check_license(
                text(data, "license_number"), "license_number", "License number"
            ),
        )


@dataclass(frozen=True)
class Profile:
    """What the academy holds about a person, for their own profile page."""

    person: User
    county: County | None
    supervisor: User | None

    @property
    def classification(self) -> str:
        return CLASSIFICATIONS.get(self.person.classification or "", "")


async def profile_of(db: AsyncSession, user: User) -> Profile:
    # The county is read here: the signed-in person is loaded without it (_SESSION_USER).
    county = await db.get(County, user.county_id) if user.county_id else None
    return Profile(user, county, await supervisor_of(db, user))


async def update_profile(db: AsyncSession, user: User, form: ProfileForm) -> None:
    """Save a person's own changes, audited with before and after (a certificate reissued
    later prints the new name, so who renamed whom must be on record)."""
    fields = ("name", "license_type", "license_number")
    before = {name: getattr(user, name) for name in fields}
    for name in fields:
        setattr(user, name, getattr(form, name))
    changed = [name for name in fields if before[name] != getattr(user, name)]
    if changed:
        audit.record(
            db,
            user,
            "person.update",
            "user",
            user.id,
            {name: before[name] for name in changed},
            {name: getattr(user, name) for name in changed},
        )


def person_snapshot(user: User) -> dict[str, object]:
    # Dates as text: the audit columns are JSON.
    compliance_fields = {}
    for name in COMPLIANCE_FIELDS:
        value = getattr(user, name)
        compliance_fields[name] = value.isoformat() if isinstance(value, date) else value
    return {
        "email": user.email,
        "name": user.name,
        "roles": user.roles,
        "county_id": user.county_id,
        "supervisor_id": user.supervisor_id,
        "active": user.active,
        **compliance_fields,
    }


def _plan_inputs_changed(before: dict[str, object], after: dict[str, object]) -> bool:
    return any(before[name] != after[name] for name in _PLAN_INPUTS)


async def create_person(
    db: AsyncSession,
    settings: Settings,
    form: PersonForm,
    password: str,
    actor: User | None,
    must_change_password: bool = True,
) -> User:
    check_new_password(password, form.email)
    if await db.scalar(select(User.id).where(User.email == form.email)):
        raise Conflict(f"There is already an account for {form.email}.")
    user = User(
        email=form.email,
        name=form.name,
        county_id=form.county_id,
        supervisor_id=form.supervisor_id,
        password_hash=await hash_password(password, settings.bcrypt_rounds),
        must_change_password=must_change_password,
        **{f"is_{role}": role in form.roles for role in ROLES},
        **{name: getattr(form, name) for name in COMPLIANCE_FIELDS},
    )
    if not await add_once(db, user):  # created by another admin a moment ago
        raise Conflict(f"There is already an account for {form.email}.")
    audit.record(db, actor, "person.create", "user", user.id, after=person_snapshot(user))
    await compliance.refresh(db, settings.zone, [user.id])
    return user


async def readable_person(db: AsyncSession, viewer: User, person_id: int) -> User:
    """A person whose training record `viewer` may read: themself, a supervisee, or anyone
    for an admin; anyone else is not found (a learner cannot learn who else exists)."""
    person = await db.get(User, person_id)
    if person is None or not (
        viewer.is_admin or person.id == viewer.id or person.supervisor_id == viewer.id
    ):
        raise NotFound("There is no such person.")
    return person


async def get_person(db: AsyncSession, user_id: int) -> User:
    user = await db.get(User, user_id)
    if user is None:
        raise NotFound("There is no such person.")
    return user


async def update_person(
    db: AsyncSession, user: User, form: PersonForm, actor: User, zone: tzinfo | None = None
) -> None:
    """Save an admin's changes; the person's plan requirements follow their new dates.

    `zone` (the academy's) is needed when the change moves a plan: a date, the
    classification or the county.
    """
    before = person_snapshot(user)
    if user.id == actor.id and "admin" not in form.roles:
        raise InvalidInput("You cannot remove your own admin role.", "roles")
    if form.email != user.email and await db.scalar(
        select(User.id).where(User.email == form.email)
    ):
        raise Conflict(f"There is already an account for {form.email}.")
    user.email, user.name, user.county_id = form.email, form.name, form.county_id
    user.supervisor_id = form.supervisor_id
    for role in ROLES:
        setattr(user, f"is_{role}", role in form.roles)
    for name in COMPLIANCE_FIELDS:
        setattr(user, name, getattr(form, name))
    after = person_snapshot(user)
    audit.record(db, actor, "person.update", "user", user.id, before, after)
    if _plan_inputs_changed(before, after):
        assert zone is not None, "pass the academy's zone to change a plan's inputs"
        await compliance.refresh(db, zone, [user.id])


async def set_active(db: AsyncSession, user: User, active: bool, actor: User, zone: tzinfo) -> None:
    """Deactivate (signed out everywhere, no plan requirements) or reactivate an account."""
    if user.id == actor.id and not active:
        raise InvalidInput("You cannot deactivate your own account.")
    if user.active == active:
        return
    before = person_snapshot(user)
    user.active = active
    if not active:
        await db.execute(delete(WebSession).where(WebSession.user_id == user.id))
    action = "person.reactivate" if active else "person.deactivate"
    audit.record(db, actor, action, "user", user.id, before, person_snapshot(user))
    await compliance.refresh(db, zone, [user.id])


async def set_temporary_password(
    db: AsyncSession, settings: Settings, user: User, password: str, actor: User
) -> None:
    check_new_password(password, user.email)
    user.password_hash = await hash_password(password, settings.bcrypt_rounds)
    user.must_change_password = True
    await db.execute(delete(WebSession).where(WebSession.user_id == user.id))
    audit.record(db, actor, "person.temporary_password", "user", user.id)


async def search_people(
    db: AsyncSession, text: str = "", role: str = "", limit: int = 200
) -> list[User]:
    query = select(User).order_by(User.name)
    text = text.strip()
    if text:
        pattern = f"%{text.lower()}%"
        query = query.where(or_(func.lower(User.name).like(pattern), User.email.like(pattern)))
    if role in ROLES:
        query = query.where(getattr(User, f"is_{role}").is_(True))
    return list((await db.scalars(query.limit(limit))).all())


async def list_counties(db: AsyncSession) -> list[County]:
    return list((await db.scalars(select(County).order_by(County.name))).all())


LINK_INVALID = (
    "This link is not valid: it may have expired or been used already. Ask for a new one."
)


# The email that carries each kind of one-time link.
TOKEN_MAIL_KIND = {"invite": "invitation", "reset": "password_reset"}


async def create_token(db: AsyncSession, user: User, purpose: str) -> str:
    """A one-time link token to set a password; earlier unused ones of the same kind end."""
    assert purpose in TOKEN_HOURS
    now = utcnow()
    await db.execute(
        delete(AccountToken).where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
    )
    token = secrets.token_urlsafe(32)
    db.add(
        AccountToken(
            token_hash=_token_hash(token),
            user_id=user.id,
            purpose=purpose,
            created_at=now,
            expires_at=now + timedelta(hours=TOKEN_HOURS[purpose]),
        )
    )
    return token


async def find_token(db: AsyncSession, token: str) -> tuple[AccountToken, User]:
    """The unused, unexpired token and its active user, or InvalidInput for anything else."""
    if not token or len(token) > 100:
        raise InvalidInput(LINK_INVALID)
    row = await db.scalar(select(AccountToken).where(AccountToken.token_hash == _token_hash(token)))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise InvalidInput(LINK_INVALID)
    user = await db.get(User, row.user_id)
    if user is None or not user.active:
        raise InvalidInput(LINK_INVALID)
    return row, user


async def use_token(
    db: AsyncSession, settings: Settings, token: str, password: str, confirm: str
) -> User:
    """Set the password through a one-time link; the link cannot be used again."""
    row, user = await find_token(db, token)
    if password != confirm:
        raise InvalidInput("The two passwords do not match.", "confirm")
    check_new_password(password, user.email)
    claimed = await db.execute(
        update(AccountToken)
        .where(AccountToken.token_hash == row.token_hash, AccountToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult
        raise InvalidInput(LINK_INVALID)
    # An email of the same kind still waiting to be sent carries a link that now fails.
    await mail.cancel_unsent(db, user.id, TOKEN_MAIL_KIND[row.purpose], "Its link was used.")
    user.password_hash = await hash_password(password, settings.bcrypt_rounds)
    user.must_change_password = False
    # Whoever had the old password is signed out.
    await db.execute(delete(WebSession).where(WebSession.user_id == user.id))
    return user


RESET_THROTTLED = "Too many password reset requests. Wait {minutes} minutes and try again."


async def _reset_requests_since(db: AsyncSession, column: Any, value: str, since: Any) -> int:
    query = select(func.count()).select_from(PasswordResetRequest).where(column == value)
    return (await db.scalar(query.where(PasswordResetRequest.at >= since))) or 0


async def request_password_reset(
    db: AsyncSession, settings: Settings, raw_email: str, address: str
) -> None:
    """Email a reset link to an active account; nothing tells whether the account exists.

    Requests are throttled like sign-ins, counted for every address asked about, known or not.
    """
    email = normalise_email(raw_email)
    since = utcnow() - timedelta(minutes=settings.sign_in_window_minutes)
    if (
        await _reset_requests_since(db, PasswordResetRequest.email, email, since)
        >= settings.sign_in_limit_per_account
        or await _reset_requests_since(db, PasswordResetRequest.address, address, since)
        >= settings.sign_in_limit_per_address
    ):
        raise TooManyAttempts(RESET_THROTTLED.format(minutes=settings.sign_in_window_minutes))
    db.add(PasswordResetRequest(email=email, address=address[:64]))
    user = await db.scalar(select(User).where(User.email == email))
    if user is None or not user.active:
        return
    token = await create_token(db, user, "reset")
    await queue_password_reset(db, settings, user, token)


# The emails an account gets: queued in the caller's transaction, sent by mail delivery.


async def queue_invitation(
    db: AsyncSession,
    settings: Settings,
    user: User,
    token: str,
    invited_by: User | None,
    cohort_name: str | None = None,
) -> OutboxMessage | None:
    """Invite a new person to set their password (token from accounts.create_token "invite")."""
    await mail.cancel_unsent(db, user.id, "invitation")
    rendered = mail.render(
        settings,
        "invitation",
        f"You have been invited to {SITE_NAME}",
        name=user.name,
        email=user.email,
        link=f"{settings.base_url}/account/set-password/{token}",
        invited_by=invited_by.name if invited_by else None,
        cohort_name=cohort_name,
        days=TOKEN_HOURS["invite"] // 24,
        # When the link stops working, as accounts.create_token set it a moment ago.
        until=utcnow() + timedelta(hours=TOKEN_HOURS["invite"]),
    )
    return await mail.queue(db, "invitation", user, rendered)


async def queue_password_reset(
    db: AsyncSession, settings: Settings, user: User, token: str
) -> OutboxMessage | None:
    """Send a link to choose a new password (token from accounts.create_token "reset")."""
    await mail.cancel_unsent(db, user.id, "password_reset")
    rendered = mail.render(
        settings,
        "password_reset",
        f"Reset your {SITE_NAME} password",
        name=user.name,
        email=user.email,
        link=f"{settings.base_url}/account/set-password/{token}",
        hours=TOKEN_HOURS["reset"],
        until=utcnow() + timedelta(hours=TOKEN_HOURS["reset"]),
    )
    return await mail.queue(db, "password_reset", user, rendered)
