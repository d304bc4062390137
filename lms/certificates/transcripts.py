"""Training transcripts: a person's completed courses with their hours, CE hours and
certificates, as a page, a CSV, and a PDF with its own serial that anyone can verify at the
address certificates use."""

from __future__ import annotations

import asyncio
import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms import audit, times
from lms.accounts.models import County, User
from lms.catalog.models import CourseVersion
from lms.certificates import pdf
from lms.certificates.models import Certificate, Transcript
from lms.certificates.service import archive_name, new_serial, normalise_serial
from lms.db import utcnow
from lms.forms import Fields, parse_id, required_id
from lms.learning.models import COMPLETED, Enrollment
from lms.settings import SITE_NAME, Settings


@dataclass(frozen=True)
class Line:
    """One completed course on a transcript."""

    course: str
    version: str
    completed_on: str  # the academy's day, ISO 8601
    hours: float
    ce_hours: float | None
    serial: str | None  # the current certificate's, if one was issued
    status: str | None  # valid, expired, revoked, superseded


async def lines_of(db: AsyncSession, user_id: int, now: datetime, zone: tzinfo) -> list[Line]:
    """The person's completed courses, oldest first, with their current certificates (one
    statement)."""
    rows = await db.execute(
        select(
            Enrollment.completed_at,
            CourseVersion.title,
            CourseVersion.label,
            CourseVersion.hours,
            Certificate,
        )
        .join(CourseVersion, CourseVersion.id == Enrollment.version_id)
        .outerjoin(
            Certificate,
            and_(Certificate.enrollment_id == Enrollment.id, Certificate.is_current.is_(True)),
        )
        .where(Enrollment.user_id == user_id, Enrollment.status == COMPLETED)
        .order_by(Enrollment.completed_at, Enrollment.id)
    )
    return [
        Line(
            course=title,
            version=label,
            completed_on=times.local_date(completed_at, zone).isoformat() if completed_at else "",
            hours=hours,
            ce_hours=certificate.ce_hours if certificate else None,
            serial=certificate.serial if certificate else None,
            status=certificate.status(now) if certificate else None,
        )
        for completed_at, title, label, hours, certificate in rows
    ]


def totals(lines: Sequence[Line]) -> tuple[float, float]:
    """Training hours and CE hours, counting only courses whose certificate still holds (a
    revoked certificate's hours are not claimed; a course without one counts its hours)."""
    counted = [line for line in lines if line.status not in ("revoked",)]
    return (
        sum(line.hours for line in counted),
        sum(line.ce_hours or 0 for line in counted if line.status in ("valid", "expired")),
    )


def table(lines: Sequence[Line]) -> tuple[list[str], list[list[Any]]]:
    """The transcript as an export table (CSV or XLSX)."""
    header = ["Course", "Version", "Completed", "Hours", "CE hours", "Certificate", "Status"]
    return header, [
        [
            line.course,
            line.version,
            line.completed_on,
            line.hours,
            line.ce_hours,
            line.serial,
            line.status,
        ]
        for line in lines
    ]


async def county_names(db: AsyncSession, user_ids: Sequence[int]) -> dict[int, str]:
    """Each person's county (by query: the signed-in person's county is not loaded)."""
    rows = await db.execute(
        select(User.id, County.name)
        .join(County, County.id == User.county_id)
        .where(User.id.in_(user_ids))
    )
    return dict(rows.all())


def printed_fields(
    transcript: Transcript, person: User, county: str, zone: tzinfo
) -> dict[str, Any]:
    return {
        "issuer": SITE_NAME,
        "learner_name": transcript.learner_name,
        "county": county,
        "license_type": person.license_type,
        "license_number": person.license_number,
        "issued_on": times.long_date(transcript.issued_at, zone),
        "serial": transcript.serial,
        "lines": [
            {**line, "completed_on": times.long_date(_day(line["completed_on"]), zone)}
            for line in transcript.lines
        ],
        "total_hours": transcript.total_hours,
        "total_ce_hours": transcript.total_ce_hours,
        "verify_url": transcript.verify_url,
    }


def _day(iso: str) -> date | None:
    return date.fromisoformat(iso) if iso else None


async def issue_many(
    db: AsyncSession, settings: Settings, people: Sequence[User], by: User | None
) -> list[Transcript]:
    """A transcript for each person, as things stand: the PDFs render at once on the pool;
    each is stored, so its serial verifies what it said on the day. Audited."""
    now = utcnow()
    drafts = []
    for person in people:
        lines = await lines_of(db, person.id, now, settings.zone)
        hours, ce_hours = totals(lines)
        serial = new_serial()
        drafts.append(
            (
                person,
                Transcript(
                    serial=serial,
                    user_id=person.id,
                    learner_name=person.name,
                    lines=[asdict(line) for line in lines],
                    total_hours=hours,
                    total_ce_hours=ce_hours,
                    verify_url=f"{settings.base_url}/verify/{serial}",
                    issued_at=now,
                    issued_by_id=by.id if by else None,
                ),
            )
        )
    counties = await county_names(db, [person.id for person in people])
    rendered = await asyncio.gather(
        *(
            pdf.render_async(
                printed_fields(t, person, counties.get(person.id, ""), settings.zone),
                "transcript",
            )
            for person, t in drafts
        )
    )
    for (person, transcript), data in zip(drafts, rendered, strict=True):
        transcript.pdf, transcript.sha256 = data, hashlib.sha256(data).hexdigest()
        db.add(transcript)
        audit.record(
            db, by, "transcript.issue", "user", person.id, None, {"serial": transcript.serial}
        )
    await db.flush()
    return [t for _, t in drafts]


async def find_by_serial(db: AsyncSession, raw: str) -> Transcript | None:
    serial = normalise_serial(raw)
    if serial is None:
        return None
    return await db.scalar(select(Transcript).where(Transcript.serial == serial))


def public_record(transcript: Transcript, zone: tzinfo) -> dict[str, Any]:
    """What anyone may learn by the transcript's serial: what it printed, nothing more."""
    return {
        "kind": "transcript",
        "serial": transcript.serial,
        "learner_name": transcript.learner_name,
        "issued_on": times.long_date(transcript.issued_at, zone),
        "lines": transcript.lines,
        "total_hours": transcript.total_hours,
        "total_ce_hours": transcript.total_ce_hours,
        "verify_url": transcript.verify_url,
    }


async def pdf_of(db: AsyncSession, transcript: Transcript) -> bytes:
    data = await db.scalar(select(Transcript.pdf).where(Transcript.id == transcript.id))
    assert data is not None
    return data


def archive(transcripts: Sequence[Transcript], pdfs: Sequence[bytes]) -> bytes:
    """A ZIP of transcripts, each named as certificates are: Last-First-SERIAL.pdf."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zipped:
        for transcript, data in zip(transcripts, pdfs, strict=True):
            zipped.writestr(archive_name(transcript), data)
    return buffer.getvalue()


async def issued_for(db: AsyncSession, user_id: int) -> list[Transcript]:
    """The transcripts issued to this person, newest first (without their PDFs)."""
    rows = await db.scalars(
        select(Transcript)
        .where(Transcript.user_id == user_id)
        .order_by(Transcript.issued_at.desc(), Transcript.id.desc())
        .limit(20)
    )
    return list(rows.all())


async def counties(db: AsyncSession) -> list[County]:
    return list((await db.scalars(select(County).order_by(County.name))).all())


async def people_of_county(db: AsyncSession, county_id: int) -> list[User]:
    """Everyone of a county, deactivated people too: their records are kept and reported."""
    rows = await db.scalars(
        select(User).where(User.county_id == county_id).order_by(User.name, User.id)
    )
    return list(rows.unique().all())


@dataclass(frozen=True)
class CountyForm:
    county_id: int

    @classmethod
    def from_form(cls, data: Fields) -> CountyForm:
        return cls(required_id(data, "county", "Choose a county from the list."))


async def batch(db: AsyncSession, county: str, at: str) -> list[Transcript]:
    """The transcripts issued together for a county's people at `at` (ISO time); [] for
    anything that names no batch."""
    county_id = parse_id(county)
    try:
        moment = datetime.fromisoformat(at) if at else None
    except ValueError:
        moment = None
    if county_id is None or moment is None:
        return []
    rows = await db.scalars(
        select(Transcript)
        .join(User, User.id == Transcript.user_id)
        .where(User.county_id == county_id, Transcript.issued_at == moment)
        .order_by(Transcript.learner_name, Transcript.id)
    )
    return list(rows.all())


# --- continuing education ---------------------------------------------------------------

# What a license needs each renewal cycle: (CE hours, hours in named categories). A licensed
# clinical social worker renews every 2 years with 36 CE hours, 6 of them law and ethics
# (issue 18, from the Board of Behavioral Sciences). Other license types show their hours
# without a target until their rule is written here.
CE_RULES: dict[str, tuple[float, dict[str, float]]] = {
    "LCSW": (36, {"Law and ethics": 6}),
}
CYCLE_MONTHS = 24


@dataclass(frozen=True)
class CeCycle:
    """A license's renewal cycle: the CE earned in it, by category, against the rule."""

    starts: date
    ends: date  # the license's expiry
    lines: list[Line]
    hours: float
    by_category: dict[str, float]
    needed: float | None
    needed_by_category: dict[str, float]

    @property
    def short(self) -> float:
        return max(0.0, (self.needed or 0) - self.hours)


async def ce_cycle(db: AsyncSession, person: User, now: datetime, zone: tzinfo) -> CeCycle | None:
    """The CE in the person's current renewal cycle (the two years to their license expiry),
    or None without a license expiry on record. Only valid or expired certificates count."""
    if person.license_expires is None:
        return None
    ends = person.license_expires
    starts = times.add_months(ends, -CYCLE_MONTHS)
    rows = await db.execute(
        select(Certificate, CourseVersion.label)
        .join(Enrollment, Enrollment.id == Certificate.enrollment_id)
        .join(CourseVersion, CourseVersion.id == Enrollment.version_id)
        .where(
            Certificate.user_id == person.id,
            Certificate.is_current.is_(True),
            Certificate.ce_hours.is_not(None),
        )
        .order_by(Certificate.completed_at)
    )
    lines: list[Line] = []
    by_category: dict[str, float] = {}
    for certificate, label in rows:
        day = times.local_date(certificate.completed_at, zone)
        if not starts < day <= ends or certificate.status(now) not in ("valid", "expired"):
            continue
        lines.append(
            Line(
                certificate.course_title,
                label,
                day.isoformat(),
                certificate.hours,
                certificate.ce_hours,
                certificate.serial,
                certificate.status(now),
            )
        )
        for category in certificate.ce_categories or []:
            name = str(category["name"])
            by_category[name] = by_category.get(name, 0) + float(category["hours"])
    rule = CE_RULES.get((person.license_type or "").upper())
    return CeCycle(
        starts=starts,
        ends=ends,
        lines=lines,
        hours=sum(line.ce_hours or 0 for line in lines),
        by_category=by_category,
        needed=rule[0] if rule else None,
        needed_by_category=rule[1] if rule else {},
    )


def ce_fields(cycle: CeCycle, person: User, settings: Settings) -> dict[str, Any]:
    zone = settings.zone
    return {
        "issuer": SITE_NAME,
        "learner_name": person.name,
        "license_type": person.license_type,
        "license_number": person.license_number,
        "starts": times.long_date(cycle.starts, zone),
        "ends": times.long_date(cycle.ends, zone),
        "hours": cycle.hours,
        "needed": cycle.needed,
        "categories": sorted(cycle.by_category.items()),
        "needed_by_category": cycle.needed_by_category,
        "lines": [
            {**asdict(line), "completed_on": times.long_date(_day(line.completed_on), zone)}
            for line in cycle.lines
        ],
        "verify_url": f"{settings.base_url}/verify",
    }


@dataclass(frozen=True)
class RosterLine:
    learner: str
    email: str
    license_type: str
    license_number: str
    completed_on: date
    ce_hours: float
    categories: str
    serial: str
    status: str


async def ce_roster(
    db: AsyncSession,
    course_id: int,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
    zone: tzinfo,
) -> list[RosterLine]:
    """Who earned CE on a course, in a date range of completion, with license numbers: the
    attendance roster a CE provider keeps (one statement)."""
    query = (
        select(Certificate, User.email)
        .join(Enrollment, Enrollment.id == Certificate.enrollment_id)
        .join(User, User.id == Certificate.user_id)
        .where(
            Enrollment.course_id == course_id,
            Certificate.is_current.is_(True),
            Certificate.ce_hours.is_not(None),
        )
        .order_by(Certificate.completed_at, Certificate.id)
    )
    if since is not None:
        query = query.where(Certificate.completed_at >= since)
    if until is not None:
        query = query.where(Certificate.completed_at < until)
    return [
        RosterLine(
            c.learner_name,
            email,
            c.license_type or "",
            c.license_number or "",
            times.local_date(c.completed_at, zone),
            c.ce_hours or 0,
            "; ".join(f"{k['name']} {k['hours']:g}" for k in c.ce_categories or []),
            c.serial,
            c.status(now),
        )
        for c, email in await db.execute(query)
    ]


def roster_table(lines: Sequence[RosterLine]) -> tuple[list[str], list[list[Any]]]:
    header = [
        "Learner",
        "Email",
        "License type",
        "License number",
        "Completed",
        "CE hours",
        "Categories",
        "Certificate",
        "Status",
    ]
    return header, [
        [r.learner, r.email, r.license_type, r.license_number, r.completed_on, r.ce_hours]
        + [r.categories, r.serial, r.status]
        for r in lines
    ]
