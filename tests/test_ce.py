"""Continuing-education credit (course.yaml `ce`): checked against the course's hours, and
printed on the certificate with the learner's license."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update
from sqlalchemy.orm import undefer

from lms.accounts.models import User
from lms.catalog.validate import check_course
from lms.certificates.models import Certificate
from lms.cohorts.models import LiveSession
from lms.learning import service as learning
from lms.learning.models import Enrollment
from tests.conftest import post, sign_in
from tests.course_factory import COURSE_YAML, write_course
from tests.test_certificates import complete, pdf_text

CE = """\
ce:
  hours: 2
  categories:
    - name: Law and ethics
      hours: 1
  approval: "Course meets the qualifications for 2 hours of continuing education (test)."
"""
COURSES = {"ce-course": {"course.yaml": COURSE_YAML + CE}, "plain-course": {}}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("hours: 2\n  categories", "hours: 3\n  categories"),
            r"course\.yaml:\d+: ce\.hours: is 3, more than the course's 2 hours",
        ),
        (
            ("      hours: 1", "      hours: 5"),
            r"ce\.categories: add up to 5 hours, more than the 2 CE hours",
        ),
        (
            ("hours: 2\n  categories", "hours: -1\n  categories"),
            r"ce\.hours: must be a number of hours above 0",
        ),
        (
            ("  approval:", "  aproval:"),
            r"ce\.aproval: unknown field 'aproval' \(did you mean 'approval'\?\)",
        ),
        (
            ("    - name: Law and ethics\n", "    - title: Law and ethics\n"),
            r"ce\.categories\[0\]: missing required field 'name'",
        ),
    ],
)
def test_a_broken_ce_is_refused_with_its_line(tmp_path, change, expected):
    old, new = change
    folder = write_course(
        tmp_path, "ce-course", {"course.yaml": COURSE_YAML + CE.replace(old, new)}
    )
    loaded = check_course(folder)
    assert not loaded.ok
    assert any(re.search(expected, str(p)) for p in loaded.problems), loaded.problems


def test_a_ce_course_loads_with_its_credit(tmp_path):
    loaded = check_course(write_course(tmp_path, "ce-course", {"course.yaml": COURSE_YAML + CE}))
    assert loaded.ok and loaded.course is not None and loaded.course.ce is not None
    assert loaded.course.ce.hours == 2 and loaded.course.ce.full_attendance
    assert [(c.name, c.hours) for c in loaded.course.ce.categories] == [("Law and ethics", 1.0)]


async def licensed(db, user_id: int, **more) -> User:
    """The person, now holding an LCSW license (and whatever else `more` sets)."""
    values = {"license_type": "LCSW", "license_number": "LCSW 104233", **more}
    await db.execute(update(User).where(User.id == user_id).values(**values))
    await db.commit()
    learner = await db.get(User, user_id)
    await db.refresh(learner)
    return learner


async def test_the_certificate_prints_ce_hours_and_the_license(
    client, db, settings, courses, people
):
    learner = await licensed(db, people["learner"].id)
    await complete(db, settings, learner, "ce-course")
    await complete(db, settings, learner, "plain-course")
    certificates = {
        c.course_slug: c
        for c in (await db.scalars(select(Certificate).options(undefer(Certificate.pdf)))).all()
    }
    ce = certificates["ce-course"]
    assert ce.ce_hours == 2 and ce.license_number == "LCSW 104233"
    text = pdf_text(ce.pdf)
    assert "2 continuing-education hours: Law and ethics 1" in text
    assert "LCSW LCSW 104233" in text and "qualifications for 2 hours" in text
    plain = pdf_text(certificates["plain-course"].pdf)
    assert "continuing-education" not in plain and "104233" not in plain
    # The public record says the CE hours, not the license number.
    page = await client.get(f"/verify/{ce.serial}")
    assert "Continuing-education hours" in page.text and "104233" not in page.text


async def test_certificates_are_archival_and_tagged(client, db, settings, courses, people):
    """PDF/A-3 (accessible level) and PDF/UA-1, read back: XMP, language, title, structure
    tree, and the QR code's text alternative."""
    learner = await db.get(User, people["learner"].id)
    await complete(db, settings, learner, "plain-course")
    certificate = await db.scalar(select(Certificate).options(undefer(Certificate.pdf)))
    reader = PdfReader(io.BytesIO(certificate.pdf))
    root = reader.trailer["/Root"]
    xmp = reader.xmp_metadata.stream.get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="A"' in xmp
    assert "<pdfuaid:part>1</pdfuaid:part>" in xmp
    assert root["/Lang"] == "en" and root["/MarkInfo"]["/Marked"]
    assert root["/ViewerPreferences"]["/DisplayDocTitle"]
    assert reader.metadata.title == "Certificate of Completion: Learner"
    figures = []

    def walk(node) -> None:
        node = node.get_object()
        if node.get("/S") == "/Figure":
            figures.append(str(node.get("/Alt", "")))
        kids = node.get("/K")
        for kid in kids if isinstance(kids, list) else [kids]:
            if kid is not None and isinstance(kid.get_object(), dict):
                walk(kid)

    walk(root["/StructTreeRoot"])
    assert figures == [f"QR code: verify this certificate at {certificate.verify_url}"]


LAB = COURSE_YAML.replace("hours: 2", "hours: 3\nlive_sessions: 1\nenrollment: assigned") + CE


async def test_part_of_a_required_session_gives_the_certificate_without_ce_hours(
    client, db, settings, tmp_path, people
):
    from tests.conftest import add_courses
    from tests.test_cohorts import add, enroll_roster, new_cohort
    from tests.test_delivery import _schedule

    lab = await add_courses(db, tmp_path / "courses", {"practice": {"course.yaml": LAB}})
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, {"practice": lab["practice"]})
    for email in ("learner@example.org", "learner2@example.org"):
        await add(client, cohort_id, email)
    await enroll_roster(client, cohort_id)
    scheduled = await _schedule(client, cohort_id, lab, "", "2026-03-02T09:00", title="Lab")
    assert scheduled.status_code in (200, 303), scheduled.text[-1500:]
    session = await db.scalar(select(LiveSession))
    path = f"/cohorts/{cohort_id}/sessions/{session.id}"
    whole, part = people["learner"], people["learner2"]
    # "Part only" alone means present, for part of it.
    saved = await post(client, path, {"present": [str(whole.id)], "partial": [str(part.id)]}, path)
    assert "Attendance has been recorded" in saved.text
    assert f'id="h{part.id}" name="partial" value="{part.id}" checked' in saved.text
    for person in (whole, part):
        await finish_modules(db, settings, person, "practice")
    found = {c.user_id: c for c in (await db.scalars(select(Certificate))).all()}
    assert set(found) == {whole.id, part.id}  # both completed: part attendance counts
    assert found[whole.id].ce_hours == 2
    assert found[part.id].ce_hours is None and found[part.id].ce_categories is None


async def finish_modules(db, settings, person, slug: str) -> None:
    enrollment = await db.scalar(
        select(Enrollment).where(Enrollment.user_id == person.id).order_by(Enrollment.id.desc())
    )
    definition = await learning.catalog.get_definition(db, enrollment.version_id)
    for module in definition.modules:
        await learning.complete_module(db, settings, enrollment, module.id)
    await db.commit()
