"""In headless Chromium: sign in and out, and axe-core finds no accessibility violations."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from lms.demo import DEMO_PASSWORD
from tests.browser import assert_accessible, sign_in_as

pytestmark = pytest.mark.browser


def test_sign_in_and_out_in_a_browser(page, live_server):
    sign_in_as(page, live_server, "learner1@example.org", "wrong password")
    expect(page.get_by_role("alert")).to_contain_text("do not match an active account")
    sign_in_as(page, live_server, "learner1@example.org", DEMO_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("My learning")
    expect(page.get_by_text("Welcome, María José Hernández.")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_keyboard_user_can_skip_to_content_and_sign_in(page, live_server):
    page.goto(f"{live_server.url}/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.goto(f"{live_server.url}/sign-in")
    expect(page.get_by_label("Email address")).to_be_focused()  # autofocus
    page.keyboard.type("admin@example.org")
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="People")).to_be_visible()


@pytest.mark.parametrize("path", ["/sign-in", "/", "/no-such-page"])
def test_public_pages_have_no_accessibility_violations(page, live_server, path):
    page.goto(f"{live_server.url}{path}")
    assert_accessible(page)


@pytest.mark.parametrize("path", ["/", "/account/password", "/admin/people", "/admin/people/new"])
def test_signed_in_pages_have_no_accessibility_violations(page, live_server, path):
    sign_in_as(page, live_server, "admin@example.org", DEMO_PASSWORD)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.goto(f"{live_server.url}{path}")
    assert_accessible(page)


def test_sign_in_page_on_a_phone(browser, live_server):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    phone = context.new_page()
    phone.goto(f"{live_server.url}/sign-in")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"page is {width}px wide on a 375px screen"
    context.close()
