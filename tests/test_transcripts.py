"""Training transcripts: a person's record as a page, a CSV and a verifiable PDF with its own
serial; a county's as a ZIP."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime

from pypdf import PdfReader
from sqlalchemy import select, update

from lms import times
from lms.accounts.models import User
from lms.certificates import service as certificates
from lms.certificates.models import Certificate, Transcript
from tests.conftest import make_person, post, sign_in
from tests.course_factory import COURSE_YAML
from tests.test_ce import CE, licensed
from tests.test_certificates import complete, qr_link

COURSES = {"ce-course": {"course.yaml": COURSE_YAML + CE}, "plain-course": {}}


def pdf_words(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(p.extract_text().split()) for p in reader.pages)


async def test_a_transcript_lists_the_record_and_its_pdf_verifies(
    client, db, settings, courses, people
):
    learner = await licensed(db, people["learner"].id)
    await complete(db, settings, learner, "ce-course")
    await complete(db, settings, learner, "plain-course")
    path = f"/people/{learner.id}/transcript"

    await sign_in(client, "learner2@example.org")
    assert (await client.get(path)).status_code == 404  # not someone else's record
    client.cookies.clear()
    await sign_in(client, "learner@example.org")
    shown = await client.get(path)
    assert shown.status_code == 200
    assert "2 courses completed · 4 training hours · 2 CE hours" in shown.text
    assert "LCSW LCSW 104233" in shown.text
    csv = await client.get(path + "?fmt=csv")
    assert (
        csv.text.lstrip("\ufeff")
        .splitlines()[0]
        .startswith("Course,Version,Completed,Hours,CE hours")
    )
    assert len(csv.text.strip().splitlines()) == 3

    issued = await post(client, path, {}, token_from=path)
    assert "A transcript is issued with its own serial" in issued.text
    transcript = await db.scalar(select(Transcript))
    assert transcript is not None and transcript.total_ce_hours == 2
    download = await client.get(f"/transcripts/{transcript.serial}.pdf")
    assert download.headers["content-type"] == "application/pdf"
    text = pdf_words(download.content)
    assert "Training transcript" in text and "LCSW 104233" in text
    assert transcript.serial in text and "4 training hours, 2 continuing-education hours" in text
    assert qr_link(download.content) == f"http://127.0.0.1:8000/verify/{transcript.serial}"
    reader = PdfReader(io.BytesIO(download.content))
    assert 'pdfaid:conformance="A"' in reader.xmp_metadata.stream.get_data().decode()

    # Anyone can check it, at the address certificates use; the license is not told.
    client.cookies.clear()
    public = await client.get(f"/verify/{transcript.serial}")
    assert public.status_code == 200 and "Training transcript" in public.text
    assert "104233" not in public.text
    api = (await client.get(f"/api/verify/{transcript.serial}")).json()
    assert api["kind"] == "transcript" and len(api["lines"]) == 2
    # Its PDF checks as the one issued.
    checked = await post(
        client,
        f"/verify/{transcript.serial}",
        token_from=f"/verify/{transcript.serial}",
    )
    assert checked.status_code == 400  # no file chosen
    # A revoked certificate's hours are no longer claimed on a new transcript.
    ce = await db.scalar(select(Certificate).where(Certificate.course_slug == "ce-course"))
    await certificates.revoke(db, ce, "Issued in error", people["admin"])
    await db.commit()
    await sign_in(client, "learner@example.org")
    after = await client.get(path)
    assert (
        "2 training hours" in after.text and "CE hours</" not in after.text.split("</h1>")[1][:200]
    )


async def test_a_county_zip_holds_everyone_of_the_county(client, db, settings, courses, people):
    gone = await make_person(db, settings, "gone@example.org", name="Pat Gone")
    await db.execute(update(User).where(User.id == gone.id).values(active=False))
    await db.commit()
    await complete(db, settings, await db.get(User, people["learner"].id), "plain-course")
    await sign_in(client, "admin@example.org")
    shasta = await db.scalar(select(User.county_id).where(User.id == people["learner"].id))
    issued = await post(client, "/admin/transcripts", {"county": str(shasta)}, "/admin/transcripts")
    assert "transcripts are issued; download them below" in issued.text
    link = re.search(r'href="(/admin/transcripts/zip\?[^"]+)"', issued.text).group(1)
    archive = await client.get(link.replace("&amp;", "&"))
    assert archive.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    shasta_people = (await db.scalars(select(User.name).where(User.county_id == shasta))).all()
    assert len(names) == len(shasta_people) and any(n.startswith("Gone-Pat-") for n in names)
    assert all(re.fullmatch(r"[A-Za-z0-9-]+-[A-Z0-9-]+\.pdf", n) for n in names)
    assert (await client.get("/admin/transcripts/zip?county=1&at=nonsense")).status_code == 404


async def test_the_ce_transcript_counts_the_renewal_cycle_and_the_roster_lists_licenses(
    client, db, settings, courses, people
):
    expires = times.add_months(datetime.now(settings.zone).date(), 12)
    learner = await licensed(db, people["learner"].id, license_expires=expires)
    await complete(db, settings, learner, "ce-course")
    await sign_in(client, "learner@example.org")
    page = await client.get(f"/people/{learner.id}/ce")
    assert page.status_code == 200
    rows = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    assert "All CE hours 2 36" in rows and "Law and ethics 1 6" in rows
    assert "34 CE hours to go" in rows
    download = await client.get(f"/people/{learner.id}/ce?fmt=pdf")
    assert download.headers["content-type"] == "application/pdf"
    text = pdf_words(download.content)
    assert "Continuing-education transcript" in text and "LCSW 104233" in text
    assert "2 CE hours of the 36 this license needs" in text
    # Another learner's is not found.
    assert (await client.get(f"/people/{people['learner2'].id}/ce")).status_code == 404

    client.cookies.clear()
    await sign_in(client, "admin@example.org")
    roster = await client.get("/admin/courses/ce-course/ce-roster")
    assert roster.status_code == 200 and "LCSW 104233" in roster.text
    csv = await client.get("/admin/courses/ce-course/ce-roster?fmt=csv")
    assert "LCSW 104233" in csv.text and "Law and ethics 1" in csv.text
    before = await client.get("/admin/courses/ce-course/ce-roster?until=2020-01-01")
    assert "Nobody has earned CE credit" in before.text
    assert (await client.get("/admin/courses/plain-course/ce-roster")).status_code == 200
