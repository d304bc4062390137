"""In headless Chromium: a supervisor extends a requirement; a learner reads their required
training and edits their profile; the admin's compliance report."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from lms.demo import DEMO_PASSWORD
from tests.browser import assert_accessible, sign_in_as

pytestmark = pytest.mark.browser


def test_a_supervisor_extends_a_requirement_with_a_reason(page, live_server):
    sign_in_as(page, live_server, "supervisor@example.org", DEMO_PASSWORD)
    page.get_by_role("link", name="My team").click()
    page.get_by_role("link", name="María José Hernández's required training").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Required training: María José Hernández"
    )
    assert_accessible(page)
    overdue = page.locator("section", has=page.get_by_text("Overdue", exact=True)).first
    overdue.get_by_text("Extend the due date").click()
    new_date = (date.today() + timedelta(days=60)).isoformat()
    overdue.get_by_label("New due date").fill(new_date)
    overdue.get_by_label("Reason").fill("Covering two caseloads until the new hire starts.")
    overdue.get_by_role("button", name="Extend").click()
    expect(page.get_by_role("status")).to_contain_text("The requirement is extended")
    expect(page.get_by_text("(extended)").first).to_be_visible()
    assert_accessible(page)


def test_a_learner_reads_their_required_training_and_edits_their_profile(page, live_server):
    sign_in_as(page, live_server, "learner2@example.org", DEMO_PASSWORD)
    required = page.get_by_role("region", name="Your required training")
    expect(required).to_contain_text("Overdue")
    expect(required).to_contain_text("Introduction to Safety Organized Practice")
    assert_accessible(page)
    page.get_by_role("link", name="Your required training in full").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Required training")
    expect(page.get_by_text("Extend the due date")).to_have_count(0)  # not their own
    page.get_by_role("link", name="Profile").click()
    page.get_by_label("License type").fill("ASW")
    page.get_by_label("License number").fill("ASW 99120")
    page.get_by_role("button", name=re.compile("Save")).click()
    expect(page.get_by_role("status")).to_be_visible()
    expect(page.get_by_label("License number")).to_have_value("ASW 99120")
    assert_accessible(page)


def test_the_compliance_report_filters_and_is_accessible(page, live_server):
    sign_in_as(page, live_server, "admin@example.org", DEMO_PASSWORD)
    page.get_by_role("link", name="Compliance").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Compliance")
    assert_accessible(page)
    page.get_by_label("Status").select_option("overdue")
    page.get_by_role("button", name="Show").click()
    rows = page.locator("table").nth(1).locator("tbody tr")
    expect(rows.first).to_contain_text("Overdue")
    expect(page.locator("table").nth(1)).not_to_contain_text("On track")


def test_a_licensed_learner_reads_their_ce_transcript(page, live_server):
    sign_in_as(page, live_server, "learner1@example.org", DEMO_PASSWORD)
    page.get_by_role("link", name="Profile").click()
    page.get_by_role("link", name="Your continuing-education transcript").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Continuing-education transcript")
    expect(page.get_by_text("LCSW LCSW 104233")).to_be_visible()
    expect(page.get_by_role("table").first).to_contain_text("36")
    expect(page.get_by_text("36 CE hours to go")).to_be_visible()
    assert_accessible(page)
