"""What is emailed and when: password reset, invitations, certificate notices, reminders."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from lms import db as database
from lms.accounts import service as accounts
from lms.accounts.models import AccountToken, User
from lms.catalog.models import Course
from lms.certificates import service as certificates
from lms.db import utcnow
from lms.learning import service as learning
from lms.learning.models import Enrollment
from lms.mail import delivery, reminders
from lms.mail.models import OutboxMessage
from tests.conftest import PASSWORD, csrf_token, make_person, post, sign_in
from tests.course_factory import COURSE_YAML
from tests.smtp_server import Inbox, html_part, smtp_server, text_part

NEW_PASSWORD = "a brand new passphrase"
RESET_ANSWER = "If an account exists for that address, we have sent it a link"


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def mail_settings(settings, inbox):
    with smtp_server(inbox) as port:
        yield replace(settings, smtp_url=f"smtp://127.0.0.1:{port}")


@pytest.fixture
async def sessionmaker(settings):
    engine = database.create_engine(settings.database_url)
    yield database.create_sessionmaker(engine)
    await engine.dispose()


async def outbox(db, kind: str | None = None) -> list[OutboxMessage]:
    db.expire_all()
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return list((await db.scalars(query)).all())


def link_in(text: str) -> str:
    found = re.search(r"http://127\.0\.0\.1:8000(/account/set-password/[\w-]+)", text)
    assert found, text
    return found.group(1)


async def forgot(client, email: str):
    return await post(client, "/account/forgot", {"email": email})


def without_csrf(html: str) -> str:
    return html.replace(csrf_token(html), "")


# Password reset


async def test_reset_gives_the_same_answer_whether_or_not_the_account_exists(client, db, people):
    sign_in_page = await client.get("/sign-in")
    assert 'href="/account/forgot">Forgotten your password?' in sign_in_page.text
    known = await forgot(client, "Learner@Example.org")
    unknown = await forgot(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert RESET_ANSWER in known.text
    assert without_csrf(known.text) == without_csrf(unknown.text)
    (message,) = await outbox(db)
    assert (message.kind, message.to_address) == ("password_reset", "learner@example.org")
    assert "If it was not you, ignore this email" in message.text_body


async def test_reset_link_arrives_by_email_and_works_once(
    client, db, people, inbox, mail_settings, sessionmaker
):
    await forgot(client, "learner@example.org")
    assert (await delivery.send_due(sessionmaker, mail_settings)).sent == 1
    (email,) = inbox.to("learner@example.org")
    assert email["Subject"] == "Reset your SOP Learning password"
    path = link_in(text_part(email))
    assert path in html_part(email)
    page = await client.get(path)
    assert page.status_code == 200 and "Choose a password for" in page.text
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    done = await post(client, path, data)
    assert "Your password is set and you are signed in." in done.text
    # Used once: refused after that, and the new password signs in.
    assert "This link is not valid" in (await client.get(path)).text
    await post(client, "/sign-out", {}, token_from="/")
    again = await client.post(path, data={"_csrf_token": csrf_token(done.text), **data})
    assert again.status_code in (400, 403) and "Welcome" not in again.text
    assert (await sign_in(client, "learner@example.org", NEW_PASSWORD)).status_code == 200
    assert "Welcome, Learner" in (await client.get("/")).text


async def test_expired_and_forged_reset_links_are_refused(client, db, people):
    await forgot(client, "learner@example.org")
    (message,) = await outbox(db)
    path = link_in(message.text_body)
    await db.execute(update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    await db.commit()
    expired = await client.get(path)
    assert expired.status_code == 400 and "This link is not valid" in expired.text
    assert 'href="/account/forgot">Ask for a new link' in expired.text
    forged = await client.get(path[:-4] + "abcd")
    assert forged.status_code == 400 and "This link is not valid" in forged.text
    response = await post(
        client,
        path,
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        token_from="/sign-in",
    )
    assert response.status_code == 400
    assert (await sign_in(client, "learner@example.org", NEW_PASSWORD)).status_code == 400


async def test_a_second_request_replaces_the_first_link(client, db, people):
    await forgot(client, "learner@example.org")
    await forgot(client, "learner@example.org")
    first, second = await outbox(db, "password_reset")
    # The first email still waiting is not sent: its link no longer works.
    assert (first.status, second.status) == ("cancelled", "queued")
    assert (await client.get(link_in(first.text_body))).status_code == 400
    assert (await client.get(link_in(second.text_body))).status_code == 200


async def test_no_reset_email_for_a_deactivated_account(client, db, people):
    user = await db.get(User, people["learner"].id)
    user.active = False
    await db.commit()
    response = await forgot(client, "learner@example.org")
    assert RESET_ANSWER in response.text
    assert await outbox(db) == []


async def test_reset_requests_are_throttled_alike_for_known_and_unknown(
    client, db, settings, people
):
    for _ in range(settings.sign_in_limit_per_account):
        await forgot(client, "learner@example.org")
        await forgot(client, "nobody@example.org")
    known = await forgot(client, "learner@example.org")
    unknown = await forgot(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 429
    assert "Too many password reset requests" in known.text
    assert without_csrf(known.text).replace("learner@", "X@") == without_csrf(unknown.text).replace(
        "nobody@", "X@"
    )
    assert len(await outbox(db)) == settings.sign_in_limit_per_account
    bad = await forgot(client, "not an email")
    assert bad.status_code == 400 and "Enter an email address like" in bad.text


# Invitations


async def test_invitation_email_lets_the_new_person_set_a_password(
    client, db, settings, people, inbox, mail_settings, sessionmaker
):
    newcomer = User(email="new.worker@example.org", name="New Worker", password_hash=None)
    db.add(newcomer)
    await db.flush()
    token = await accounts.create_token(db, newcomer, "invite")
    trainer = await db.get(User, people["trainer"].id)
    await accounts.queue_invitation(db, settings, newcomer, token, trainer)
    await db.commit()
    assert (await delivery.send_due(sessionmaker, mail_settings)).sent == 1
    (email,) = inbox.to("new.worker@example.org")
    assert email["To"] == "New Worker <new.worker@example.org>"
    body = text_part(email)
    assert "Trainer has added you to SOP Learning" in body
    assert "The link works once and for 14 days" in body
    assert "You receive this because Trainer added this address" in body
    path = link_in(body)
    page = await client.get(path)
    assert "Welcome, New Worker" in page.text
    done = await post(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert "Your password is set and you are signed in." in done.text


async def test_invitation_html_escapes_names(client, db, settings, people):
    odd = User(email="odd@example.org", name='<script>alert("x")</script>', password_hash=None)
    db.add(odd)
    await db.flush()
    token = await accounts.create_token(db, odd, "invite")
    message = await accounts.queue_invitation(
        db, settings, odd, token, None, "Spring <b>cohort</b>"
    )
    assert "<script>" not in message.html_body and "&lt;script&gt;" in message.html_body
    assert "Spring &lt;b&gt;cohort&lt;/b&gt;" in message.html_body
    assert '<script>alert("x")</script>' in message.text_body  # plain text is not HTML
    await db.commit()
    # The admin outbox shows it safely.
    await sign_in(client, "admin@example.org")
    page = await client.get(f"/admin/outbox/{message.id}")
    assert '<script>alert("x")</script>' not in page.text
    download = await client.get(f"/admin/outbox/{message.id}/html")
    assert download.headers["content-disposition"].startswith("attachment")


# Certificate notices

ADMIN_ISSUED = COURSE_YAML.replace(
    "certificate:\n  issuer: Test Academy\n",
    "certificate:\n  issuer: Test Academy\n  issue: admin\n",
).replace("title: Test Course", "title: Supervising Safety")


# Loaded by the `courses` fixture in conftest.py.
COURSES = {"auto-course": {}, "admin-course": {"course.yaml": ADMIN_ISSUED}}


async def enroll(db, user: User, slug: str) -> Enrollment:
    course = await db.scalar(select(Course).where(Course.slug == slug))
    await db.refresh(course)
    enrollment, _ = await learning.enroll(db, user, course)
    await db.flush()
    return enrollment


async def complete(db, settings, user: User, slug: str) -> Enrollment:
    enrollment = await enroll(db, user, slug)
    definition = await learning.catalog.get_definition(db, enrollment.version_id)
    for module in definition.modules:
        await learning.complete_module(db, settings, enrollment, module.id)
    await db.commit()
    return enrollment


async def test_certificate_notice_carries_the_verification_link_and_is_sent_once(
    db, settings, courses, people, inbox, mail_settings, sessionmaker
):
    enrollment_id = (await complete(db, settings, people["learner"], "auto-course")).id
    (message,) = await outbox(db, "certificate_issued")
    serial = (await certificates.find_current(db, enrollment_id)).serial
    assert message.dedupe_key == f"certificate:{serial}"
    # Issuing again changes nothing and queues nothing.
    enrollment = await db.get(Enrollment, enrollment_id)
    await db.refresh(enrollment)
    await certificates.issue(db, settings, enrollment)
    await db.commit()
    assert len(await outbox(db, "certificate_issued")) == 1
    await delivery.send_due(sessionmaker, mail_settings)
    await delivery.send_due(sessionmaker, mail_settings)
    (email,) = inbox.messages
    assert email["Subject"] == "Your certificate for Test Course"
    verify = f"http://127.0.0.1:8000/verify/{serial}"
    assert verify in text_part(email) and f'href="{verify}"' in html_part(email)
    assert "You receive this because you completed" in text_part(email)


async def test_bulk_issue_queues_one_notice_per_certificate(
    db, settings, courses, people, sessionmaker
):
    await complete(db, settings, people["learner"], "admin-course")
    await complete(db, settings, people["learner2"], "admin-course")
    assert await outbox(db) == []  # an admin issues these
    result = await certificates.bulk_issue(sessionmaker, settings, "admin-course")
    again = await certificates.bulk_issue(sessionmaker, settings, "admin-course")
    assert (result.issued, again.issued) == (2, 0)
    notices = await outbox(db, "certificate_issued")
    assert sorted(m.to_address for m in notices) == [
        "learner2@example.org",
        "learner@example.org",
    ]
    assert all("/verify/" in m.text_body for m in notices)


# Reminders

NOW = datetime(2026, 5, 10, 8, 0)


def due_on(days: int) -> datetime:
    """A due date `days` calendar days from NOW, at 23:59 as cohorts set them."""
    return datetime.combine((NOW + timedelta(days=days)).date(), datetime.min.time()).replace(
        hour=23, minute=59
    )


@pytest.fixture
async def due_dates(db, settings, courses, people):
    """Enrollments with due dates around NOW, and some that must never be reminded."""
    cases = {
        "week": (5, "active"),
        "tomorrow": (1, "active"),
        "late": (-2, "active"),
        "far": (20, "active"),
        "done": (5, "completed"),
        "left": (5, "withdrawn"),
        "gone": (5, "active"),
        "ancient": (-90, "active"),
        "none": (None, "active"),
    }
    enrollments = {}
    for name, (days, status) in cases.items():
        user = await make_person(db, settings, f"{name}@example.org", name=name.title())
        enrollment = await enroll(db, user, "auto-course")
        enrollment.due_at = due_on(days) if days is not None else None
        enrollment.status = status
        enrollments[name] = enrollment
    (await db.get(User, enrollments["gone"].user_id)).active = False
    await db.commit()
    return enrollments


async def test_reminders_go_to_the_right_people_once(db, settings, due_dates):
    report = await reminders.queue_reminders(db, settings, now=NOW)
    await db.commit()
    assert (report.due_in_7_days, report.due_in_1_day, report.overdue) == (1, 1, 1)
    by_address = {m.to_address: m for m in await outbox(db)}
    assert set(by_address) == {"week@example.org", "tomorrow@example.org", "late@example.org"}
    week = by_address["week@example.org"]
    assert week.subject == "Due in 5 days: Test Course"
    assert "on Friday, May 15, 2026" in week.text_body
    assert "http://127.0.0.1:8000/courses/auto-course" in week.text_body
    assert "You receive this because you are enrolled in" in week.text_body
    assert by_address["tomorrow@example.org"].subject == "Due tomorrow: Test Course"
    assert by_address["late@example.org"].subject == "Overdue: Test Course"
    assert by_address["late@example.org"].kind == "reminder_overdue"
    # The same day again, and the next days: nothing twice.
    assert (await reminders.queue_reminders(db, settings, now=NOW)).total == 0
    assert (await reminders.queue_reminders(db, settings, now=NOW + timedelta(days=1))).total == 0
    await db.commit()
    # Later stages come once each: the day before, then once overdue.
    day_before = await reminders.queue_reminders(db, settings, now=NOW + timedelta(days=4))
    overdue = await reminders.queue_reminders(db, settings, now=NOW + timedelta(days=6))
    overdue_again = await reminders.queue_reminders(db, settings, now=NOW + timedelta(days=9))
    await db.commit()
    # Four days on, "week" is due tomorrow and "tomorrow" is overdue; two days later "week" is.
    assert (day_before.due_in_1_day, day_before.overdue, day_before.due_in_7_days) == (1, 1, 0)
    assert (overdue.total, overdue.overdue, overdue_again.total) == (1, 1, 0)
    # "far" gets its 7-day reminder a week before its due date.
    far = await reminders.queue_reminders(db, settings, now=NOW + timedelta(days=13))
    assert (far.total, far.due_in_7_days) == (1, 1)
    await db.commit()
    addresses = {m.to_address for m in await outbox(db)}
    assert addresses.isdisjoint(
        {"done@example.org", "left@example.org", "gone@example.org", "ancient@example.org"}
    )


async def test_moving_the_due_date_gives_a_fresh_set_of_reminders(db, settings, due_dates):
    await reminders.queue_reminders(db, settings, now=NOW)
    due_dates["late"].due_at = due_on(3)
    await db.commit()
    report = await reminders.queue_reminders(db, settings, now=NOW)
    assert report.due_in_7_days == 1


async def test_reminders_are_not_sent_after_completing_or_being_deactivated(
    db, settings, due_dates, inbox, mail_settings, sessionmaker
):
    await reminders.queue_reminders(db, settings, now=NOW)
    await db.commit()
    # Between queueing and sending: one completes, one is deactivated.
    await db.execute(
        update(Enrollment).where(Enrollment.id == due_dates["week"].id).values(status="completed")
    )
    await db.execute(update(User).where(User.id == due_dates["late"].user_id).values(active=False))
    await db.commit()
    report = await delivery.send_due(sessionmaker, mail_settings)
    assert (report.sent, report.cancelled) == (1, 2)
    assert [str(m["To"]) for m in inbox.messages] == ["Tomorrow <tomorrow@example.org>"]
    cancelled = await db.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "cancelled")
    )
    assert cancelled == 2


async def test_reminders_send_command(db, settings, courses, people):
    enrollment = await enroll(db, await db.get(User, people["learner"].id), "auto-course")
    enrollment.due_at = utcnow() + timedelta(days=3)
    await db.commit()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
    env["LMS_DATABASE_URL"] = settings.database_url

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lms.cli", "reminders", "send"],
            env=env,
            capture_output=True,
            text=True,
        )

    first = await asyncio.to_thread(run)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("Queued 1 reminder(s): 1 due within 7 days")
    second = await asyncio.to_thread(run)
    assert second.stdout.startswith("Queued 0 reminder(s)")


# The admin outbox


async def test_only_admins_read_the_outbox(client, db, settings, people):
    await sign_in(client, "learner@example.org")
    assert (await client.get("/admin/outbox")).status_code == 403
    assert (await client.get("/admin/outbox/1")).status_code == 403
    await sign_in(client, "trainer@example.org")
    assert (await client.get("/admin/outbox")).status_code == 403
    await sign_in(client, "admin@example.org", PASSWORD)
    home = await client.get("/")
    assert 'href="/admin/outbox"' in home.text
    assert (await client.get("/admin/outbox/999")).status_code == 404


async def test_outbox_filters(client, db, settings, people):
    await forgot(client, "learner@example.org")
    await forgot(client, "learner2@example.org")
    await sign_in(client, "admin@example.org")
    both = await client.get("/admin/outbox?kind=password_reset")
    assert "learner@example.org" in both.text and "learner2@example.org" in both.text
    one = await client.get("/admin/outbox?q=learner2")
    assert "learner2@example.org" in one.text and "learner@example.org" not in one.text
    none = await client.get("/admin/outbox?status=sent")
    assert "No messages match." in none.text


async def test_an_email_whose_link_was_used_is_not_sent(client, db, people):
    await forgot(client, "learner@example.org")
    (message,) = await outbox(db, "password_reset")
    assert message.status == "queued"
    path = link_in(message.text_body)
    # The learner used the link (say it was read from an earlier copy of the queue) before
    # the email went out: the email waiting to be sent carries a dead link.
    used = await post(
        client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, token_from=path
    )
    assert used.status_code == 200
    await db.refresh(message)
    assert (message.status, message.last_error) == ("cancelled", "Its link was used.")
