"""The audit log: who changed what, when, with the values before and after."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import County, User
from lms.catalog.models import Course, CourseVersion
from lms.certificates.models import Certificate
from lms.cohorts.models import Cohort, LiveSession
from lms.db import Base, utcnow
from lms.forms import parse_id
from lms.learning.models import Enrollment


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(60))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    actor: Mapped[User | None] = relationship(lazy="joined")


def record(
    db: AsyncSession,
    actor: User | None,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add an audit event to the current transaction, so it lands only if the change does."""
    db.add(
        AuditEvent(
            actor_id=actor.id if actor else None,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            before=before,
            after=after,
        )
    )


# What the audit page calls each action; an action missing here shows its code.
ACTIONS = {
    "person.create": "Added a person",
    "person.update": "Edited a person",
    "person.deactivate": "Deactivated a person",
    "person.reactivate": "Reactivated a person",
    "person.temporary_password": "Set a temporary password",
    "cohort.create": "Created a cohort",
    "cohort.update": "Edited a cohort",
    "cohort.add_member": "Added a cohort member",
    "cohort.remove_member": "Removed a cohort member",
    "cohort.roster_import": "Imported a cohort roster",
    "certificate.issue": "Issued a certificate",
    "certificate.reissue": "Reissued a certificate",
    "certificate.revoke": "Revoked a certificate",
    "enrollment.create": "Enrolled a learner",
    "enrollment.reactivate": "Enrolled a learner again",
    "enrollment.withdraw": "Withdrew an enrollment",
    "session.schedule": "Scheduled a live session",
    "session.attendance": "Recorded attendance",
    "courses.sync": "Synced the courses",
    "trainer.qualify": "Recorded a trainer's qualification",
    "cohort.qualification_override": "Put an unqualified trainer on a cohort",
    "session.fidelity": "Logged a session's delivery",
    "session.skills": "Scored skills",
    "activity.submit": "Sent a field activity",
    "activity.sign_off": "Signed off a field activity",
    "activity.return": "Returned a field activity",
    "enrollment.extra_attempt": "Granted one more attempt",
    "enrollment.due_date": "Moved a learner's due date",
    "enrollment.reopen_module": "Reopened a module",
}
FIELDS = {
    "email": "Email",
    "name": "Name",
    "roles": "Roles",
    "county_id": "County",
    "active": "Active",
    "starts_on": "Starts on",
    "ends_on": "Ends on",
    "counties": "Counties",
    "trainers": "Trainers",
    "courses": "Courses",
    "user_id": "Person",
    "enrollment_id": "Enrollment",
    "learner": "Learner",
    "learner_name": "Name on the certificate",
    "serial": "Serial",
    "reason": "Reason",
    "title": "Title",
    "cohort_id": "Cohort",
    "course": "Course",
    "results": "Changes",
    "rows": "Rows",
    "members": "Members",
    "bulk": "Issued in bulk",
    "activity": "Field activity",
    "revision": "Step",
    "file": "File",
    "scores": "Rubric scores",
    "status": "Status",
    "target": "Quiz",
    "extra_attempts": "Extra attempts",
    "due_on": "Due",
    "module": "Module",
}
# The kind of record an entity, or the ids in a field, point to (a field's ids are its
# value, the items of its list or the keys of its dict). "course" holds a slug.
ENTITY_KINDS = {
    "user": "person",
    "cohort": "cohort",
    "certificate": "certificate",
    "enrollment": "enrollment",
    "live_session": "live session",
}
FIELD_KINDS = {
    "user_id": "person",
    "trainers": "person",
    "county_id": "county",
    "counties": "county",
    "cohort_id": "cohort",
    "enrollment_id": "enrollment",
    "courses": "course",
    "course": "course slug",
}
# person.create and person.update by a cohort or a roster import say so in "via".
VIA = re.compile(r"(cohort|roster) ([0-9]+)")

Key = tuple[str, object]  # (kind, id or serial or slug)


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class Entry:
    """One audit event as the audit page shows it: names, not ids."""

    at: datetime
    actor: str
    action: str
    what: str
    subject: str
    changes: list[Change]
    note: str = ""


# Kinds whose ids are integers; a certificate is known by its serial, a course also by slug.
INTEGER_KINDS = frozenset({"person", "cohort", "county", "enrollment", "live session", "course"})


def _key(kind: str, raw: object) -> Key:
    """Ids are ints in the database but strings in entity_id and in JSON dict keys."""
    text = str(raw)
    number = parse_id(text) if kind in INTEGER_KINDS else None
    return kind, text if number is None else number


def _references(event: AuditEvent) -> Iterator[Key]:
    """Every record the event mentions: its entity and the ids in its fields."""
    if event.entity in ENTITY_KINDS:
        yield _key(ENTITY_KINDS[event.entity], event.entity_id)
    for values in (event.before or {}, event.after or {}):
        if event.action == "session.attendance":
            yield from (_key("person", person_id) for person_id in values)
            continue
        for field, value in values.items():
            if field == "via":
                if via := VIA.fullmatch(str(value)):
                    yield _key("cohort", via.group(2))
            elif field in FIELD_KINDS and value is not None:
                items = value if isinstance(value, list | dict) else [value]
                yield from (_key(FIELD_KINDS[field], item) for item in items)


async def _names(db: AsyncSession, keys: set[Key]) -> dict[Key, str]:
    """The name of every record mentioned: one query per kind of record, however many rows."""
    wanted: dict[str, set[Any]] = defaultdict(set)
    for kind, value in keys:
        # A malformed id names nothing (and must not reach an integer column).
        if kind not in INTEGER_KINDS or isinstance(value, int):
            wanted[kind].add(value)
    # (kind, how the columns after the key make its name, the query)
    lookups: list[tuple[str, str, Any]] = [
        ("person", "{}", select(User.id, User.name).where(User.id.in_(wanted["person"]))),
        ("cohort", "{}", select(Cohort.id, Cohort.name).where(Cohort.id.in_(wanted["cohort"]))),
        ("county", "{}", select(County.id, County.name).where(County.id.in_(wanted["county"]))),
        (
            "live session",
            "{} ({})",
            select(LiveSession.id, LiveSession.title, Cohort.name)
            .join(Cohort, Cohort.id == LiveSession.cohort_id)
            .where(LiveSession.id.in_(wanted["live session"])),
        ),
        (
            "certificate",
            "{} ({}, {})",
            select(
                Certificate.serial,
                Certificate.serial,
                Certificate.learner_name,
                Certificate.course_title,
            ).where(Certificate.serial.in_(wanted["certificate"])),
        ),
        (
            "enrollment",
            "{} in {}",
            select(Enrollment.id, User.name, CourseVersion.title)
            .join(User, User.id == Enrollment.user_id)
            .join(CourseVersion, CourseVersion.id == Enrollment.version_id)
            .where(Enrollment.id.in_(wanted["enrollment"])),
        ),
    ]
    names: dict[Key, str] = {}
    for kind, name, query in lookups:
        if wanted[kind]:
            for key, *parts in (await db.execute(query)).all():
                names[kind, key] = name.format(*parts)
    if wanted["course"] or wanted["course slug"]:
        # Courses by id and by slug in one query, named by their current version's title.
        courses = await db.execute(
            select(Course.id, Course.slug, CourseVersion.title)
            .outerjoin(CourseVersion, CourseVersion.id == Course.current_version_id)
            .where(Course.id.in_(wanted["course"]) | Course.slug.in_(wanted["course slug"]))
        )
        for course_id, slug, title in courses.all():
            names["course", course_id] = names["course slug", slug] = title or slug
    return names


def _name(names: dict[Key, str], kind: str, raw: object) -> str:
    key = _key(kind, raw)
    return names.get(key) or f"a deleted {kind} (#{key[1]})"


def _text(field: str, value: Any, names: dict[Key, str]) -> str:
    """A field's value as a reader would say it: names for ids, lists joined."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    kind = FIELD_KINDS.get(field)
    if field == "courses" and isinstance(value, dict):
        # A cohort's courses: {course id: due date or None}.
        return ", ".join(
            _name(names, "course", course_id) + (f" (due {due})" if due else "")
            for course_id, due in value.items()
        )
    if isinstance(value, list) and kind:
        return ", ".join(sorted(_name(names, kind, item) for item in value))  # ids: by name
    if isinstance(value, list):
        return ", ".join(_text(field, item, names) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_text(key, item, names)}" for key, item in value.items())
    return _name(names, kind, value) if kind else str(value)


def _changes(event: AuditEvent, names: dict[Key, str]) -> list[Change]:
    """Only the fields whose value changed; a created record shows all of its fields."""
    before, after = event.before or {}, event.after or {}
    attendance = event.action == "session.attendance"  # {person id: present?}

    def shown(values: dict[str, Any], field: str) -> str:
        if field not in values:
            return ""
        if attendance:
            return "present" if values[field] else "absent"
        return _text(field, values[field], names)

    changes = []
    for field in [*before, *(field for field in after if field not in before)]:
        if field == "via" or before.get(field) == after.get(field):
            continue
        if attendance:
            label = _name(names, "person", field)
        else:
            label = FIELDS.get(field, field.replace("_", " ").capitalize())
        changes.append(Change(label, shown(before, field), shown(after, field)))
    return changes


def _subject(event: AuditEvent, names: dict[Key, str]) -> str:
    """Whom or what the action was done to."""
    if event.entity in ENTITY_KINDS:
        return _name(names, ENTITY_KINDS[event.entity], event.entity_id)
    if event.entity == "catalog":
        return "all courses"
    return f"{event.entity} {event.entity_id}"


def _note(event: AuditEvent, names: dict[Key, str]) -> str:
    via = VIA.fullmatch(str((event.after or {}).get("via", "")))
    if via is None:
        return ""
    cohort = _name(names, "cohort", via.group(2))
    return f"by a roster import into {cohort}" if via.group(1) == "roster" else f"in {cohort}"


async def describe(db: AsyncSession, events: Sequence[AuditEvent]) -> list[Entry]:
    """The events as the audit page shows them: who did what to whom, and what changed."""
    names = await _names(db, {key for event in events for key in _references(event)})
    return [
        Entry(
            at=event.at,
            actor=event.actor.name if event.actor else "System",
            action=event.action,
            what=ACTIONS.get(event.action, event.action),
            subject=_subject(event, names),
            changes=_changes(event, names),
            note=_note(event, names),
        )
        for event in events
    ]
