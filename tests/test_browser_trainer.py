"""In headless Chromium: a trainer imports a roster, records attendance, exports the matrix."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from lms.demo import DEMO_PASSWORD
from tests.browser import assert_accessible, sign_in_as

pytestmark = pytest.mark.browser

ROSTER = "email,name,county\nrosa.new@example.org,Rosa Núñez,Shasta\nlearner1@example.org,María José Hernández,Shasta\n"


def test_trainer_imports_a_roster_records_attendance_and_exports(page, live_server, tmp_path):
    sign_in_as(page, live_server, "trainer1@example.org", DEMO_PASSWORD)
    page.get_by_role("link", name="Cohorts", exact=True).click()
    page.get_by_role("link", name="Shasta and Butte, spring 2026").click()
    assert_accessible(page)

    page.get_by_role("link", name="Import a roster (CSV)").click()
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    page.get_by_label("Roster file (CSV, UTF-8)").set_input_files(str(roster))
    page.get_by_role("button", name="Preview the changes").click()
    expect(page.get_by_text("1 new account, 0 existing accounts added")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Apply these changes").click()
    expect(page.get_by_role("heading", name="Roster imported")).to_be_visible()
    expect(page.get_by_text("/account/set-password/")).to_be_visible()
    page.get_by_role("link", name="Back to the cohort").click()
    expect(page.get_by_role("link", name="Rosa Núñez", exact=True)).to_be_visible()

    # Enrolling the roster: a page that says what would happen, then one button.
    page.get_by_role("link", name="Enroll every member in the assigned courses…").click()
    expect(page.get_by_text("enrollment to make")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Enroll every member in the assigned courses").click()
    expect(page.get_by_role("status")).to_contain_text("The roster is enrolled")
    assert_accessible(page)
    page.get_by_role("link", name="Shasta and Butte, spring 2026").click()

    page.get_by_role("link", name="First-contact simulation (classroom)").click()
    page.get_by_label("Rosa Núñez", exact=True).check()
    page.get_by_role("button", name="Save attendance").click()
    expect(page.get_by_role("status")).to_contain_text("Attendance has been recorded")
    expect(page.get_by_label("Rosa Núñez", exact=True)).to_be_checked()

    # Skills scored for an attendee, criterion by criterion; the delivery log changed.
    expect(page.get_by_role("heading", name="Agenda as written")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Score Rosa Núñez").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Skills: Rosa Núñez")
    for criterion in page.locator("fieldset").all():
        criterion.get_by_role("radio").last.check()
    page.get_by_role("button", name="Save Rosa Núñez's scores").click()
    expect(page.get_by_role("status")).to_contain_text("The skills scores are saved")
    expect(page.locator("main")).to_contain_text("passed")
    assert_accessible(page)
    page.get_by_role("link", name="First-contact simulation (classroom)").click()
    rosa = page.get_by_role("row", name=re.compile("Rosa Núñez"))
    expect(rosa).to_contain_text("passed")
    expect(page.get_by_text(re.compile(r"Fidelity \d+%"))).to_be_visible()
    log = page.locator("form", has=page.get_by_role("button", name="Save the log"))
    log.get_by_role("group").nth(1).get_by_label("Skipped", exact=True).check()
    log.get_by_role("group").nth(1).get_by_label("If adapted or skipped").fill("Fire drill.")
    log.get_by_role("button", name="Save the log").click()
    expect(page.get_by_role("status")).to_contain_text("The delivery log is saved")
    expect(page.get_by_text("Fire drill.")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Shasta and Butte, spring 2026").click()
    page.get_by_role("link", name="Introduction to Safety Organized Practice").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Progress")
    assert_accessible(page)
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV").first.click()
    text = info.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["Learner", "Email", "County", "Status"]
    assert any(row[0] == "María José Hernández" for row in rows[1:])


def test_report_and_admin_pages_are_accessible(page, live_server):
    sign_in_as(page, live_server, "admin@example.org", DEMO_PASSWORD)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    for path in [
        "/cohorts",
        "/admin/completions",
        "/admin/audit",
        "/admin/certificates",
        "/admin/courses",
        "/admin/qualifications",
        "/resources",
    ]:
        page.goto(f"{live_server.url}{path}")
        assert_accessible(page)
    page.goto(f"{live_server.url}/cohorts")
    page.get_by_role("link", name="Shasta and Butte, spring 2026").click()
    page.get_by_role("link", name="report").first.click()
    expect(page.get_by_role("heading", name="Knowledge gain")).to_be_visible()
    assert_accessible(page)


def test_the_chain_of_evidence_shows_the_seven_levels_for_a_cohort(page, live_server):
    sign_in_as(page, live_server, "admin@example.org", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/admin/courses/emergency-response/report")
    page.get_by_role("link", name="Chain of evidence").click()
    page.get_by_label("Cohort").select_option(label="Shasta and Butte, spring 2026")
    page.get_by_role("button", name="Show").click()
    levels = page.get_by_role("table", name="The seven levels")
    for level in (
        "1. Attendance",
        "2. Evaluation returned",
        "3. Satisfaction",
        "4. Knowledge",
        "5. Skills",
        "6. Transfer",
        "7. Delivery fidelity",
    ):
        expect(levels.get_by_role("rowheader", name=level)).to_be_visible()
    # The demo's delivered session: its log gives the cohort a fidelity figure.
    fidelity = page.get_by_role("table", name="Delivery fidelity by cohort")
    expect(fidelity).to_contain_text("Shasta and Butte, spring 2026")
    expect(levels.get_by_role("row", name=re.compile("7. Delivery fidelity"))).to_contain_text("%")
    assert_accessible(page)


def test_wide_tables_scroll_inside_a_page_that_fits_a_phone(page, live_server):
    """Issue 19 (7), WCAG 2.1 reflow: at 390 px the matrix and the report fit the screen; each
    wide table scrolls in its own container, with its first column kept in view."""
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in_as(page, live_server, "admin@example.org", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/cohorts")
    page.get_by_role("link", name="Shasta and Butte, spring 2026").click()
    page.get_by_role("link", name="report").first.click()
    report = page.url
    matrix = report.replace("/report", "/progress")
    for address in (matrix, report):
        page.goto(address)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{address} is {width} px wide at 390 px"
        heading = page.get_by_role("heading", level=1).bounding_box()
        assert heading is not None and heading["x"] >= 0 and heading["x"] + heading["width"] <= 390
    # The matrix scrolls inside its container; each learner's name stays in view.
    page.goto(matrix)
    # On a small screen the table itself is the scroller (site.css), in its container.
    scroller = page.locator("table.matrix")
    assert scroller.evaluate("e => e.scrollWidth > e.clientWidth")
    scroller.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
    name = page.locator("table.matrix tbody tr > :first-child").first.bounding_box()
    assert name is not None and 0 <= name["x"] < 390, name
