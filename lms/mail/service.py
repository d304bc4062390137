"""The outbox: every email rendered from its templates, queued in the caller's transaction,
and listed for admins. What is sent and why belongs to the areas that send it (accounts'
invitations and resets, certificates' notices, `reminders`); delivery sends the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms import times
from lms.accounts.models import User
from lms.db import add_once, utcnow
from lms.errors import Conflict, NotFound
from lms.mail.models import CANCELLED, FAILED, QUEUED, STATUSES, OutboxMessage
from lms.settings import SITE_NAME, Settings

KINDS = (
    "invitation",
    "password_reset",
    "certificate_issued",
    "reminder_due",
    "reminder_overdue",
    "activity_submitted",
    "activity_decided",
    "activity_waiting",
    "requirement_due",
    "requirement_overdue",
    "team_overdue",
)
REMINDER_KINDS = ("reminder_due", "reminder_overdue")


@lru_cache
def _environment(templates_dir: Path, time_zone: str) -> Environment:
    # Text bodies are not HTML: only the .html templates are autoescaped.
    env = Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # The same time filters as the pages: an email says its times in the academy's zone.
    env.filters.update(times.filters(ZoneInfo(time_zone)))
    return env


@dataclass
class Rendered:
    subject: str
    text: str
    html: str


def one_line(value: str, limit: int) -> str:
    """Header-safe: a name or title with line breaks cannot add headers to an email."""
    return " ".join(value.split())[:limit]


def render(settings: Settings, kind: str, subject: str, **context: Any) -> Rendered:
    """Render templates/mail/<kind>.txt and .html with what every email shares."""
    assert kind in KINDS, kind
    env = _environment(settings.templates_dir, settings.time_zone)
    subject = one_line(subject, 300)
    shared = {"site_name": SITE_NAME, "base_url": settings.base_url, "subject": subject}
    return Rendered(
        subject=subject,
        text=env.get_template(f"mail/{kind}.txt").render(**shared, **context),
        html=env.get_template(f"mail/{kind}.html").render(**shared, **context),
    )


async def queue(
    db: AsyncSession,
    kind: str,
    to: User,
    rendered: Rendered,
    dedupe_key: str | None = None,
    enrollment_id: int | None = None,
) -> OutboxMessage | None:
    """Add an email to the outbox in the caller's transaction; None if already queued."""
    if dedupe_key and await db.scalar(
        select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
    ):
        return None
    message = OutboxMessage(
        kind=kind,
        to_address=to.email,
        to_name=one_line(to.name, 200),
        subject=rendered.subject,
        text_body=rendered.text,
        html_body=rendered.html,
        dedupe_key=dedupe_key,
        user_id=to.id,
        enrollment_id=enrollment_id,
        status=QUEUED,
        created_at=utcnow(),
        next_attempt_at=utcnow(),
    )
    if not await add_once(db, message):
        return None  # the same notice was queued a moment ago by another request or host
    return message


async def cancel_unsent(
    db: AsyncSession, user_id: int, kind: str, why: str = "Replaced by a newer link."
) -> None:
    """An email whose link was replaced or used, or whose news no longer holds, is not sent."""
    await db.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.user_id == user_id,
            OutboxMessage.kind == kind,
            OutboxMessage.status == QUEUED,
        )
        .values(status=CANCELLED, last_error=why)
        .execution_options(synchronize_session=False)
    )


async def cancel_queued(
    db: AsyncSession, dedupe_key: str, why: str, every_reader: bool = False
) -> None:
    """Cancel the message queued under `dedupe_key`, if it has not been sent yet; with
    `every_reader`, the copies queued for each reader as `<dedupe_key>:<user id>` too."""
    keyed = OutboxMessage.dedupe_key == dedupe_key
    if every_reader:
        keyed = or_(keyed, OutboxMessage.dedupe_key.startswith(f"{dedupe_key}:", autoescape=True))
    await db.execute(
        update(OutboxMessage)
        .where(keyed, OutboxMessage.status == QUEUED)
        .values(status=CANCELLED, last_error=why)
        .execution_options(synchronize_session=False)
    )


async def search_outbox(
    db: AsyncSession, status: str = "", kind: str = "", text: str = "", limit: int = 200
) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if status in STATUSES:
        query = query.where(OutboxMessage.status == status)
    if kind in KINDS:
        query = query.where(OutboxMessage.kind == kind)
    if text.strip():
        pattern = f"%{text.strip().lower()}%"
        query = query.where(
            or_(
                OutboxMessage.to_address.like(pattern),
                func.lower(OutboxMessage.subject).like(pattern),
            )
        )
    return list((await db.scalars(query.limit(limit))).all())


async def outbox_counts(db: AsyncSession) -> dict[str, int]:
    rows = await db.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    found = {status: count for status, count in rows.all()}
    return {status: found.get(status, 0) for status in STATUSES}


async def get_message(db: AsyncSession, message_id: int) -> OutboxMessage:
    message = await db.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound("There is no such message in the outbox.")
    return message


async def send_again(db: AsyncSession, message: OutboxMessage) -> None:
    """Give a failed message a fresh set of attempts (after the address or server is fixed)."""
    if message.status != FAILED:
        raise Conflict("Only a failed message can be sent again.")
    message.status, message.attempts, message.next_attempt_at = QUEUED, 0, utcnow()
