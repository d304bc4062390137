"""Benchmark the app against the framework's floors, as production runs it, in one command.

1. Creates a throwaway PostgreSQL database and seeds a statewide academy into it (bench/seed.py),
   or reuses the one given with --database-url.
2. Serves the app with `lms serve --workers 2` (production settings, bcrypt cost 12) and the two
   floor apps of bench/floor_app.py with the same granian command and settings:
   (a) a bare Litestar route rendering an 8 KB Jinja2 page,
   (b) the same page after 3 indexed SELECTs through SQLAlchemy.
3. Signs real learners, a trainer and an admin in, then drives load with wrk from a separate
   process on loopback, in short bounded runs with a fixed number of connections.
4. Prints requests/s, p50 and p99 for each page with its ratio to floor (b), each worker's
   memory, and the effect of a burst of sign-ins on another page's p99; writes the same to
   bench/results/latest.md.

Run: .venv/bin/python bench/run.py [--database-url URL] [--duration 10] [--keep]
Needs wrk (Debian package `wrk`) and a local PostgreSQL server.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import seed as seeding  # noqa: E402
from lms.cli import server_command  # noqa: E402
from tests.servers import (  # noqa: E402
    HOST,
    Server,
    create_database,
    csrf_token,
    drop_database,
    free_port,
    run_sql,
    start,
    stop,
    wait_ready,
)

WRK_DIR = ROOT / "bench" / "wrk"
RESULTS = ROOT / "bench" / "results" / "latest.md"
ADMIN_DSN = "postgresql:///postgres?host=/var/run/postgresql"
SESSION_COOKIE = "__Host-lms_session"  # production mode (see lms/auth.py)

# Targets from issue 8, as ratios to floor (b) from the same run.
TARGETS = {
    "dashboard": 1.0,
    "module page": 1.0,
    "quiz save": 0.8,
    "trainer matrix (250)": 0.25,
    "completions report": 0.25,
    # Issue 15: with question groups and review rules, and the report with item analysis.
    "quiz start + submit": 0.5,
    "course report (250)": 0.25,
    # Issue 17: the supervisor's pages and a session page with its skills forms.
    "sign-offs queue (30)": 1.0,
    "my team (30)": 1.0,
    "session page (40)": 0.5,
    "skills page (one learner)": 0.5,
    # Issue 18: the compliance report over the whole academy.
    "compliance report": 0.25,
}
MEMORY_LIMIT_MB = 200
FLOOR_B = "floor (b): 3 SELECTs + page"
FLOOR_B_AGAIN = "floor (b) again, after the pages"
BURST_P99_LIMIT = 1.5
CATALOG = "catalog page"
MATRIX = "trainer matrix"  # issue 6 asks for its time as a ratio to the catalog page's


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    note: str = ""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Signed:
    email: str
    cookie: str
    token: str


@dataclass
class Plan:
    """Who and what each scenario uses, found in the seeded data."""

    floor_email: str = ""
    module_learners: list[tuple[str, str]] = field(default_factory=list)  # email, module path
    submit_learners: list[tuple[str, str]] = field(default_factory=list)  # email, start path
    dashboard_learners: list[str] = field(default_factory=list)
    downloads: list[tuple[str, str]] = field(default_factory=list)  # email, serial
    serials: list[str] = field(default_factory=list)
    trainer: str = ""
    cohort_id: int = 0
    cohort_size: int = 0
    admin: str = f"admin@{seeding.DOMAIN}"
    burst: list[str] = field(default_factory=list)
    supervisor: str = ""  # the benchmark team's supervisor (bench/seed.py BENCH_TEAM)
    session_path: str = ""  # the skills lab: the session with attendees nearest 40
    session_trainer: str = ""
    session_size: int = 0
    skills_path: str = ""  # one attendee's scoring page at that session
    large_session_path: str = ""  # the emergency-response session with the most attendees
    large_session_trainer: str = ""
    large_session_size: int = 0


def log(message: str) -> None:
    print(message, flush=True)


async def is_seeded(url: str) -> bool:
    from sqlalchemy import text

    from lms import db as database

    engine = database.create_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                text("SELECT count(*) FROM users WHERE email = :e"),
                {"e": f"admin@{seeding.DOMAIN}"},
            )
            return bool(found)
    except Exception:
        return False
    finally:
        await engine.dispose()


async def make_plan(url: str) -> Plan:
    """Pick the benchmark cohorts' people, with what each will open, using the app's rules."""
    from sqlalchemy import func, select

    from lms import db as database
    from lms import models as m
    from lms.learning.progress import progress_of

    plan = Plan()
    engine = database.create_engine(url)
    async with database.create_sessionmaker(engine)() as db:
        courses = {c.slug: c for c in (await db.scalars(select(m.Course))).unique().all()}

        async def first_cohort(slug: str) -> int:
            query = (
                select(m.CohortCourse.cohort_id)
                .where(m.CohortCourse.course_id == courses[slug].id)
                .order_by(m.CohortCourse.cohort_id)
                .limit(1)
            )
            return int(await db.scalar(query) or 0)

        async def active_in(cohort_id: int, slug: str) -> list[Any]:
            query = (
                select(m.Enrollment, m.User.email)
                .join(m.User, m.User.id == m.Enrollment.user_id)
                .where(
                    m.Enrollment.cohort_id == cohort_id,
                    m.Enrollment.course_id == courses[slug].id,
                    m.Enrollment.status == "active",
                )
                .order_by(m.Enrollment.id)
            )
            return list((await db.execute(query)).all())

        plan.cohort_id = await first_cohort("sop-intro")
        plan.cohort_size = int(
            await db.scalar(select(func.count()).where(m.CohortMember.cohort_id == plan.cohort_id))
            or 0
        )
        plan.trainer = str(
            await db.scalar(
                select(m.User.email)
                .join(m.CohortTrainer, m.CohortTrainer.user_id == m.User.id)
                .where(m.CohortTrainer.cohort_id == plan.cohort_id)
                .order_by(m.User.id)
                .limit(1)
            )
        )

        async def in_a_module(rows: list[Any], limit: int) -> list[tuple[str, str]]:
            """(email, module page) of learners who can open a knowledge check now."""
            found = []
            for enrollment, email in rows:
                progress = await progress_of(db, enrollment)
                for state in progress.modules:
                    if state.status in ("available", "in_progress", "failed") and state.module.quiz:
                        found.append((email, f"/courses/sop-intro/modules/{state.module.id}"))
                        break
                if len(found) == limit:
                    break
            return found

        in_modules = await in_a_module(await active_in(plan.cohort_id, "sop-intro"), 64)
        plan.module_learners = in_modules[:32]
        plan.burst = [e for e, _ in in_modules[32:]]
        # Submitting adds attempts; learners outside the matrix's cohort keep it as seeded.
        others = (
            select(m.Enrollment, m.User.email)
            .join(m.User, m.User.id == m.Enrollment.user_id)
            .where(
                m.Enrollment.cohort_id != plan.cohort_id,
                m.Enrollment.course_id == courses["sop-intro"].id,
                m.Enrollment.status == "active",
            )
            .order_by(m.Enrollment.enrolled_at.desc())
            .limit(200)
        )
        submitters = await in_a_module(list((await db.execute(others)).all()), 16)
        plan.submit_learners = [(e, f"{p}/quiz/start") for e, p in submitters]
        er_cohort = await first_cohort("emergency-response")
        dashboard = await active_in(er_cohort, "emergency-response")
        plan.dashboard_learners = [email for _, email in dashboard][:32]
        rows = await db.execute(
            select(m.User.email, m.Certificate.serial)
            .join(m.Certificate, m.Certificate.user_id == m.User.id)
            .where(m.User.email.in_(plan.dashboard_learners), m.Certificate.is_current.is_(True))
        )
        plan.downloads = [(email, serial) for email, serial in rows.all()]
        plan.serials = list(
            (
                await db.scalars(
                    select(m.Certificate.serial).order_by(m.Certificate.id.desc()).limit(200)
                )
            ).all()
        )
        plan.floor_email = plan.dashboard_learners[0]
        lead = (
            select(m.User.supervisor_id)
            .where(m.User.supervisor_id.is_not(None))
            .group_by(m.User.supervisor_id)
            .order_by(func.count().desc(), m.User.supervisor_id)
            .limit(1)
            .scalar_subquery()
        )
        plan.supervisor = str(await db.scalar(select(m.User.email).where(m.User.id == lead)))
        attended = (
            await db.execute(
                select(m.LiveSession.id, m.LiveSession.cohort_id, func.count())
                .join(m.Attendance, m.Attendance.session_id == m.LiveSession.id)
                .where(m.LiveSession.course_session.is_not(None), m.Attendance.present.is_(True))
                .group_by(m.LiveSession.id, m.LiveSession.cohort_id)
                .order_by(m.LiveSession.id)
            )
        ).all()
        if attended:
            # The skills lab of 40 (issue 17's target), and the biggest session beside it.
            lab = min(attended, key=lambda row: abs(row[2] - seeding.SKILLS_LAB))
            large = max(attended, key=lambda row: row[2])
            plan.session_path, plan.session_size = _session_path(lab), lab[2]
            plan.large_session_path, plan.large_session_size = _session_path(large), large[2]
            plan.session_trainer = await _first_trainer(db, lab[1])
            plan.large_session_trainer = await _first_trainer(db, large[1])
            attendee = await db.scalar(
                select(func.min(m.Attendance.user_id)).where(
                    m.Attendance.session_id == lab[0], m.Attendance.present.is_(True)
                )
            )
            plan.skills_path = f"{plan.session_path}/skills/{attendee}"
    await engine.dispose()
    return plan


# --- servers ------------------------------------------------------------------------------


async def _first_trainer(db: Any, cohort_id: int) -> str:
    """The email of a cohort's first trainer, who signs in to its session pages."""
    from sqlalchemy import select

    from lms import models as m

    return str(
        await db.scalar(
            select(m.User.email)
            .join(m.CohortTrainer, m.CohortTrainer.user_id == m.User.id)
            .where(m.CohortTrainer.cohort_id == cohort_id)
            .order_by(m.User.id)
            .limit(1)
        )
    )


def _session_path(row: Any) -> str:
    session_id, cohort_id, _ = row
    return f"/cohorts/{cohort_id}/sessions/{session_id}"


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) in MB, from /proc."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found.get("VmRSS", 0.0), found.get("VmHWM", 0.0)


# --- signing in ---------------------------------------------------------------------------


def set_cookies(response: httpx.Response) -> dict[str, str]:
    found = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        found[name.strip()] = rest.split(";", 1)[0]
    return found


# Made once: each httpx.Client would otherwise load the CA bundle again, 29 ms of CPU taken
# from the server under test during the sign-in burst (the app is served over plain HTTP).
TLS = ssl.create_default_context()


def sign_in(base: str, email: str) -> Signed:
    """Sign in through the form, as a browser does (cookies are Secure, so kept by hand)."""
    with httpx.Client(base_url=base, timeout=120, verify=TLS) as client:
        page = client.get("/sign-in")
        jar = set_cookies(page)
        token = csrf_token(page.text)
        response = client.post(
            "/sign-in",
            data={"_csrf_token": token, "email": email, "password": seeding.PASSWORD},
            headers={"cookie": "; ".join(f"{k}={v}" for k, v in jar.items())},
        )
        jar.update(set_cookies(response))
    if response.status_code != 303 or SESSION_COOKIE not in jar:
        raise SystemExit(f"could not sign {email} in: {response.status_code}")
    cookie = f"{SESSION_COOKIE}={jar[SESSION_COOKIE]}; lms_csrf={jar['lms_csrf']}"
    return Signed(email, cookie, token)


def sign_in_all(base: str, emails: list[str]) -> dict[str, Signed]:
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return {s.email: s for s in pool.map(lambda e: sign_in(base, e), emails)}


# --- load ---------------------------------------------------------------------------------


def wrk(
    url: str,
    lines: list[str],
    folder: Path,
    duration: int,
    connections: int,
    threads: int = 2,
    script: str = "replay.lua",
    think_ms: int = 0,
) -> dict[str, Any]:
    data = folder / f"requests-{uuid.uuid4().hex[:6]}.tsv"
    data.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "WRK_THINK_MS": str(think_ms)}
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_DIR / script),
        url,
        "--",
        str(data),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)  # noqa: S603
    return json.loads(done.stdout.strip().splitlines()[-1])


def to_result(name: str, raw: dict[str, Any], note: str = "") -> Result:
    return Result(
        name,
        raw["requests"],
        raw["duration_us"] / 1e6,
        raw["p50_us"] / 1000,
        raw["p99_us"] / 1000,
        raw["status_errors"] + raw["socket_errors"],
        note,
    )


def line(method: str, path: str, body: str = "", *headers: str) -> str:
    return "\t".join([method, path, body, *headers])


def check(base: str, request: str, expect: int, contains: str = "") -> None:
    """One request before the load, so a benchmark never measures an error page."""
    method, path, body, *headers = request.split("\t")
    sent = dict(h.split(": ", 1) for h in headers)
    if body:
        sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
    response = httpx.request(method, base + path, content=body or None, headers=sent, timeout=30)
    if response.status_code != expect or contains not in response.text:
        raise SystemExit(
            f"{method} {path} answered {response.status_code}, expected {expect}"
            f"{f' with {contains!r}' if contains else ''}:\n{response.text[:500]}"
        )


def quiz_save_lines(url: str, signed: list[Signed], base: str) -> list[str]:
    """Open an attempt at each learner's current knowledge check; answer every question."""
    from lms import db as database
    from lms.catalog.service import get_definition
    from lms.learning.models import Enrollment
    from lms.quizzes.models import Attempt
    from lms.quizzes.service import quiz_for

    starts = []
    for person, path in signed:
        response = httpx.post(
            f"{base}{path}/quiz/start",
            content=f"_csrf_token={person.token}",
            headers={"cookie": person.cookie, "content-type": "application/x-www-form-urlencoded"},
        )
        attempt = re.search(r"/attempts/(\d+)", response.headers.get("location", ""))
        if response.status_code != 303 or not attempt:
            raise SystemExit(f"could not start a knowledge check: {response.status_code}")
        starts.append((person, int(attempt.group(1))))

    async def bodies() -> list[str]:
        engine = database.create_engine(url)
        found = []
        async with database.create_sessionmaker(engine)() as db:
            for person, attempt_id in starts:
                attempt = await db.get(Attempt, attempt_id)
                assert attempt is not None
                enrollment = await db.get(Enrollment, attempt.enrollment_id)
                assert enrollment is not None
                definition = await get_definition(db, enrollment.version_id)
                types = {q.id: q.type for q in quiz_for(definition, attempt.target).questions}
                fields = [("_csrf_token", person.token)]
                for item in attempt.layout:
                    value = "true" if types[item["q"]] == "true_false" else "0"
                    fields.append((f"q:{item['q']}", value))
                found.append(
                    line(
                        "POST",
                        f"/attempts/{attempt_id}/save",
                        urllib.parse.urlencode(fields),
                        f"Cookie: {person.cookie}",
                        "Accept: application/json",
                    )
                )
        await engine.dispose()
        return found

    return asyncio.run(bodies())


def burst_of_sign_ins(base: str, emails: list[str], parallel: int) -> list[float]:
    times: list[float] = []
    lock = threading.Lock()

    def one(email: str) -> None:
        start = time.perf_counter()
        sign_in(base, email)
        with lock:
            times.append(time.perf_counter() - start)

    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, emails))
    return times


# --- the run ------------------------------------------------------------------------------


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for text_line in Path("/proc/cpuinfo").read_text().splitlines():
            if text_line.startswith("model name"):
                model = text_line.split(":", 1)[1].strip()
                break
    cpu = model or platform.processor()
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def busy_processes() -> list[str]:
    """Other processes using CPU right now: they make every number worse."""
    out = subprocess.run(  # noqa: S603
        ["/usr/bin/ps", "-eo", "pcpu,pid,comm", "--sort=-pcpu", "--no-headers"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    busy = []
    for row in out.splitlines()[:8]:
        cpu, pid, name = row.split(None, 2)
        if float(cpu) >= 10 and int(pid) != os.getpid() and name != "ps":
            busy.append(f"{name} ({cpu}%)")
    return busy


@dataclass
class Servers:
    app: Server
    floor_a: Server
    floor_b: Server


@contextlib.contextmanager
def database(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    """The database URL and how it was seeded: the one given, or a throwaway one seeded here."""
    url, created = args.database_url, None
    if url is None:
        created, url = create_database(args.admin_dsn, "lms_bench")
        # What PostgreSQL on SSDs is given in production (see docs/scaling.md).
        run_sql(args.admin_dsn, f'ALTER DATABASE "{created}" SET random_page_cost = 1.1')
        log(f"Created database {created} (random_page_cost 1.1).")
    try:
        seed_note = "reused an already seeded database"
        if not asyncio.run(is_seeded(url)):
            log(f"Seeding a statewide academy ({args.learners:,} learners) ...")
            counts, seconds = asyncio.run(seeding.seed(url, args.learners, progress=log))
            seeding.print_counts(counts, seconds)
            seed_note = f"seeded in {seconds:.0f} s: {sum(counts.rows.values()):,} rows"
        yield url, seed_note
    finally:
        if created and not args.keep:
            drop_database(args.admin_dsn, created)
            log(f"Dropped database {created}.")
        elif created:
            log(f"Kept database {created}: --database-url {url}")


@contextlib.contextmanager
def serving(args: argparse.Namespace, url: str, plan: Plan, folder: Path) -> Iterator[Servers]:
    """The app as production runs it and both floors, with the same granian settings."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
    app_env = {
        **base_env,
        "LMS_DATABASE_URL": url,
        "LMS_ENV": "production",
        "LMS_SECRET_KEY": secrets.token_urlsafe(48),
        "LMS_BASE_URL": "https://lms.example.org",
        "LMS_BCRYPT_ROUNDS": "12",
    }
    floor_env = {
        **base_env,
        "LMS_DATABASE_URL": url,
        "LMS_FLOOR_EMAIL": plan.floor_email,
        "PYTHONPATH": str(ROOT),
    }
    app_cmd = [sys.executable, "-m", "lms.cli", "serve", "--host", HOST]
    app_cmd += ["--port", str(free_port()), "--workers", str(args.workers)]
    started: list[Server] = []
    try:
        started.append(start("app", app_cmd, app_env, folder))
        for name in ("floor_a", "floor_b"):
            command = server_command(f"bench.floor_app:{name}", HOST, free_port(), args.workers)
            started.append(start(name.replace("_", "-"), command, floor_env, folder))
        for server in started:
            wait_ready(server, "/healthz" if server.name == "app" else "/", timeout=90)
        log(f"Serving the app and both floors with {args.workers} granian workers each.")
        yield Servers(*started)
    finally:
        for server in started:
            stop(server)


Scenario = tuple[str, str, list[str], dict[str, Any]]  # name, base URL, request lines, wrk options


def scenarios(url: str, plan: Plan, servers: Servers) -> list[Scenario]:
    """Sign the benchmark's people in and list the pages to load, each checked once first."""
    app, floor_a, floor_b = servers.app, servers.floor_a, servers.floor_b
    log("Signing the benchmark's people in (bcrypt cost 12) ...")
    emails = [e for e, _ in plan.module_learners + plan.submit_learners]
    emails += plan.dashboard_learners + [plan.trainer, plan.admin, plan.supervisor]
    emails += [plan.session_trainer] if plan.session_trainer else []
    signed = sign_in_all(app.url, list(dict.fromkeys(emails)))
    module = [(signed[e], p) for e, p in plan.module_learners]
    found: list[Scenario] = []

    def add(name: str, server: Server, lines: list[str], expect: str = "", **options: Any) -> None:
        """A page to load; `expect` is text its first request's answer must contain."""
        if options.get("script") is None:
            check(server.url, lines[0], 200, expect)
        found.append((name, server.url, lines, options))

    def as_each(emails: list[str], path: str) -> list[str]:
        return [line("GET", path, "", f"Cookie: {signed[e].cookie}") for e in emails]

    add("floor (a): bare 8 KB page", floor_a, [line("GET", "/")])
    add(FLOOR_B, floor_b, [line("GET", "/")])
    add("sign-in page", app, [line("GET", "/sign-in")], "Sign in")
    add(CATALOG, app, as_each(plan.dashboard_learners, "/courses"), "<h1>Courses</h1>")
    add("dashboard", app, as_each(plan.dashboard_learners, "/"), "My learning")
    add(
        "module page",
        app,
        [line("GET", p, "", f"Cookie: {s.cookie}") for s, p in module],
        "Knowledge check",
    )
    add("quiz save", app, quiz_save_lines(url, module, app.url), '"saved"')
    submit = ["\t".join([p, signed[e].token, signed[e].cookie]) for e, p in plan.submit_learners]
    add(
        "quiz start + submit",
        app,
        submit,
        script="quiz_submit.lua",
        threads=len(submit),
        connections=len(submit),
    )
    matrix = f"/cohorts/{plan.cohort_id}/progress"
    add(f"trainer matrix ({plan.cohort_size})", app, as_each([plan.trainer], matrix), "Progress:")
    report = f"/cohorts/{plan.cohort_id}/report"
    add(f"course report ({plan.cohort_size})", app, as_each([plan.trainer], report), "Item")
    add("completions report", app, as_each([plan.admin], "/admin/completions"), "Completions")
    add("compliance report", app, as_each([plan.admin], "/admin/compliance"), "Requirements by")
    add("sign-offs queue (30)", app, as_each([plan.supervisor], "/sign-offs"), "Waiting for you")
    add("my team (30)", app, as_each([plan.supervisor], "/team"), "waiting for your sign-off")
    if plan.session_path:
        add(
            f"session page ({plan.session_size})",
            app,
            as_each([plan.session_trainer], plan.session_path),
            "Agenda as written",
        )
        add(
            f"large session page ({plan.large_session_size})",
            app,
            as_each([plan.large_session_trainer], plan.large_session_path),
            "Agenda as written",
        )
        add(
            "skills page (one learner)",
            app,
            as_each([plan.session_trainer], plan.skills_path),
            "scores</button>",
        )
    add(
        "certificate verification",
        app,
        [line("GET", f"/verify/{s}") for s in plan.serials],
        "Certificate",
    )
    add(
        "certificate download",
        app,
        [
            line("GET", f"/certificates/{serial}.pdf", "", f"Cookie: {signed[e].cookie}")
            for e, serial in plan.downloads
        ],
    )
    return found


def load(
    args: argparse.Namespace, pages: list[Scenario], floor_b: Server, folder: Path
) -> dict[str, Result]:
    """Each page under wrk after a warm-up, then floor (b) again."""
    results: dict[str, Result] = {}
    for name, target, lines, options in pages:
        if args.only and not name.startswith(("floor", *args.only)):
            continue
        log(f"  {name} ...")
        options = {"connections": args.connections, **options}
        wrk(target, lines, folder, 2, **options)  # warm-up
        raw = wrk(target, lines, folder, args.duration, **options)
        results[name] = to_result(name, raw, f"{options['connections']} connections")
    # Floor (b) again: other work on the machine shifts every number during a run, and
    # each page's ratio is to the mean of the floor measured before and after it.
    log("  floor (b) again ...")
    again = wrk(floor_b.url, [line("GET", "/")], folder, args.duration, args.connections)
    results[FLOOR_B_AGAIN] = to_result(FLOOR_B_AGAIN, again, f"{args.connections} connections")
    return results


def burst(
    args: argparse.Namespace, pages: list[Scenario], plan: Plan, app: Server, folder: Path
) -> tuple[Result | None, Result | None, list[float]]:
    """The dashboard's steady load alone, then during a burst of sign-ins."""
    if args.only and "burst" not in args.only:
        return None, None, []
    log("  a burst of sign-ins during a steady dashboard load ...")
    dashboard = next(lines for name, _, lines, _ in pages if name == "dashboard")
    steady = {"connections": 8, "think_ms": 40}
    before = wrk(app.url, dashboard, folder, args.duration, **steady)
    quiet = to_result("dashboard, steady load", before)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        loaded = pool.submit(wrk, app.url, dashboard, folder, args.duration, **steady)
        time.sleep(1)
        sign_in_times = burst_of_sign_ins(app.url, plan.burst[:24], 8)
        during = to_result("dashboard, during the burst", loaded.result())
    return quiet, during, sign_in_times


def run(args: argparse.Namespace) -> str:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    folder = Path(tempfile.mkdtemp(prefix="lms-bench-"))
    try:
        with database(args) as (url, seed_note):
            plan = asyncio.run(make_plan(url))
            if len(plan.module_learners) < 8 or not plan.dashboard_learners or not plan.downloads:
                raise SystemExit("the seeded data has too few learners part way through a course")
            with serving(args, url, plan, folder) as servers:
                pages = scenarios(url, plan, servers)
                results = load(args, pages, servers.floor_b, folder)
                quiet, during, sign_in_times = burst(args, pages, plan, servers.app, folder)
                memory = {pid: memory_mb(pid) for pid in servers.app.worker_pids()}
        return report(args, url, seed_note, results, quiet, during, sign_in_times, memory)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def report(
    args: argparse.Namespace,
    url: str,
    seed_note: str,
    results: dict[str, Result],
    quiet: Result | None,
    during: Result | None,
    sign_in_times: list[float],
    memory: dict[int, tuple[float, float]],
) -> str:
    floor_b = (results[FLOOR_B].rate + results[FLOOR_B_AGAIN].rate) / 2
    out = [
        "# Benchmark: the app against the framework's floors",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {machine()} · PostgreSQL, granian with "
        f"{args.workers} workers · wrk, {args.duration} s a page after a 2 s warm-up · "
        f"{seed_note}",
        "",
        f"Ratios are to floor (b)'s mean, before and after the pages: {floor_b:,.0f} requests/s.",
        "",
        "| page | requests/s | p50 ms | p99 ms | × floor (b) | errors | load |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results.values():
        out.append(
            f"| {r.name} | {r.rate:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | "
            f"{r.rate / floor_b:.2f} | {r.errors} | {r.note} |"
        )
    out += ["", "Worker memory (app, after the runs): "]
    for pid, (rss, peak) in sorted(memory.items()):
        out.append(f"- worker {pid}: {rss:.0f} MB resident, {peak:.0f} MB at peak")
    increase = None
    if quiet is not None and during is not None:
        increase = during.p99_ms / quiet.p99_ms if quiet.p99_ms else 0
        sign_ins = sorted(sign_in_times)
        out += [
            "",
            f"Sign-in burst: {len(sign_ins)} sign-ins (bcrypt cost 12), 8 at a time, during a "
            f"steady dashboard load (8 connections, 40 ms think time):",
            f"- dashboard p99 {quiet.p99_ms:.1f} ms before, {during.p99_ms:.1f} ms during "
            f"({increase:.2f}x); {quiet.rate:.0f} and {during.rate:.0f} requests/s",
            f"- sign-ins took {sign_ins[len(sign_ins) // 2]:.2f} s (median), "
            f"{sign_ins[-1]:.2f} s (slowest)"
            if sign_ins
            else "- no sign-ins",
        ]
    catalog = results.get(CATALOG)
    matrix = next((r for r in results.values() if r.name.startswith(MATRIX)), None)
    if catalog and matrix and catalog.rate and matrix.rate:
        out += [
            "",
            f"The {matrix.name} takes {catalog.rate / matrix.rate:.1f}x the catalog page's time "
            f"per request ({1000 / matrix.rate:.1f} ms against {1000 / catalog.rate:.1f} ms a "
            f"request at full load, {matrix.rate / catalog.rate:.2f}x its requests/s).",
        ]
    out += ["", "Targets:"]
    for name, target in TARGETS.items():
        found = next((r for r in results.values() if r.name.startswith(name.split(" (")[0])), None)
        if found is None:
            continue
        ratio = found.rate / floor_b
        out.append(
            f"- {found.name}: {ratio:.2f}x floor (b), target {target}x: "
            f"{'met' if ratio >= target else 'NOT met'}"
        )
    worst = max((peak for _, peak in memory.values()), default=0)
    out.append(
        f"- worker memory: {worst:.0f} MB at peak, target under {MEMORY_LIMIT_MB} MB: "
        f"{'met' if worst < MEMORY_LIMIT_MB else 'NOT met'}"
    )
    if increase is not None:
        out.append(
            f"- sign-in burst: dashboard p99 x{increase:.2f}, target at most {BURST_P99_LIMIT}x: "
            f"{'met' if increase <= BURST_P99_LIMIT else 'NOT met'}"
        )
    busy = busy_processes()
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    out += ["", f"Load average at the end: {load}."]
    if busy:
        out[-1] += f" Other busy processes: {', '.join(busy)}."
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="reuse this PostgreSQL database (seeded if empty)")
    parser.add_argument("--admin-dsn", default=ADMIN_DSN, help="where to create a throwaway one")
    parser.add_argument("--learners", type=int, default=20_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load a page")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the database it created")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="PAGE",
        help="load only the pages whose names start with these words (and the floors); "
        "'burst' for the sign-in burst",
    )
    args = parser.parse_args()
    busy = busy_processes()
    if busy:
        log(f"Warning: other processes are using the CPU: {', '.join(busy)}")
    text = run(args)
    print()
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    log(f"Written to {RESULTS.relative_to(ROOT)}.")


if __name__ == "__main__":
    main()
