"""Certificate pages: download, public verification, and the admin pages to issue and revoke."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from lms.accounts.models import User
from lms.auth import requires, signed_in
from lms.catalog import service as catalog
from lms.certificates import service
from lms.certificates.models import Certificate
from lms.cohorts import service as cohorts
from lms.db import utcnow
from lms.errors import DomainError, NotFound
from lms.forms import parse_id, read_fields, read_upload
from lms.inject import DB, AppSettings
from lms.links import Link
from lms.pages import confirm_page, page, redirect_to
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
    certificate = await service.find_by_serial(db, serial)
    if certificate is None:
        raise NotFound("There is no certificate with that serial. Check it against the PDF.")
    result = "no-file" if checked == "no-file" else None
    if service.is_sha256(checked):
        result = "match" if checked == certificate.sha256 else "mismatch"
    return page(
        "certificates/verify.html",
        status_code,
        record=service.public_record(certificate, settings.zone),
        result=result,
        checked=checked[:12],
    )


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
    certificate = await service.find_by_serial(db, serial)
    if certificate is None:
        raise NotFound("There is no certificate with that serial.")
    await read_fields(request)  # no text to read, but every form's fields are checked
    upload = await read_upload(request, "file")
    if upload is None:
        return await _verify_page(db, settings, serial, "no-file", 400)
    checked = service.file_digest(upload.content)
    return redirect_to("certificates.verify", query={"file": checked}, serial=certificate.serial)


@get("/api/verify/{serial:str}", name="certificates.verify_api")
async def verify_api(db: DB, settings: AppSettings, serial: FromPath[str]) -> dict[str, Any]:
    certificate = await service.find_by_serial(db, serial)
    if certificate is None:
        raise NotFound("There is no certificate with that serial.")
    return service.public_record(certificate, settings.zone)


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
    ],
)
