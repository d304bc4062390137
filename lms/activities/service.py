"""Field activities: the learner submits work done on the job, the reviewer signs it off.

The reviewer is the learner's supervisor (users.supervisor_id) or, when the activity says
so, a trainer of the learner's cohort, looked up when they act: whoever supervises the
learner now sees the queue. Every step is a row of its own, and each decision names the
revision it was made on, so a second sign-off racing the first changes nothing.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from lms import audit
from lms.accounts.models import User
from lms.activities.models import (
    RETURNED,
    SIGNED_OFF,
    STATUS_LABELS,
    SUBMITTED,
    ActivityFile,
    ActivityStep,
    FieldActivity,
)
from lms.catalog import service as catalog
from lms.catalog.definition import Activity, CourseDefinition, Criterion
from lms.catalog.models import Course
from lms.cohorts.models import CohortTrainer
from lms.db import add_once, utcnow
from lms.errors import Conflict, Forbidden, InvalidInput, NotFound, NotYet
from lms.forms import Fields, Upload, check_text, parse_id, parse_number, safe_file_name, text
from lms.learning import service as learning
from lms.learning.models import ACTIVE, Enrollment
from lms.learning.progress import Progress, progress_of
from lms.links import Link
from lms.mail import service as outbox
from lms.settings import Settings

MAX_REFLECTION = 5_000  # characters, as the course format says
MAX_FILE = 10 * 1024 * 1024
# What a learner may send, by extension, and the type its bytes must show.
FILE_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
}
KIND_NAMES = {"pdf": "PDF", "docx": "Word (DOCX)", "png": "PNG", "jpg": "JPEG", "jpeg": "JPEG"}
# Waiting sign-offs remind the reviewer this many days after the submission, once each.
REMINDER_DAYS = (3, 7)


def sniff(content: bytes) -> str | None:
    """The accepted type these bytes are, from their first bytes; None for anything else."""
    if content.startswith(b"%PDF-"):
        return FILE_TYPES["pdf"]
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return FILE_TYPES["png"]
    if content.startswith(b"\xff\xd8\xff"):
        return FILE_TYPES["jpg"]
    if content.startswith(b"PK\x03\x04"):
        # A DOCX is a ZIP with a Word document inside; other ZIPs (and XLSX) are not one.
        try:
            names = set(zipfile.ZipFile(io.BytesIO(content)).namelist())
        except (zipfile.BadZipFile, ValueError):
            return None
        if {"[Content_Types].xml", "word/document.xml"} <= names:
            return FILE_TYPES["docx"]
    return None


def check_file(upload: Upload) -> ActivityFile:
    """The upload as a file to keep, or InvalidInput saying what is wrong with it."""
    name = safe_file_name(upload.filename)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    allowed = "a PDF, Word (DOCX), PNG or JPEG file"
    if extension not in FILE_TYPES:
        raise InvalidInput(f"“{name}” is not {allowed}.", "file")
    if not upload.content:
        raise InvalidInput(f"“{name}” is empty.", "file")
    if len(upload.content) > MAX_FILE:
        size = len(upload.content) / (1024 * 1024)
        raise InvalidInput(f"“{name}” is {size:.1f} MB; the largest file is 10 MB.", "file")
    found = sniff(upload.content)
    if found != FILE_TYPES[extension]:
        raise InvalidInput(
            f"“{name}” is named as a {KIND_NAMES[extension]} file but its contents are not "
            f"one. Send {allowed}, saved from the program that made it.",
            "file",
        )
    return ActivityFile(
        name=name,
        media_type=found,
        size=len(upload.content),
        sha256=hashlib.sha256(upload.content).hexdigest(),
        content=upload.content,
    )


@dataclass(frozen=True)
class SubmissionForm:
    """A learner's submission: the reflection, and the revision they were looking at."""

    reflection: str
    revision: int  # 0 before the first submission

    @classmethod
    def from_form(cls, data: Fields) -> SubmissionForm:
        reflection = check_text("reflection", text(data, "reflection"), multiline=True).strip()
        if len(reflection) > MAX_REFLECTION:
            raise InvalidInput(
                f"The reflection is {len(reflection):,} characters; the most is "
                f"{MAX_REFLECTION:,}. Shorten it and send it again.",
                "reflection",
            )
        revision = parse_number(text(data, "revision", "0"))
        if revision is None:
            raise InvalidInput("The form is out of date: open the activity again.", "revision")
        return cls(reflection, revision)


SIGN_OFF, RETURN = "sign_off", "return"


@dataclass(frozen=True)
class DecisionForm:
    """A reviewer's decision on one submission: the rubric scores and a comment."""

    decision: str  # sign_off or return
    comment: str
    scores: dict[str, int]
    revision: int  # the submission decided on

    @classmethod
    def from_form(cls, data: Fields, rubric: Sequence[Criterion]) -> DecisionForm:
        decision = text(data, "decision")
        if decision not in (SIGN_OFF, RETURN):
            raise InvalidInput("Choose to sign off or to return the activity.", "decision")
        comment = check_text("comment", text(data, "comment"), multiline=True).strip()
        if len(comment) > MAX_REFLECTION:
            raise InvalidInput(
                f"The comment is longer than {MAX_REFLECTION:,} characters.", "comment"
            )
        if decision == RETURN and not comment:
            raise InvalidInput(
                "Say what to change: a returned activity needs a comment for the learner.",
                "comment",
            )
        scores: dict[str, int] = {}
        for criterion in rubric:
            raw = text(data, f"score-{criterion.id}")
            if not raw:
                if decision == SIGN_OFF:
                    raise InvalidInput(
                        f"Score “{criterion.text}” before signing off.", f"score-{criterion.id}"
                    )
                continue
            score = parse_number(raw)
            levels = {level.score for level in criterion.levels}
            if score is None or score not in levels:
                raise InvalidInput(
                    f"“{raw}” is not a level of “{criterion.text}” (its levels are "
                    f"{', '.join(str(s) for s in sorted(levels))}).",
                    f"score-{criterion.id}",
                )
            scores[criterion.id] = score
        revision = parse_id(text(data, "revision"))
        if revision is None:
            raise InvalidInput("The form is out of date: open the submission again.")
        return cls(decision, comment, scores, revision)


def find_activity(course: CourseDefinition, activity_id: str) -> Activity:
    for activity in course.activities:
        if activity.id == activity_id:
            return activity
    raise NotFound("This course has no such field activity.")


# --- reviewers --------------------------------------------------------------------------


async def reviewers_of(db: AsyncSession, enrollment: Enrollment, reviewer: str) -> list[User]:
    """Who may review this enrollment's activity now: the learner's active supervisor, or
    the trainers of the cohort the learner was enrolled through; never the learner (a
    trainer on their own cohort's roster does not sign off their own work)."""
    if reviewer == "supervisor":
        learner = await db.get(User, enrollment.user_id)
        if learner is None or learner.supervisor_id is None:
            return []
        supervisor = await db.get(User, learner.supervisor_id)
        return [supervisor] if supervisor is not None and supervisor.active else []
    if enrollment.cohort_id is None:
        return []
    query = (
        select(User)
        .join(CohortTrainer, CohortTrainer.user_id == User.id)
        .where(
            CohortTrainer.cohort_id == enrollment.cohort_id,
            User.active.is_(True),
            User.id != enrollment.user_id,
        )
        .order_by(User.name)
    )
    return list((await db.scalars(query)).all())


async def is_reviewer(
    db: AsyncSession, person: User, enrollment: Enrollment, reviewer: str
) -> bool:
    return any(r.id == person.id for r in await reviewers_of(db, enrollment, reviewer))


def missing_reviewer(activity: Activity) -> str:
    if activity.signed_off_by == "supervisor":
        return (
            "Your supervisor signs this activity off, and no supervisor is recorded for you "
            "yet. Ask your training administrator to add your supervisor to your account; "
            "your work can be sent once they have."
        )
    return (
        "A trainer of your cohort signs this activity off, and you are not in a cohort with "
        "a trainer yet. Ask your training administrator."
    )


# --- the learner's side -----------------------------------------------------------------


@dataclass
class StepView:
    step: ActivityStep
    by_name: str
    file: ActivityFile | None


@dataclass
class ActivityView:
    """One learner's field activity: where it stands and every step so far."""

    activity: Activity
    course: CourseDefinition
    enrollment: Enrollment
    learner: User
    status: str  # locked, open, submitted, returned or signed_off
    record: FieldActivity | None
    steps: list[StepView]
    reviewers: list[User]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def latest_submission(self) -> StepView | None:
        return next((s for s in reversed(self.steps) if s.step.kind == SUBMITTED), None)

    @property
    def can_submit(self) -> bool:
        return (
            self.enrollment.status == ACTIVE
            and self.status in ("open", RETURNED)
            and bool(self.reviewers)
        )

    @property
    def revision(self) -> int:
        return self.record.revision if self.record else 0


async def _steps(db: AsyncSession, record: FieldActivity | None) -> list[StepView]:
    if record is None:
        return []
    rows = await db.execute(
        select(ActivityStep, User.name, ActivityFile)
        .join(User, User.id == ActivityStep.by_id)
        .outerjoin(ActivityFile, ActivityFile.id == ActivityStep.file_id)
        .where(ActivityStep.field_activity_id == record.id)
        .order_by(ActivityStep.revision, ActivityStep.id)
    )
    return [StepView(step, name, file) for step, name, file in rows.all()]


async def _record(db: AsyncSession, enrollment_id: int, activity_id: str) -> FieldActivity | None:
    return await db.scalar(
        select(FieldActivity).where(
            FieldActivity.enrollment_id == enrollment_id,
            FieldActivity.activity_id == activity_id,
        )
    )


async def view(
    db: AsyncSession, enrollment: Enrollment, learner: User, activity_id: str
) -> ActivityView:
    progress = await progress_of(db, enrollment)
    activity = find_activity(progress.course, activity_id)
    record = await _record(db, enrollment.id, activity.id)
    reviewer = record.reviewer if record else activity.signed_off_by
    return ActivityView(
        activity,
        progress.course,
        enrollment,
        learner,
        progress.activity_status(activity),
        record,
        await _steps(db, record),
        await reviewers_of(db, enrollment, reviewer),
    )


def _check_open(progress: Progress, activity: Activity) -> None:
    if progress.activity_open(activity):
        return
    after = progress.module_state(activity.after or "").module
    raise NotYet(
        f"This activity opens once the module “{after.title}” is complete.",
        back=Link("learning.module", {"slug": progress.course.slug, "module_id": after.id}),
        back_label=f"Go to the module: {after.title}",
    )


async def submit(
    db: AsyncSession,
    settings: Settings,
    enrollment: Enrollment,
    learner: User,
    activity_id: str,
    form: SubmissionForm,
    upload: Upload | None,
) -> FieldActivity:
    """Send the learner's work to the reviewer; sending the same form twice sends it once."""
    progress = await progress_of(db, enrollment)
    activity = find_activity(progress.course, activity_id)
    if enrollment.status != ACTIVE:
        raise Forbidden("This course is no longer active for you; nothing can be sent.")
    _check_open(progress, activity)
    if activity.evidence in ("reflection", "both") and not form.reflection:
        raise InvalidInput("Write your reflection before sending.", "reflection")
    if activity.evidence in ("file", "both") and upload is None:
        raise InvalidInput("Choose the file to send.", "file")
    if activity.evidence == "reflection" and upload is not None:
        raise InvalidInput("This activity asks for a written reflection only, not a file.", "file")
    kept = check_file(upload) if upload is not None else None
    record = await _record(db, enrollment.id, activity.id)
    reviewer = record.reviewer if record else activity.signed_off_by
    reviewers = await reviewers_of(db, enrollment, reviewer)
    if not reviewers:
        raise InvalidInput(missing_reviewer(activity))
    now = utcnow()
    if record is None:
        record = FieldActivity(
            enrollment_id=enrollment.id,
            activity_id=activity.id,
            reviewer=reviewer,
            status=SUBMITTED,
            revision=1,
            submitted_at=now,
            first_submitted_at=now,
        )
        if not await add_once(db, record):
            return await _same(db, enrollment.id, activity.id)  # sent a moment ago
    else:
        if record.status == SIGNED_OFF:
            raise Conflict("This activity is already signed off; there is nothing to send.")
        if record.status == SUBMITTED and form.revision == record.revision - 1:
            return record  # already sent and waiting: this is the same form sent again
        if record.status == SUBMITTED or form.revision != record.revision:
            raise Conflict(
                "This activity changed since you opened it (it was sent or reviewed in the "
                "meantime): open it again to see where it stands. Nothing was sent."
            )
        moved = await db.execute(
            update(FieldActivity)
            .where(
                FieldActivity.id == record.id,
                FieldActivity.status == RETURNED,
                FieldActivity.revision == form.revision,
            )
            .values(status=SUBMITTED, revision=form.revision + 1, submitted_at=now)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult
            return record
        record.status, record.revision, record.submitted_at = SUBMITTED, form.revision + 1, now
    if kept is not None:
        db.add(kept)
        await db.flush()
    db.add(
        ActivityStep(
            field_activity_id=record.id,
            kind=SUBMITTED,
            revision=record.revision,
            by_id=learner.id,
            at=now,
            reflection=form.reflection or None,
            file_id=kept.id if kept else None,
        )
    )
    await learning.record_activity(db, enrollment, now)
    audit.record(
        db,
        learner,
        "activity.submit",
        "field_activity",
        record.id,
        after={
            "enrollment_id": enrollment.id,
            "activity": activity.id,
            "revision": record.revision,
            "file": kept.name if kept else None,
        },
    )
    for person in reviewers:
        await _mail(
            db,
            settings,
            "activity_submitted",
            person,
            f"Waiting for your sign-off: {activity.title}",
            f"activity-submitted:{record.id}:{record.revision}:{person.id}",
            enrollment,
            learner_name=learner.name,
            activity_title=activity.title,
            course_title=progress.course.title,
            link=f"{settings.base_url}/sign-offs/{record.id}",
            again=record.revision > 1,
        )
    return record


async def _same(db: AsyncSession, enrollment_id: int, activity_id: str) -> FieldActivity:
    record = await _record(db, enrollment_id, activity_id)
    assert record is not None  # the unique constraint refused ours for this one
    return record


async def _mail(
    db: AsyncSession,
    settings: Settings,
    kind: str,
    to: User,
    subject: str,
    key: str,
    enrollment: Enrollment,
    **context: Any,
) -> None:
    rendered = outbox.render(settings, kind, subject, name=to.name, **context)
    await outbox.queue(db, kind, to, rendered, dedupe_key=key, enrollment_id=enrollment.id)


# --- the reviewer's side ----------------------------------------------------------------


@dataclass
class Review:
    """A submission as its reviewer (or an admin) sees it."""

    record: FieldActivity
    view: ActivityView
    may_decide: bool

    @property
    def rubric(self) -> tuple[Criterion, ...]:
        return self.view.activity.rubric


async def _load(db: AsyncSession, record_id: int) -> tuple[FieldActivity, Enrollment, User]:
    found = (
        await db.execute(
            select(FieldActivity, Enrollment, User)
            .join(Enrollment, Enrollment.id == FieldActivity.enrollment_id)
            .join(User, User.id == Enrollment.user_id)
            .where(FieldActivity.id == record_id)
        )
    ).first()
    if found is None:
        raise NotFound("There is no such field activity.")
    record, enrollment, learner = found
    return record, enrollment, learner


async def review(db: AsyncSession, viewer: User, record_id: int) -> Review:
    """The submission, for its reviewers and admins; anyone else finds nothing here."""
    record, enrollment, learner = await _load(db, record_id)
    activity_view = await view(db, enrollment, learner, record.activity_id)
    reviewer = any(r.id == viewer.id for r in activity_view.reviewers)
    if not reviewer and not viewer.is_admin:
        raise NotFound("There is no such field activity.")
    return Review(record, activity_view, reviewer and record.status == SUBMITTED)


async def decide(
    db: AsyncSession, settings: Settings, reviewer: User, record_id: int, form: DecisionForm
) -> FieldActivity:
    """Sign off or return one submission; the same decision sent twice is recorded once."""
    record, enrollment, learner = await _load(db, record_id)
    course = await catalog.get_definition(db, enrollment.version_id)
    activity = find_activity(course, record.activity_id)
    if not await is_reviewer(db, reviewer, enrollment, record.reviewer):
        who = "supervisor" if record.reviewer == "supervisor" else "cohort's trainers"
        raise Forbidden(f"Only {learner.name}'s {who} can sign off or return this activity.")
    if enrollment.status != ACTIVE:
        raise Conflict(
            f"{learner.name} is no longer active in this course (completed or withdrawn); "
            "nothing was changed."
        )
    if form.decision == SIGN_OFF and len(form.scores) != len(activity.rubric):
        raise InvalidInput("Score every criterion of the rubric before signing off.")
    kind = SIGNED_OFF if form.decision == SIGN_OFF else RETURNED
    now = utcnow()
    moved = await db.execute(
        update(FieldActivity)
        .where(
            FieldActivity.id == record.id,
            FieldActivity.status == SUBMITTED,
            FieldActivity.revision == form.revision,
        )
        .values(
            status=kind,
            revision=form.revision + 1,
            decided_at=now,
            decided_by_id=reviewer.id,
            scores=form.scores or None,
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult
        await _already_decided(db, record, reviewer, kind, form.revision)
        return record
    await db.refresh(record)
    db.add(
        ActivityStep(
            field_activity_id=record.id,
            kind=kind,
            revision=record.revision,
            by_id=reviewer.id,
            at=now,
            comment=form.comment or None,
            scores=form.scores or None,
        )
    )
    audit.record(
        db,
        reviewer,
        "activity.sign_off" if kind == SIGNED_OFF else "activity.return",
        "field_activity",
        record.id,
        before={"status": SUBMITTED},
        after={"status": kind, "revision": record.revision, "scores": form.scores or None},
    )
    for days in REMINDER_DAYS:  # a decision made, nobody is reminded of it
        await outbox.cancel_queued(
            db,
            _reminder_key(record, form.revision, days),
            "Not sent: the activity was decided.",
            every_reader=True,
        )
    await _mail(
        db,
        settings,
        "activity_decided",
        learner,
        f"{'Signed off' if kind == SIGNED_OFF else 'Returned for changes'}: {activity.title}",
        f"activity-decided:{record.id}:{record.revision}",
        enrollment,
        signed_off=kind == SIGNED_OFF,
        reviewer_name=reviewer.name,
        activity_title=activity.title,
        course_title=course.title,
        comment=form.comment,
        link=f"{settings.base_url}/courses/{course.slug}/activities/{activity.id}",
    )
    if kind == SIGNED_OFF:
        await learning.check_completion(db, settings, enrollment)
    return record


async def _already_decided(
    db: AsyncSession, record: FieldActivity, reviewer: User, kind: str, revision: int
) -> None:
    """The submission moved on before this decision: the same one again is fine, another is
    refused with who decided and when."""
    step = await db.scalar(
        select(ActivityStep).where(
            ActivityStep.field_activity_id == record.id, ActivityStep.revision == revision + 1
        )
    )
    if step is not None and step.by_id == reviewer.id and step.kind == kind:
        return  # the same decision, sent twice
    if step is None or step.kind == SUBMITTED:
        raise Conflict("This submission has changed since you opened it: open it again.")
    by = await db.get(User, step.by_id)
    done = "signed off" if step.kind == SIGNED_OFF else "returned"
    raise Conflict(
        f"{by.name if by else 'Someone'} already {done} this submission; nothing was changed."
    )


@dataclass(frozen=True)
class QueueItem:
    record: FieldActivity
    learner: User
    course_title: str
    activity_title: str
    waiting_days: int


def _reviewed_by(reviewer: User) -> Any:
    """Activities this person reviews: their supervisees', or their cohorts' learners'.

    Each side is the reviewer's own enrollments (found through the supervisor and trainer
    indexes), so the queue reads what waits for them rather than joining everything that
    waits in the academy to its learner first.
    """
    supervised = (
        select(Enrollment.id)
        .join(User, User.id == Enrollment.user_id)
        .where(User.supervisor_id == reviewer.id)
    )
    trained = (
        select(Enrollment.id)
        .join(CohortTrainer, CohortTrainer.cohort_id == Enrollment.cohort_id)
        .where(CohortTrainer.user_id == reviewer.id)
    )
    return or_(
        and_(FieldActivity.reviewer == "supervisor", FieldActivity.enrollment_id.in_(supervised)),
        and_(FieldActivity.reviewer == "trainer", FieldActivity.enrollment_id.in_(trained)),
    )


async def queue(
    db: AsyncSession, reviewer: User, now: datetime, decided: bool = False
) -> list[QueueItem]:
    """What waits for this person's sign-off, oldest first (or what they decided lately)."""
    query = (
        select(FieldActivity, User, Enrollment.version_id)
        .join(Enrollment, Enrollment.id == FieldActivity.enrollment_id)
        .join(User, User.id == Enrollment.user_id)
        .where(_reviewed_by(reviewer), User.active.is_(True))
    )
    if decided:
        query = query.where(FieldActivity.decided_by_id == reviewer.id).order_by(
            FieldActivity.decided_at.desc()
        )
        query = query.where(FieldActivity.status != SUBMITTED).limit(20)
    else:
        query = query.where(FieldActivity.status == SUBMITTED).order_by(
            FieldActivity.submitted_at, FieldActivity.id
        )
    rows = (await db.execute(query)).all()
    definitions = await catalog.get_definitions(db, {v for _, _, v in rows})
    items = []
    for record, learner, version_id in rows:
        course = definitions[version_id]
        title = next(
            (a.title for a in course.activities if a.id == record.activity_id), record.activity_id
        )
        days = max(0, (now - record.submitted_at).days)
        items.append(QueueItem(record, learner, course.title, title, days))
    return items


async def waiting_counts(db: AsyncSession, supervisor_id: int) -> dict[int, int]:
    """Each supervisee's activities waiting for this supervisor's sign-off (person -> count)."""
    rows = await db.execute(
        select(Enrollment.user_id, func.count())
        .join(FieldActivity, FieldActivity.enrollment_id == Enrollment.id)
        .join(User, User.id == Enrollment.user_id)
        .where(
            FieldActivity.status == SUBMITTED,
            FieldActivity.reviewer == "supervisor",
            User.supervisor_id == supervisor_id,
        )
        .group_by(Enrollment.user_id)
    )
    return {user_id: count for user_id, count in rows.all()}


# --- files ------------------------------------------------------------------------------


async def get_file(db: AsyncSession, viewer: User, file_id: int) -> ActivityFile:
    """A submitted file, for the learner who sent it, their reviewers and admins only."""
    found = (
        await db.execute(
            select(ActivityStep.field_activity_id).where(ActivityStep.file_id == file_id).limit(1)
        )
    ).first()
    if found is None:
        raise NotFound("There is no such file.")
    record, enrollment, learner = await _load(db, found[0])
    allowed = viewer.is_admin or viewer.id == learner.id
    if not allowed:
        allowed = await is_reviewer(db, viewer, enrollment, record.reviewer)
    if not allowed:
        raise NotFound("There is no such file.")
    stored = await db.scalar(
        select(ActivityFile)
        .where(ActivityFile.id == file_id)
        .options(undefer(ActivityFile.content))
    )
    assert stored is not None  # a step names it
    return stored


# --- reminders --------------------------------------------------------------------------


def _reminder_key(record: FieldActivity, revision: int, days: int) -> str:
    """The reminder's key, before the reviewer's id that ends it (`:<user id>`)."""
    return f"activity-waiting:{days}d:{record.id}:{revision}"


async def queue_signoff_reminders(db: AsyncSession, settings: Settings, now: datetime) -> int:
    """Remind reviewers of submissions waiting 3 and 7 days; never once they are decided."""
    rows = (
        await db.execute(
            select(FieldActivity, Enrollment, User, Course.slug)
            .join(Enrollment, Enrollment.id == FieldActivity.enrollment_id)
            .join(User, User.id == Enrollment.user_id)
            .join(Course, Course.id == Enrollment.course_id)
            .where(
                FieldActivity.status == SUBMITTED,
                FieldActivity.submitted_at <= now - timedelta(days=min(REMINDER_DAYS)),
                Enrollment.status == ACTIVE,
            )
            .order_by(FieldActivity.id)
        )
    ).all()
    queued = 0
    for record, enrollment, learner, _slug in rows:
        waited = (now - record.submitted_at).days
        days = max(d for d in REMINDER_DAYS if d <= waited)
        course = await catalog.get_definition(db, enrollment.version_id)
        title = next((a.title for a in course.activities if a.id == record.activity_id), "")
        for person in await reviewers_of(db, enrollment, record.reviewer):
            rendered = outbox.render(
                settings,
                "activity_waiting",
                f"Still waiting for your sign-off: {title}",
                name=person.name,
                learner_name=learner.name,
                activity_title=title,
                course_title=course.title,
                waiting_days=waited,
                link=f"{settings.base_url}/sign-offs/{record.id}",
            )
            key = f"{_reminder_key(record, record.revision, days)}:{person.id}"
            if await outbox.queue(
                db, "activity_waiting", person, rendered, key, enrollment_id=enrollment.id
            ):
                queued += 1
    return queued
