"""Shared pieces for browser tests: a real server in a subprocess and headless Chromium."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from tests.servers import Server, free_port, lms, lms_env, serving

CHROMIUM = os.environ.get("LMS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`lms serve` (granian) on a fresh, migrated SQLite database with the demo accounts."""
    folder = tmp_path_factory.mktemp("live")
    env = lms_env(f"sqlite+aiosqlite:///{folder / 'lms.db'}", free_port())
    lms(env, "db", "upgrade")
    lms(env, "courses", "sync")
    lms(env, "demo")
    with serving("server", env, folder) as server:
        yield server


@pytest.fixture(scope="session")
def browser(live_server: Server) -> Iterator[Browser]:
    """Chromium, closed before the server stops (its open connections would delay that)."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def sign_in_as(page: Page, server: Server, email: str, password: str) -> None:
    page.goto(f"{server.url}/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def assert_accessible(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def read_through(server: Server, email: str, module_id: str, minutes: int) -> None:
    """Credit a learner with a module's full minutes of reading, on the live server's SQLite
    file: the shipped courses' seat time refuses a knowledge check started after seconds."""
    path = server.env["LMS_DATABASE_URL"].split("///", 1)[1]
    with sqlite3.connect(path) as connection:
        changed = connection.execute(
            "UPDATE module_progress SET seconds_spent = ? WHERE module_id = ? AND enrollment_id"
            " IN (SELECT e.id FROM enrollments e JOIN users u ON u.id = e.user_id"
            " WHERE u.email = ?)",
            (minutes * 60, module_id, email),
        ).rowcount
    assert changed == 1, f"{email} should have opened {module_id}"


def set_supervisor(server: Server, email: str, supervisor_email: str) -> None:
    """Name a person's supervisor on the live server's SQLite file (an admin's form does it
    in the app; the tests of that form are elsewhere)."""
    path = server.env["LMS_DATABASE_URL"].split("///", 1)[1]
    with sqlite3.connect(path) as connection:
        changed = connection.execute(
            "UPDATE users SET supervisor_id = (SELECT id FROM users WHERE email = ?)"
            " WHERE email = ?",
            (supervisor_email, email),
        ).rowcount
    assert changed == 1, email
