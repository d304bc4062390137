"""Delivery: claim due messages from the outbox, send them over SMTP, retry with backoff."""

from __future__ import annotations

import asyncio
import logging
import secrets
import smtplib
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lms.accounts.models import User
from lms.db import utcnow
from lms.learning.models import ACTIVE, Enrollment
from lms.mail.models import CANCELLED, FAILED, QUEUED, SENDING, SENT, OutboxMessage
from lms.mail.service import REMINDER_KINDS
from lms.settings import Settings

log = logging.getLogger("lms.mail")

SMTP_TIMEOUT = 20  # seconds for each network step
BATCH = 20
# A sender holds what it claimed this long; if it dies, another sender takes over afterwards.
# It must outlast a batch: BATCH messages at SMTP_TIMEOUT each.
LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 8  # the last one about two hours after the first
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=6)
OUTAGE_PAUSE = timedelta(minutes=1)

Sessionmaker = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to send, from LMS_SMTP_URL."""

    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """smtp://user:pass@host:587?starttls=true, smtps://user:pass@host:465, smtp://host:25."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(
                "LMS_SMTP_URL must be smtp://[user:password@]host[:port][?starttls=true]"
            )
        implicit_tls = parts.scheme == "smtps"
        flag = parse_qs(parts.query).get("starttls", ["false"])[0].lower()
        starttls = not implicit_tls and flag in ("1", "true", "yes", "on")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit_tls else 587 if starttls else 25),
            implicit_tls=implicit_tls,
            starttls=starttls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )


class SmtpConnection:
    """One SMTP session. smtplib blocks, so every call runs in a worker thread."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self.client: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        server = self.server
        # Certificates are checked against the system's trust store (SSL_CERT_FILE adds one).
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if server.implicit_tls:
            client = smtplib.SMTP_SSL(
                server.host, server.port, timeout=SMTP_TIMEOUT, context=context
            )
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT)
        try:
            client.ehlo()
            if server.starttls:
                client.starttls(context=context)
                client.ehlo()
            if server.username:
                client.login(server.username, server.password or "")
        except BaseException:
            client.close()
            raise
        return client

    async def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        """Send to exactly `recipient`: the envelope never comes from parsing our own headers."""
        if self.client is None:
            self.client = await asyncio.to_thread(self._connect)
        await asyncio.to_thread(self.client.send_message, message, sender, [recipient])

    @property
    def is_open(self) -> bool:
        return self.client is not None

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            with suppress(smtplib.SMTPException, OSError):
                await asyncio.to_thread(client.quit)
            client.close()


class Outage(Exception):
    """The server cannot take any message now (unreachable, gone, refusing us): stop the run."""


def _reply(code: int, text: bytes | str) -> str:
    raw = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(raw.split())}"


def verdict(exc: Exception, connected: bool) -> tuple[str, str]:
    """What an error means for one message: "outage", "retry" or "fail", and a description."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        reply = _reply(exc.smtp_code, exc.smtp_error)
        return "outage", f"The mail server refused the login in LMS_SMTP_URL: {reply}"
    if not connected:
        return "outage", f"Could not connect to the mail server: {exc!r}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return ("fail" if code >= 500 else "retry"), f"Recipient refused: {_reply(code, text)}"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return (
            "outage",
            f"The server refused the sender LMS_MAIL_FROM: {_reply(exc.smtp_code, exc.smtp_error)}",
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = _reply(exc.smtp_code, exc.smtp_error)
        if exc.smtp_code == 421:  # the server is closing the connection
            return "outage", f"The mail server is not available: {reply}"
        return ("fail" if exc.smtp_code >= 500 else "retry"), f"The mail server said: {reply}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return "fail", f"The mail server cannot take this message: {exc}"
    return "outage", f"Lost the connection to the mail server: {exc!r}"


def backoff(attempts: int) -> timedelta:
    """Wait 1, 2, 4, 8 ... minutes after each temporary refusal, at most RETRY_CAP."""
    return min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)


ADDRESS_HEADERS = frozenset({"from", "sender", "reply-to", "to", "cc", "bcc"})
MAX_LINE = 998  # RFC 5322 2.1.1: no line of a message may be longer


class MailPolicy(EmailPolicy):
    """Like policy.SMTP, except that headers holding addresses are never folded.

    Python's folder drops the quotes of a display name it splits across lines (CPython
    gh-80222; the Pythons we run on may predate the fix), so a learner named
    "Eve, eve@evil.example, and a long name" showed up in mail readers as several
    recipients. On one line the quotes (or the encoded-word of a non-ASCII name) stay whole;
    a name is at most 200 characters, far below the 998 a line may hold.
    """

    def _for(self, name: str) -> EmailPolicy:
        return self.clone(max_line_length=None) if name.lower() in ADDRESS_HEADERS else self

    def fold(self, name: str, value: Any) -> str:
        return EmailPolicy.fold(self._for(name), name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        return EmailPolicy.fold_binary(self._for(name), name, value)


POLICY = MailPolicy(linesep="\r\n")  # as policy.SMTP


def _set_address(email: EmailMessage, header: str, address: Address) -> None:
    """Add an address header; a name too long for one line is left out, never the address."""
    email[header] = address
    if len(POLICY.fold(header, email[header])) > MAX_LINE + len(POLICY.linesep):
        del email[header]
        email[header] = Address(addr_spec=address.addr_spec)


def build(message: OutboxMessage, settings: Settings) -> EmailMessage:
    """The email for an outbox row; ValueError when the recipient's address is not valid."""
    email = EmailMessage(policy=POLICY)
    sender = settings.mail_sender
    domain = sender.domain or "localhost"
    # Address objects, never strings: the email package quotes or encodes the name itself.
    _set_address(email, "From", sender)
    _set_address(email, "To", Address(message.to_name, addr_spec=message.to_address))
    email["Subject"] = message.subject
    email["Date"] = formatdate(usegmt=True)
    # The same on every retry, so a receiving system can drop a duplicate after a crash.
    email["Message-ID"] = f"<outbox-{message.id}.{message.created_at:%Y%m%d%H%M%S}@{domain}>"
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    email.set_content(message.text_body)
    email.add_alternative(message.html_body, subtype="html")
    return email


def _due(now: datetime) -> ColumnElement[bool]:
    # Queued and due, or held by a sender whose lease has run out (it stopped or died).
    return and_(OutboxMessage.status.in_((QUEUED, SENDING)), OutboxMessage.next_attempt_at <= now)


async def _cancel_moot(db: AsyncSession) -> int:
    """Queued mail that no longer applies is not sent: deactivated people, closed courses."""
    deactivated = await db.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == QUEUED,
            OutboxMessage.user_id.in_(select(User.id).where(User.active.is_(False))),
        )
        .values(status=CANCELLED, last_error="Not sent: the account was deactivated.")
        .execution_options(synchronize_session=False)
    )
    closed = await db.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == QUEUED,
            OutboxMessage.kind.in_(REMINDER_KINDS),
            OutboxMessage.enrollment_id.in_(
                select(Enrollment.id).where(Enrollment.status != ACTIVE)
            ),
        )
        .values(status=CANCELLED, last_error="Not sent: the course was completed or left.")
        .execution_options(synchronize_session=False)
    )
    return deactivated.rowcount + closed.rowcount  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult


async def claim(
    sessionmaker: Sessionmaker, now: datetime, limit: int
) -> tuple[str, list[OutboxMessage], int]:
    """Take up to `limit` due messages for this sender, atomically.

    One UPDATE marks them "sending" with this sender's token and a lease: on PostgreSQL the
    rows are locked (SKIP LOCKED lets other senders take the next ones) and the WHERE is
    checked again after any wait; SQLite runs one writer at a time. So no two senders, on
    one host or many, ever hold the same message. Returns the token, the messages, and
    how many moot messages were cancelled.
    """
    token = secrets.token_hex(16)
    async with sessionmaker() as db, db.begin():
        # A write first, so SQLite takes its write lock before reading anything.
        cancelled = await _cancel_moot(db)
        due = (
            select(OutboxMessage.id)
            .where(_due(now))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        await db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due.scalar_subquery()), _due(now))
            .values(status=SENDING, claimed_by=token, next_attempt_at=now + LEASE)
            .execution_options(synchronize_session=False)
        )
    async with sessionmaker() as db:
        claimed = await db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.claimed_by == token, OutboxMessage.status == SENDING)
            .order_by(OutboxMessage.id)
        )
        return token, list(claimed.all()), cancelled


async def _finish(
    sessionmaker: Sessionmaker, ids: Sequence[int], token: str, **values: Any
) -> None:
    """Record an outcome, only for messages this sender still holds."""
    if not ids:
        return
    async with sessionmaker() as db, db.begin():
        await db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == token)
            .values(claimed_by=None, **values)
            .execution_options(synchronize_session=False)
        )


@dataclass
class DeliveryReport:
    configured: bool = True
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    outage: str | None = None
    waiting: int = 0  # queued after this run, including retries due later

    @property
    def ok(self) -> bool:
        return self.configured and self.outage is None and not (self.retrying or self.failed)

    def __str__(self) -> str:
        if not self.configured:
            return (
                f"LMS_SMTP_URL is not set, so nothing was sent: {self.waiting} message(s) "
                "wait in the outbox (admins can read them at /admin/outbox)."
            )
        line = (
            f"Sent {self.sent}, will retry {self.retrying}, failed {self.failed}, "
            f"cancelled {self.cancelled}; {self.waiting} waiting."
        )
        return f"{line} Stopped early: {self.outage}" if self.outage else line


async def waiting(sessionmaker: Sessionmaker) -> int:
    async with sessionmaker() as db:
        query = select(func.count()).select_from(OutboxMessage)
        return (await db.scalar(query.where(OutboxMessage.status.in_((QUEUED, SENDING))))) or 0


async def send_due(
    sessionmaker: Sessionmaker,
    settings: Settings,
    now: datetime | None = None,
    limit: int = 1000,
    batch: int = BATCH,
    stop: asyncio.Event | None = None,
) -> DeliveryReport:
    """Send every due message (up to `limit`) over one SMTP connection and record each outcome.

    Each outcome is committed as soon as it is known, so a crash or an outage in the middle
    loses nothing and sends nothing twice. Without LMS_SMTP_URL nothing is sent.
    """
    report = DeliveryReport(configured=bool(settings.smtp_url))
    if not report.configured:
        report.waiting = await waiting(sessionmaker)
        return report
    connection = SmtpConnection(SmtpServer.from_url(settings.smtp_url))
    try:
        while report.sent + report.retrying + report.failed < limit:
            if stop is not None and stop.is_set():
                break
            moment = now or utcnow()
            wanted = min(batch, limit - report.sent - report.retrying - report.failed)
            token, claimed, cancelled = await claim(sessionmaker, moment, wanted)
            report.cancelled += cancelled
            if not claimed:
                break
            if not await _send_batch(
                sessionmaker, settings, connection, token, claimed, moment, report, stop
            ):
                break
    finally:
        await connection.close()
    report.waiting = await waiting(sessionmaker)
    return report


async def _send_batch(
    sessionmaker: Sessionmaker,
    settings: Settings,
    connection: SmtpConnection,
    token: str,
    claimed: list[OutboxMessage],
    now: datetime,
    report: DeliveryReport,
    stop: asyncio.Event | None,
) -> bool:
    """Send what was claimed; False when the run must stop (an outage, or asked to stop)."""
    for index, message in enumerate(claimed):
        rest = [m.id for m in claimed[index:]]
        if stop is not None and stop.is_set():
            await _finish(sessionmaker, rest, token, status=QUEUED, next_attempt_at=now)
            return False
        try:
            email = build(message, settings)
        except (ValueError, TypeError) as exc:
            await _finish(
                sessionmaker, [message.id], token, status=FAILED, last_error=f"Cannot build: {exc}"
            )
            report.failed += 1
            continue
        try:
            await connection.send(email, settings.mail_sender.addr_spec, message.to_address)
        except (smtplib.SMTPException, OSError) as exc:
            outcome, error = verdict(exc, connection.is_open)
        else:
            await _finish(
                sessionmaker,
                [message.id],
                token,
                status=SENT,
                sent_at=now,
                attempts=message.attempts + 1,
            )
            report.sent += 1
            continue
        if outcome == "outage":
            # Not the message's fault: it keeps its attempts and everything waits a little.
            await connection.close()
            await _finish(
                sessionmaker,
                [message.id],
                token,
                status=QUEUED,
                next_attempt_at=now + OUTAGE_PAUSE,
                last_error=error,
            )
            await _finish(
                sessionmaker, rest[1:], token, status=QUEUED, next_attempt_at=now + OUTAGE_PAUSE
            )
            report.outage = error
            log.warning("mail: %s; %d message(s) put back in the queue", error, len(rest))
            return False
        attempts = message.attempts + 1
        if outcome == "fail" or attempts >= MAX_ATTEMPTS:
            await _finish(
                sessionmaker,
                [message.id],
                token,
                status=FAILED,
                attempts=attempts,
                last_error=error,
            )
            report.failed += 1
            log.warning("mail: message %d to %s failed: %s", message.id, message.to_address, error)
        else:
            await _finish(
                sessionmaker,
                [message.id],
                token,
                status=QUEUED,
                attempts=attempts,
                next_attempt_at=now + backoff(attempts),
                last_error=error,
            )
            report.retrying += 1
    return True


async def _deliver_forever(
    sessionmaker: Sessionmaker, settings: Settings, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            report = await send_due(sessionmaker, settings, stop=stop)
            if report.sent or report.failed or report.outage:
                log.info("mail: %s", report)
        except Exception:
            # The database may be restarting; the next round tries again.
            log.exception("mail: sending failed; trying again in %s s", settings.mail_send_interval)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.mail_send_interval)


@asynccontextmanager
async def background(sessionmaker: Sessionmaker, settings: Settings) -> AsyncIterator[None]:
    """While the server runs, send due mail every LMS_MAIL_SEND_INTERVAL seconds.

    Off without LMS_SMTP_URL or with an interval of 0 (tests; or when cron runs
    `lms mail send`). Every worker may run it: claiming keeps them from sending twice.
    """
    if not settings.smtp_url or settings.mail_send_interval <= 0:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(_deliver_forever(sessionmaker, settings, stop), name="lms-mail")
    try:
        yield
    finally:
        stop.set()
        # Let the message in flight finish; past that, its lease hands it to the next sender.
        with suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=SMTP_TIMEOUT + 5)
