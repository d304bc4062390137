"""Continuing-education credit (course.yaml `ce`): checked against the course's hours, and
printed on the certificate with the learner's license."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import undefer

from lms.accounts.models import User
from lms.catalog.validate import check_course
from lms.certificates.models import Certificate
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


async def test_the_certificate_prints_ce_hours_and_the_license(
    client, db, settings, courses, people
):
    learner = await db.get(User, people["learner"].id)
    await db.execute(
        update(User)
        .where(User.id == learner.id)
        .values(license_type="LCSW", license_number="LCSW 104233")
    )
    await db.commit()
    await db.refresh(learner)
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
