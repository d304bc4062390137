"""Demo accounts and data, so a newcomer sees a working academy at once."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms import times
from lms.accounts import service
from lms.accounts.models import County, User
from lms.activities import service as activities
from lms.catalog.definition import CourseDefinition, Question
from lms.catalog.models import Course
from lms.certificates import service as certificates
from lms.certificates.models import Certificate
from lms.cohorts.models import LiveSession
from lms.compliance import service as compliance
from lms.compliance.models import Requirement, RequirementExtension
from lms.forms import Answers, Upload
from lms.learning import service as learning
from lms.learning.models import Enrollment, ModuleProgress
from lms.learning.progress import module_target, progress_of
from lms.quizzes import service as quizzes
from lms.quizzes.grading import Response
from lms.quizzes.models import FINAL, PRETEST
from lms.settings import Settings

DEMO_PASSWORD = "sop-demo-2026"  # noqa: S105  (demo accounts only)

DEMO_PEOPLE: list[tuple[str, str, tuple[str, ...], str]] = [
    ("admin@example.org", "Avery Admin", ("admin",), "Sacramento"),
    ("trainer1@example.org", "Dana Whitfield", ("trainer",), "Shasta"),
    ("trainer2@example.org", "Luis Ortega", ("trainer", "learner"), "Fresno"),
    ("learner1@example.org", "María José Hernández", ("learner",), "Shasta"),
    ("learner2@example.org", "Jordan Lee", ("learner",), "Shasta"),
    ("learner3@example.org", "Keisha Brown", ("learner",), "Butte"),
    ("learner4@example.org", "Nguyễn Thảo", ("learner",), "Sacramento"),
    ("learner5@example.org", "Sean O'Malley", ("learner",), "Fresno"),
    ("learner6@example.org", "Priya Raman", ("learner",), "Alameda"),
    ("learner7@example.org", "Tomás Alvarez", ("learner",), "Los Angeles"),
    ("learner8@example.org", "Emily Chen", ("learner",), "San Diego"),
    ("learner9@example.org", "Marcus Johnson", ("learner",), "Kern"),
    ("learner10@example.org", "Aiyana Redcloud", ("learner",), "Humboldt"),
    ("learner11@example.org", "Sofia Rossi", ("learner",), "Santa Clara"),
    ("supervisor@example.org", "Grace Okafor", ("learner",), "Shasta"),
    ("new.learner@example.org", "Sam Rivera", ("learner",), "Shasta"),
]

# The supervisor's team, on "My team": Grace Okafor supervises the Shasta and Butte workers.
DEMO_SUPERVISOR = "supervisor@example.org"
DEMO_TEAM = [f"learner{n}@example.org" for n in range(1, 6)]

# Field activities in every state, beside the default for a course done: signed off at once.
DEMO_FIELD_WORK: dict[str, str] = {
    "learner2@example.org": "submitted",  # waiting in Grace Okafor's sign-offs
    "learner3@example.org": "returned",  # returned with a comment, to send again
    "learner4@example.org": "returned, then signed off",
}
DEMO_REFLECTION = (
    "I used the three questions with a mother at a follow-up visit. She named what was "
    "working first: her sister comes by every evening and the children's school attendance "
    "is back up. Her worry was money for rent; mine was the nights she drinks. We agreed "
    "the next step together: a network meeting with her sister next week."
)
# A one-page PDF, for activities that ask for a file (its first bytes make it a PDF).
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)

# A learner in no cohort who has started nothing: a newcomer takes a course from the start.
FRESH_LEARNER = "new.learner@example.org"

# How far each demo learner has got in sop-intro: modules passed, then "final", "done".
DEMO_PROGRESS: dict[str, str] = {
    "learner1@example.org": "done",
    "learner2@example.org": "3",
    "learner3@example.org": "4",
    "learner4@example.org": "done",
    "learner5@example.org": "done",
    "learner6@example.org": "5",
    "learner7@example.org": "1",
    "learner8@example.org": "final",
    "learner9@example.org": "pretest",
    "supervisor@example.org": "done",
}


# Each demo person's job, and how many months ago they were hired (and, for the supervisor,
# promoted): the training plans in courses/plans count their deadlines from these. Jordan
# Lee, hired 11 months ago with the introduction not finished, tops the compliance report.
DEMO_JOBS: dict[str, tuple[str, int, int | None]] = {
    "admin@example.org": ("manager", 96, 30),
    "trainer1@example.org": ("other", 72, None),
    "trainer2@example.org": ("other", 40, None),
    "supervisor@example.org": ("supervisor", 60, 5),
    "learner1@example.org": ("social_worker", 26, None),
    "learner2@example.org": ("social_worker", 11, None),
    "learner3@example.org": ("social_worker", 4, None),
    "learner4@example.org": ("social_worker", 5, None),
    "learner5@example.org": ("social_worker", 8, None),
    "learner6@example.org": ("social_worker", 1, None),
    "learner7@example.org": ("social_worker", 2, None),
    "learner8@example.org": ("social_worker", 6, None),
    "learner9@example.org": ("social_worker", 3, None),
    "learner10@example.org": ("social_worker", 14, None),
    "learner11@example.org": ("social_worker", 20, None),
    FRESH_LEARNER: ("social_worker", 0, None),
}
# Licensed staff, for continuing-education credit: (type, number, months until expiry).
DEMO_LICENSES = {
    "learner1@example.org": ("LCSW", "LCSW 104233", 14),
    "supervisor@example.org": ("LCSW", "LCSW 88120", 7),
}


async def load_demo(db: AsyncSession, settings: Settings) -> int:
    """Create the demo people and their progress if missing; return how many were created."""
    counties = {c.name: c.id for c in (await db.scalars(select(County))).all()}
    existing = set((await db.scalars(select(User.email))).all())
    created = 0
    for email, name, roles, county in DEMO_PEOPLE:
        if email in existing:
            continue
        form = service.PersonForm(
            email=email, name=name, roles=list(roles), county_id=counties[county]
        )
        await service.create_person(
            db, settings, form, DEMO_PASSWORD, None, must_change_password=False
        )
        created += 1
    await db.flush()
    await _demo_team(db)
    await _demo_qualifications(db)
    await _demo_learning(db, settings)
    await _demo_cohorts(db, settings)
    await _demo_revoked(db)
    await _demo_reading_time(db, settings, random.Random(2027))  # noqa: S311  (repeatable demo data)
    await _demo_compliance(db, settings)
    return created


async def _demo_compliance(db: AsyncSession, settings: Settings) -> None:
    """Hire and role dates, jobs and licenses; Grace extends one of her team's deadlines."""
    today = datetime.now(settings.zone).date()
    people = {u.email: u for u in (await db.scalars(select(User))).unique().all()}
    for email, (job, hired, promoted) in DEMO_JOBS.items():
        person = people.get(email)
        if person is None or person.hire_date is not None:
            continue  # set once: an admin's later edits stand
        person.classification = job
        person.hire_date = times.add_months(today, -hired)
        person.role_date = times.add_months(today, -promoted) if promoted else None
        if email in DEMO_LICENSES:
            kind, number, months = DEMO_LICENSES[email]
            person.license_type, person.license_number = kind, number
            person.license_expires = times.add_months(today, months)
    await db.flush()
    await compliance.refresh(db, settings.zone)
    grace, worker = people.get(DEMO_SUPERVISOR), people.get("learner3@example.org")
    if grace is None or worker is None:
        return
    if await db.scalar(
        select(RequirementExtension.id).where(RequirementExtension.user_id == worker.id)
    ):
        return
    row = await db.scalar(
        select(Requirement).where(
            Requirement.user_id == worker.id,
            Requirement.course_slug == "sop-intro",
            Requirement.met_on.is_(None),
            Requirement.due_on.is_not(None),
        )
    )
    if row is None or row.due_on is None:
        return
    form = compliance.ExtensionForm(
        row.plan_id,
        row.course_slug,
        row.due_on,
        row.due_on + timedelta(days=60),
        "Out on family leave for six weeks; back on the caseload next month.",
    )
    await compliance.extend(db, settings.zone, grace, worker, form)


async def _demo_team(db: AsyncSession) -> None:
    supervisor = await db.scalar(select(User).where(User.email == DEMO_SUPERVISOR))
    assert supervisor is not None
    team = await db.scalars(
        select(User).where(User.email.in_(DEMO_TEAM), User.supervisor_id.is_(None))
    )
    for person in team:
        person.supervisor_id = supervisor.id
    # Grace's own field activities are signed off by her manager, the academy's admin.
    admin = await db.scalar(select(User).where(User.email == "admin@example.org"))
    if admin is not None and supervisor.supervisor_id is None:
        supervisor.supervisor_id = admin.id


async def _demo_qualifications(db: AsyncSession) -> None:
    """Both demo trainers qualified; Luis Ortega's emergency-response one lapses in 30 days."""
    from datetime import date, timedelta

    from lms.cohorts import qualifications
    from lms.cohorts.models import TrainerQualification

    if await db.scalar(select(TrainerQualification.id).limit(1)):
        return
    people = {u.email: u for u in (await db.scalars(select(User))).unique().all()}
    admin = people["admin@example.org"]
    courses = {c.slug: c for c in (await db.scalars(select(Course))).unique().all()}
    today = date.today()
    for email, slug, basis, until in [
        ("trainer1@example.org", "sop-intro", "completed_course", None),
        ("trainer1@example.org", "emergency-response", "observed_delivery", None),
        ("trainer1@example.org", "supervisor-core", "co_facilitated", None),
        ("trainer2@example.org", "sop-intro", "observed_delivery", None),
        (
            "trainer2@example.org",
            "emergency-response",
            "co_facilitated",
            today + timedelta(days=30),
        ),
    ]:
        if slug in courses and email in people:
            form = qualifications.QualificationForm(
                people[email].id, courses[slug].id, basis, date(2025, 6, 2), until, ""
            )
            await qualifications.record(db, admin, form)


DEMO_COHORTS = [
    (
        "Shasta and Butte, spring 2026",
        "trainer1@example.org",
        ["Shasta", "Butte"],
        ["learner1", "learner2", "learner3", "learner4", "learner5", "supervisor"],
    ),
    (
        "Central Valley, spring 2026",
        "trainer2@example.org",
        ["Fresno", "Kern"],
        ["learner6", "learner7", "learner8", "learner9"],
    ),
]


async def _demo_cohorts(db: AsyncSession, settings: Settings) -> None:
    """Two cohorts with rosters, assigned courses and a live session with attendance."""
    from datetime import date, datetime, timedelta

    from lms.cohorts import service as cohorts
    from lms.cohorts.models import Cohort

    courses = {
        c.slug: c for c in (await db.scalars(select(Course))).unique().all() if c.current_version_id
    }
    if "sop-intro" not in courses:
        return
    people = {u.email: u for u in (await db.scalars(select(User))).unique().all()}
    counties = {c.name: c.id for c in (await db.scalars(select(County))).all()}
    today = date.today()
    for name, trainer_email, county_names, learners in DEMO_COHORTS:
        if await db.scalar(select(Cohort.id).where(Cohort.name == name)):
            continue
        trainer = people[trainer_email]
        assigned = {courses["sop-intro"].id: today + timedelta(days=30)}
        if "emergency-response" in courses:
            assigned[courses["emergency-response"].id] = today + timedelta(days=75)
        form = cohorts.CohortForm(
            name,
            today - timedelta(days=30),
            today + timedelta(days=90),
            [counties[c] for c in county_names],
            [trainer.id],
            assigned,
        )
        cohort = await cohorts.save_cohort(db, trainer, form)
        for handle in learners:
            member = people[f"{handle}@example.org"]
            await cohorts.add_member(
                db, settings, cohort, trainer, member.email, member.name, member.county_id
            )
        await db.flush()
        await cohorts.enroll_cohort(db, cohort, trainer, settings.zone)
        if "emergency-response" in courses:
            three_days_ago = datetime.now() - timedelta(days=3)
            simulation = cohorts.SessionForm(
                course_id=courses["emergency-response"].id,
                title="First-contact simulation (classroom)",
                starts_at=three_days_ago.replace(hour=9, minute=0, second=0, microsecond=0),
                minutes=None,
                place="Regional training center, room 2",
                webinar_url=None,
                course_session="first-contact-simulation",
            )
            session = await cohorts.schedule_session(db, cohort, simulation, trainer, settings.zone)
            attended = [people[f"{h}@example.org"] for h in learners[:3]]
            # The third arrived an hour late: attended, for part of the session only.
            attendance = cohorts.AttendanceForm(
                frozenset(p.id for p in attended), frozenset({attended[-1].id})
            )
            await cohorts.record_attendance(db, settings, cohort, session, attendance, trainer)
            await _demo_delivery(db, settings, session, trainer, attended)


async def _demo_delivery(
    db: AsyncSession, settings: Settings, session: LiveSession, trainer: User, attended: list[User]
) -> None:
    """The session's delivery log (one segment adapted) and the attendees' skills scores."""
    from lms.delivery import service as delivery
    from lms.delivery.models import ADAPTED, AS_WRITTEN, DELIVERY

    course = await delivery.course_of(db, session)
    written = delivery.written_session(course, session)
    if written is None:
        return
    reports = tuple(
        delivery.SegmentReport(AS_WRITTEN, segment.minutes, "")
        if i != 2
        else delivery.SegmentReport(
            ADAPTED, max(segment.minutes - 10, 5), "Cut short: the room was needed at noon."
        )
        for i, segment in enumerate(written.segments)
    )
    form = delivery.FidelityForm(DELIVERY, reports, {}, "A full room; good energy in role plays.")
    await delivery.record_fidelity(db, course, session, trainer, form)
    for n, learner in enumerate(attended):
        scores: dict[str, dict[str, int]] = {}
        for skill in delivery.skills_for(course, session):
            # The first two pass, the third is scored low on every criterion: "not yet".
            pick = -1 if n < 2 else 0
            scores[skill.id] = {c.id: c.levels[pick].score for c in skill.criteria}
        await delivery.score_learner(
            db, settings, course, session, learner, trainer, delivery.SkillsForm(scores)
        )


async def _demo_learning(db: AsyncSession, settings: Settings) -> None:
    intro = await db.scalar(select(Course).where(Course.slug == "sop-intro"))
    if intro is None or intro.current_version_id is None:
        return  # courses not loaded; `lms courses sync` first
    rng = random.Random(2026)  # noqa: S311  (repeatable demo data, not security)
    people = {u.email: u for u in (await db.scalars(select(User))).all()}
    for email, stage in DEMO_PROGRESS.items():
        learner = people[email]
        if await learning.find_enrollment(db, learner.id, intro.id) is not None:
            continue
        enrollment, _ = await learning.enroll(db, learner, intro)
        await db.flush()
        await _advance(db, settings, enrollment, stage, rng)
        plan = DEMO_FIELD_WORK.get(email, "signed off" if stage == "done" else "")
        if plan:
            await _field_work(db, settings, enrollment, learner, plan)
    supervisor_core = await db.scalar(select(Course).where(Course.slug == "supervisor-core"))
    grace = people["supervisor@example.org"]
    if supervisor_core and not await learning.find_enrollment(db, grace.id, supervisor_core.id):
        enrollment, _ = await learning.enroll(db, grace, supervisor_core)
        await db.flush()
        await _advance(db, settings, enrollment, "2", rng)


# A revoked certificate, so that the learner's home, the download and the ZIP show what
# revocation does.
REVOKED_FOR = "learner5@example.org"


async def _demo_revoked(db: AsyncSession) -> None:
    learner = await db.scalar(select(User).where(User.email == REVOKED_FOR))
    admin = await db.scalar(select(User).where(User.email == "admin@example.org"))
    if learner is None or admin is None:
        return
    certificate = await db.scalar(
        select(Certificate).where(Certificate.user_id == learner.id, Certificate.is_current)
    )
    if certificate is not None:  # revoke() does nothing to one already revoked
        await certificates.revoke(
            db, certificate, "Demo: attendance was recorded for the wrong person.", admin
        )


# A learner part-way through a module of emergency-response, which asks for seat time: the
# module page shows how much reading is still owed, and the matrix shows the time.
READING_ER = "learner1@example.org"


async def _demo_reading_time(db: AsyncSession, settings: Settings, rng: random.Random) -> None:
    """Reading time as real learners leave it: about a module's minutes where it is done, a
    part of them where it is begun (the demo's progress is made in seconds, not minutes)."""
    er = await db.scalar(select(Course).where(Course.slug == "emergency-response"))
    learner = await db.scalar(select(User).where(User.email == READING_ER))
    if er is not None and learner is not None:
        enrollment = await learning.find_enrollment(db, learner.id, er.id)
        if enrollment is not None and enrollment.status == "active":
            progress = await progress_of(db, enrollment)
            if progress.pretest_needed:  # the course asks for it before the first module
                await _answer(db, settings, enrollment, progress.course, PRETEST, rng, 0.5)
            await learning.open_module(db, enrollment, progress.course.modules[0].id)
            await db.flush()
    rows = (await db.scalars(select(ModuleProgress).where(ModuleProgress.seconds_spent == 0))).all()
    courses: dict[int, CourseDefinition] = {}
    for row in rows:
        if row.enrollment_id not in courses:
            enrollment = await db.get(Enrollment, row.enrollment_id)
            assert enrollment is not None  # the row's foreign key
            courses[row.enrollment_id] = (await progress_of(db, enrollment)).course
        module = next(m for m in courses[row.enrollment_id].modules if m.id == row.module_id)
        share = rng.uniform(0.6, 1.2) if row.status == "done" else rng.uniform(0.1, 0.4)
        row.seconds_spent = int(module.minutes * 60 * share)


async def _advance(
    db: AsyncSession, settings: Settings, enrollment: Enrollment, stage: str, rng: random.Random
) -> None:
    progress = await progress_of(db, enrollment)
    course = progress.course
    if course.pretest:
        await _answer(db, settings, enrollment, course, PRETEST, rng, skill=0.45)
    if stage == "pretest":
        return
    modules = len(course.modules) if stage in ("final", "done") else int(stage)
    for module in course.modules[:modules]:
        target = module_target(module.id)
        # Marking a module done is held to the seat time as much as starting its check.
        await _read(db, enrollment, module.id, module.minutes, rng)
        if module.quiz is None:
            await learning.complete_module(db, settings, enrollment, module.id)
            continue
        await _pass(db, settings, enrollment, course, target, rng, skill=0.85)
    if stage not in ("final", "done"):
        next_module = course.modules[modules]
        await learning.open_module(db, enrollment, next_module.id)
        return
    await _pass(db, settings, enrollment, course, FINAL, rng, skill=0.9)
    if stage == "done" and course.evaluation:
        answers: dict[str, list[str]] = {}
        for q in course.evaluation.questions:
            if q.type == "likert":
                answers[q.id] = [str(rng.choice([3, 4, 4, 5, 5]))]
            elif q.type == "single":
                answers[q.id] = [q.choices[0]]
        await learning.submit_evaluation(db, settings, enrollment, Answers(answers))


async def _field_work(
    db: AsyncSession, settings: Settings, enrollment: Enrollment, learner: User, plan: str
) -> None:
    """Send each open field activity, and have the reviewer decide on it as `plan` says."""
    progress = await progress_of(db, enrollment)
    for activity in progress.course.activities:
        if not progress.activity_open(activity):
            continue
        upload = None
        if activity.evidence in ("file", "both"):
            upload = Upload("de-identified-map.pdf", DEMO_PDF)
        form = activities.SubmissionForm(DEMO_REFLECTION, 0)
        record = await activities.submit(
            db, settings, enrollment, learner, activity.id, form, upload
        )
        [reviewer, *_] = await activities.reviewers_of(db, enrollment, record.reviewer)
        top = {c.id: c.levels[-1].score for c in activity.rubric}
        if plan.startswith("returned"):
            comment = "Good start. Add what the children said, in their words, and send it again."
            decision = activities.DecisionForm(activities.RETURN, comment, {}, record.revision)
            await activities.decide(db, settings, reviewer, record.id, decision)
        if plan == "returned, then signed off":
            again = activities.SubmissionForm(DEMO_REFLECTION + " Her son said: 'Auntie helps.'", 2)
            await activities.submit(db, settings, enrollment, learner, activity.id, again, upload)
        if plan.endswith("signed off"):
            await db.refresh(record)
            decision = activities.DecisionForm(
                activities.SIGN_OFF, "Signed off: clear and respectful.", top, record.revision
            )
            await activities.decide(db, settings, reviewer, record.id, decision)
        await db.flush()


async def _read(
    db: AsyncSession, enrollment: Enrollment, module_id: str, minutes: int, rng: random.Random
) -> None:
    """Open the module and leave the reading time a learner who finished it would have spent:
    the shipped courses' seat time refuses a knowledge check started after seconds."""
    await learning.open_module(db, enrollment, module_id)
    await db.flush()
    row = await db.get(ModuleProgress, (enrollment.id, module_id))
    assert row is not None  # open_module just recorded the view
    row.seconds_spent = max(row.seconds_spent, int(minutes * 60 * rng.uniform(0.6, 1.2)))


async def _pass(
    db: AsyncSession,
    settings: Settings,
    enrollment: Enrollment,
    course: CourseDefinition,
    target: str,
    rng: random.Random,
    skill: float,
) -> None:
    """Fail now and then, like real learners, but pass within two attempts."""
    if not await _answer(db, settings, enrollment, course, target, rng, skill):
        await _answer(db, settings, enrollment, course, target, rng, 1.0)


async def _answer(
    db: AsyncSession,
    settings: Settings,
    enrollment: Enrollment,
    course: CourseDefinition,
    target: str,
    rng: random.Random,
    skill: float,
) -> bool:
    """Take one attempt, answering each question right with probability `skill`."""
    attempt = await quizzes.start_attempt(db, enrollment, target)
    await db.flush()
    view = await quizzes.get_attempt_view(db, attempt.id, enrollment.user_id)
    responses = {q.id: _response(q, rng.random() < skill) for q in view.questions}
    submitted = await quizzes.submit(db, settings, view, responses)
    return bool(submitted.passed) or target == PRETEST


def _response(question: Question, right: bool) -> Response:
    if question.type == "true_false":
        return bool(question.answer) is right  # a true/false question always has its answer
    correct = [i for i, c in enumerate(question.choices) if c.correct]
    wrong = [i for i, c in enumerate(question.choices) if not c.correct]
    return correct if right or not wrong else wrong[:1]
