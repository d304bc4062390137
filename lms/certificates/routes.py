"""Certificate pages: download, public verification, and the admin pages to issue and revoke."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from lms.accounts import service as accounts
from lms.accounts.models import User
from lms.auth import requires, signed_in
from lms.catalog import service as catalog
from lms.certificates import pdf, service, transcripts
from lms.certificates.models import Certificate, Transcript
from lms.cohorts import service as cohorts
from lms.db import utcnow
from lms.errors import DomainError, NotFound
from lms.forms import parse_id, read_fields, read_upload
from lms.inject import DB, AppSettings, PathInt
from lms.links import Link
from lms.pages import confirm_page, page, redirect_to
from lms.reports import exports
from lms.settings import Settings

Req = Request[User, Any, Any]
admin_only = [requires("admin")]
MAX_UPLOAD = 5 * 1024 * 1024


def pdf_response(data: bytes, filename: str) -> Response[bytes]:
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@get("/certificates/{serial:str}", name="certificates.download", guards=[signed_in])
async def download(
    request: Req, db: DB, settings: AppSettings, serial: FromPath[str]
) -> Response[bytes]:
    certificate = await service.get_for_download(
        db, request.user, serial.removesuffix(".pdf"), settings.zone
    )
    return pdf_response(
        await service.pdf_of(db, certificate), f"certificate-{certificate.serial}.pdf"
    )


async def _verify_page(
    db: DB, settings: Settings, serial: str, checked: str = "", status_code: int = 200
) -> Template:
    """The public record; `checked` is the SHA-256 of a file just checked ("no-file": none)."""
    document = await _document(db, serial)
    result = "no-file" if checked == "no-file" else None
    if service.is_sha256(checked):
        result = "match" if checked == document.sha256 else "mismatch"
    template = "verify_transcript" if isinstance(document, Transcript) else "verify"
    return page(
        f"certificates/{template}.html",
        status_code,
        record=_public_record(document, settings),
        result=result,
        checked=checked[:12],
    )


def _public_record(document: Certificate | Transcript, settings: Settings) -> dict[str, Any]:
    if isinstance(document, Transcript):
        return transcripts.public_record(document, settings.zone)
    return service.public_record(document, settings.zone)


async def _document(db: DB, serial: str) -> Certificate | Transcript:
    """The certificate, or else the transcript, with this serial (both verify here)."""
    found = await service.find_by_serial(db, serial) or await transcripts.find_by_serial(db, serial)
    if found is None:
        raise NotFound("There is no certificate or transcript with that serial. Check it.")
    return found


@get("/verify", name="certificates.verify_form")
async def verify_form(q: FromQuery[str] = "") -> Any:
    if q:
        serial = service.normalise_serial(q)
        if serial:
            return redirect_to("certificates.verify", serial=serial)
        return page(
            "certificates/verify_form.html",
            400,
            q=q,
            error="A serial is 16 letters and digits, like K7QH-3M9P-XW2R-T8BD.",
        )
    return page("certificates/verify_form.html", q="")


@get("/verify/{serial:str}", name="certificates.verify")
async def verify(
    db: DB, settings: AppSettings, serial: FromPath[str], file: FromQuery[str] = ""
) -> Template:
    return await _verify_page(db, settings, serial, file)


@post("/verify/{serial:str}", name="certificates.verify_file", request_max_body_size=MAX_UPLOAD)
async def verify_file(request: Req, db: DB, settings: AppSettings, serial: FromPath[str]) -> Any:
    """Check a PDF against the issued one: only its SHA-256 goes on, to the record's page."""
    certificate = await _document(db, serial)
    await read_fields(request)  # no text to read, but every form's fields are checked
    upload = await read_upload(request, "file")
    if upload is None:
        return await _verify_page(db, settings, serial, "no-file", 400)
    checked = service.file_digest(upload.content)
    return redirect_to("certificates.verify", query={"file": checked}, serial=certificate.serial)


@get("/api/verify/{serial:str}", name="certificates.verify_api")
async def verify_api(db: DB, settings: AppSettings, serial: FromPath[str]) -> dict[str, Any]:
    return _public_record(await _document(db, serial), settings)


# --- transcripts ------------------------------------------------------------------------


async def _transcript_page(request: Req, db: DB, settings: Settings, person: User) -> Template:
    lines = await transcripts.lines_of(db, person.id, utcnow(), settings.zone)
    hours, ce_hours = transcripts.totals(lines)
    return page(
        "certificates/transcript_page.html",
        person=person,
        lines=lines,
        hours=hours,
        ce_hours=ce_hours,
        issued=await transcripts.issued_for(db, person.id),
        county=(await transcripts.county_names(db, [person.id])).get(person.id, ""),
    )


@get("/people/{person_id:int}/transcript", name="certificates.transcript", guards=[signed_in])
async def transcript(
    request: Req, db: DB, settings: AppSettings, person_id: PathInt, fmt: FromQuery[str] = ""
) -> Any:
    """A person's training record, for themself, their supervisor and admins."""
    person = await accounts.readable_person(db, request.user, person_id)
    if fmt in ("csv", "xlsx"):
        lines = await transcripts.lines_of(db, person.id, utcnow(), settings.zone)
        name = f"transcript-{person.id}"
        return exports.download(name, fmt, "Transcript", *transcripts.table(lines), settings.zone)
    return await _transcript_page(request, db, settings, person)


@post(
    "/people/{person_id:int}/transcript", name="certificates.transcript_issue", guards=[signed_in]
)
async def transcript_issue(request: Req, db: DB, settings: AppSettings, person_id: PathInt) -> Any:
    """Issue a verifiable PDF of the record as it stands today."""
    person = await accounts.readable_person(db, request.user, person_id)
    await read_fields(request)
    await transcripts.issue_many(db, settings, [person], request.user)
    return redirect_to("certificates.transcript", "transcript-issued", person_id=person.id)


@get("/people/{person_id:int}/ce", name="certificates.ce_transcript", guards=[signed_in])
async def ce_transcript(
    request: Req, db: DB, settings: AppSettings, person_id: PathInt, fmt: FromQuery[str] = ""
) -> Any:
    """CE credit in the license's current renewal cycle, against what the license needs."""
    person = await accounts.readable_person(db, request.user, person_id)
    cycle = await transcripts.ce_cycle(db, person, utcnow(), settings.zone)
    if fmt == "pdf" and cycle is not None:
        fields = transcripts.ce_fields(cycle, person, settings)
        data = await pdf.render_async(fields, "ce_transcript")
        return pdf_response(data, f"ce-transcript-{cycle.ends.isoformat()}.pdf")
    return page("certificates/ce_transcript_page.html", person=person, cycle=cycle)


@get("/transcripts/{serial:str}", name="certificates.transcript_pdf", guards=[signed_in])
async def transcript_pdf(request: Req, db: DB, serial: FromPath[str]) -> Response[bytes]:
    found = await transcripts.find_by_serial(db, serial.removesuffix(".pdf"))
    if found is None:
        raise NotFound("There is no transcript with that serial.")
    await accounts.readable_person(db, request.user, found.user_id)
    return pdf_response(await transcripts.pdf_of(db, found), service.archive_name(found))


@get("/admin/certificates", name="certificates.admin", guards=admin_only)
async def admin_list(
    db: DB,
    course: FromQuery[str] = "",
    status: FromQuery[str] = "",
    q: FromQuery[str] = "",
    cohort: FromQuery[str] = "",
) -> Template:
    courses = await catalog.current_definitions(db)
    cohort_id = parse_id(cohort)
    eligible = {}
    for c, definition in courses:
        found = await service.eligible(db, c, cohort_id=cohort_id)
        if found:
            eligible[c.slug] = (definition, found)
    return page(
        "certificates/admin_list.html",
        certificates=await service.search(db, course, status, q),
        courses=courses,
        eligible=eligible,
        course=course,
        status=status,
        q=q,
        cohort=cohort,
        cohorts=await cohorts.all_cohorts(db),
        now=utcnow(),
    )


@post("/admin/certificates/issue", name="certificates.admin_issue", guards=admin_only)
async def admin_issue(request: Req, db: DB, settings: AppSettings) -> Any:
    form = service.IssueForm.from_form(await read_fields(request))
    course = await catalog.get_course(db, form.course)
    if not form.everyone and not form.enrollment_ids:
        back = {"course": course.slug, "cohort": str(form.cohort_id or "")}
        return redirect_to("certificates.admin", "nothing-selected-to-issue", query=back)
    chosen = None if form.everyone else list(form.enrollment_ids)
    people = await service.eligible(db, course, chosen, form.cohort_id)
    await service.issue_many(db, settings, people, request.user)
    return redirect_to("certificates.admin", "certificates-issued", query={"course": course.slug})


@post("/admin/certificates/zip", name="certificates.admin_zip", guards=admin_only, status_code=200)
async def admin_zip(request: Req, db: DB) -> Response[bytes]:
    form = service.DownloadForm.from_form(await read_fields(request))
    if not form.serials:
        return redirect_to("certificates.admin", "nothing-selected-to-download")
    chosen = [await service.get_by_serial(db, raw) for raw in form.serials]
    certificates = service.for_archive(chosen, form.everything)
    if not certificates:
        return redirect_to("certificates.admin", "only-invalid-selected")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for certificate in certificates:
            name = f"{certificate.course_slug}/{service.archive_name(certificate)}"
            archive.writestr(name, await service.pdf_of(db, certificate))
    return Response(
        buffer.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="certificates.zip"'},
    )


@get("/admin/certificates/expiring", name="certificates.admin_expiring", guards=admin_only)
async def admin_expiring(db: DB) -> Template:
    return page(
        "certificates/admin_expiring.html",
        certificates=await service.expiring(db),
        now=utcnow(),
        days=service.EXPIRING_DAYS,
    )


@get("/admin/certificates/{serial:str}", name="certificates.admin_detail", guards=admin_only)
async def admin_detail(db: DB, settings: AppSettings, serial: FromPath[str]) -> Template:
    certificate = await service.get_by_serial(db, serial)
    return page(
        "certificates/admin_detail.html",
        certificate=certificate,
        record=service.public_record(certificate, settings.zone),
    )


def _revoke_confirmation(certificate: Certificate, error: str = "") -> Template:
    return confirm_page(
        title="Revoke a certificate",
        question=f"Revoke certificate {certificate.serial} of {certificate.learner_name} "
        f"({certificate.course_title})?",
        consequence="Its public verification page will say it is revoked, and it can no longer "
        "be downloaded. This cannot be undone; a new certificate can be issued later.",
        action=Link("certificates.revoke", {"serial": certificate.serial}),
        button="Revoke this certificate",
        cancel=Link("certificates.admin_detail", {"serial": certificate.serial}),
        reason_label="Reason (kept in the audit log, never shown publicly)",
        error=error,
    )


@get(
    "/admin/certificates/{serial:str}/revoke", name="certificates.revoke_confirm", guards=admin_only
)
async def admin_revoke_confirm(db: DB, serial: FromPath[str]) -> Template:
    return _revoke_confirmation(await service.get_by_serial(db, serial))


@post("/admin/certificates/{serial:str}/revoke", name="certificates.revoke", guards=admin_only)
async def admin_revoke(request: Req, db: DB, serial: FromPath[str]) -> Any:
    certificate = await service.get_by_serial(db, serial)
    form = service.RevokeForm.from_form(await read_fields(request, multiline=("reason",)))
    if not form.confirmed:
        return redirect_to("certificates.revoke_confirm", serial=certificate.serial)
    try:
        await service.revoke(db, certificate, form.reason, request.user)
    except DomainError as exc:
        return _revoke_confirmation(certificate, str(exc))
    return redirect_to(
        "certificates.admin_detail", "certificate-revoked", serial=certificate.serial
    )


@post("/admin/certificates/{serial:str}/reissue", name="certificates.reissue", guards=admin_only)
async def admin_reissue(request: Req, db: DB, settings: AppSettings, serial: FromPath[str]) -> Any:
    certificate = await service.get_by_serial(db, serial)
    new = await service.reissue(db, settings, certificate, request.user)
    return redirect_to("certificates.admin_detail", "certificate-reissued", serial=new.serial)


@get("/admin/transcripts", name="certificates.admin_transcripts", guards=admin_only)
async def admin_transcripts(
    db: DB, county: FromQuery[str] = "", at: FromQuery[str] = ""
) -> Template:
    """Issue a county's transcripts; after that, the link to their ZIP."""
    batch = await transcripts.batch(db, county, at)
    return page(
        "certificates/admin_transcripts.html",
        counties=await transcripts.counties(db),
        batch=batch,
        county=county,
        at=at,
    )


@post("/admin/transcripts", name="certificates.admin_transcripts_issue", guards=admin_only)
async def admin_transcripts_issue(request: Req, db: DB, settings: AppSettings) -> Any:
    """A new verifiable transcript for everyone of one county (deactivated people too: their
    records are kept), issued at one moment, which names the batch for its ZIP."""
    form = transcripts.CountyForm.from_form(await read_fields(request))
    people = await transcripts.people_of_county(db, form.county_id)
    if not people:
        return redirect_to("certificates.admin_transcripts", "nobody-in-county")
    issued = await transcripts.issue_many(db, settings, people, request.user)
    query = {"county": str(form.county_id), "at": issued[0].issued_at.isoformat()}
    return redirect_to("certificates.admin_transcripts", "transcripts-issued", query=query)


@get("/admin/transcripts/zip", name="certificates.admin_transcripts_zip", guards=admin_only)
async def admin_transcripts_zip(
    db: DB, county: FromQuery[str] = "", at: FromQuery[str] = ""
) -> Response[bytes]:
    batch = await transcripts.batch(db, county, at)
    if not batch:
        raise NotFound("There is no such batch of transcripts.")
    data = transcripts.archive(batch, [await transcripts.pdf_of(db, t) for t in batch])
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="transcripts.zip"'},
    )


router = Router(
    path="/",
    route_handlers=[
        download,
        verify_form,
        verify,
        verify_file,
        verify_api,
        admin_list,
        admin_issue,
        admin_zip,
        admin_expiring,
        admin_detail,
        admin_revoke_confirm,
        admin_revoke,
        admin_reissue,
        transcript,
        transcript_issue,
        transcript_pdf,
        ce_transcript,
        admin_transcripts,
        admin_transcripts_issue,
        admin_transcripts_zip,
    ],
)
