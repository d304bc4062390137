"""Seed a statewide academy for benchmarks: 20,000 learners, 300 cohorts, two years of history.

Migrates the database, loads the courses from courses/ (as `lms courses sync` does), then
bulk-inserts people, cohorts, enrollments pinned to the course versions, module progress,
quiz attempts with their answers, evaluations, live sessions with attendance and certificates.
Rows go in with SQLAlchemy Core `insert()` in batches; one bcrypt hash and one rendered PDF are
shared by everyone, so the run takes minutes, not hours.

The first cohort of each course is the "benchmark cohort": 250 learners who started three
weeks ago, so most are part way through. Everyone's password is PASSWORD.

Run: .venv/bin/python bench/seed.py --database-url URL [--learners 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import bcrypt
import click
from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402
from lms import db as database  # noqa: E402
from lms import models as m  # noqa: E402
from lms.catalog.definition import CourseDefinition, Question, Quiz  # noqa: E402
from lms.catalog.service import get_definitions, sync_courses  # noqa: E402
from lms.certificates import pdf  # noqa: E402
from lms.certificates.service import new_serial  # noqa: E402
from lms.compliance import service as compliance  # noqa: E402
from lms.quizzes import grading  # noqa: E402
from lms.settings import Settings  # noqa: E402
from lms.times import add_months  # noqa: E402

JOBS = ("social_worker", "supervisor", "manager", "other")
JOB_WEIGHTS = (85, 10, 3, 2)
SKILLS_LAB = 40  # learners at the classroom skills lab (issue 17's session page)
PASSWORD = "bench-password-2026"  # noqa: S105  (benchmark accounts only)
DOMAIN = "academy.example.org"
BATCH = 5000
BIG_COHORT = 250
COHORTS_PER_COURSE = {"sop-intro": 0.52, "emergency-response": 0.31, "supervisor-core": 0.17}
# Rough share of the state's child welfare workforce; every other county weighs 1.
COUNTY_WEIGHTS = {
    "Los Angeles": 60,
    "San Diego": 14,
    "Riverside": 13,
    "San Bernardino": 13,
    "Orange": 10,
    "Sacramento": 8,
    "Fresno": 7,
    "Santa Clara": 6,
    "Alameda": 6,
    "Kern": 6,
    "Contra Costa": 4,
    "San Joaquin": 4,
    "Stanislaus": 3,
    "Tulare": 3,
    "Ventura": 3,
}


def _words(text: str) -> list[str]:
    return text.split()


FIRST = _words(
    "María Ana Jordan Keisha Thảo Sean Priya Tomás Emily Marcus Aiyana Sofia Grace Luis "
    "Dana Avery Jamal Mei Carlos Fatima Hannah Diego Olivia Noah Liam Ava Mateo Isabella "
    "Ethan Zoe Amir Leila Kenji Yesenia Rosa Andre Tamika Guadalupe Nadia Samuel"
)
LAST = _words(
    "Hernández Lee Brown Nguyễn O'Malley Raman Alvarez Chen Johnson Redcloud Rossi "
    "Okafor Ortega Whitfield García Martinez Smith Williams Patel Kim Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres "
    "Hill Flores Green Adams"
)


@dataclass
class Counts:
    rows: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, n: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + n


class Sink:
    """Per-table row buffers, inserted in batches; a table's parents are flushed first."""

    PARENTS = {
        "module_progress": ["enrollments"],
        "attempts": ["enrollments"],
        "attempt_answers": ["attempts"],
        "evaluation_responses": ["enrollments"],
        "attendance": ["live_sessions"],
        "certificates": ["enrollments"],
    }

    def __init__(self, conn: AsyncConnection, counts: Counts) -> None:
        self.conn, self.counts = conn, counts
        self.buffers: dict[str, list[dict[str, Any]]] = {}
        self.tables = {t.name: t for t in database.Base.metadata.sorted_tables}

    async def add(self, table: str, row: dict[str, Any]) -> None:
        buffer = self.buffers.setdefault(table, [])
        buffer.append(row)
        if len(buffer) >= BATCH:
            await self.flush(table)

    async def flush(self, table: str) -> None:
        for parent in self.PARENTS.get(table, []):
            await self.flush(parent)
        rows = self.buffers.get(table)
        if not rows:
            return
        self.buffers[table] = []
        await self.conn.execute(insert(self.tables[table]), rows)
        await self.conn.commit()
        self.counts.add(table, len(rows))

    async def flush_all(self) -> None:
        for table in list(self.buffers):
            await self.flush(table)


Rows = list[tuple[str, dict[str, Any]]]


@dataclass
class Person:
    id: int
    county_id: int
    supervisor: bool


@dataclass
class CohortPlan:
    id: int
    course: str
    starts_on: date
    trainers: list[int]
    members: list[Person] = field(default_factory=list)


def _next_id(counter: dict[str, int], table: str) -> int:
    counter[table] += 1
    return counter[table]


def _response(question: Question, right: bool, rng: random.Random) -> grading.Response:
    if question.type == "true_false":
        return bool(question.answer) if right else not question.answer
    correct = [i for i, c in enumerate(question.choices) if c.correct]
    wrong = [i for i, c in enumerate(question.choices) if not c.correct]
    return correct if right or not wrong else [rng.choice(wrong)]


class Academy:
    """Generates the rows of one academy; all randomness comes from one seeded generator."""

    def __init__(
        self,
        rng: random.Random,
        now: datetime,
        definitions: dict[str, CourseDefinition],
        versions: dict[str, int],
        course_ids: dict[str, int],
        pdf_bytes: bytes,
        base_url: str,
    ) -> None:
        self.rng, self.now = rng, now
        self.definitions, self.versions, self.course_ids = definitions, versions, course_ids
        self.pdf, self.sha = pdf_bytes, hashlib.sha256(pdf_bytes).hexdigest()
        self.base_url = base_url
        self.ids: dict[str, int] = {}
        self.layouts: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.sessions: dict[int, list[tuple[int, datetime]]] = {}  # cohort -> (id, starts)

    def layout(self, course: str, target: str, quiz: Quiz) -> list[dict[str, Any]]:
        if quiz.draw:  # a fresh draw of the pool for every attempt, like the app
            return grading.draw_layout(quiz, self.rng)
        found = self.layouts.get((course, target))
        if found is None:
            found = self.layouts[(course, target)] = grading.draw_layout(quiz, self.rng)
        return found

    def attempt(
        self,
        out: Rows,
        enrollment_id: int,
        course: str,
        target: str,
        number: int,
        at: datetime,
        skill: float,
        must_pass: bool | None,
    ) -> bool:
        """One submitted attempt and its answers; `must_pass` forces the outcome."""
        definition = self.definitions[course]
        if target in ("pretest", "final"):
            quiz = definition.final
        else:
            found = definition.module(target.removeprefix("module:"))
            quiz = found.quiz if found else None
        assert quiz is not None
        layout = self.layout(course, target, quiz)
        questions = grading.questions_in(quiz, layout)
        responses = {q.id: _response(q, self.rng.random() < skill, self.rng) for q in questions}
        result = grading.grade(quiz, layout, responses)
        if must_pass is not None and result.passed != must_pass:
            for q in questions[: len(questions) if must_pass else 3]:
                responses[q.id] = _response(q, must_pass, self.rng)
            result = grading.grade(quiz, layout, responses)
        attempt_id = _next_id(self.ids, "attempts")
        started = at - timedelta(minutes=self.rng.randint(4, 30))
        limit = quiz.time_limit_minutes if target != "pretest" else None
        out.append(
            (
                "attempts",
                {
                    "id": attempt_id,
                    "enrollment_id": enrollment_id,
                    "target": target,
                    "number": number,
                    "started_at": started,
                    "deadline_at": started + timedelta(minutes=limit) if limit else None,
                    "submitted_at": at,
                    "layout": layout,
                    "points": result.points,
                    "max_points": result.max_points,
                    "percent": result.percent,
                    "passed": None if target == "pretest" else result.passed,
                    "late": False,
                },
            )
        )
        for question in questions:
            answer = {
                "attempt_id": attempt_id,
                "question_id": question.id,
                "response": responses[question.id],
                "saved_at": at - timedelta(seconds=self.rng.randint(5, 200)),
                "correct": result.correct[question.id],
            }
            out.append(("attempt_answers", answer))
        return target == "pretest" or result.passed

    async def enrollment(
        self,
        sink: Sink,
        person: Person,
        cohort: CohortPlan,
        start: datetime,
        names: dict[int, str],
    ) -> datetime | None:
        """One learner's enrollment in a cohort's course; returns when it was completed."""
        rng, course = self.rng, cohort.course
        definition = self.definitions[course]
        out: Rows = []
        enrollment_id = _next_id(self.ids, "enrollments")
        enrolled_at = start + timedelta(hours=rng.randint(0, 72))
        elapsed = (self.now - enrolled_at).days
        pace = rng.uniform(1.5, 7.0)  # days per module for this person
        modules = definition.modules
        steps_possible = int(elapsed / pace)
        withdrawn = rng.random() < 0.025
        sessions_held = all(at <= self.now for _, at in self.sessions.get(cohort.id, []))
        finishing = (
            steps_possible >= len(modules) + 1
            and sessions_held
            and rng.random() < 0.93
            and not withdrawn
        )
        done_modules = len(modules) if finishing else min(len(modules) - 1, steps_possible)
        if withdrawn:
            done_modules = min(done_modules, rng.randint(0, 3))
        if rng.random() < 0.06 and not finishing:
            done_modules = 0  # enrolled, never started
        started = finishing or done_modules > 0 or rng.random() < 0.8
        moment = min(enrolled_at + timedelta(hours=rng.randint(1, 48)), self.now)
        if definition.pretest and started:
            self.attempt(out, enrollment_id, course, "pretest", 1, moment, 0.5, None)
            moment += timedelta(minutes=30)
        for index, module in enumerate(modules):
            if not started or index > done_modules:
                break
            opened = moment
            done = index < done_modules
            # Half to all of the module's minutes, read: enough for the courses' seat time
            # (50%), so the learners the benchmark picks can start a knowledge check.
            seconds = rng.randint(30, 66) * module.minutes
            moment += timedelta(days=pace * rng.uniform(0.5, 1.5))
            moment = min(moment, self.now - timedelta(hours=1))
            target = f"module:{module.id}"
            if module.quiz is not None:
                tries = 0
                if done:
                    if rng.random() < 0.2:
                        tries += 1
                        self.attempt(out, enrollment_id, course, target, tries, moment, 0.5, False)
                    tries += 1
                    self.attempt(out, enrollment_id, course, target, tries, moment, 0.95, True)
                elif rng.random() < 0.12:
                    self.attempt(out, enrollment_id, course, target, 1, moment, 0.5, False)
            out.append(
                (
                    "module_progress",
                    {
                        "enrollment_id": enrollment_id,
                        "module_id": module.id,
                        "status": "done" if done else "in_progress",
                        "opened_at": opened,
                        "last_seen_at": moment,
                        "completed_at": moment if done else None,
                        "seconds_spent": seconds,
                    },
                )
            )
        completed_at = None
        if finishing and definition.final is not None:
            tries = 1
            if rng.random() < 0.15:
                self.attempt(out, enrollment_id, course, "final", 1, moment, 0.6, False)
                tries = 2
            moment = min(moment + timedelta(hours=rng.randint(1, 30)), self.now)
            self.attempt(out, enrollment_id, course, "final", tries, moment, 0.95, True)
            completed_at = min(moment + timedelta(minutes=rng.randint(5, 60)), self.now)
            moment = completed_at
            evaluation = {
                "enrollment_id": enrollment_id,
                "version_id": self.versions[course],
                "submitted_at": completed_at,
                "answers": self.evaluation_answers(definition),
            }
            out.append(("evaluation_responses", evaluation))
        self.attendance(out, person, cohort, finishing)
        status = "completed" if completed_at else ("withdrawn" if withdrawn else "active")
        await sink.add(
            "enrollments",
            {
                "id": enrollment_id,
                "user_id": person.id,
                "course_id": self.course_ids[course],
                "version_id": self.versions[course],
                "status": status,
                "enrolled_at": enrolled_at,
                "enrolled_by_id": cohort.trainers[0],
                "due_at": None,
                "cohort_id": cohort.id,
                "completed_at": completed_at,
                "withdrawn_at": moment if withdrawn else None,
                "last_activity_at": moment,
            },
        )
        if completed_at and (definition.certificate.issue == "automatic" or rng.random() < 0.85):
            self.certificate(out, person, definition, enrollment_id, completed_at, names)
        for table, row in out:  # after their enrollment, which they refer to
            await sink.add(table, row)
        return completed_at

    def evaluation_answers(self, definition: CourseDefinition) -> dict[str, Any]:
        assert definition.evaluation is not None
        answers: dict[str, Any] = {}
        for q in definition.evaluation.questions:
            if q.type == "likert":
                answers[q.id] = self.rng.choice([2, 3, 4, 4, 4, 5, 5, 5])
            elif q.type == "single":
                answers[q.id] = self.rng.choice(q.choices)
            elif self.rng.random() < 0.2:
                answers[q.id] = "The case examples were close to what I see at work."
        return answers

    def attendance(self, out: Rows, person: Person, cohort: CohortPlan, finishing: bool) -> None:
        for session_id, starts_at in self.sessions.get(cohort.id, []):
            if starts_at > self.now:
                continue
            present = finishing or self.rng.random() < 0.7
            record = {
                "session_id": session_id,
                "user_id": person.id,
                "present": present,
                "recorded_at": self.now,
                "recorded_by_id": cohort.trainers[0],
            }
            out.append(("attendance", record))

    def certificate(
        self,
        out: Rows,
        person: Person,
        definition: CourseDefinition,
        enrollment_id: int,
        completed_at: datetime,
        names: dict[int, str],
    ) -> None:
        serial = new_serial()
        issued = completed_at + timedelta(minutes=1)
        months = definition.certificate.valid_for_months
        out.append(
            (
                "certificates",
                {
                    "id": _next_id(self.ids, "certificates"),
                    "serial": serial,
                    "enrollment_id": enrollment_id,
                    "user_id": person.id,
                    "is_current": True,
                    "certificate_title": definition.certificate.title,
                    "learner_name": names[person.id],
                    "course_slug": definition.slug,
                    "course_title": definition.title,
                    "course_version": definition.version,
                    "hours": definition.hours,
                    "completed_at": completed_at,
                    "issued_at": issued,
                    "expires_at": add_months(issued, months) if months else None,
                    "issuer": definition.certificate.issuer,
                    "signatory_name": definition.certificate.signatory_name,
                    "signatory_title": definition.certificate.signatory_title,
                    "verify_url": f"{self.base_url}/verify/{serial}",
                    "pdf": self.pdf,
                    "sha256": self.sha,
                    "issued_by_id": None,
                    "revoked_at": None,
                    "revoked_by_id": None,
                    "revoke_reason": None,
                    "superseded_at": None,
                    "superseded_by_id": None,
                },
            )
        )


def chunk_sizes(total: int, cohorts: int) -> list[int]:
    """The first cohort holds BIG_COHORT people (or all), the others share the rest evenly."""
    if cohorts <= 0 or total <= 0:
        return []
    first = min(BIG_COHORT, total)
    rest, others = total - first, cohorts - 1
    if others <= 0:
        return [total]
    return [first] + [rest // others + (1 if i < rest % others else 0) for i in range(others)]


def split(items: list[Person], sizes: list[int]) -> Iterator[list[Person]]:
    start = 0
    for size in sizes:
        yield items[start : start + size]
        start += size


async def _max_ids(conn: AsyncConnection) -> dict[str, int]:
    found = {}
    for table in ("users", "cohorts", "enrollments", "attempts", "live_sessions", "certificates"):
        found[table] = (await conn.scalar(text(f"SELECT max(id) FROM {table}"))) or 0  # noqa: S608
    return found


async def _fix_sequences(conn: AsyncConnection, tables: list[str]) -> None:
    """Explicit ids leave PostgreSQL's sequences behind; move them past the new rows."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        await conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        )
    await conn.commit()


async def seed(
    url: str,
    learners: int = 20_000,
    cohorts: int = 300,
    trainers: int = 100,
    seed_value: int = 2026,
    progress: Callable[[str], None] = print,
) -> tuple[Counts, float]:
    """Fill the database at `url`; return the row counts and the seconds taken."""
    started = time.perf_counter()
    await asyncio.to_thread(command.upgrade, database.alembic_config(url), "head")
    engine = database.create_engine(url)
    sessionmaker = database.create_sessionmaker(engine)
    async with sessionmaker() as db, db.begin():
        report = await sync_courses(db, ROOT / "courses")
        for result in report.results:
            progress(f"courses: {result}")
    rng = random.Random(seed_value)
    now = database.utcnow().replace(microsecond=0)
    counts = Counts()
    async with sessionmaker() as db:
        courses = {c.slug: c for c in (await db.scalars(select(m.Course))).unique().all()}
        versions = {slug: c.current_version_id for slug, c in courses.items()}
        definitions_by_id = await get_definitions(db, set(versions.values()))
        definitions = {slug: definitions_by_id[v] for slug, v in versions.items()}
        counties = {c.name: c.id for c in (await db.scalars(select(m.County))).unique().all()}
        if await db.scalar(select(func.count()).where(m.User.email.like(f"%@{DOMAIN}"))):
            raise SystemExit(f"{url} already holds a seeded academy; use a fresh database.")
    progress("rendering the certificate shared by every seeded learner")
    pdf_bytes = await asyncio.to_thread(pdf.render, dict(pdf.SAMPLE, learner_name="Seeded"))
    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12)).decode()
    base_url = Settings.from_env().base_url
    async with engine.connect() as conn:
        ids = await _max_ids(conn)
        sink = Sink(conn, counts)
        academy = Academy(
            rng,
            now,
            definitions,
            versions,
            {slug: c.id for slug, c in courses.items()},
            pdf_bytes,
            base_url,
        )
        academy.ids = ids
        names: dict[int, str] = {}
        county_names = sorted(counties)
        weights = [COUNTY_WEIGHTS.get(name, 1) for name in county_names]

        def person_row(email: str, name: str, county: str, **roles: bool) -> dict[str, Any]:
            # Jobs and hire dates for the training plans (courses/plans): mostly social
            # workers hired over the last ten years, some supervisors promoted since.
            job = "manager" if roles.get("admin") else "other" if roles.get("trainer") else None
            job = job or rng.choices(JOBS, JOB_WEIGHTS)[0]
            hired = (now - timedelta(days=rng.randrange(3650))).date()
            promoted = hired + timedelta(days=rng.randrange(max(1, (now.date() - hired).days)))
            return {
                "classification": job,
                "hire_date": hired,
                "role_date": promoted if job == "supervisor" else None,
                "id": _next_id(ids, "users"),
                "email": email,
                "name": name,
                "password_hash": password_hash,
                "is_learner": roles.get("learner", False),
                "is_trainer": roles.get("trainer", False),
                "is_admin": roles.get("admin", False),
                "county_id": counties[county],
                "active": True,
                "must_change_password": False,
                "created_at": now - timedelta(days=740),
                "last_sign_in_at": None,
            }

        admin = person_row(f"admin@{DOMAIN}", "Academy Administrator", "Sacramento", admin=True)
        await sink.add("users", admin)
        trainer_ids = []
        for i in range(1, trainers + 1):
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            county = rng.choices(county_names, weights)[0]
            row = person_row(f"trainer{i:03d}@{DOMAIN}", name, county, trainer=True)
            trainer_ids.append(row["id"])
            await sink.add("users", row)
        people: list[Person] = []
        for i in range(1, learners + 1):
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            county = rng.choices(county_names, weights)[0]
            row = person_row(f"learner{i:05d}@{DOMAIN}", name, county, learner=True)
            names[row["id"]] = name
            people.append(Person(row["id"], row["county_id"], rng.random() < 0.2))
            await sink.add("users", row)
        await sink.flush("users")
        await _fix_sequences(conn, ["users"])
        progress(f"{learners:,} learners, {trainers} trainers and an admin")

        # Cohorts: regional classes of people from neighbouring counties.
        plans: list[CohortPlan] = []
        per_course = {
            slug: max(1, round(cohorts * share)) for slug, share in COHORTS_PER_COURSE.items()
        }
        per_course["sop-intro"] += cohorts - sum(per_course.values())
        for slug, count in per_course.items():
            for index in range(count):
                days_ago = 21 if index == 0 else rng.randint(30, 730)
                if slug != "sop-intro" and index:
                    days_ago = rng.randint(30, 560)
                cohort_id = _next_id(ids, "cohorts")
                first_trainer = trainer_ids[(cohort_id - 1) % len(trainer_ids)]
                team = [first_trainer]
                if rng.random() < 0.3:
                    team.append(rng.choice(trainer_ids))
                plans.append(
                    CohortPlan(cohort_id, slug, (now - timedelta(days=days_ago)).date(), team)
                )
        by_course: dict[str, list[CohortPlan]] = {}
        for plan in plans:
            by_course.setdefault(plan.course, []).append(plan)
        for group in by_course.values():
            # Oldest first, keeping the benchmark cohort (index 0) at the front.
            group[1:] = sorted(group[1:], key=lambda p: p.starts_on)
        for plan in plans:
            await sink.add(
                "cohorts",
                {
                    "id": plan.id,
                    "name": f"{definitions[plan.course].title} cohort {plan.id}",
                    "starts_on": plan.starts_on,
                    "ends_on": plan.starts_on + timedelta(weeks=10),
                    "created_at": datetime.combine(plan.starts_on, datetime.min.time()),
                    "created_by_id": plan.trainers[0],
                },
            )
            await sink.add(
                "cohort_courses",
                {
                    "cohort_id": plan.id,
                    "course_id": courses[plan.course].id,
                    "due_on": plan.starts_on + timedelta(weeks=10),
                },
            )
            for trainer_id in dict.fromkeys(plan.trainers):
                await sink.add("cohort_trainers", {"cohort_id": plan.id, "user_id": trainer_id})
            if definitions[plan.course].live_sessions:
                academy.sessions[plan.id] = []
                for n in range(definitions[plan.course].live_sessions):
                    session_id = _next_id(ids, "live_sessions")
                    starts_at = datetime.combine(plan.starts_on, datetime.min.time()) + timedelta(
                        days=14 + 21 * n, hours=9
                    )
                    academy.sessions[plan.id].append((session_id, starts_at))
                    await sink.add(
                        "live_sessions",
                        {
                            "id": session_id,
                            "cohort_id": plan.id,
                            "course_id": courses[plan.course].id,
                            "title": ("Classroom simulation", "Case consultation webinar")[n % 2],
                            "starts_at": starts_at,
                            "minutes": 180,
                            "place": "Regional training center" if n % 2 == 0 else None,
                            "webinar_url": None if n % 2 == 0 else "https://meet.example.org/sop",
                            "notes": None,
                        },
                    )
        for table in ("cohorts", "cohort_courses", "cohort_trainers", "live_sessions"):
            await sink.flush(table)
        await _fix_sequences(conn, ["cohorts", "live_sessions"])

        # Everyone takes the introduction; the regional grouping puts neighbours together.
        everyone = sorted(people, key=lambda p: (p.county_id, p.id))
        intro = by_course["sop-intro"]
        # The benchmark cohort takes a slice from the middle of the state, not one county.
        rng.shuffle(everyone[: BIG_COHORT * 4])
        total = len(everyone)
        label = "Enrollments, progress, attempts, certificates"
        bar = click.progressbar(length=total, label=label, show_pos=True, show_eta=True)
        intro_done: dict[int, datetime] = {}
        with bar:
            intro_groups = split(everyone, chunk_sizes(total, len(intro)))
            for plan, members in zip(intro, intro_groups, strict=True):
                for person in members:
                    await sink.add("cohort_members", _member(plan, person))
                    start = datetime.combine(plan.starts_on, datetime.min.time())
                    done = await academy.enrollment(sink, person, plan, start, names)
                    if done:
                        intro_done[person.id] = done
                    bar.update(1)
            # Social workers go on to emergency response; supervisors to supervisor core.
            for slug, supervisors in (("emergency-response", False), ("supervisor-core", True)):
                group = by_course[slug]
                eligible = [
                    p
                    for p in everyone
                    if p.id in intro_done
                    and intro_done[p.id] < now - timedelta(days=3)
                    and p.supervisor == supervisors
                    and rng.random() < 0.85
                ]
                bar.length = (bar.length or 0) + len(eligible)
                for plan, members in zip(
                    group, split(eligible, chunk_sizes(len(eligible), len(group))), strict=True
                ):
                    for person in members:
                        await sink.add("cohort_members", _member(plan, person))
                        start = max(
                            datetime.combine(plan.starts_on, datetime.min.time()),
                            intro_done[person.id] + timedelta(days=1),
                        )
                        await academy.enrollment(sink, person, plan, start, names)
                        bar.update(1)
            await sink.flush_all()
        # Counties of each cohort, from its members.
        rows = await conn.execute(
            select(m.CohortMember.cohort_id, m.User.county_id)
            .join(m.User, m.User.id == m.CohortMember.user_id)
            .distinct()
        )
        for cohort_id, county_id in rows.all():
            await sink.add("cohort_counties", {"cohort_id": cohort_id, "county_id": county_id})
        await sink.flush_all()
        await _fix_sequences(conn, ["enrollments", "attempts", "certificates"])
        practice = await seed_practice(conn, rng, now, people, definitions, courses)
        for table, n in practice.items():
            counts.add(table, n)
        progress(
            f"Practice: {practice['field_activities']:,} field activities, "
            f"{practice['skill_scores']:,} skill scores, {practice['fidelity_logs']:,} logs"
        )
        # Everyone's plan requirements, as the app keeps them (lms.compliance.refresh).
        async with AsyncSession(bind=conn) as session:
            required = await compliance.refresh(session, Settings().zone)
            await session.commit()
        await conn.commit()
        counts.add("requirements", required)
        progress(f"Compliance: {required:,} plan requirements")
    if engine.dialect.name == "postgresql":
        # Fresh statistics for the planner, and the visibility map for index-only scans.
        progress("VACUUM ANALYZE")
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    await engine.dispose()
    return counts, time.perf_counter() - started


# The benchmark's supervisor: "My team" and "Sign-offs" with this many people waiting.
BENCH_TEAM = 30


async def seed_practice(
    conn: AsyncConnection,
    rng: random.Random,
    now: datetime,
    people: list[Person],
    definitions: dict[str, CourseDefinition],
    courses: dict[str, Any],
) -> dict[str, int]:
    """Supervisors for everyone, field activities in every state, sessions as written with
    delivery logs, and skills scored for the attendees, on top of the seeded learning."""
    made: dict[str, int] = {}
    # Supervisors: a supervisor of the same county where there is one; the first supervisor
    # leads the benchmark's team of BENCH_TEAM.
    supervisors: dict[int, list[int]] = {}
    for person in people:
        if person.supervisor:
            supervisors.setdefault(person.county_id, []).append(person.id)
    lead = next(p.id for p in people if p.supervisor)
    workers = [p for p in people if not p.supervisor]
    links = []
    for n, person in enumerate(workers):
        nearby = supervisors.get(person.county_id)
        chosen = lead if n < BENCH_TEAM else (rng.choice(nearby) if nearby else None)
        if chosen is not None:
            links.append({"uid": person.id, "sid": chosen})
    users = m.User.__table__
    await conn.execute(
        users.update().where(users.c.id == bindparam("uid")).values(supervisor_id=bindparam("sid")),
        links,
    )
    supervisor_of = {link["uid"]: link["sid"] for link in links}
    # Field activities of the introduction: signed off for everyone who completed it (its
    # completion needs the sign-off), sent or returned for some still in it, and waiting for
    # everyone on the benchmark's team.
    intro = definitions["sop-intro"]
    activity = intro.activities[0] if intro.activities else None
    activities: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    if activity is not None:
        team = {p.id for p in workers[:BENCH_TEAM]}
        rows = await conn.execute(
            select(m.Enrollment.id, m.Enrollment.user_id, m.Enrollment.status).where(
                m.Enrollment.course_id == courses["sop-intro"].id
            )
        )
        next_id = 1
        for enrollment_id, user_id, status in rows.all():
            reviewer = supervisor_of.get(user_id)
            if reviewer is None:
                continue
            if status == "completed":
                state = "signed_off"
            elif user_id in team:
                state = "submitted"
            else:
                state = rng.choice(["submitted", "returned", None, None, None])
            if state is None:
                continue
            sent = now - timedelta(days=rng.randint(1, 40))
            decided = sent + timedelta(days=rng.randint(1, 9)) if state != "submitted" else None
            activities.append(
                {
                    "id": next_id,
                    "enrollment_id": enrollment_id,
                    "activity_id": activity.id,
                    "reviewer": "supervisor",
                    "status": state,
                    "revision": 1 if state == "submitted" else 2,
                    "submitted_at": sent,
                    "first_submitted_at": sent,
                    "decided_at": decided,
                    "decided_by_id": reviewer if decided else None,
                    "scores": (
                        {c.id: c.levels[-1].score for c in activity.rubric}
                        if state == "signed_off"
                        else None
                    ),
                }
            )
            steps.append(
                {
                    "field_activity_id": next_id,
                    "kind": "submitted",
                    "revision": 1,
                    "by_id": user_id,
                    "at": sent,
                    "reflection": "Seeded reflection: what the family said worked, and worried.",
                    "comment": None,
                }
            )
            if decided is not None:
                steps.append(
                    {
                        "field_activity_id": next_id,
                        "kind": state,
                        "revision": 2,
                        "by_id": reviewer,
                        "at": decided,
                        "reflection": None,
                        "comment": "Seeded decision.",
                    }
                )
            next_id += 1
        for table, found in (("field_activities", activities), ("field_activity_steps", steps)):
            for start in range(0, len(found), 5_000):
                await conn.execute(
                    insert(database.Base.metadata.tables[table]), found[start : start + 5_000]
                )
    made["field_activities"] = len(activities)
    made["field_activity_steps"] = len(steps)
    # Emergency response's sessions, as written: which one each delivers, a delivery log for
    # those held, and skills scored for who attended.
    er = definitions["emergency-response"]
    await _skills_lab(conn, courses["emergency-response"].id, now)
    sessions = (
        await conn.execute(
            select(
                m.LiveSession.id,
                m.LiveSession.title,
                m.LiveSession.starts_at,
                m.CohortTrainer.user_id,
            )
            .join(m.CohortTrainer, m.CohortTrainer.cohort_id == m.LiveSession.cohort_id)
            .where(m.LiveSession.course_id == courses["emergency-response"].id)
            .order_by(m.LiveSession.id, m.CohortTrainer.user_id)
        )
    ).all()
    delivers: dict[int, Any] = {}
    logs = []
    for session_id, title, starts_at, trainer_id in sessions:
        if session_id in delivers or not er.sessions:
            continue
        course_session = er.sessions[0] if "simulation" in title.lower() else er.sessions[-1]
        delivers[session_id] = course_session
        if starts_at < now and course_session.segments:
            states = [
                "as_written" if rng.random() < 0.85 else rng.choice(["adapted", "skipped"])
                for _ in course_session.segments
            ]
            logs.append(
                {
                    "session_id": session_id,
                    "kind": "delivery",
                    "recorded_by_id": trainer_id,
                    "recorded_at": starts_at + timedelta(hours=4),
                    "segments": [
                        {
                            "status": st,
                            "minutes": seg.minutes,
                            "note": "" if st == "as_written" else "Seeded.",
                        }
                        for st, seg in zip(states, course_session.segments, strict=True)
                    ],
                    "as_written": states.count("as_written"),
                    "segment_count": len(states),
                }
            )
    sessions_table = m.LiveSession.__table__
    if delivers:
        await conn.execute(
            sessions_table.update()
            .where(sessions_table.c.id == bindparam("sid"))
            .values(course_session=bindparam("cs")),
            [{"sid": sid, "cs": w.id} for sid, w in delivers.items()],
        )
    if logs:
        await conn.execute(insert(m.FidelityLog.__table__), logs)
    made["fidelity_logs"] = len(logs)
    scores = []
    attended = await conn.execute(
        select(m.Attendance.session_id, m.Attendance.user_id, m.Attendance.recorded_by_id).where(
            m.Attendance.session_id.in_(list(delivers)), m.Attendance.present.is_(True)
        )
    )
    for session_id, user_id, by in attended.all():
        for skill in er.skills:
            if skill.session not in (None, delivers[session_id].id):
                continue
            for criterion in skill.criteria:
                level = criterion.levels[min(len(criterion.levels) - 1, int(rng.random() * 3) + 1)]
                scores.append(
                    {
                        "session_id": session_id,
                        "user_id": user_id,
                        "skill_id": skill.id,
                        "criterion_id": criterion.id,
                        "score": level.score,
                        "scored_by_id": by,
                        "scored_at": now,
                    }
                )
    for start in range(0, len(scores), 5_000):
        await conn.execute(insert(m.SkillScore.__table__), scores[start : start + 5_000])
    made["skill_scores"] = len(scores)
    await _fix_sequences(conn, ["field_activities", "field_activity_steps", "fidelity_logs"])
    return made


async def _skills_lab(conn: Any, course_id: int, now: datetime) -> None:
    """A classroom skills lab of 40 in the biggest emergency-response cohort (a whole cohort
    of 250 is not one class): the session page that issue 17's speed target names."""
    biggest = (
        await conn.execute(
            select(m.CohortMember.cohort_id, func.count())
            .join(m.CohortCourse, m.CohortCourse.cohort_id == m.CohortMember.cohort_id)
            .where(m.CohortCourse.course_id == course_id)
            .group_by(m.CohortMember.cohort_id)
            .order_by(func.count().desc(), m.CohortMember.cohort_id)
            .limit(1)
        )
    ).first()
    if biggest is None:
        return
    cohort_id = biggest[0]
    trainer = await conn.scalar(
        select(func.min(m.CohortTrainer.user_id)).where(m.CohortTrainer.cohort_id == cohort_id)
    )
    members = (
        await conn.scalars(
            select(m.CohortMember.user_id)
            .where(m.CohortMember.cohort_id == cohort_id)
            .order_by(m.CohortMember.user_id)
            .limit(SKILLS_LAB)
        )
    ).all()
    starts = now - timedelta(days=7)
    session_id = await conn.scalar(
        insert(m.LiveSession.__table__)
        .values(
            cohort_id=cohort_id,
            course_id=course_id,
            title=f"Skills lab: first-contact simulation (group of {SKILLS_LAB})",
            starts_at=starts,
            minutes=180,
            place="Redding training room",
        )
        .returning(m.LiveSession.__table__.c.id)
    )
    await conn.execute(
        insert(m.Attendance.__table__),
        [
            {
                "session_id": session_id,
                "user_id": user_id,
                "present": True,
                "recorded_at": starts + timedelta(hours=3),
                "recorded_by_id": trainer,
            }
            for user_id in members
        ],
    )


def _member(plan: CohortPlan, person: Person) -> dict[str, Any]:
    return {
        "cohort_id": plan.id,
        "user_id": person.id,
        "added_at": datetime.combine(plan.starts_on, datetime.min.time()),
        "added_by_id": plan.trainers[0],
    }


def print_counts(counts: Counts, seconds: float) -> None:
    progress_rows = sum(
        counts.rows.get(t, 0)
        for t in ("module_progress", "attempts", "attempt_answers", "attendance")
    )
    for table, n in sorted(counts.rows.items()):
        print(f"  {table:<22} {n:>10,}")
    print(f"  {'progress rows':<22} {progress_rows:>10,}  (module progress, attempts, answers,")
    print(f"  {'':<22} {'':>10}   attendance)")
    print(f"Seeded in {seconds:.0f} s.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="SQLAlchemy URL (async driver)")
    parser.add_argument("--learners", type=int, default=20_000)
    parser.add_argument("--cohorts", type=int, default=300)
    parser.add_argument("--trainers", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2026, help="random seed (repeatable data)")
    args = parser.parse_args()
    counts, seconds = asyncio.run(
        seed(args.database_url, args.learners, args.cohorts, args.trainers, args.seed)
    )
    print_counts(counts, seconds)
    print(f"Every seeded account's password: {PASSWORD}")


if __name__ == "__main__":
    main()
