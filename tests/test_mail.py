"""Mail delivery through a real SMTP server: TLS and login, outages, retries, no doubles."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from email.headerregistry import Address

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from lms import db as database
from lms.app import create_app
from lms.db import utcnow
from lms.mail import delivery, service
from lms.mail.models import OutboxMessage
from lms.settings import Settings, SettingsError
from tests.conftest import make_person, sign_in
from tests.smtp_server import (
    SMTP_PASSWORD,
    SMTP_USER,
    Inbox,
    authenticate,
    html_part,
    self_signed_certificate,
    server_tls_context,
    smtp_server,
    text_part,
)


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def smtp(inbox: Inbox):
    """A plain SMTP server without login, like a local relay: yields its LMS_SMTP_URL."""
    with smtp_server(inbox) as port:
        yield f"smtp://127.0.0.1:{port}"


@pytest.fixture
async def sessionmaker(settings):
    engine = database.create_engine(settings.database_url)
    yield database.create_sessionmaker(engine)
    await engine.dispose()


async def queue_mail(db, settings, user, count: int = 1, subject: str = "Note") -> list[int]:
    ids = []
    for i in range(count):
        rendered = service.render(
            settings,
            "password_reset",
            f"{subject} {i + 1}",
            name=user.name,
            email=user.email,
            link=f"{settings.base_url}/account/set-password/t{i}",
            hours=2,
            until=utcnow() + timedelta(hours=2),
        )
        message = await service.queue(db, "password_reset", user, rendered)
        ids.append(message.id)
    await db.commit()
    return ids


async def statuses(db) -> dict[int, str]:
    db.expire_all()
    rows = await db.execute(select(OutboxMessage.id, OutboxMessage.status))
    return dict(rows.all())


def assert_no_doubles(inbox: Inbox) -> None:
    ids = inbox.message_ids()
    assert len(ids) == len(set(ids)), ids


async def test_delivers_text_and_html_with_honest_headers(
    db, settings, people, inbox, smtp, sessionmaker
):
    (message_id,) = await queue_mail(db, settings, people["learner"])
    report = await delivery.send_due(sessionmaker, replace(settings, smtp_url=smtp))
    assert (report.sent, report.waiting, report.ok) == (1, 0, True)
    (received,) = inbox.messages
    assert received["From"] == "SOP Learning <no-reply@localhost>"
    assert received["To"] == "Learner <learner@example.org>"
    assert received["Subject"] == "Note 1"
    assert received["Auto-Submitted"] == "auto-generated"
    assert received["Message-ID"].startswith(f"<outbox-{message_id}.")
    assert received.get_content_type() == "multipart/alternative"
    assert "/account/set-password/t0" in text_part(received)
    assert '<a href="http://127.0.0.1:8000/account/set-password/t0"' in html_part(received)
    row = await db.get(OutboxMessage, message_id)
    await db.refresh(row)
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None
    # Run again: nothing is sent twice.
    again = await delivery.send_due(sessionmaker, replace(settings, smtp_url=smtp))
    assert again.sent == 0 and len(inbox.messages) == 1


# Names that Python's header folder used to split so that mail readers saw extra recipients.
TRICKY_NAMES = [
    "Eve Example, attacker4@example.org, Someone With A Long Name To Fold The Line",
    'José "Pepe" Núñez, attacker5@example.org; <attacker6@example.org>, a long name to fold',
    'Ann \\ Back-slash, "attacker7@example.org", ' + "Long" * 35,
]


@pytest.mark.parametrize("name", TRICKY_NAMES)
async def test_a_long_name_with_commas_and_addresses_is_one_recipient(
    db, settings, inbox, smtp, sessionmaker, name
):
    eve = await make_person(db, settings, "eve@example.org", name=name)
    await queue_mail(db, settings, eve)
    sender_name = "SOP Learning, Training Unit, no-reply@attacker.example, with a long name"
    sender = f'"{sender_name}" <no-reply@example.org>'
    settings = replace(settings, smtp_url=smtp, mail_from=sender)
    assert (await delivery.send_due(sessionmaker, settings)).sent == 1
    # The inbox parses the bytes the server received with email.policy.default.
    (received,) = inbox.messages
    assert received["To"].addresses == (Address(name, addr_spec="eve@example.org"),)
    assert received["From"].addresses == (Address(sender_name, addr_spec="no-reply@example.org"),)


async def test_login_without_starttls(db, settings, people, inbox, sessionmaker):
    await queue_mail(db, settings, people["learner"])
    with smtp_server(inbox, authenticator=authenticate, auth_require_tls=False) as port:
        url = f"smtp://{SMTP_USER}:{SMTP_PASSWORD.replace(' ', '%20')}@127.0.0.1:{port}"
        report = await delivery.send_due(sessionmaker, replace(settings, smtp_url=url))
    assert report.sent == 1 and len(inbox.messages) == 1


async def test_starttls_with_login_checks_the_certificate(
    db, settings, people, inbox, sessionmaker, tmp_path, monkeypatch
):
    cert, key = self_signed_certificate(tmp_path)
    await queue_mail(db, settings, people["learner"], 2)
    options = {
        "tls_context": server_tls_context(cert, key),
        "require_starttls": True,
        "authenticator": authenticate,
        "auth_require_tls": True,
    }
    password = SMTP_PASSWORD.replace(" ", "%20")
    with smtp_server(inbox, **options) as port:
        url = f"smtp://{SMTP_USER}:{password}@127.0.0.1:{port}?starttls=true"
        # The server's certificate is not trusted yet: nothing is sent and nothing is lost.
        untrusted = await delivery.send_due(sessionmaker, replace(settings, smtp_url=url))
        assert untrusted.sent == 0 and "CERTIFICATE_VERIFY_FAILED" in untrusted.outage
        assert set((await statuses(db)).values()) == {"queued"}
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        later = utcnow() + timedelta(minutes=2)
        report = await delivery.send_due(sessionmaker, replace(settings, smtp_url=url), now=later)
    assert report.sent == 2 and len(inbox.messages) == 2


async def test_implicit_tls(db, settings, people, inbox, sessionmaker, tmp_path, monkeypatch):
    cert, key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    await queue_mail(db, settings, people["learner"])
    with smtp_server(inbox, ssl_context=server_tls_context(cert, key)) as port:
        url = f"smtps://127.0.0.1:{port}"
        report = await delivery.send_due(sessionmaker, replace(settings, smtp_url=url))
    assert report.sent == 1 and len(inbox.messages) == 1


async def test_wrong_password_holds_everything_back(db, settings, people, inbox, sessionmaker):
    await queue_mail(db, settings, people["learner"], 3)
    with smtp_server(inbox, authenticator=authenticate, auth_require_tls=False) as port:
        url = f"smtp://{SMTP_USER}:wrong@127.0.0.1:{port}"
        report = await delivery.send_due(sessionmaker, replace(settings, smtp_url=url))
    assert report.sent == 0 and not report.ok
    assert report.outage.startswith("The mail server refused the login in LMS_SMTP_URL: 535")
    rows = (await db.scalars(select(OutboxMessage))).all()
    # Not the messages' fault: none used up an attempt.
    assert {(m.status, m.attempts) for m in rows} == {("queued", 0)}


async def test_an_outage_in_the_middle_of_a_batch_loses_nothing_and_sends_nothing_twice(
    db, settings, people, inbox, smtp, sessionmaker
):
    ids = await queue_mail(db, settings, people["learner"], 6)
    settings = replace(settings, smtp_url=smtp)
    inbox.drop_after = 2  # the server hangs up while taking the third message
    now = utcnow()
    report = await delivery.send_due(sessionmaker, settings, now=now)
    assert report.sent == 2 and "Lost the connection" in report.outage and not report.ok
    assert report.waiting == 4
    states = await statuses(db)
    assert [states[i] for i in ids] == ["sent", "sent", "queued", "queued", "queued", "queued"]
    held = (await db.scalars(select(OutboxMessage).where(OutboxMessage.status == "queued"))).all()
    assert {m.attempts for m in held} == {0}
    assert {m.next_attempt_at for m in held} == {now + delivery.OUTAGE_PAUSE}
    # Straight away nothing is due: the outbox waits for the server instead of hammering it.
    assert (await delivery.send_due(sessionmaker, settings, now=now)).sent == 0
    inbox.drop_after = None  # the server is back
    report = await delivery.send_due(sessionmaker, settings, now=now + timedelta(minutes=2))
    assert report.sent == 4 and report.ok
    # A rerun sends nothing twice.
    assert (await delivery.send_due(sessionmaker, settings, now=now + timedelta(hours=1))).sent == 0
    assert len(inbox.messages) == 6
    assert_no_doubles(inbox)
    assert sorted(m["Subject"] for m in inbox.messages) == [f"Note {i}" for i in range(1, 7)]


async def test_unreachable_server_keeps_everything_queued(db, settings, people, sessionmaker):
    await queue_mail(db, settings, people["learner"], 2)
    closed = replace(settings, smtp_url="smtp://127.0.0.1:9")  # nothing listens on port 9
    report = await delivery.send_due(sessionmaker, closed)
    assert report.sent == 0 and report.waiting == 2
    assert report.outage.startswith("Could not connect to the mail server")
    assert "Stopped early" in str(report)


async def test_temporary_refusal_is_retried_with_backoff(
    db, settings, people, inbox, smtp, sessionmaker
):
    settings = replace(settings, smtp_url=smtp)
    await queue_mail(db, settings, people["learner"])
    (greylisted,) = await queue_mail(db, settings, people["learner2"])
    await queue_mail(db, settings, people["admin"])
    inbox.refuse["learner2@example.org"] = "451 4.7.1 Greylisted, try again later"
    now = utcnow()
    report = await delivery.send_due(sessionmaker, settings, now=now)
    assert (report.sent, report.retrying, report.failed) == (2, 1, 0)
    row = await db.get(OutboxMessage, greylisted)
    assert (row.status, row.attempts) == ("queued", 1)
    assert row.next_attempt_at == now + timedelta(minutes=1)
    assert "451 4.7.1 Greylisted" in row.last_error
    # Not due yet: nothing happens.
    assert (
        await delivery.send_due(sessionmaker, settings, now=now + timedelta(seconds=30))
    ).sent == 0
    # Refused again: the pause doubles.
    second = now + timedelta(minutes=1)
    assert (await delivery.send_due(sessionmaker, settings, now=second)).retrying == 1
    await db.refresh(row)
    assert row.attempts == 2 and row.next_attempt_at == second + timedelta(minutes=2)
    del inbox.refuse["learner2@example.org"]
    report = await delivery.send_due(sessionmaker, settings, now=second + timedelta(minutes=2))
    assert report.sent == 1
    await db.refresh(row)
    assert (row.status, row.attempts) == ("sent", 3)
    assert len(inbox.messages) == 3 and len(inbox.to("learner2@example.org")) == 1
    assert_no_doubles(inbox)


async def test_too_many_refusals_fail_and_admins_can_send_again(
    client, db, settings, people, inbox, smtp, sessionmaker
):
    settings = replace(settings, smtp_url=smtp)
    (message_id,) = await queue_mail(db, settings, people["learner2"], subject="Stuck")
    inbox.refuse["learner2@example.org"] = "452 4.2.2 Mailbox full"
    now = utcnow()
    for _ in range(delivery.MAX_ATTEMPTS):
        await delivery.send_due(sessionmaker, settings, now=now)
        now += delivery.RETRY_CAP
    row = await db.get(OutboxMessage, message_id)
    assert (row.status, row.attempts) == ("failed", delivery.MAX_ATTEMPTS)
    assert "Mailbox full" in row.last_error
    await sign_in(client, "admin@example.org")
    listing = await client.get("/admin/outbox?status=failed")
    assert "Stuck 1" in listing.text and "Failed" in listing.text
    page = await client.get(f"/admin/outbox/{message_id}")
    assert "452 4.2.2 Mailbox full" in page.text
    from tests.conftest import csrf_token

    again = await client.post(
        f"/admin/outbox/{message_id}/retry", data={"_csrf_token": csrf_token(page.text)}
    )
    assert "The message is queued to be sent again." in again.text
    del inbox.refuse["learner2@example.org"]
    assert (await delivery.send_due(sessionmaker, settings)).sent == 1


async def test_permanent_refusal_fails_at_once(db, settings, people, inbox, smtp, sessionmaker):
    settings = replace(settings, smtp_url=smtp)
    (message_id,) = await queue_mail(db, settings, people["learner2"])
    await queue_mail(db, settings, people["learner"])
    inbox.refuse["learner2@example.org"] = "550 5.1.1 No such user"
    report = await delivery.send_due(sessionmaker, settings)
    assert (report.sent, report.failed, report.ok) == (1, 1, False)
    row = await db.get(OutboxMessage, message_id)
    assert (row.status, row.attempts) == ("failed", 1) and "550 5.1.1" in row.last_error


async def test_concurrent_senders_never_send_one_message_twice(
    db, settings, people, inbox, smtp, sessionmaker
):
    settings = replace(settings, smtp_url=smtp)
    await queue_mail(db, settings, people["learner"], 12)
    inbox.delay = 0.02
    other_engine = database.create_engine(settings.database_url)
    try:
        other = database.create_sessionmaker(other_engine)
        reports = await asyncio.gather(
            delivery.send_due(sessionmaker, settings, batch=2),
            delivery.send_due(other, settings, batch=2),
            delivery.send_due(sessionmaker, settings, batch=3),
        )
    finally:
        await other_engine.dispose()
    assert sum(r.sent for r in reports) == 12, [r.sent for r in reports]
    assert len(inbox.messages) == 12
    assert_no_doubles(inbox)


async def test_a_stopped_sender_hands_its_messages_over_after_its_lease(
    db, settings, people, inbox, smtp, sessionmaker
):
    abandoned, held = await queue_mail(db, settings, people["learner"], 2)
    now = utcnow()
    await db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == abandoned)
        .values(status="sending", claimed_by="died", next_attempt_at=now - timedelta(seconds=1))
    )
    await db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == held)
        .values(status="sending", claimed_by="busy", next_attempt_at=now + delivery.LEASE)
    )
    await db.commit()
    report = await delivery.send_due(sessionmaker, replace(settings, smtp_url=smtp), now=now)
    assert report.sent == 1
    assert (await statuses(db)) == {abandoned: "sent", held: "sending"}
    assert inbox.messages[0]["Subject"] == "Note 1"


async def test_without_smtp_url_mail_waits_in_the_outbox(
    client, db, settings, people, sessionmaker
):
    await queue_mail(db, settings, people["learner"], 2)
    report = await delivery.send_due(sessionmaker, settings)
    assert not report.configured and not report.ok and report.waiting == 2
    assert "/admin/outbox" in str(report)
    await sign_in(client, "admin@example.org")
    listing = await client.get("/admin/outbox")
    assert "No mail server is set" in listing.text and "Note 2" in listing.text


async def test_the_server_sends_in_the_background_and_stops_cleanly(
    db, settings, people, inbox, smtp
):
    await queue_mail(db, settings, people["learner"])
    background = replace(settings, smtp_url=smtp, mail_send_interval=1)
    async with AsyncTestClient(app=create_app(background, stop_pdf_pool=False)) as other:
        assert (await other.get("/healthz")).status_code == 200
        for _ in range(50):
            if inbox.messages:
                break
            await asyncio.sleep(0.1)
        await queue_mail(db, settings, people["learner2"], subject="Later")
        for _ in range(50):
            if len(inbox.messages) == 2:
                break
            await asyncio.sleep(0.1)
    assert len(inbox.messages) == 2
    assert_no_doubles(inbox)


def test_smtp_settings_are_checked():
    settings = Settings.from_env(
        {
            "LMS_SMTP_URL": "smtp://u:p@mail.example.org:587?starttls=true",
            "LMS_MAIL_FROM": "A <a@b.org>",
        }
    )
    server = delivery.SmtpServer.from_url(settings.smtp_url)
    assert (server.host, server.port, server.starttls, server.username) == (
        "mail.example.org",
        587,
        True,
        "u",
    )
    assert delivery.SmtpServer.from_url("smtps://mail.example.org").port == 465
    for bad in ["http://mail.example.org", "smtp://", "smtp://host:port"]:
        with pytest.raises(SettingsError, match="LMS_SMTP_URL"):
            Settings.from_env({"LMS_SMTP_URL": bad})
    for bad in ["nobody", "A <a@b.org>, B <b@c.org>", "Training, SOP <a@b.org>", "A <a@b.org"]:
        with pytest.raises(SettingsError, match="LMS_MAIL_FROM must be one address"):
            Settings.from_env({"LMS_MAIL_FROM": bad})
    assert Settings.from_env({"LMS_MAIL_FROM": '"Training, SOP" <a@b.org>'}).mail_sender == (
        Address("Training, SOP", addr_spec="a@b.org")
    )


def lms(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
    environ.update(LMS_DATABASE_URL=settings.database_url, **env)
    return subprocess.run(
        [sys.executable, "-m", "lms.cli", *args], env=environ, capture_output=True, text=True
    )


async def test_mail_send_command(db, settings, people, inbox, smtp):
    await queue_mail(db, settings, people["learner"], 2)
    unset = await asyncio.to_thread(lms, settings, "mail", "send")
    assert unset.returncode == 1 and "LMS_SMTP_URL is not set" in unset.stdout
    sent = await asyncio.to_thread(lms, settings, "mail", "send", LMS_SMTP_URL=smtp)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith("Sent 2, will retry 0, failed 0")
    down = await asyncio.to_thread(lms, settings, "mail", "send", LMS_SMTP_URL="smtp://127.0.0.1:9")
    assert down.returncode == 0  # nothing was due, so nothing was held back
    await queue_mail(db, settings, people["learner"], 1)
    down = await asyncio.to_thread(lms, settings, "mail", "send", LMS_SMTP_URL="smtp://127.0.0.1:9")
    assert down.returncode == 1 and "Could not connect" in down.stdout
    assert len(inbox.messages) == 2


@pytest.mark.parametrize("args", [["mail"], ["mail", "send"], ["reminders", "send"]])
def test_mail_commands_have_help(args):
    from click.testing import CliRunner

    from lms.cli import main

    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output and len(result.output) > 200
