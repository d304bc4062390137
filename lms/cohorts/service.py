"""Cohort rules: who runs which cohort, rosters, enrolling a cohort, live sessions, attendance."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, tzinfo
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms import audit, times
from lms.accounts import service as accounts
from lms.accounts.models import County, PersonName, User
from lms.catalog import service as catalog
from lms.catalog.definition import LiveSession as WrittenSession
from lms.catalog.models import Course
from lms.cohorts import qualifications
from lms.cohorts.models import (
    Attendance,
    Cohort,
    CohortCounty,
    CohortCourse,
    CohortMember,
    CohortTrainer,
    LiveSession,
)
from lms.db import utcnow
from lms.errors import DomainError, Forbidden, InvalidInput, NotFound
from lms.forms import (
    Fields,
    id_list,
    long_text,
    one_line,
    optional_id,
    parse_date,
    parse_id,
    parse_number,
    required_id,
    text,
    ticked,
)
from lms.learning import service as learning
from lms.learning.models import ACTIVE, Enrollment
from lms.settings import Settings


async def visible_cohorts(db: AsyncSession, user: User) -> list[Cohort]:
    query = select(Cohort).order_by(Cohort.starts_on.desc().nulls_last(), Cohort.name)
    if not user.is_admin:
        query = query.join(CohortTrainer, CohortTrainer.cohort_id == Cohort.id).where(
            CohortTrainer.user_id == user.id
        )
    return list((await db.scalars(query)).all())


async def get_cohort(db: AsyncSession, user: User, cohort_id: int) -> Cohort:
    """The cohort, if this person may run it; another trainer's cohort is a plain not-found.

    One query for both: every trainer page starts here.
    """
    runs = exists().where(CohortTrainer.cohort_id == Cohort.id, CohortTrainer.user_id == user.id)
    found = (await db.execute(select(Cohort, runs).where(Cohort.id == cohort_id))).first()
    if found is None or not (user.is_admin or found[1]):
        raise NotFound("There is no such cohort.")
    return found[0]


@dataclass(frozen=True)
class CohortForm:
    name: str
    starts_on: date | None
    ends_on: date | None
    county_ids: Sequence[int]
    trainer_ids: Sequence[int]
    courses: Mapping[int, date | None]  # course id -> due date
    # An admin's reason to put trainers on courses they are not qualified to deliver.
    override_reason: str = ""
    # Set by check_cohort_form: the trainers put on without a qualification -> the reason.
    overridden: Mapping[int, str] = field(default_factory=dict)
    fresh_overrides: Sequence[int] = ()  # those overridden by this save, to audit

    @classmethod
    def from_form(cls, data: Fields) -> CohortForm:
        """The cohort form as typed; `check_cohort_form` then holds it against the database."""
        name = one_line(data, "name")
        if not name:
            raise InvalidInput("Give the cohort a name.", "name")
        if len(name) > 200:
            raise InvalidInput("Cohort names can be at most 200 characters.", "name")
        starts_on = parse_date(text(data, "starts_on"), "The start date", "starts_on")
        ends_on = parse_date(text(data, "ends_on"), "The end date", "ends_on")
        if starts_on and ends_on and ends_on < starts_on:
            raise InvalidInput("The end date is before the start date.", "ends_on")
        courses: dict[int, date | None] = {}
        for ticked_box in data:
            course_id = parse_id(ticked_box.removeprefix("course_"))
            if ticked_box.startswith("course_") and course_id and ticked(data, ticked_box):
                # The form shows the value typed beside its course, so the message need not.
                due = f"due_{course_id}"
                courses[course_id] = parse_date(text(data, due), "Each due date", due)
        return cls(
            name,
            starts_on,
            ends_on,
            id_list(data, "county"),
            id_list(data, "trainer"),
            courses,
            long_text(data, "override_reason", 1000, "The reason to override"),
        )


async def check_cohort_form(
    db: AsyncSession, form: CohortForm, user: User, today: date, cohort: Cohort | None = None
) -> CohortForm:
    """The form with counties, trainers and courses that exist; a trainer always runs theirs,
    and every trainer is qualified on the day for every course, unless an admin overrides."""
    county_ids = sorted(set(form.county_ids))
    known = set((await db.scalars(select(County.id).where(County.id.in_(county_ids)))).all())
    if set(county_ids) - known:
        raise InvalidInput("Choose counties from the list.", "county")
    trainer_ids = sorted(set(form.trainer_ids) | (set() if user.is_admin else {user.id}))
    trainers = set(
        (
            await db.scalars(
                select(User.id).where(User.id.in_(trainer_ids), User.is_trainer.is_(True))
            )
        ).all()
    )
    if set(trainer_ids) - trainers:
        raise InvalidInput("Only people with the trainer role can run a cohort.", "trainer")
    if not trainer_ids:
        raise InvalidInput("Choose at least one trainer.", "trainer")
    loaded = {course.id for course in await catalog.list_courses(db)}
    courses = {i: due for i, due in form.courses.items() if i in loaded}
    missing = await qualifications.gaps(db, trainer_ids, courses, today)
    # The rule holds each trainer and course as they are put together: on an edit, pairs the
    # cohort already had (an admin's override, or a cohort older than the rule) stand.
    before: dict[int, str] = {} if cohort is None else await overrides_of(db, cohort.id)
    had_trainers, had_courses = set(), set()
    if cohort is not None:
        had_trainers = set(
            await _column(db, CohortTrainer.user_id, CohortTrainer.cohort_id, cohort.id)
        )
        had_courses = set(
            await _column(db, CohortCourse.course_id, CohortCourse.cohort_id, cohort.id)
        )
    new = [g for g in missing if g.trainer.id not in had_trainers or g.course_id not in had_courses]
    if new and not (user.is_admin and form.override_reason):
        listed = "; ".join(str(g) for g in new)
        how = (
            "Record their qualification on the Qualified trainers page, or give a reason to "
            "override below."
            if user.is_admin
            else "An administrator can record the qualification, or put them on the cohort "
            "with a reason."
        )
        raise InvalidInput(f"{listed}. {how}", "trainer")
    return replace(
        form,
        county_ids=county_ids,
        trainer_ids=trainer_ids,
        courses=courses,
        overridden={
            **{
                g.trainer.id: before[g.trainer.id]
                for g in missing
                if g not in new and g.trainer.id in before
            },
            **{g.trainer.id: form.override_reason for g in new},
        },
        fresh_overrides=sorted({g.trainer.id for g in new}),
    )


async def _override_makers(db: AsyncSession, cohort_id: int) -> dict[int, int]:
    rows = await db.execute(
        select(CohortTrainer.user_id, CohortTrainer.override_by_id).where(
            CohortTrainer.cohort_id == cohort_id, CohortTrainer.override_by_id.is_not(None)
        )
    )
    return {user_id: by for user_id, by in rows.all() if by is not None}


async def overrides_of(db: AsyncSession, cohort_id: int) -> dict[int, str]:
    """The cohort's trainers put on by an admin's override, with its reason."""
    rows = await db.execute(
        select(CohortTrainer.user_id, CohortTrainer.override_reason).where(
            CohortTrainer.cohort_id == cohort_id, CohortTrainer.override_reason.is_not(None)
        )
    )
    return {user_id: reason for user_id, reason in rows.all() if reason}


async def trainers(db: AsyncSession) -> list[User]:
    """Everyone who can be chosen to run a cohort."""
    query = select(User).where(User.is_trainer.is_(True)).order_by(User.name)
    return list((await db.scalars(query)).all())


async def cohort_snapshot(db: AsyncSession, cohort: Cohort) -> dict[str, Any]:
    return {
        "name": cohort.name,
        "starts_on": cohort.starts_on.isoformat() if cohort.starts_on else None,
        "ends_on": cohort.ends_on.isoformat() if cohort.ends_on else None,
        "counties": await _column(db, CohortCounty.county_id, CohortCounty.cohort_id, cohort.id),
        "trainers": await _column(db, CohortTrainer.user_id, CohortTrainer.cohort_id, cohort.id),
        "courses": {
            str(c.course_id): c.due_on.isoformat() if c.due_on else None
            for c in (
                await db.scalars(select(CohortCourse).where(CohortCourse.cohort_id == cohort.id))
            ).all()
        },
    }


async def _column(db: AsyncSession, column: Any, key: Any, value: int) -> list[int]:
    return sorted((await db.scalars(select(column).where(key == value))).all())


async def save_cohort(
    db: AsyncSession, user: User, form: CohortForm, cohort: Cohort | None = None
) -> Cohort:
    before = await cohort_snapshot(db, cohort) if cohort else None
    if cohort is None:
        cohort = Cohort(created_by_id=user.id)
        db.add(cohort)
    cohort.name, cohort.starts_on, cohort.ends_on = form.name, form.starts_on, form.ends_on
    await db.flush()
    for table in (CohortCounty, CohortCourse):
        await db.execute(delete(table).where(table.cohort_id == cohort.id))
    db.add_all(CohortCounty(cohort_id=cohort.id, county_id=c) for c in form.county_ids)
    kept = {} if before is None else await _override_makers(db, cohort.id)
    overridden = dict(form.overridden)
    await db.execute(delete(CohortTrainer).where(CohortTrainer.cohort_id == cohort.id))
    db.add_all(
        CohortTrainer(
            cohort_id=cohort.id,
            user_id=t,
            override_reason=overridden.get(t),
            override_by_id=(user.id if t in form.fresh_overrides else kept.get(t, user.id))
            if t in overridden
            else None,
        )
        for t in form.trainer_ids
    )
    db.add_all(
        CohortCourse(cohort_id=cohort.id, course_id=c, due_on=d) for c, d in form.courses.items()
    )
    await db.flush()
    after = await cohort_snapshot(db, cohort)
    action = "cohort.update" if before else "cohort.create"
    audit.record(db, user, action, "cohort", cohort.id, before, after)
    fresh = list(form.fresh_overrides)
    if fresh:
        audit.record(
            db,
            user,
            "cohort.qualification_override",
            "cohort",
            cohort.id,
            after={"trainers": fresh, "reason": form.override_reason},
        )
    return cohort


@dataclass
class CohortDetail:
    cohort: Cohort
    counties: list[County]
    trainers: list[User]
    members: list[User]
    courses: list[tuple[Course, CohortCourse]]
    sessions: list[LiveSession]
    # The cohort's courses' sessions as written, for "what it delivers": (course, session).
    written: list[tuple[Course, WrittenSession]] = field(default_factory=list)
    # Members whose field activities have nobody to sign them off: no supervisor recorded.
    without_supervisor: list[User] = field(default_factory=list)
    # Trainers on the cohort by an admin's override of qualification: (name, reason).
    overrides: list[tuple[str, str]] = field(default_factory=list)


async def detail(db: AsyncSession, cohort: Cohort) -> CohortDetail:
    counties = (
        await db.scalars(
            select(County)
            .join(CohortCounty, CohortCounty.county_id == County.id)
            .where(CohortCounty.cohort_id == cohort.id)
            .order_by(County.name)
        )
    ).all()
    trainers = (
        await db.scalars(
            select(User)
            .join(CohortTrainer, CohortTrainer.user_id == User.id)
            .where(CohortTrainer.cohort_id == cohort.id)
            .order_by(User.name)
        )
    ).all()
    members = await members_of(db, cohort.id)
    courses = (
        await db.execute(
            select(Course, CohortCourse)
            .join(CohortCourse, CohortCourse.course_id == Course.id)
            .where(CohortCourse.cohort_id == cohort.id)
            .order_by(Course.slug)
        )
    ).all()
    sessions = (
        await db.scalars(
            select(LiveSession)
            .where(LiveSession.cohort_id == cohort.id)
            .order_by(LiveSession.starts_at)
        )
    ).all()
    defined = await catalog.with_definitions(db, [c for c, _ in courses])
    reasons = await overrides_of(db, cohort.id)
    return CohortDetail(
        cohort,
        list(counties),
        list(trainers),
        members,
        [(c, cc) for c, cc in courses],
        list(sessions),
        [(c, written) for c, definition in defined for written in definition.sessions],
        [m for m in members if m.supervisor_id is None]
        if any(
            a.signed_off_by == "supervisor"
            for _, definition in defined
            for a in definition.activities
        )
        else [],
        [(t.name, reasons[t.id]) for t in trainers if t.id in reasons],
    )


async def member_names(db: AsyncSession, cohort_id: int) -> list[PersonName]:
    """The roster by name only, for the lists on a session's page."""
    rows = await db.execute(
        select(User.id, User.name)
        .join(CohortMember, CohortMember.user_id == User.id)
        .where(CohortMember.cohort_id == cohort_id)
        .order_by(User.name, User.id)
    )
    return [PersonName(user_id, name) for user_id, name in rows]


async def members_of(db: AsyncSession, cohort_id: int) -> list[User]:
    query = (
        select(User)
        .join(CohortMember, CohortMember.user_id == User.id)
        .where(CohortMember.cohort_id == cohort_id)
        .order_by(User.name)
    )
    return list((await db.scalars(query)).unique().all())


async def courses_of(db: AsyncSession, cohort_id: int) -> list[Course]:
    """The courses assigned to the cohort, by slug."""
    query = (
        select(Course)
        .join(CohortCourse, CohortCourse.course_id == Course.id)
        .where(CohortCourse.cohort_id == cohort_id)
        .order_by(Course.slug)
    )
    return list((await db.scalars(query)).unique().all())


def chosen_course(courses: list[Course], slug: str) -> Course:
    """The cohort's course with this slug; its first course when no slug is given."""
    if not courses:
        raise NotFound("Assign a course to this cohort first.")
    for course in courses:
        if course.slug == slug:
            return course
    if slug:
        raise NotFound("That course is not assigned to this cohort.")
    return courses[0]


async def course_of(db: AsyncSession, cohort_id: int, slug: str) -> Course:
    """The cohort's course a page or export asks for (`?course=slug`; its first by default)."""
    return chosen_course(await courses_of(db, cohort_id), slug)


async def attendance_records(
    db: AsyncSession, cohort_id: int
) -> list[tuple[LiveSession, Attendance, User]]:
    """Every attendance recorded in the cohort's sessions, by session then learner."""
    rows = await db.execute(
        select(LiveSession, Attendance, User)
        .join(Attendance, Attendance.session_id == LiveSession.id)
        .join(User, User.id == Attendance.user_id)
        .where(LiveSession.cohort_id == cohort_id)
        .order_by(LiveSession.starts_at, User.name)
    )
    return [(s, a, u) for s, a, u in rows.all()]


@dataclass(frozen=True)
class EnrollForm:
    """ "Enroll the roster": who, already placed through another cohort, moves into this one."""

    move: frozenset[int]

    @classmethod
    def from_form(cls, data: Fields) -> EnrollForm:
        return cls(frozenset(id_list(data, "move", "That choice of people to move is not valid.")))


@dataclass(frozen=True)
class AttendanceForm:
    """Who was present at a session (everyone else on the roster was absent), and who of
    them for part of it only (ticking "part only" alone also means present)."""

    present: frozenset[int]
    partial: frozenset[int] = frozenset()

    @classmethod
    def from_form(cls, data: Fields) -> AttendanceForm:
        message = "That attendance list is not valid."
        partial = frozenset(id_list(data, "partial", message))
        return cls(frozenset(id_list(data, "present", message)) | partial, partial)


@dataclass(frozen=True)
class MemberForm:
    """ "Add to roster": a person by email, with a name and county if they are new."""

    email: str
    name: str
    county_id: int | None

    @classmethod
    def from_form(cls, data: Fields) -> MemberForm:
        return cls(
            email=text(data, "email"),
            name=text(data, "name"),
            county_id=optional_id(data, "county_id", "Choose a county from the list."),
        )


@dataclass
class Added:
    user: User
    created: bool
    invite_token: str | None = None


async def add_member(
    db: AsyncSession,
    settings: Settings,
    cohort: Cohort,
    by: User,
    email: str,
    name: str,
    county_id: int | None,
    supervisor_id: int | None = None,
) -> Added:
    """Add a person to the roster, creating an account with an invitation link if needed.

    An existing account is never changed (see cohorts.roster): its supervisor included.
    """
    normalised = accounts.normalise_email(email)
    user = await db.scalar(select(User).where(User.email == normalised))
    created, token = False, None
    if user is None:
        form = accounts.PersonForm(normalised, accounts.check_name(name), ["learner"], county_id)
        form = await accounts.check_person_form(db, form)  # a tampered county id is refused
        user = User(
            email=form.email,
            name=form.name,
            county_id=county_id,
            supervisor_id=supervisor_id,
            password_hash=None,
            is_learner=True,
            is_trainer=False,
            is_admin=False,
            must_change_password=False,
        )
        db.add(user)
        await db.flush()
        audit.record(
            db,
            by,
            "person.create",
            "user",
            user.id,
            after=accounts.person_snapshot(user) | {"via": f"cohort {cohort.id}"},
        )
        token = await accounts.create_token(db, user, "invite")
        created = True
        # Queued in this transaction: the invitation goes only if the roster change lands.
        await accounts.queue_invitation(db, settings, user, token, by)
    member = await db.get(CohortMember, (cohort.id, user.id))
    if member is None:
        db.add(CohortMember(cohort_id=cohort.id, user_id=user.id, added_by_id=by.id))
        audit.record(db, by, "cohort.add_member", "cohort", cohort.id, after={"user_id": user.id})
    return Added(user, created, token)


async def get_member(db: AsyncSession, cohort: Cohort, user_id: int) -> User:
    """A person on the cohort's roster; NotFound for anyone else."""
    member = await db.scalar(
        select(User)
        .join(CohortMember, CohortMember.user_id == User.id)
        .where(CohortMember.cohort_id == cohort.id, User.id == user_id)
    )
    if member is None:
        raise NotFound("That person is not on this cohort's roster.")
    return member


async def remove_member(db: AsyncSession, cohort: Cohort, user_id: int, by: User) -> None:
    await db.execute(
        delete(CohortMember).where(
            CohortMember.cohort_id == cohort.id, CohortMember.user_id == user_id
        )
    )
    audit.record(db, by, "cohort.remove_member", "cohort", cohort.id, before={"user_id": user_id})


def due_at(assignment: CohortCourse, zone: tzinfo) -> datetime | None:
    """The moment a cohort's due date ends in the academy's time zone, as enrollments store it."""
    return times.end_of_day(assignment.due_on, zone) if assignment.due_on else None


@dataclass
class Placed:
    """A member already enrolled in one of the cohort's courses through another cohort."""

    member: User
    course: Course
    enrollment: Enrollment
    cohort: Cohort  # the cohort the enrollment belongs to now
    may_move: bool  # the person enrolling runs that cohort too, or is an admin


@dataclass
class EnrollPlan:
    """What enrolling a cohort would do, worked out without changing anything."""

    cohort: Cohort
    courses: list[tuple[Course, CohortCourse]]
    to_enroll: list[tuple[User, Course, CohortCourse]] = field(default_factory=list)
    in_place: list[tuple[Enrollment, CohortCourse]] = field(default_factory=list)
    # Enrolled on their own (no cohort): they join this cohort, keeping their progress.
    own: list[tuple[User, Course, Enrollment, CohortCourse]] = field(default_factory=list)
    # Enrolled through another cohort: left there unless the trainer ticks them to move.
    elsewhere: list[Placed] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


async def plan_enrollment(db: AsyncSession, cohort: Cohort, by: User) -> EnrollPlan:
    """Sort every (member, assigned course) by what enrolling the cohort would do to it.

    Active enrollments are read in one query; only members without one are checked one by
    one, for the reason enrolling them would be refused (a prerequisite, a finished course).
    """
    info = await detail(db, cohort)
    result = EnrollPlan(cohort, info.courses)
    if not info.courses or not info.members:
        return result
    roster = select(CohortMember.user_id).where(CohortMember.cohort_id == cohort.id)
    active = {
        (e.user_id, e.course_id): (e, owner)
        for e, owner in (
            await db.execute(
                select(Enrollment, Cohort)
                .outerjoin(Cohort, Cohort.id == Enrollment.cohort_id)
                .where(
                    Enrollment.user_id.in_(roster),
                    Enrollment.course_id.in_([c.id for c, _ in info.courses]),
                    Enrollment.status == ACTIVE,
                )
            )
        )
        .unique()
        .all()
    }
    runs = set(
        await db.scalars(select(CohortTrainer.cohort_id).where(CohortTrainer.user_id == by.id))
    )
    for course, assignment in info.courses:
        for member in info.members:
            enrollment, owner = active.get((member.id, course.id), (None, None))
            if enrollment is None:
                try:
                    await learning.check_enrollable(db, member, course, by)
                except DomainError as exc:
                    result.refused.append(f"{member.name} ({_title(course)}): {exc}")
                    continue
                result.to_enroll.append((member, course, assignment))
            elif owner is None:
                result.own.append((member, course, enrollment, assignment))
            elif owner.id == cohort.id:
                result.in_place.append((enrollment, assignment))
            else:
                may_move = by.is_admin or owner.id in runs
                result.elsewhere.append(Placed(member, course, enrollment, owner, may_move))
    return result


def _title(course: Course) -> str:
    return course.current_version.title if course.current_version else course.slug


@dataclass
class EnrollReport:
    enrolled: int = 0
    already: int = 0
    attached: int = 0
    moved: int = 0
    left: int = 0  # enrolled through another cohort and not moved
    refused: list[str] = field(default_factory=list)


async def enroll_cohort(
    db: AsyncSession, cohort: Cohort, by: User, zone: tzinfo, move: Collection[int] = ()
) -> EnrollReport:
    """Enroll every member in every assigned course; safe to repeat.

    A member enrolled through another cohort stays there (its trainer's due date and
    reports) unless their enrollment id is in `move`; moving one out of a cohort `by` does
    not run is refused before anything changes. A member enrolled on their own joins this
    cohort: that is what putting them on the roster asked for, and nobody else loses them.
    """
    plan = await plan_enrollment(db, cohort, by)
    movable = {p.enrollment.id: p for p in plan.elsewhere}
    here = {e.id for e, _ in plan.in_place}
    unknown = set(move) - movable.keys() - here  # already here: a repeated move does nothing
    if unknown:
        raise InvalidInput(
            "Someone ticked to move is not enrolled through another cohort any more; "
            "nothing was changed. Check the list again."
        )
    for enrollment_id in sorted(set(move) & movable.keys()):
        placed = movable[enrollment_id]
        if not placed.may_move:
            raise Forbidden(
                f"{placed.member.name} is enrolled in {_title(placed.course)} through "
                f"{placed.cohort.name}, which you do not run, so nothing was changed. Ask "
                "that cohort's trainer or an administrator to move them."
            )
    report = EnrollReport(already=len(plan.in_place), refused=list(plan.refused))
    for member, course, assignment in plan.to_enroll:
        try:
            enrollment, changed = await learning.enroll(db, member, course, by)
        except DomainError as exc:  # changed since the plan was made
            report.refused.append(f"{member.name} ({_title(course)}): {exc}")
            continue
        if enrollment.status != ACTIVE:
            continue
        if changed:
            report.enrolled += 1
        else:
            report.already += 1
        enrollment.cohort_id, enrollment.due_at = cohort.id, due_at(assignment, zone)
    for enrollment, assignment in plan.in_place:
        # The cohort's due date may have been edited since; enrolling again applies it.
        enrollment.due_at = due_at(assignment, zone)
    for _, _, enrollment, assignment in plan.own:
        _place(db, by, enrollment, cohort, assignment, zone, "enrollment.attach")
        report.attached += 1
    for placed in plan.elsewhere:
        if placed.enrollment.id not in move:
            report.left += 1
            continue
        assignment = next(a for c, a in plan.courses if c.id == placed.course.id)
        _place(db, by, placed.enrollment, cohort, assignment, zone, "enrollment.move")
        report.moved += 1
    return report


def _place(
    db: AsyncSession,
    by: User,
    enrollment: Enrollment,
    cohort: Cohort,
    assignment: CohortCourse,
    zone: tzinfo,
    action: str,
) -> None:
    """Put an enrollment in this cohort with its due date, audited with before and after."""
    before = _placement(enrollment, zone)
    enrollment.cohort_id, enrollment.due_at = cohort.id, due_at(assignment, zone)
    after = _placement(enrollment, zone) | {"user_id": enrollment.user_id}
    audit.record(db, by, action, "enrollment", enrollment.id, before, after)


def _placement(enrollment: Enrollment, zone: tzinfo) -> dict[str, Any]:
    due = times.local_date(enrollment.due_at, zone).isoformat() if enrollment.due_at else None
    return {"cohort_id": enrollment.cohort_id, "due_on": due}


@dataclass(frozen=True)
class SessionForm:
    """A live session: its start is typed in the academy's zone (`schedule_session` stores UTC)."""

    course_id: int
    title: str  # blank: the title of the course session it delivers
    starts_at: datetime
    minutes: int | None  # None: the minutes of the course session it delivers, else 120
    place: str | None
    webinar_url: str | None
    course_session: str | None = None  # the course's session as written that it delivers

    @classmethod
    def from_form(cls, data: Fields) -> SessionForm:
        title = one_line(data, "title")
        # "<course id>/<session id>": the course session it delivers names the course too.
        delivers = text(data, "course_session").strip()
        course_session = None
        if delivers:
            chosen, _, course_session = delivers.partition("/")
            found = parse_id(chosen)
            if found is None or not course_session:
                raise InvalidInput("Choose one of the courses' sessions.", "course_session")
            course_id = found
        else:
            course_id = required_id(data, "course", "Choose one of the cohort's courses.")
        try:
            starts_at = datetime.fromisoformat(text(data, "starts_at").strip())
        except ValueError:
            raise InvalidInput("Enter the date and time the session starts.", "starts_at") from None
        raw_minutes = text(data, "minutes").strip()
        minutes = parse_number(raw_minutes) if raw_minutes else None
        if raw_minutes and (minutes is None or not 15 <= minutes <= 600):
            raise InvalidInput("A session lasts between 15 and 600 minutes.", "minutes")
        place = text(data, "place").strip()[:300] or None
        url = text(data, "webinar_url").strip() or None
        if url and (urlsplit(url).scheme != "https" or not urlsplit(url).netloc):
            raise InvalidInput("The webinar address must start with https://.", "webinar_url")
        if not place and not url:
            raise InvalidInput("Give a place or a webinar address.", "place")
        return cls(course_id, title[:200], starts_at, minutes, place, url, course_session)


async def schedule_session(
    db: AsyncSession, cohort: Cohort, form: SessionForm, by: User, zone: tzinfo
) -> LiveSession:
    assigned = await db.get(CohortCourse, (cohort.id, form.course_id))
    if assigned is None:
        raise InvalidInput("Choose one of the cohort's courses.", "course")
    course = await catalog.get_course_by_id(db, form.course_id)
    definition = await catalog.current_definition(db, course)
    written = next((w for w in definition.sessions if w.id == form.course_session), None)
    if definition.sessions and written is None:
        names = "; ".join(f"{w.title} ({w.minutes} min)" for w in definition.sessions)
        raise InvalidInput(
            f"{definition.title} is delivered as written: choose which of its sessions this "
            f"one delivers ({names}).",
            "course_session",
        )
    title = form.title or (written.title if written else "")
    if not title:
        raise InvalidInput("Give the session a title, e.g. 'Classroom simulation'.", "title")
    session = LiveSession(
        cohort_id=cohort.id,
        course_id=form.course_id,
        title=title,
        course_session=written.id if written else None,
        starts_at=times.to_utc(form.starts_at, zone),
        minutes=form.minutes or (written.minutes if written else 120),
        place=form.place,
        webinar_url=form.webinar_url,
    )
    db.add(session)
    await db.flush()
    audit.record(
        db,
        by,
        "session.schedule",
        "live_session",
        session.id,
        after={
            "cohort_id": cohort.id,
            "title": session.title,
            "course_session": session.course_session,
        },
    )
    return session


async def all_cohorts(db: AsyncSession) -> list[Cohort]:
    """Every cohort by name, for an admin choosing one (trainers see `visible_cohorts`)."""
    return list((await db.scalars(select(Cohort).order_by(Cohort.name))).all())


async def get_session(db: AsyncSession, cohort: Cohort, session_id: int) -> LiveSession:
    session = await db.get(LiveSession, session_id)
    if session is None or session.cohort_id != cohort.id:
        raise NotFound("There is no such session.")
    return session


async def attendance_of(db: AsyncSession, session_id: int) -> dict[int, bool]:
    rows = await db.execute(
        select(Attendance.user_id, Attendance.present).where(Attendance.session_id == session_id)
    )
    return {user_id: present for user_id, present in rows}


async def partial_attendance_of(db: AsyncSession, session_id: int) -> set[int]:
    rows = await db.scalars(
        select(Attendance.user_id).where(
            Attendance.session_id == session_id, Attendance.partial.is_(True)
        )
    )
    return set(rows.all())


def partial_change(partial: list[int]) -> dict[str, list[int]]:
    # Who attended part only, in the audit only when someone did: most sessions have nobody.
    return {"partial": partial} if partial else {}


async def record_attendance(
    db: AsyncSession,
    settings: Settings,
    cohort: Cohort,
    session: LiveSession,
    form: AttendanceForm,
    by: User,
) -> None:
    """Record who attended (and who for part of it only); it counts toward completion."""
    present_ids = form.present
    members = {m.id for m in await member_names(db, cohort.id)}
    if present_ids - members:
        raise InvalidInput("Attendance can only be recorded for the cohort's members.")
    rows = {
        row.user_id: row
        for row in (
            await db.scalars(select(Attendance).where(Attendance.session_id == session.id))
        ).all()
    }
    before = {user_id: row.present for user_id, row in rows.items()}
    before_partial = sorted(user_id for user_id, row in rows.items() if row.partial)
    now = utcnow()
    for user_id in members:
        present, partial = user_id in present_ids, user_id in form.partial
        row = rows.get(user_id)
        if row is None:
            db.add(
                Attendance(
                    session_id=session.id,
                    user_id=user_id,
                    present=present,
                    partial=partial,
                    recorded_at=now,
                    recorded_by_id=by.id,
                )
            )
        elif (row.present, row.partial) != (present, partial):
            row.present, row.partial = present, partial
            row.recorded_at, row.recorded_by_id = now, by.id
    await db.flush()
    audit.record(
        db,
        by,
        "session.attendance",
        "live_session",
        session.id,
        before={str(k): v for k, v in before.items()} | partial_change(before_partial),
        after={str(k): k in present_ids for k in members} | partial_change(sorted(form.partial)),
    )
    enrollments = (
        await db.scalars(
            select(Enrollment).where(
                Enrollment.course_id == session.course_id,
                Enrollment.user_id.in_(present_ids),
                Enrollment.status == ACTIVE,
            )
        )
    ).all()
    for enrollment in enrollments:
        await learning.check_completion(db, settings, enrollment)
