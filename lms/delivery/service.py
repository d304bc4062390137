"""Sessions delivered as written: the agenda, fidelity logs and observations, skills scored.

A cohort's live session names the course session it delivers (course.yaml live_sessions);
its segments are the curriculum as written. After the session the trainer logs each
segment as delivered as written, adapted (what and why) or skipped, with its actual
minutes; a second trainer or a coach may log an observation against the same segments and
a short checklist. A session's fidelity is its segments delivered as written over all of
them, from the delivery logs. Skills are scored per attending learner, criterion by
criterion, and a required skill counts toward completion once scored at its pass mark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms import audit
from lms.accounts.models import PersonName, User
from lms.catalog import service as catalog
from lms.catalog.definition import CourseDefinition, Segment, Skill
from lms.catalog.definition import LiveSession as WrittenSession
from lms.cohorts.models import Attendance, LiveSession
from lms.db import add_once, utcnow
from lms.delivery.models import (
    ADAPTED,
    AS_WRITTEN,
    DELIVERY,
    OBSERVATION,
    SEGMENT_STATES,
    SKIPPED,
    FidelityLog,
    SkillScore,
)
from lms.errors import Conflict, InvalidInput
from lms.forms import Fields, long_text, parse_number, text, ticked
from lms.learning import service as learning
from lms.settings import Settings

# What an observer ticks beside the segments: the practices that make delivery comparable.
CHECKLIST = {
    "objectives": "The session's objectives were stated at the start",
    "materials": "The trainer used the materials as written",
    "practice": "Learners practised the skill, not only heard about it",
    "timing": "Segments kept close to their planned minutes",
    "debrief": "A debrief linked the practice to the learners' own cases",
}
MAX_NOTE = 2_000


def written_session(course: CourseDefinition, session: LiveSession) -> WrittenSession | None:
    """The course's session as written that this cohort session delivers, if it names one."""
    return next((w for w in course.sessions if w.id == session.course_session), None)


def skills_for(course: CourseDefinition, session: LiveSession) -> list[Skill]:
    """The skills scored at this session: those observed at its course session, and those
    the course does not tie to a session."""
    return [s for s in course.skills if s.session is None or s.session == session.course_session]


async def course_of(db: AsyncSession, session: LiveSession) -> CourseDefinition:
    """The definition a session is delivered from: its course's current version."""
    return await catalog.current_definition(
        db, await catalog.get_course_by_id(db, session.course_id)
    )


# --- fidelity ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentReport:
    status: str  # as_written, adapted or skipped
    minutes: int
    note: str  # what was changed and why (adapted), or why it was skipped


@dataclass(frozen=True)
class FidelityForm:
    kind: str  # delivery or observation
    segments: tuple[SegmentReport, ...]
    checklist: dict[str, bool]
    comment: str

    @classmethod
    def from_form(cls, data: Fields, segments: Sequence[Segment]) -> FidelityForm:
        kind = text(data, "kind")
        if kind not in (DELIVERY, OBSERVATION):
            raise InvalidInput("Say whether you delivered the session or observed it.", "kind")
        reports = []
        for i, segment in enumerate(segments, start=1):
            status = text(data, f"seg-{i}-status")
            if status not in SEGMENT_STATES:
                raise InvalidInput(
                    f"Say how segment {i}, “{segment.title}”, went: as written, adapted or "
                    "skipped.",
                    f"seg-{i}-status",
                )
            raw = text(data, f"seg-{i}-minutes").strip()
            minutes = parse_number(raw, 600) if raw else (0 if status == SKIPPED else None)
            if minutes is None:
                raise InvalidInput(
                    f"Give the minutes segment {i}, “{segment.title}”, actually took (0 to 600).",
                    f"seg-{i}-minutes",
                )
            note = long_text(data, f"seg-{i}-note", MAX_NOTE, f"The note on segment {i}")
            if status == ADAPTED and not note:
                raise InvalidInput(
                    f"Segment {i}, “{segment.title}”, was adapted: say what changed and why.",
                    f"seg-{i}-note",
                )
            reports.append(SegmentReport(status, minutes, note))
        checklist = {key: ticked(data, f"check-{key}") for key in CHECKLIST}
        comment = long_text(data, "comment", MAX_NOTE, "The comment")
        return cls(kind, tuple(reports), checklist, comment)


async def record_fidelity(
    db: AsyncSession,
    course: CourseDefinition,
    session: LiveSession,
    by: User,
    form: FidelityForm,
    now: datetime | None = None,
) -> FidelityLog:
    """Keep (or replace) this person's log of the session: one per person and session."""
    now = now or utcnow()
    written = written_session(course, session)
    if written is None or not written.segments:
        raise InvalidInput(
            "This session names no course session with an agenda, so there is nothing to "
            "log against. Schedule sessions of courses taught as written to log them."
        )
    if session.starts_at > now:
        raise Conflict("This session has not been held yet: log its delivery after it starts.")
    as_written = sum(1 for r in form.segments if r.status == AS_WRITTEN)
    values = {
        "kind": form.kind,
        "segments": [
            {"status": r.status, "minutes": r.minutes, "note": r.note} for r in form.segments
        ],
        "checklist": form.checklist if form.kind == OBSERVATION else None,
        "comment": form.comment or None,
        "as_written": as_written,
        "segment_count": len(form.segments),
        "recorded_at": now,
    }
    log = await db.scalar(
        select(FidelityLog).where(
            FidelityLog.session_id == session.id, FidelityLog.recorded_by_id == by.id
        )
    )
    before = None
    if log is None:
        log = FidelityLog(session_id=session.id, recorded_by_id=by.id, **values)
        if not await add_once(db, log):  # the same form, sent twice at once: the first stands
            raise Conflict("Your log was saved a moment ago: open the session again.")
    else:
        before = {"kind": log.kind, "as_written": log.as_written}
        for key, value in values.items():
            setattr(log, key, value)
    await db.flush()
    audit.record(
        db,
        by,
        "session.fidelity",
        "live_session",
        session.id,
        before=before,
        after={"kind": form.kind, "as_written": as_written, "segments": len(form.segments)},
    )
    return log


@dataclass
class LogView:
    log: FidelityLog
    by_name: str

    @property
    def percent(self) -> int:
        return round(100 * self.log.as_written / self.log.segment_count)


def fidelity_of(logs: Sequence[FidelityLog]) -> float | None:
    """Segments delivered as written over all segments, in the session's delivery logs."""
    delivered = [log for log in logs if log.kind == DELIVERY]
    total = sum(log.segment_count for log in delivered)
    return None if not total else sum(log.as_written for log in delivered) / total


# --- skills -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SkillsForm:
    """One learner's scores at one session: skill id -> criterion id -> score."""

    scores: dict[str, dict[str, int]]

    @classmethod
    def from_form(cls, data: Fields, skills: Sequence[Skill]) -> SkillsForm:
        scores: dict[str, dict[str, int]] = {}
        for skill in skills:
            for criterion in skill.criteria:
                name = f"{skill.id}--{criterion.id}"
                raw = text(data, name).strip()
                if not raw:
                    continue  # not scored yet: scored as the trainer goes
                score = parse_number(raw)
                levels = sorted(level.score for level in criterion.levels)
                if score is None or score not in levels:
                    raise InvalidInput(
                        f"“{raw}” is not a level of “{criterion.text}” ({skill.title}); its "
                        f"levels are {', '.join(str(v) for v in levels)}.",
                        name,
                    )
                scores.setdefault(skill.id, {})[criterion.id] = score
        return cls(scores)


async def score_learner(
    db: AsyncSession,
    settings: Settings,
    course: CourseDefinition,
    session: LiveSession,
    learner: User,
    by: User,
    form: SkillsForm,
) -> None:
    """Save one attending learner's scores (each criterion kept or replaced as given)."""
    if learner.id == by.id:
        raise InvalidInput("Your own skills are scored by another trainer of the cohort.")
    present = await db.scalar(
        select(Attendance.present).where(
            Attendance.session_id == session.id, Attendance.user_id == learner.id
        )
    )
    if not present:
        raise InvalidInput(
            f"{learner.name} is not recorded as attending this session: record attendance "
            "first, then score their skills."
        )
    now = utcnow()
    existing = {
        (row.skill_id, row.criterion_id): row
        for row in (
            await db.scalars(
                select(SkillScore).where(
                    SkillScore.session_id == session.id, SkillScore.user_id == learner.id
                )
            )
        ).all()
    }
    changed = {}
    for skill_id, criteria in form.scores.items():
        for criterion_id, score in criteria.items():
            row = existing.get((skill_id, criterion_id))
            if row is None:
                added = SkillScore(
                    session_id=session.id,
                    user_id=learner.id,
                    skill_id=skill_id,
                    criterion_id=criterion_id,
                    score=score,
                    scored_by_id=by.id,
                    scored_at=now,
                )
                if not await add_once(db, added):
                    continue  # the same score, sent twice at once: the first stands
            elif row.score == score:
                continue
            else:
                row.score, row.scored_by_id, row.scored_at = score, by.id, now
            changed[f"{skill_id}/{criterion_id}"] = score
    if not changed:
        return
    await db.flush()
    audit.record(
        db,
        by,
        "session.skills",
        "live_session",
        session.id,
        after={"user_id": learner.id, "scores": changed},
    )
    enrollment = await learning.find_enrollment(db, learner.id, session.course_id)
    if enrollment is not None:
        await learning.check_completion(db, settings, enrollment)


@dataclass
class ScoredLearner:
    """An attending learner's scores at the session, as the scoring form shows them."""

    person: PersonName
    scores: dict[tuple[str, str], int] = field(default_factory=dict)  # (skill, criterion)

    def total(self, skill: Skill) -> int | None:
        found = [self.scores.get((skill.id, c.id)) for c in skill.criteria]
        return None if any(s is None for s in found) else sum(s or 0 for s in found)

    def passed(self, skill: Skill) -> bool:
        total = self.total(skill)
        return total is not None and total >= skill.pass_score


@dataclass
class SessionDelivery:
    """What a session's page shows of its delivery: the agenda, logs and skills."""

    written: WrittenSession | None
    logs: list[LogView]
    mine: FidelityLog | None
    fidelity: float | None
    skills: list[Skill]
    attendees: list[ScoredLearner]
    held: bool

    @property
    def fidelity_percent(self) -> int | None:
        return None if self.fidelity is None else round(100 * self.fidelity)

    def around(
        self, user_id: int
    ) -> tuple[ScoredLearner | None, ScoredLearner | None, ScoredLearner | None]:
        """One attendee with the ones before and after (by name), so that a trainer scoring
        in class goes from learner to learner without returning to the list."""
        ids = [a.person.id for a in self.attendees]
        if user_id not in ids:
            return None, None, None
        at = ids.index(user_id)
        before = self.attendees[at - 1] if at > 0 else None
        after = self.attendees[at + 1] if at + 1 < len(ids) else None
        return self.attendees[at], before, after


async def session_delivery(
    db: AsyncSession, session: LiveSession, viewer: User, now: datetime | None = None
) -> SessionDelivery:
    """The session's agenda, its logs, and its attendees with their skills scores, in three
    statements whatever the number of attendees."""
    course = await course_of(db, session)
    logs = (
        await db.execute(
            select(FidelityLog, User.name)
            .join(User, User.id == FidelityLog.recorded_by_id)
            .where(FidelityLog.session_id == session.id)
            .order_by(FidelityLog.kind, FidelityLog.recorded_at)
        )
    ).all()
    attendees = await db.execute(
        select(User.id, User.name)
        .join(Attendance, Attendance.user_id == User.id)
        .where(Attendance.session_id == session.id, Attendance.present.is_(True))
        .order_by(User.name, User.id)
    )
    scored = {user_id: ScoredLearner(PersonName(user_id, name)) for user_id, name in attendees}
    skills = skills_for(course, session)
    if skills and scored:
        # Plain rows, not SkillScore objects: a class scored on two skills is a thousand rows.
        rows = await db.execute(
            select(
                SkillScore.user_id, SkillScore.skill_id, SkillScore.criterion_id, SkillScore.score
            ).where(SkillScore.session_id == session.id)
        )
        for user_id, skill_id, criterion_id, score in rows:
            if user_id in scored:
                scored[user_id].scores[(skill_id, criterion_id)] = score
    views = [LogView(log, name) for log, name in logs]
    return SessionDelivery(
        written_session(course, session),
        views,
        next((v.log for v in views if v.log.recorded_by_id == viewer.id), None),
        fidelity_of([v.log for v in views]),
        skills,
        list(scored.values()),
        session.starts_at <= (now or utcnow()),
    )
