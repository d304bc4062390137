"""Certificates: issue, PDF contents, verification, revocation, reissue, expiry, bulk, access."""

from __future__ import annotations

import asyncio
import io
import re
import socket
import zipfile
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from lms import times
from lms.accounts.models import User
from lms.audit import AuditEvent
from lms.catalog.models import Course
from lms.certificates import pdf, service
from lms.certificates.models import Certificate
from lms.db import utcnow
from lms.learning import service as learning
from lms.mail.models import OutboxMessage
from tests.conftest import csrf_token, make_person, post, sign_in
from tests.course_factory import COURSE_YAML

ADMIN_ISSUED = COURSE_YAML.replace(
    "certificate:\n  issuer: Test Academy\n",
    "certificate:\n  issuer: Test Academy\n  issue: admin\n  valid_for_months: 24\n"
    "  signatory_name: Dr. Ana Ruiz\n  signatory_title: Director\n",
).replace("title: Test Course", "title: Supervising Safety")


def qr_link(data: bytes) -> str:
    """Decode the QR code printed on a certificate PDF."""
    import zxingcpp
    from PIL import Image

    (image,) = PdfReader(io.BytesIO(data)).pages[0].images
    picture = image.image.convert("L")
    picture = picture.resize((picture.width * 8, picture.height * 8), Image.NEAREST)
    (found,) = zxingcpp.read_barcodes(picture)
    return found.text


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    return " ".join(reader.pages[0].extract_text().split())


# Loaded by the `courses` fixture in conftest.py.
COURSES = {"auto-course": {}, "admin-course": {"course.yaml": ADMIN_ISSUED}}


async def complete(db, settings, user: User, slug: str) -> None:
    """Take a person through a course with the services (fast, no pages)."""
    course = await db.scalar(select(Course).where(Course.slug == slug))
    await db.refresh(course)
    enrollment, _ = await learning.enroll(db, user, course)
    await db.flush()
    definition = await learning.catalog.get_definition(db, enrollment.version_id)
    for module in definition.modules:
        await learning.complete_module(db, settings, enrollment, module.id)
    await db.commit()


async def only_certificate(db) -> Certificate:
    (certificate,) = (await db.scalars(select(Certificate))).all()
    return certificate


async def test_completion_issues_the_certificate_and_the_pdf_prints_every_field(
    client, db, settings, courses, people
):
    await complete(db, settings, people["learner"], "auto-course")
    certificate = await only_certificate(db)
    assert certificate.is_current and certificate.expires_at is None
    assert re.fullmatch(r"([A-Z2-9]{4}-){3}[A-Z2-9]{4}", certificate.serial)
    await sign_in(client, "learner@example.org")
    home = await client.get("/")
    assert f"/certificates/{certificate.serial}.pdf" in home.text
    response = await client.get(f"/certificates/{certificate.serial}.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    text = pdf_text(response.content)
    # The academy's local dates (LMS_TIME_ZONE), which the certificate prints.
    completed = times.local_date(certificate.completed_at, settings.zone)
    issued = times.local_date(certificate.issued_at, settings.zone)
    for expected in [
        "Certificate of Completion",
        "Learner",
        "Test Course",
        "Course version 1.0",
        "2 training hours",
        f"Completed {completed:%B} {completed.day}, {completed.year}",
        f"Issued {issued:%B} {issued.day}, {issued.year}",
        "Test Academy",
        certificate.serial,
        f"http://127.0.0.1:8000/verify/{certificate.serial}",
    ]:
        assert expected in text, (expected, text)
    assert "Valid until" not in text
    assert qr_link(response.content) == f"http://127.0.0.1:8000/verify/{certificate.serial}"
    # What is downloaded later is byte for byte what was issued.
    assert service.matches(certificate, response.content)


async def test_admin_issued_course_waits_for_an_admin(client, db, settings, courses, people):
    await complete(db, settings, people["learner"], "admin-course")
    await complete(db, settings, people["learner2"], "admin-course")
    assert await db.scalar(select(func.count()).select_from(Certificate)) == 0
    await sign_in(client, "learner@example.org")
    assert "certificate to be issued by an administrator" in (await client.get("/")).text
    await sign_in(client, "admin@example.org")
    page = await client.get("/admin/certificates")
    assert "Ready to issue" in page.text and "Supervising Safety" in page.text
    enrollment_id = re.search(r'name="enrollment" value="(\d+)"', page.text).group(1)
    data = {
        "_csrf_token": csrf_token(page.text),
        "course": "admin-course",
        "enrollment": enrollment_id,
    }
    await client.post("/admin/certificates/issue", data=data)
    await client.post("/admin/certificates/issue", data=data)  # again: nothing new
    assert await db.scalar(select(func.count()).select_from(Certificate)) == 1
    await client.post("/admin/certificates/issue", data={**data, "all": "1"})
    certificates = (await db.scalars(select(Certificate))).all()
    assert len(certificates) == 2 and len({c.enrollment_id for c in certificates}) == 2
    expected_expiry = times.add_months(certificates[0].issued_at, 24)
    assert certificates[0].expires_at == expected_expiry
    text = pdf_text((await client.get(f"/certificates/{certificates[0].serial}.pdf")).content)
    assert "Valid until" in text and "Dr. Ana Ruiz" in text and "Director" in text
    issued = await db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "certificate.issue")
    )
    assert issued == 2


async def test_public_verification_page_and_json(client, db, settings, courses, people):
    await complete(db, settings, people["learner"], "auto-course")
    certificate = await only_certificate(db)
    page = await client.get(f"/verify/{certificate.serial}")
    assert page.status_code == 200
    for expected in ("Valid", "Learner", "Test Course", "Test Academy", certificate.serial):
        assert expected in page.text
    lowered = await client.get(f"/verify/{certificate.serial.lower().replace('-', '')}")
    assert lowered.status_code == 200
    api = (await client.get(f"/api/verify/{certificate.serial}")).json()
    assert api["status"] == "valid" and api["learner_name"] == "Learner"
    assert set(api) == {
        "status",
        "certificate_title",
        "learner_name",
        "course_title",
        "course_version",
        "hours",
        "completed_on",
        "issued_on",
        "expires_on",
        "issuer",
        "signatory_name",
        "signatory_title",
        "serial",
        "verify_url",
        # Continuing-education credit (none here); never the learner's license.
        "ce_hours",
        "ce_categories",
        "ce_approval",
    }
    assert "email" not in page.text.lower() or "learner@example.org" not in page.text


@pytest.mark.parametrize("serial", ["AAAA-AAAA-AAAA-AAAA", "not-a-serial", "1", "%2e%2e"])
async def test_unknown_serials_are_plain_not_found(client, serial):
    assert (await client.get(f"/verify/{serial}")).status_code == 404
    response = await client.get(f"/api/verify/{serial}")
    assert response.status_code == 404 and response.json()["status"] == 404


async def test_a_pdf_file_is_checked_against_the_one_issued(client, db, settings, courses, people):
    await complete(db, settings, people["learner"], "auto-course")
    certificate = await only_certificate(db)
    original = await service.pdf_of(db, certificate)
    page = await client.get(f"/verify/{certificate.serial}")
    token = csrf_token(page.text)
    same = await client.post(
        f"/verify/{certificate.serial}",
        data={"_csrf_token": token},
        files={"file": ("c.pdf", original, "application/pdf")},
    )
    assert "is exactly the certificate that was issued." in same.text
    edited = original[:200] + bytes([original[200] ^ 1]) + original[201:]  # one bit changed
    changed = await client.post(
        f"/verify/{certificate.serial}",
        data={"_csrf_token": token},
        files={"file": ("c.pdf", edited, "application/pdf")},
    )
    assert "is <strong>not</strong> the certificate that was issued" in changed.text
    empty = await client.post(f"/verify/{certificate.serial}", data={"_csrf_token": token})
    assert empty.status_code == 400 and "Choose a PDF file" in empty.text


async def test_revoke_shows_the_date_but_not_the_reason(client, db, settings, courses, people):
    await complete(db, settings, people["learner"], "auto-course")
    certificate = await only_certificate(db)
    await sign_in(client, "admin@example.org")
    path = f"/admin/certificates/{certificate.serial}"
    refused = await post(
        client, f"{path}/revoke", {"reason": "  ", "confirmed": "1"}, token_from=path
    )
    assert refused.status_code == 400 and "Give the reason" in refused.text
    await post(
        client,
        f"{path}/revoke",
        {"reason": "Issued by mistake: attendance forged", "confirmed": "1"},
        token_from=path,
    )
    public = await client.get(f"/verify/{certificate.serial}")
    today = times.local_date(utcnow(), settings.zone)
    assert "Revoked" in public.text and f"{today:%B} {today.day}, {today.year}" in public.text
    assert "forged" not in public.text
    assert (await client.get(f"/api/verify/{certificate.serial}")).json()["status"] == "revoked"
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "certificate.revoke"))
    assert event.after == {"reason": "Issued by mistake: attendance forged"}
    assert event.actor_id == people["admin"].id


async def test_reissue_after_a_name_correction(client, db, settings, courses, people):
    await complete(db, settings, people["learner"], "auto-course")
    old = await only_certificate(db)
    user = await db.get(User, people["learner"].id)
    user.name = "Lena Learner-Okoro"
    await db.commit()
    await sign_in(client, "admin@example.org")
    path = f"/admin/certificates/{old.serial}"
    response = await post(client, f"{path}/reissue", token_from=path)
    assert "old serial shows as superseded" in response.text
    new = await db.scalar(select(Certificate).where(Certificate.is_current.is_(True)))
    assert new.serial != old.serial and new.learner_name == "Lena Learner-Okoro"
    assert new.completed_at == old.completed_at
    assert (await client.get(f"/api/verify/{old.serial}")).json()["status"] == "superseded"
    assert (await client.get(f"/api/verify/{new.serial}")).json()["status"] == "valid"
    assert "Lena Learner-Okoro" in pdf_text(
        (await client.get(f"/certificates/{new.serial}.pdf")).content
    )


async def test_expiry_and_recertification(client, db, settings, courses, people):
    await complete(db, settings, people["learner"], "admin-course")
    await complete(db, settings, people["learner2"], "admin-course")
    course = await db.scalar(select(Course).where(Course.slug == "admin-course"))
    for item in await service.eligible(db, course):
        await service.issue(db, settings, item.enrollment)
    await db.commit()
    soon, gone = (await db.scalars(select(Certificate).order_by(Certificate.user_id))).all()
    soon.expires_at = utcnow() + timedelta(days=30)
    gone.expires_at = utcnow() - timedelta(days=1)
    await db.commit()
    assert (await client.get(f"/api/verify/{gone.serial}")).json()["status"] == "expired"
    await sign_in(client, "learner@example.org")
    home = await client.get("/")
    assert "Certificates that expire soon" in home.text and "Supervising Safety" in home.text
    await sign_in(client, "admin@example.org")
    report = await client.get("/admin/certificates/expiring")
    assert soon.serial in report.text and gone.serial in report.text and "expired" in report.text


async def test_only_the_owner_and_admins_download(client, db, settings, courses, people):
    learner = await db.get(User, people["learner"].id)
    learner.name = "Ana María D'Arcy-Quintero"
    await db.commit()
    await complete(db, settings, people["learner"], "auto-course")
    certificate = await only_certificate(db)
    path = f"/certificates/{certificate.serial}.pdf"
    for who in ("learner2", "trainer"):
        await sign_in(client, f"{who}@example.org")
        assert (await client.get(path)).status_code == 404, who
        assert (await client.get("/admin/certificates")).status_code == 403
    await sign_in(client, "admin@example.org")
    assert (await client.get(path)).status_code == 200
    page = await client.get("/admin/certificates")
    archive = await client.post(
        "/admin/certificates/zip",
        data={"_csrf_token": csrf_token(page.text), "serial": [certificate.serial]},
    )
    assert archive.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert names == [f"auto-course/DArcy-Quintero-Ana-Maria-{certificate.serial}.pdf"]


HOSTILE = [
    "<img src=http://127.0.0.1:{port}/x>",
    "{{ 7*7 }}",
    "</style><b>bold</b>",
    "Zoë D'Arcy-Ñúñez",
    "محمد عبد الله",
    "王小明",
    "A" * 200,
]


@pytest.mark.parametrize("template", HOSTILE)
async def test_names_render_as_literal_text_and_fetch_nothing(
    client, db, settings, courses, people, template
):
    while True:  # a port with "49" in it would trip the check on "{{7*7}}" below
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        if "49" not in str(port):
            break
        listener.close()
    listener.listen(1)
    listener.settimeout(0.1)
    name = template.format(port=port) if "{port}" in template else template
    user = await make_person(db, settings, "odd@example.org", name=name)
    await complete(db, settings, user, "auto-course")
    certificate = await only_certificate(db)
    data = await service.pdf_of(db, certificate)
    with pytest.raises(TimeoutError):
        listener.accept()  # nothing tried to fetch the address in the name
    listener.close()
    text = pdf_text(data)
    if name.isascii():
        assert name.replace(" ", "") in text.replace(" ", "")
    assert "49" not in text.split("Test Course")[0]
    page = await client.get(f"/verify/{certificate.serial}")
    assert "<img src=http" not in page.text and "<b>bold</b>" not in page.text


def test_the_renderer_refuses_network_addresses():
    while True:  # a port with "49" in it would trip the check on "{{7*7}}" below
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        if "49" not in str(port):
            break
        listener.close()
    listener.listen(1)
    listener.settimeout(0.1)
    from weasyprint import HTML

    fetcher = pdf.packaged_only_fetcher()
    html = f'<img src="http://127.0.0.1:{port}/x"><link rel=stylesheet href="file:///etc/passwd">'
    HTML(string=html, url_fetcher=fetcher).write_pdf()
    with pytest.raises(TimeoutError):
        listener.accept()
    listener.close()
    assert any(str(port) in url for url in fetcher.refused)


async def test_bulk_issue_stopped_half_way_issues_each_certificate_once(
    db, settings, courses, people, client
):
    from lms.db import create_engine, create_sessionmaker

    for i in range(7):
        user = await make_person(db, settings, f"bulk{i}@example.org")
        await complete(db, settings, user, "admin-course")
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)

    class Stop(Exception):
        pass

    def stop_after_first_chunk(count: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        await service.bulk_issue(
            sessionmaker, settings, "admin-course", chunk=3, progress=stop_after_first_chunk
        )
    assert await db.scalar(select(func.count()).select_from(Certificate)) == 3
    result = await service.bulk_issue(sessionmaker, settings, "admin-course", chunk=3)
    assert (result.issued, result.already) == (4, 3)
    again = await service.bulk_issue(sessionmaker, settings, "admin-course", chunk=3)
    assert (again.issued, again.already) == (0, 7)
    await engine.dispose()
    enrollments = await db.scalars(select(Certificate.enrollment_id))
    ids = list(enrollments.all())
    assert len(ids) == 7 == len(set(ids))


async def test_two_issues_at_once_make_one_certificate(db, settings, courses, people, client):
    from lms.db import create_engine, create_sessionmaker

    await complete(db, settings, people["learner"], "admin-course")
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    course = await db.scalar(select(Course).where(Course.slug == "admin-course"))
    (item,) = await service.eligible(db, course)

    async def issue_once() -> bool:
        async with sessionmaker() as session, session.begin():
            from lms.learning.models import Enrollment

            enrollment = await session.get(Enrollment, item.enrollment.id)
            _, created = await service.issue(session, settings, enrollment)
            return created

    results = await asyncio.gather(issue_once(), issue_once(), return_exceptions=True)
    await engine.dispose()
    assert await db.scalar(select(func.count()).select_from(Certificate)) == 1
    assert sum(r is True for r in results) == 1, results


def test_serials_are_random_and_well_formed():
    serials = {service.new_serial() for _ in range(2000)}
    assert len(serials) == 2000
    assert all(service.normalise_serial(s) == s for s in serials)
    assert service.normalise_serial("k7qh 3m9p xw2r t8bd") == "K7QH-3M9P-XW2R-T8BD"
    assert service.normalise_serial("O0O0-1111-IIII-AAAA") is None


def test_add_months_clamps_to_the_end_of_month():
    from datetime import datetime

    assert times.add_months(datetime(2026, 1, 31), 1) == datetime(2026, 2, 28)
    assert times.add_months(datetime(2026, 11, 30), 24) == datetime(2028, 11, 30)


async def test_bulk_issue_for_one_cohort_only(db, settings, courses, people, client):
    from lms.cohorts.models import Cohort, CohortMember
    from lms.db import create_engine, create_sessionmaker

    await complete(db, settings, people["learner"], "admin-course")
    await complete(db, settings, people["learner2"], "admin-course")
    cohort = Cohort(name="One cohort")
    db.add(cohort)
    await db.flush()
    db.add(CohortMember(cohort_id=cohort.id, user_id=people["learner"].id))
    await db.commit()
    engine = create_engine(settings.database_url)
    result = await service.bulk_issue(
        create_sessionmaker(engine), settings, "admin-course", cohort.id
    )
    await engine.dispose()
    assert (result.issued, result.already) == (1, 0)
    holders = (await db.scalars(select(Certificate.user_id))).all()
    assert holders == [people["learner"].id]


def test_certificates_command_help_mentions_cohorts():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "lms.cli", "certificates", "issue", "--help"],
        capture_output=True,
        text=True,
    )
    assert (
        result.returncode == 0 and "--cohort" in result.stdout and "exactly once" in result.stdout
    )


async def test_issue_many_renders_its_certificates_at_once(db, settings, courses, people, client):
    """The admin's "issue to everyone" and the CLI share issue_many, which renders concurrently."""
    for i in range(4):
        await complete(
            db, settings, await make_person(db, settings, f"many{i}@example.org"), "admin-course"
        )
    course = await db.scalar(select(Course).where(Course.slug == "admin-course"))
    rendering = 0
    most_at_once = 0

    async def slow_render(fields: dict) -> bytes:
        nonlocal rendering, most_at_once
        rendering += 1
        most_at_once = max(most_at_once, rendering)
        await asyncio.sleep(0.05)
        rendering -= 1
        return await pdf.render_async(fields)

    completed = await service.eligible(db, course)
    issued = await service.issue_many(db, settings, completed, people["admin"], slow_render)
    await db.commit()
    assert [created for _, created in issued] == [True] * 4
    assert most_at_once == 4
    # The same people again (a second admin's stale page): the first certificates stand.
    again = await service.issue_many(db, settings, completed, people["admin"])
    await db.commit()
    assert [(c.serial, created) for c, created in again] == [(c.serial, False) for c, _ in issued]
    assert await db.scalar(select(func.count()).select_from(Certificate)) == 4


async def test_a_revoked_certificate_is_not_handed_out_and_its_notice_is_never_sent(
    client, db, settings, courses, people
):
    await complete(db, settings, people["learner"], "auto-course")
    certificate = await only_certificate(db)
    notice = await db.scalar(
        select(OutboxMessage).where(OutboxMessage.kind == "certificate_issued")
    )
    assert notice.status == "queued"
    path = f"/certificates/{certificate.serial}.pdf"
    await sign_in(client, "learner@example.org")
    original = (await client.get(path)).content
    assert original.startswith(b"%PDF")

    await sign_in(client, "admin@example.org")
    detail = f"/admin/certificates/{certificate.serial}"
    await post(
        client,
        f"{detail}/revoke",
        {"reason": "Issued in error", "confirmed": "1"},
        token_from=detail,
    )
    await db.refresh(notice)
    assert notice.status == "cancelled" and notice.last_error == "The certificate was revoked."
    assert (await client.get(path)).content == original  # admins keep the record
    page = await client.get("/admin/certificates")
    refused = await client.post(
        "/admin/certificates/zip",
        data={"_csrf_token": csrf_token(page.text), "serial": [certificate.serial]},
    )
    assert refused.status_code == 200 and "revoked or superseded" in refused.text
    archive = await client.post(
        "/admin/certificates/zip",
        data={
            "_csrf_token": csrf_token(page.text),
            "serial": [certificate.serial],
            "include_invalid": "1",
        },
    )
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert names == [f"auto-course/Learner-{certificate.serial}.pdf"]

    await sign_in(client, "learner@example.org")
    gone = await client.get(path)
    assert gone.status_code == 410 and b"%PDF" not in gone.content
    today = times.local_date(utcnow(), settings.zone)
    assert f"was revoked on {today:%B} {today.day}, {today.year}" in gone.text
    home = await client.get("/")
    assert "certificate revoked</strong> on" in home.text and path not in home.text
