"""Certificate rules: issue once, reissue, revoke, verify, and who may download what."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms import audit, times
from lms.accounts.models import User
from lms.catalog import service as catalog
from lms.catalog.definition import CourseDefinition
from lms.catalog.models import Course
from lms.certificates import pdf
from lms.certificates.models import Certificate, Transcript
from lms.cohorts.models import Attendance, CohortMember, CohortTrainer, LiveSession
from lms.db import add_once, utcnow
from lms.errors import Conflict, Gone, InvalidInput, NotFound
from lms.forms import Confirmation, Fields, id_list, optional_id, text, ticked
from lms.learning.models import COMPLETED, Enrollment
from lms.mail import service as mail
from lms.mail.models import OutboxMessage
from lms.settings import Settings

# 32 letters and digits that cannot be mistaken for each other (no 0/O, 1/I).
SERIAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
SERIAL_LENGTH = 16  # 80 random bits: not guessable, not enumerable
EXPIRING_DAYS = 60

Renderer = Callable[[dict[str, Any]], Awaitable[bytes]]


def new_serial() -> str:
    raw = "".join(secrets.choice(SERIAL_ALPHABET) for _ in range(SERIAL_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, SERIAL_LENGTH, 4))


def normalise_serial(raw: str) -> str | None:
    compact = "".join(ch for ch in raw.upper() if ch.isalnum())
    if len(compact) != SERIAL_LENGTH or any(ch not in SERIAL_ALPHABET for ch in compact):
        return None
    return "-".join(compact[i : i + 4] for i in range(0, SERIAL_LENGTH, 4))


def printed_fields(certificate: Certificate, zone: tzinfo) -> dict[str, Any]:
    """Exactly what the PDF prints: used to render it and to show it on verification.

    Dates are the academy's local days: a course completed at 7:30 PM in California is
    completed that day, though it is the next day in UTC.
    """
    return {
        "certificate_title": certificate.certificate_title,
        "learner_name": certificate.learner_name,
        "course_title": certificate.course_title,
        "course_version": certificate.course_version,
        "hours": certificate.hours,
        "completed_on": times.long_date(certificate.completed_at, zone),
        "issued_on": times.long_date(certificate.issued_at, zone),
        "expires_on": times.long_date(certificate.expires_at, zone),
        "issuer": certificate.issuer,
        "signatory_name": certificate.signatory_name,
        "signatory_title": certificate.signatory_title,
        "serial": certificate.serial,
        "verify_url": certificate.verify_url,
        "ce_hours": certificate.ce_hours,
        "ce_categories": certificate.ce_categories or [],
        "ce_approval": certificate.ce_approval,
        "license_type": certificate.license_type,
        "license_number": certificate.license_number,
    }


async def draft(
    db: AsyncSession,
    settings: Settings,
    enrollment: Enrollment,
    learner: User,
    expires_at: datetime | None = None,
    keep_expiry: bool = False,
) -> Certificate:
    """A certificate for a completed enrollment, not yet rendered or saved."""
    if enrollment.status != COMPLETED or enrollment.completed_at is None:
        raise Conflict("A certificate can only be issued for a completed course.")
    course = await catalog.get_definition(db, enrollment.version_id)
    ce = course.ce
    if ce is not None and ce.full_attendance and await _attended_part_only(db, enrollment, course):
        ce = None  # the certificate, but no CE hours (course-format.md "full_attendance")
    now = utcnow()
    serial = new_serial()
    months = course.certificate.valid_for_months
    if not keep_expiry:
        expires_at = times.add_months(now, months) if months else None
    return Certificate(
        serial=serial,
        enrollment_id=enrollment.id,
        user_id=learner.id,
        is_current=True,
        certificate_title=course.certificate.title,
        learner_name=learner.name,
        course_slug=course.slug,
        course_title=course.title,
        course_version=course.version,
        hours=course.hours,
        completed_at=enrollment.completed_at,
        issued_at=now,
        expires_at=expires_at,
        issuer=course.certificate.issuer,
        signatory_name=course.certificate.signatory_name,
        signatory_title=course.certificate.signatory_title,
        verify_url=f"{settings.base_url}/verify/{serial}",
        ce_hours=ce.hours if ce else None,
        ce_categories=[asdict(c) for c in ce.categories] if ce else None,
        ce_approval=ce.approval if ce else None,
        license_type=learner.license_type if ce else None,
        license_number=learner.license_number if ce else None,
    )


async def _attended_part_only(
    db: AsyncSession, enrollment: Enrollment, course: CourseDefinition
) -> bool:
    """Whether the learner was present for only part of a required session of the course:
    one that delivers a required session as written, or any, for a course that counts its
    sessions by number."""
    required = {s.id for s in course.sessions if s.required}
    delivered = await db.scalars(
        select(LiveSession.course_session)
        .join(Attendance, Attendance.session_id == LiveSession.id)
        .where(
            Attendance.user_id == enrollment.user_id,
            Attendance.partial.is_(True),
            LiveSession.course_id == enrollment.course_id,
        )
    )
    return any(
        written in required or (written is None and not course.sessions)
        for written in delivered.all()
    )


def attach_pdf(certificate: Certificate, data: bytes) -> None:
    certificate.pdf = data
    certificate.sha256 = hashlib.sha256(data).hexdigest()


async def find_current(db: AsyncSession, enrollment_id: int) -> Certificate | None:
    return await db.scalar(
        select(Certificate).where(
            Certificate.enrollment_id == enrollment_id, Certificate.is_current.is_(True)
        )
    )


@dataclass(frozen=True)
class IssueForm:
    """ "Issue certificates": to everyone eligible in a course (or cohort), or to those ticked."""

    course: str
    cohort_id: int | None
    everyone: bool
    enrollment_ids: Sequence[int]

    @classmethod
    def from_form(cls, data: Fields) -> IssueForm:
        return cls(
            course=text(data, "course"),
            cohort_id=optional_id(data, "cohort", "Choose a cohort from the list."),
            everyone=text(data, "all") == "1",
            enrollment_ids=id_list(data, "enrollment"),
        )


@dataclass(frozen=True)
class DownloadForm:
    """ "Download as ZIP": the serials ticked (each is looked up, so none is trusted), and
    whether revoked and superseded certificates go in too (for the record)."""

    serials: Sequence[str]
    everything: bool = False

    @classmethod
    def from_form(cls, data: Fields) -> DownloadForm:
        return cls(data.get("serial", [])[:5000], ticked(data, "include_invalid"))


@dataclass(frozen=True)
class RevokeForm:
    reason: str
    confirmed: bool

    @classmethod
    def from_form(cls, data: Fields) -> RevokeForm:
        return cls(text(data, "reason"), Confirmation.from_form(data).confirmed)


@dataclass
class Eligible:
    """A completed enrollment and its learner, ready for a certificate."""

    enrollment: Enrollment
    learner: User


async def issue(
    db: AsyncSession,
    settings: Settings,
    enrollment: Enrollment,
    by: User | None = None,
    render: Renderer = pdf.render_async,
) -> tuple[Certificate, bool]:
    """Issue the certificate for a completed enrollment; issuing again returns the first one."""
    existing = await find_current(db, enrollment.id)
    if existing is not None:
        return existing, False
    learner = await db.get(User, enrollment.user_id)
    assert learner is not None
    [(certificate, created)] = await issue_many(
        db, settings, [Eligible(enrollment, learner)], by, render
    )
    return certificate, created


async def issue_many(
    db: AsyncSession,
    settings: Settings,
    people: Sequence[Eligible],
    by: User | None = None,
    render: Renderer = pdf.render_async,
) -> list[tuple[Certificate, bool]]:
    """Issue these completed enrollments' certificates in `db`'s transaction, each once.

    The PDFs render at once on the pool (its processes, LMS_PDF_WORKERS, set the pace);
    each pair says whether the certificate was issued now or already stood.
    """
    drafts = [await draft(db, settings, p.enrollment, p.learner) for p in people]
    pdfs = await asyncio.gather(*(render(printed_fields(c, settings.zone)) for c in drafts))
    issued: list[tuple[Certificate, bool]] = []
    for person, certificate, data in zip(people, drafts, pdfs, strict=True):
        attach_pdf(certificate, data)
        if not await add_once(db, certificate):
            # Issued by another request or a bulk run a moment ago: that one stands.
            found = await find_current(db, person.enrollment.id)
            if found is None:
                raise Conflict("The certificate could not be saved; try again.")
            issued.append((found, False))
            continue
        audit.record(
            db,
            by,
            "certificate.issue",
            "certificate",
            certificate.serial,
            after={"enrollment_id": person.enrollment.id, "learner": person.learner.name},
        )
        # In this transaction: the notice goes out exactly when the certificate exists.
        await queue_issued_notice(db, settings, certificate)
        issued.append((certificate, True))
    return issued


async def issue_if_automatic(
    db: AsyncSession, settings: Settings, enrollment: Enrollment
) -> Certificate | None:
    """Called when a course is completed: courses with `issue: automatic` issue at once."""
    if enrollment.status != COMPLETED:
        return None
    course = await catalog.get_definition(db, enrollment.version_id)
    if course.certificate.issue != "automatic":
        return None
    certificate, _ = await issue(db, settings, enrollment)
    return certificate


async def reissue(db: AsyncSession, settings: Settings, old: Certificate, by: User) -> Certificate:
    """A new serial with the learner's current name; the old one shows as superseded."""
    if not old.is_current or old.revoked_at is not None:
        raise Conflict("Only the current, unrevoked certificate can be reissued.")
    enrollment = await db.get(Enrollment, old.enrollment_id)
    learner = await db.get(User, old.user_id)
    assert enrollment is not None and learner is not None
    new = await draft(db, settings, enrollment, learner, old.expires_at, keep_expiry=True)
    attach_pdf(new, await pdf.render_async(printed_fields(new, settings.zone)))
    old.is_current = False
    old.superseded_at = new.issued_at
    await db.flush()
    db.add(new)
    await db.flush()
    old.superseded_by_id = new.id
    audit.record(
        db,
        by,
        "certificate.reissue",
        "certificate",
        old.serial,
        before={"serial": old.serial, "learner_name": old.learner_name},
        after={"serial": new.serial, "learner_name": new.learner_name},
    )
    await queue_issued_notice(db, settings, new)
    return new


async def revoke(db: AsyncSession, certificate: Certificate, reason: str, by: User) -> None:
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Give the reason for revoking; it is kept in the audit log.", "reason")
    if len(reason) > 2000:
        raise InvalidInput("Keep the reason under 2,000 characters.", "reason")
    if certificate.revoked_at is not None:
        return
    certificate.revoked_at, certificate.revoked_by_id = utcnow(), by.id
    certificate.revoke_reason = reason
    # "Your certificate is ready" must not arrive after it was revoked.
    await mail.cancel_queued(db, notice_key(certificate), "The certificate was revoked.")
    audit.record(
        db, by, "certificate.revoke", "certificate", certificate.serial, after={"reason": reason}
    )


async def find_by_serial(db: AsyncSession, raw: str) -> Certificate | None:
    serial = normalise_serial(raw)
    if serial is None:
        return None
    return await db.scalar(select(Certificate).where(Certificate.serial == serial))


async def get_by_serial(db: AsyncSession, raw: str) -> Certificate:
    found = await find_by_serial(db, raw)
    if found is None:
        raise NotFound("There is no certificate with that serial.")
    return found


def public_record(
    certificate: Certificate, zone: tzinfo, now: datetime | None = None
) -> dict[str, Any]:
    """What anyone may learn by serial: the status and every printed field, nothing more."""
    now = now or utcnow()
    status = certificate.status(now)
    record: dict[str, Any] = {"status": status, **printed_fields(certificate, zone)}
    record["hours"] = certificate.hours
    # Printed for the holder and their board, not told to anyone who has the serial.
    record.pop("license_type"), record.pop("license_number")
    if status == "revoked":
        record["revoked_on"] = times.long_date(certificate.revoked_at, zone)
    if status == "superseded":
        record["superseded_on"] = times.long_date(certificate.superseded_at, zone)
    return record


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def matches(certificate: Certificate, data: bytes) -> bool:
    return file_digest(data) == certificate.sha256


def is_sha256(text: str) -> bool:
    """A SHA-256 as `file_digest` writes it: 64 lower-case hex digits."""
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


async def may_download(db: AsyncSession, user: User, certificate: Certificate) -> bool:
    """The learner, admins, and the trainers of a cohort the learner belongs to."""
    if user.is_admin or user.id == certificate.user_id:
        return True
    if not user.is_trainer:
        return False
    query = select(
        exists().where(
            CohortTrainer.user_id == user.id,
            CohortMember.cohort_id == CohortTrainer.cohort_id,
            CohortMember.user_id == certificate.user_id,
        )
    )
    return bool(await db.scalar(query))


async def get_for_download(db: AsyncSession, user: User, raw: str, zone: tzinfo) -> Certificate:
    """The certificate's PDF may go to this person: a revoked one only to admins, for the record."""
    certificate = await find_by_serial(db, raw)
    # Someone else's certificate looks exactly like a missing one.
    if certificate is None or not await may_download(db, user, certificate):
        raise NotFound("There is no certificate with that serial.")
    if certificate.revoked_at is not None and not user.is_admin:
        raise Gone(
            f"Certificate {certificate.serial} was revoked on "
            f"{times.long_date(certificate.revoked_at, zone)}, so it is no longer a valid "
            "document and cannot be downloaded. Its verification page says so to anyone "
            "who checks. Ask your training administrator if you think this is wrong."
        )
    return certificate


def archive_name(document: Certificate | Transcript) -> str:
    """`Last-First-SERIAL.pdf`: sorts by surname in a folder; ASCII letters, digits, hyphens."""
    words = []
    for word in document.learner_name.split():
        ascii_word = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()
        cleaned = re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9-]", "", ascii_word)).strip("-")
        if cleaned:
            words.append(cleaned)
    name = "-".join(words[-1:] + words[:-1]) or "Learner"
    return f"{name}-{document.serial}.pdf"


def for_archive(certificates: Sequence[Certificate], everything: bool) -> list[Certificate]:
    """A ZIP holds the valid certificates; revoked and superseded ones only when asked for."""
    if everything:
        return list(certificates)
    return [c for c in certificates if c.revoked_at is None and c.superseded_at is None]


async def pdf_of(db: AsyncSession, certificate: Certificate) -> bytes:
    data = await db.scalar(select(Certificate.pdf).where(Certificate.id == certificate.id))
    assert data is not None
    return data


async def certificates_of(db: AsyncSession, user_id: int) -> list[Certificate]:
    query = (
        select(Certificate)
        .where(Certificate.user_id == user_id, Certificate.is_current.is_(True))
        .order_by(Certificate.issued_at.desc())
    )
    return list((await db.scalars(query)).all())


async def expiring(
    db: AsyncSession, days: int = EXPIRING_DAYS, user_id: int | None = None
) -> list[Certificate]:
    now = utcnow()
    query = select(Certificate).where(
        Certificate.is_current.is_(True),
        Certificate.revoked_at.is_(None),
        Certificate.expires_at.is_not(None),
        Certificate.expires_at <= now + timedelta(days=days),
    )
    if user_id is not None:
        query = query.where(Certificate.user_id == user_id, Certificate.expires_at > now)
    return list((await db.scalars(query.order_by(Certificate.expires_at))).all())


def expiring_among(
    held: list[Certificate], now: datetime, days: int = EXPIRING_DAYS
) -> list[Certificate]:
    """What `expiring(db, days, user_id)` finds, picked from that person's certificates."""
    soon = [
        c
        for c in held
        if c.is_current
        and c.revoked_at is None
        and c.expires_at is not None
        and now < c.expires_at <= now + timedelta(days=days)
    ]
    return sorted(soon, key=lambda c: c.expires_at or now)


async def eligible(
    db: AsyncSession,
    course: Course,
    enrollment_ids: list[int] | None = None,
    cohort_id: int | None = None,
) -> list[Eligible]:
    """Completed enrollments of a course that have no current certificate (in a cohort)."""
    query = (
        select(Enrollment, User)
        .join(User, User.id == Enrollment.user_id)
        .outerjoin(
            Certificate,
            and_(Certificate.enrollment_id == Enrollment.id, Certificate.is_current.is_(True)),
        )
        .where(
            Enrollment.course_id == course.id,
            Enrollment.status == COMPLETED,
            Certificate.id.is_(None),
        )
        .order_by(Enrollment.completed_at, Enrollment.id)
    )
    if enrollment_ids is not None:
        query = query.where(Enrollment.id.in_(enrollment_ids))
    if cohort_id is not None:
        members = select(CohortMember.user_id).where(CohortMember.cohort_id == cohort_id)
        query = query.where(Enrollment.user_id.in_(members))
    return [Eligible(e, u) for e, u in (await db.execute(query)).all()]


async def search(
    db: AsyncSession, course_slug: str = "", status: str = "", text: str = "", limit: int = 500
) -> list[Certificate]:
    query = select(Certificate).order_by(Certificate.issued_at.desc())
    if course_slug:
        query = query.where(Certificate.course_slug == course_slug)
    if text.strip():
        pattern = f"%{text.strip().lower()}%"
        query = query.where(
            Certificate.learner_name.ilike(pattern) | Certificate.serial.ilike(pattern)
        )
    found = list((await db.scalars(query.limit(limit))).all())
    if status:
        now = utcnow()
        found = [c for c in found if c.status(now) == status]
    return found


@dataclass
class BulkResult:
    issued: int = 0
    already: int = 0


async def bulk_issue(
    sessionmaker: Any,
    settings: Settings,
    course_slug: str,
    cohort_id: int | None = None,
    chunk: int = 16,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> BulkResult:
    """Issue every missing certificate of a course, a chunk per transaction.

    Stopped half way and run again, it issues each certificate exactly once: a chunk is
    either committed whole or not at all, and the current-certificate index refuses doubles.
    """
    result = BulkResult()
    async with sessionmaker() as db:
        course = await catalog.get_course(db, course_slug)
        todo = [e.enrollment.id for e in await eligible(db, course, cohort_id=cohort_id)]
        scope = [Enrollment.course_id == course.id, Enrollment.status == COMPLETED]
        if cohort_id is not None:
            members = select(CohortMember.user_id).where(CohortMember.cohort_id == cohort_id)
            scope.append(Enrollment.user_id.in_(members))
        completed = await db.scalar(select(func.count()).select_from(Enrollment).where(*scope))
        completed = completed or 0
    result.already = completed - len(todo)
    if on_total:
        on_total(len(todo))
    for start in range(0, len(todo), chunk):
        ids = todo[start : start + chunk]
        async with sessionmaker() as db, db.begin():
            rows = await db.execute(
                select(Enrollment, User)
                .join(User, User.id == Enrollment.user_id)
                .where(Enrollment.id.in_(ids))
            )
            people = [Eligible(e, u) for e, u in rows.all()]
            for _, created in await issue_many(db, settings, people):
                result.issued += created
                result.already += not created  # issued meanwhile by someone else
        if progress:
            progress(len(ids))
    return result


def notice_key(certificate: Certificate) -> str:
    return f"certificate:{certificate.serial}"


async def queue_issued_notice(
    db: AsyncSession, settings: Settings, certificate: Certificate
) -> OutboxMessage | None:
    """Tell the learner their certificate is ready, with its public verification link."""
    learner = await db.get(User, certificate.user_id)
    if learner is None or not learner.active:
        return None
    rendered = mail.render(
        settings,
        "certificate_issued",
        f"Your certificate for {certificate.course_title}",
        name=certificate.learner_name,
        course_title=certificate.course_title,
        serial=certificate.serial,
        verify_url=certificate.verify_url,
        hours=certificate.hours,
        expires_at=certificate.expires_at,
        my_learning=f"{settings.base_url}/",
    )
    return await mail.queue(
        db,
        "certificate_issued",
        learner,
        rendered,
        dedupe_key=notice_key(certificate),
        enrollment_id=certificate.enrollment_id,
    )
