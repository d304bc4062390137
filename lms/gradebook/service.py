"""A trainer's gradebook actions on one learner of their cohort: read an attempt against the
key, grant one more attempt, move the due date, reopen a module.

Each acts on an enrollment made through this cohort only (a learner's other courses belong to
other trainers), is audited with its reason, and is open only to the cohort's trainers and to
admins: the routes reach the cohort through `cohorts.service.get_cohort`, which decides that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms import audit, times
from lms.accounts.models import User
from lms.catalog.definition import Quiz
from lms.catalog.models import Course
from lms.cohorts.models import Attendance, Cohort, LiveSession
from lms.cohorts.service import members_of
from lms.errors import Conflict, InvalidInput, NotFound
from lms.forms import Fields, long_text, parse_date, parse_number, text
from lms.learning.models import ACTIVE, COMPLETED, Enrollment, ModuleProgress
from lms.learning.progress import MODULE_TARGET, Progress, module_target, of_person, progress_of
from lms.quizzes import service as quizzes
from lms.quizzes.models import FINAL, Attempt

REASON_LIMIT = 1000
# A due date moves at most this far ahead of today: past it, a new cohort is the better tool.
FURTHEST_DUE = timedelta(days=731)


@dataclass
class LearnerRecord:
    """One learner seen from a cohort: the courses they take through it, their graded
    attempts there, the sessions they attended, and how many other courses they take."""

    learner: User
    progresses: list[Progress]
    attempts: list[Attempt]
    attended: list[tuple[LiveSession, Attendance]]
    elsewhere: int

    def progress_of(self, attempt: Attempt) -> Progress:
        return next(p for p in self.progresses if p.enrollment.id == attempt.enrollment_id)

    def title_of(self, attempt: Attempt) -> str:
        """ "Knowledge check: What is SOP?", not the key "module:what-is-sop"."""
        return quizzes.target_title(self.progress_of(attempt).course, attempt.target)


async def learner_record(db: AsyncSession, cohort: Cohort, user_id: int) -> LearnerRecord:
    members = {m.id: m for m in await members_of(db, cohort.id)}
    learner = members.get(user_id)
    if learner is None:
        raise NotFound("That person is not in this cohort.")
    everything = await of_person(db, learner.id)
    progresses = [p for p in everything if p.enrollment.cohort_id == cohort.id]
    ids = [p.enrollment.id for p in progresses]
    attempts = await db.scalars(
        select(Attempt)
        .where(Attempt.enrollment_id.in_(ids), Attempt.submitted_at.is_not(None))
        .order_by(Attempt.submitted_at)
    )
    attended = await db.execute(
        select(LiveSession, Attendance)
        .join(Attendance, Attendance.session_id == LiveSession.id)
        .where(Attendance.user_id == learner.id, LiveSession.cohort_id == cohort.id)
        .order_by(LiveSession.starts_at)
    )
    return LearnerRecord(
        learner,
        progresses,
        list(attempts.all()),
        [(s, a) for s, a in attended.all()],
        len(everything) - len(progresses),
    )


@dataclass(frozen=True)
class Retake:
    """A quiz with an attempt limit that a learner has not passed: one a trainer can open
    again. `used` and `allowed` are what the page shows (`allowed` counts grants)."""

    target: str
    title: str
    used: int
    allowed: int
    granted: int


def retakes(progress: Progress) -> list[Retake]:
    """The quizzes of a course in progress that one more attempt would help."""
    if progress.enrollment.status != ACTIVE:
        return []
    found = []
    for state in progress.modules:
        quiz = state.module.quiz
        if quiz is None or quiz.max_attempts is None or state.status == "done":
            continue
        found.append(_retake(progress, module_target(state.module.id), quiz, state.attempts))
    final = progress.course.final
    if final is not None and final.max_attempts is not None and not progress.final_passed:
        found.append(_retake(progress, FINAL, final, len(progress.final_attempts)))
    return found


def _retake(progress: Progress, target: str, quiz: Quiz, used: int) -> Retake:
    enrollment = progress.enrollment
    return Retake(
        target,
        quizzes.target_title(progress.course, target),
        used,
        enrollment.attempts_allowed(quiz.max_attempts, target) or 0,
        enrollment.attempts_granted(target),
    )


def _reason(data: Fields) -> str:
    reason = long_text(data, "reason", REASON_LIMIT, "The reason")
    if not reason:
        raise InvalidInput("Give the reason; it is kept in the audit log.", "reason")
    return reason


def _course(data: Fields) -> str:
    slug = text(data, "course")
    if not slug:
        raise InvalidInput("That course is not known.", "course")
    return slug


@dataclass(frozen=True)
class GrantForm:
    """One more attempt at a quiz. `seen` is how many the trainer saw granted already, so that
    a second click, or a second trainer at the same moment, does not grant two."""

    course: str
    target: str
    seen: int
    reason: str

    @classmethod
    def from_form(cls, data: Fields) -> GrantForm:
        course, target = _course(data), text(data, "target")
        seen = parse_number(text(data, "seen"))
        if not target or seen is None:
            raise InvalidInput("Choose the quiz to give one more attempt at.", "target")
        return cls(course, target, seen, _reason(data))


@dataclass(frozen=True)
class DueDateForm:
    """A new due date for one learner's course. `seen` is the due date the trainer saw
    (blank for none), so that two trainers moving it at once do not both succeed."""

    course: str
    seen: str
    due_on: date
    reason: str

    @classmethod
    def from_form(cls, data: Fields) -> DueDateForm:
        course = _course(data)
        due_on = parse_date(text(data, "due_on"), "The new due date", "due_on")
        if due_on is None:
            raise InvalidInput("Give the new due date.", "due_on")
        return cls(course, text(data, "seen").strip(), due_on, _reason(data))


@dataclass(frozen=True)
class ReopenForm:
    """A completed module opened again, so that the learner rereads it (and retakes its
    knowledge check, if it has one) before it counts as done again."""

    course: str
    module: str
    reason: str

    @classmethod
    def from_form(cls, data: Fields) -> ReopenForm:
        course, module = _course(data), text(data, "module")
        if not module:
            raise InvalidInput("Choose the module to reopen.", "module")
        return cls(course, module, _reason(data))


async def cohort_enrollment(
    db: AsyncSession, cohort: Cohort, user_id: int, slug: str
) -> Enrollment:
    """The learner's latest enrollment in the course made through this cohort."""
    enrollment = await db.scalar(
        select(Enrollment)
        .join(Course, Course.id == Enrollment.course_id)
        .where(
            Enrollment.user_id == user_id,
            Enrollment.cohort_id == cohort.id,
            Course.slug == slug,
        )
        .order_by(Enrollment.id.desc())
        .limit(1)
    )
    if enrollment is None:
        raise NotFound("That learner takes no such course through this cohort.")
    return enrollment


def _check_in_progress(enrollment: Enrollment, refused: str) -> None:
    if enrollment.status == COMPLETED:
        raise Conflict(f"This course is completed, so {refused}; its record stays as it was.")
    if enrollment.status != ACTIVE:
        raise Conflict(f"They have withdrawn from this course, so {refused}.")


async def _claim(db: AsyncSession, enrollment: Enrollment, **values: object) -> None:
    """Write to the enrollment only if nothing changed it since it was read in this request;
    the revision rises with it, so the matrix shows the change at once."""
    claimed = await db.execute(
        update(Enrollment)
        .where(
            Enrollment.id == enrollment.id,
            Enrollment.progress_revision == enrollment.progress_revision,
        )
        .values(progress_revision=Enrollment.progress_revision + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult
        raise Conflict("Their record changed as you saved. Nothing was changed; try again.")


async def grant_attempt(
    db: AsyncSession, actor: User, cohort: Cohort, user_id: int, form: GrantForm
) -> None:
    enrollment = await cohort_enrollment(db, cohort, user_id, form.course)
    _check_in_progress(enrollment, "there is nothing to retake")
    progress = await progress_of(db, enrollment)
    retake = next((r for r in retakes(progress) if r.target == form.target), None)
    if retake is None:
        if form.target != FINAL and not form.target.startswith(MODULE_TARGET):
            raise InvalidInput("Only a knowledge check or the final can be retaken.", "target")
        quiz = quizzes.quiz_for(progress.course, form.target)  # NotFound for no such quiz
        if quiz.max_attempts is None:
            raise Conflict("That quiz has no attempt limit: they can already retake it.")
        raise Conflict("They have passed that quiz already; there is nothing to retake.")
    if retake.granted != form.seen:
        raise Conflict(
            f"{retake.title} has {retake.granted} extra attempt"
            f"{'s' if retake.granted != 1 else ''} granted now, not {form.seen}: someone "
            "granted one since you opened the page. Nothing more was granted."
        )
    extra = dict(enrollment.extra_attempts or {})
    extra[form.target] = retake.granted + 1
    await _claim(db, enrollment, extra_attempts=extra)
    audit.record(
        db,
        actor,
        "enrollment.extra_attempt",
        "enrollment",
        enrollment.id,
        before={"target": retake.title, "extra_attempts": retake.granted},
        after={"target": retake.title, "extra_attempts": retake.granted + 1, "reason": form.reason},
    )


async def move_due_date(
    db: AsyncSession, zone: tzinfo, actor: User, cohort: Cohort, user_id: int, form: DueDateForm
) -> None:
    enrollment = await cohort_enrollment(db, cohort, user_id, form.course)
    _check_in_progress(enrollment, "its due date no longer matters")
    current = times.local_date(enrollment.due_at, zone).isoformat() if enrollment.due_at else ""
    if current != form.seen:
        now_due = times.show_date(enrollment.due_at, zone) if enrollment.due_at else "not due"
        raise Conflict(
            f"This course is now {'due ' if enrollment.due_at else ''}{now_due}: someone changed "
            "it since you opened the page. Nothing was changed; look again."
        )
    today = datetime.now(zone).date()
    if form.due_on < today:
        raise InvalidInput("The new due date cannot be before today.", "due_on")
    if form.due_on > today + FURTHEST_DUE:
        raise InvalidInput("A due date can move two years ahead of today at most.", "due_on")
    if form.due_on.isoformat() == current:
        raise InvalidInput("That is the due date already.", "due_on")
    await _claim(db, enrollment, due_at=times.end_of_day(form.due_on, zone))
    audit.record(
        db,
        actor,
        "enrollment.due_date",
        "enrollment",
        enrollment.id,
        before={"due_on": current or None},
        after={"due_on": form.due_on.isoformat(), "reason": form.reason},
    )


async def reopen_module(
    db: AsyncSession, actor: User, cohort: Cohort, user_id: int, form: ReopenForm
) -> None:
    """Reopen a module that is done."""
    enrollment = await cohort_enrollment(db, cohort, user_id, form.course)
    _check_in_progress(enrollment, "its modules cannot be reopened")
    progress = await progress_of(db, enrollment)
    state = progress.module_state(form.module)  # NotFound for no such module
    if state.status != "done":
        raise Conflict(f"Module {state.number}, {state.module.title}, is not complete yet.")
    reopened = await db.execute(
        update(ModuleProgress)
        .where(
            ModuleProgress.enrollment_id == enrollment.id,
            ModuleProgress.module_id == form.module,
            ModuleProgress.status == "done",
        )
        .values(status="in_progress", completed_at=None)
        .execution_options(synchronize_session=False)
    )
    if reopened.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult
        raise Conflict("That module was reopened a moment ago. Nothing more was changed.")
    audit.record(
        db,
        actor,
        "enrollment.reopen_module",
        "enrollment",
        enrollment.id,
        before={"module": state.module.title, "status": "done"},
        after={"module": state.module.title, "status": "reopened", "reason": form.reason},
    )
