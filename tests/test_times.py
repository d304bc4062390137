"""Times in the academy's zone (LMS_TIME_ZONE): pages, emails, certificates and exports."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import datetime, timedelta

from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select, update

from lms import db as database
from lms import times
from lms.accounts.models import AccountToken, User
from lms.app import create_app
from lms.catalog.models import Course
from lms.certificates import service as certificates
from lms.cohorts import service as cohorts
from lms.cohorts.models import Cohort, CohortCourse, CohortMember, LiveSession
from lms.learning import service as learning
from lms.learning.models import Enrollment
from lms.mail import delivery
from lms.quizzes.models import Attempt
from lms.reports import completions as completions_report
from tests.conftest import post, sign_in
from tests.course_factory import COURSE_YAML
from tests.learning_helpers import definition, take_quiz
from tests.smtp_server import Inbox, html_part, smtp_server, text_part

# 7:30 PM in California on December 4 is 03:30 UTC on December 5 (PST is UTC-8).
EVENING_IN_CALIFORNIA = datetime(2026, 12, 5, 3, 30)
SUMMER_EVENING = datetime(2026, 7, 5, 3, 30)  # 8:30 PM PDT (UTC-7) on July 4
ADMIN_ISSUED = COURSE_YAML.replace(
    "certificate:\n  issuer: Test Academy\n",
    "certificate:\n  issuer: Test Academy\n  issue: admin\n",
)


# Loaded by the `courses` fixture in conftest.py.
COURSES = {"timed-course": {"course.yaml": ADMIN_ISSUED}}


async def completed_at(db, settings, user: User, moment: datetime) -> Enrollment:
    """Take a person through the course, then say they finished at `moment` (UTC)."""
    course = await db.scalar(select(Course).where(Course.slug == "timed-course"))
    await db.refresh(course)
    enrollment, _ = await learning.enroll(db, user, course)
    await db.flush()
    for module_id in ("first", "second"):
        await learning.complete_module(db, settings, enrollment, module_id)
    enrollment.completed_at = moment
    await db.commit()
    return enrollment


def pdf_text(data: bytes) -> str:
    return " ".join(PdfReader(io.BytesIO(data)).pages[0].extract_text().split())


async def test_an_evening_completion_in_california_is_that_day_on_pages_and_certificate(
    client, db, settings, courses, people
):
    learner = await db.get(User, people["learner"].id)
    enrollment = await completed_at(db, settings, learner, EVENING_IN_CALIFORNIA)
    await sign_in(client, "learner@example.org")
    dashboard = (await client.get("/")).text
    assert "completed Dec 4, 2026" in dashboard and "Dec 5" not in dashboard
    course_page = (await client.get("/courses/timed-course")).text
    assert "Completed</span> on Dec 4, 2026." in course_page

    certificate, _ = await certificates.issue(db, settings, enrollment)
    await db.commit()
    printed = pdf_text((await client.get(f"/certificates/{certificate.serial}.pdf")).content)
    # The certificate is issued today, so only the completion date is the evening's day.
    assert "Completed December 4, 2026" in printed and "Completed December 5" not in printed
    verify = (await client.get(f"/verify/{certificate.serial}")).text
    completed_line = re.search(r"Completed</dt>\s*<dd>([^<]+)</dd>", verify)
    assert completed_line, verify
    assert completed_line.group(1).strip() == "December 4, 2026"

    await sign_in(client, "admin@example.org")
    report = (await client.get("/admin/completions")).text
    assert "<td>Dec 4, 2026</td>" in report


async def test_an_attempt_shows_its_time_and_zone_to_the_trainer(
    client, db, settings, courses, people
):
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/timed-course/enroll")
    course = await definition(db, "timed-course")
    await take_quiz(client, "/courses/timed-course/modules/first/quiz/start", course)
    await db.execute(update(Attempt).values(submitted_at=EVENING_IN_CALIFORNIA))
    cohort = Cohort(name="Shasta evening")
    db.add(cohort)
    await db.flush()
    db.add(CohortMember(cohort_id=cohort.id, user_id=people["learner"].id))
    # The gradebook shows the courses taken through the cohort.
    await db.execute(update(Enrollment).values(cohort_id=cohort.id))
    await db.commit()
    await sign_in(client, "admin@example.org")
    page = await client.get(f"/cohorts/{cohort.id}/learners/{people['learner'].id}")
    assert page.status_code == 200
    assert "<td>Dec 4, 2026, 7:30 PM PST</td>" in page.text
    assert "03:30" not in page.text and "UTC" not in page.text


async def test_a_session_start_is_typed_and_shown_in_the_academy_zone(
    client, db, settings, courses, people
):
    course = await db.scalar(select(Course).where(Course.slug == "timed-course"))
    cohort = Cohort(name="Shasta spring")
    db.add(cohort)
    await db.flush()
    db.add(CohortCourse(cohort_id=cohort.id, course_id=course.id))
    await db.flush()
    admin = await db.get(User, people["admin"].id)
    data = {"title": "Simulation", "starts_at": "2026-03-02T09:00", "place": "Room 1"}
    form = cohorts.SessionForm.from_form(
        {"course": [str(course.id)]} | {k: [v] for k, v in data.items()}
    )
    await cohorts.schedule_session(db, cohort, form, admin, settings.zone)
    await db.commit()
    session = await db.scalar(select(LiveSession))
    assert session.starts_at == datetime(2026, 3, 2, 17, 0)  # 9 AM PST, kept as UTC
    await sign_in(client, "admin@example.org")
    cohort_page = (await client.get(f"/cohorts/{cohort.id}")).text
    assert "Mar 2, 2026, 9:00 AM PST" in cohort_page
    assert "(America/Los_Angeles time)" in cohort_page  # beside the field it is typed into
    shown = (await client.get(f"/cohorts/{cohort.id}/sessions/{session.id}")).text
    assert "Mar 2, 2026, 9:00 AM PST" in shown


async def test_the_reset_email_says_until_when_in_the_academy_zone(client, db, settings, people):
    """A real email through an SMTP server: the link's end in Pacific time, PST or PDT."""
    inbox = Inbox()
    await post(client, "/account/forgot", {"email": "learner@example.org"})
    expires = await db.scalar(select(AccountToken.expires_at))
    engine = database.create_engine(settings.database_url)
    try:
        with smtp_server(inbox) as port:
            sent = await delivery.send_due(
                database.create_sessionmaker(engine),
                replace(settings, smtp_url=f"smtp://127.0.0.1:{port}"),
            )
    finally:
        await engine.dispose()
    assert sent.sent == 1
    (email,) = inbox.to("learner@example.org")
    zone_name = times.local(expires, settings.zone).tzname()
    assert zone_name in ("PST", "PDT")
    # The email says the token's own end (to the minute: it is worked out a moment later).
    ends = {times.show_time(expires + timedelta(minutes=m), settings.zone) for m in (0, 1)}
    text, html = text_part(email), html_part(email)
    assert any(f"2 hours, until {end}." in text for end in ends), text
    assert any(f"2 hours, until {end}.</p>" in html for end in ends), html
    assert ends.pop().endswith(f" {zone_name}") and "UTC" not in text


def csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


async def test_exports_carry_iso_times_with_the_academy_offset(
    client, db, settings, courses, people
):
    winter = await db.get(User, people["learner"].id)
    summer = await db.get(User, people["learner2"].id)
    await completed_at(db, settings, winter, EVENING_IN_CALIFORNIA)
    await completed_at(db, settings, summer, SUMMER_EVENING)
    await sign_in(client, "admin@example.org")
    exported = await client.get("/admin/completions?fmt=csv")
    header, *rows = csv_rows(exported.content)
    when = {row[1]: row[header.index("Completed")] for row in rows}
    assert when == {
        "learner@example.org": "2026-12-04T19:30:00-08:00",
        "learner2@example.org": "2026-07-04T20:30:00-07:00",
    }
    # XLSX: the same text, not a spreadsheet time that cannot hold its offset.
    book = load_workbook(io.BytesIO((await client.get("/admin/completions?fmt=xlsx")).content))
    cells = [[c.value for c in row] for row in book.active.iter_rows()]
    column = cells[0].index("Completed")
    assert {row[column] for row in cells[1:]} == set(when.values())


async def test_the_time_zone_can_be_utc(db, settings, courses, people):
    """LMS_TIME_ZONE=UTC: pages say UTC and exports carry +00:00."""
    learner = await db.get(User, people["learner"].id)
    await completed_at(db, settings, learner, EVENING_IN_CALIFORNIA)
    utc_app = create_app(replace(settings, time_zone="UTC"), stop_pdf_pool=False)
    async with AsyncTestClient(app=utc_app) as client:
        await sign_in(client, "learner@example.org")
        assert "completed Dec 5, 2026" in (await client.get("/")).text
        await sign_in(client, "admin@example.org")
        header, *rows = csv_rows((await client.get("/admin/completions?fmt=csv")).content)
        assert rows[0][header.index("Completed")] == "2026-12-05T03:30:00+00:00"
        audit = (await client.get("/admin/audit")).text
        assert re.search(r"<td>\w{3} \d{1,2}, \d{4}, \d{1,2}:\d{2} [AP]M UTC</td>", audit)


# 8 PM in California on November 30 is 04:00 UTC on December 1.
LAST_EVENING_OF_NOVEMBER = datetime(2026, 12, 1, 4, 0)


async def test_completions_by_month_and_date_filters_follow_the_academys_calendar(
    client, db, settings, courses, people
):
    november = await db.get(User, people["learner"].id)
    december = await db.get(User, people["learner2"].id)
    await completed_at(db, settings, november, LAST_EVENING_OF_NOVEMBER)
    await completed_at(db, settings, december, datetime(2026, 12, 15, 18, 0))
    await sign_in(client, "admin@example.org")
    by_month = (await client.get("/admin/completions?by=month")).text
    assert re.findall(r"<tr><td>(\d{4}-\d\d)</td><td>(\d+)</td>", by_month) == [
        ("2026-12", "1"),
        ("2026-11", "1"),
    ]
    for query, total in [
        ("since=2026-12-01", "1 completion "),
        ("until=2026-11-30", "1 completion "),
        ("since=2026-11-30&until=2026-11-30", "1 completion "),
        ("since=2026-11-01&until=2026-12-31", "2 completions "),
    ]:
        page = (await client.get(f"/admin/completions?by=month&{query}")).text
        assert total in page, query
    until_november = (await client.get("/admin/completions?by=county&until=2026-11-30")).text
    assert "<td>Learner</td>" in until_november and "Nov 30, 2026" in until_november
    assert "<td>Learner2</td>" not in until_november
    # In UTC the same completion is December's.
    utc_totals = await completions_report.completion_totals(db, "month")
    assert utc_totals == (2, [("2026-12", 2, 4.0)])
