"""The `lms` command: migrate, serve, manage people, load courses and demo data."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from lms import db as database
from lms.settings import Settings, SettingsError, serve_base_url_from

T = TypeVar("T")


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def run_with_session(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(db)` in one transaction against a migrated database."""

    async def main() -> T:
        engine = database.create_engine(settings.database_url)
        try:
            try:
                await database.check_migrations(engine)
            except database.DatabaseBehind as exc:
                raise click.ClickException(str(exc)) from None
            async with database.create_sessionmaker(engine)() as db, db.begin():
                return await work(db)
        finally:
            await engine.dispose()

    return asyncio.run(main())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Run the SOP course module system.

    Settings come from LMS_* environment variables: LMS_DATABASE_URL, LMS_SECRET_KEY,
    LMS_COURSES_DIR, LMS_BASE_URL, LMS_ENV (development, test or production), and
    LMS_SMTP_URL and LMS_MAIL_FROM for email.
    """


@main.group()
def db() -> None:
    """Create and upgrade the database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Migrate to this revision.")
def db_upgrade(revision: str) -> None:
    """Apply every migration the database does not have yet (safe to run again)."""
    from alembic import command as alembic_command  # only this command runs migrations

    settings = load_settings()
    database.create_engine(settings.database_url)  # creates var/ for SQLite
    alembic_command.upgrade(database.alembic_config(settings.database_url), revision)
    click.echo(f"Database is at migration {database.head_revision()}.")


@db.command("status")
def db_status() -> None:
    """Say whether the database is up to date with the code's migrations."""
    settings = load_settings()

    async def current() -> str | None:
        engine = database.create_engine(settings.database_url)
        try:
            return await database.current_revision(engine)
        finally:
            await engine.dispose()

    now, head = asyncio.run(current()), database.head_revision()
    click.echo(f"database: {now or 'empty'}; code: {head}")
    if now != head:
        click.echo("Run `lms db upgrade` to bring the database up to date.")
        sys.exit(1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes; they share nothing but the database.",
)
@click.option("--access-log/--no-access-log", default=False, help="Log every request.")
def serve(host: str, port: int, workers: int, access_log: bool) -> None:
    """Serve the web application with granian."""
    served = serve_base_url_from(host, port)
    settings = load_settings()
    # Load the courses once here, not in every worker; this also refuses an old database.
    report = run_with_session(settings, lambda db: _sync(db, settings))
    for result in report.results:
        click.echo(f"courses: {result}")
    args = server_command("lms.app:create_app", host, port, workers, access_log)
    click.echo(f"Serving on http://{host}:{port} with {workers} worker(s). Ctrl+C stops.")
    source = "from the address served" if served else "from LMS_BASE_URL"
    click.echo(f"Links in certificates, QR codes and emails use {settings.base_url} ({source}).")
    os.execv(sys.executable, args)  # noqa: S606  (replace this process with the server)


def server_command(
    factory: str, host: str, port: int, workers: int, access_log: bool = False
) -> list[str]:
    """The granian command line that serves an app factory (bench/run.py serves its floors so)."""
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-ws",
        "--respawn-failed-workers",
        "--access-log" if access_log else "--no-access-log",
        factory,
    ]


@main.group()
def courses() -> None:
    """Check course folders and load them into the database."""


@courses.command("check")
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Treat item-writing warnings as errors.")
def courses_check(path: Path | None, strict: bool) -> None:
    """Check every course folder under PATH (default: LMS_COURSES_DIR) against the format.

    Prints each problem as `file:line: field: message`, then each item-writing warning of the
    courses that are valid (`warning: file:line: field: message`), then a summary. Exits 1
    when anything is wrong (with --strict, when there is any warning too), 0 otherwise.
    Reads files only; the database is not touched.
    """
    from lms.catalog.lint import lint_course
    from lms.catalog.validate import check_catalog

    root = path or load_settings().courses_dir
    try:
        check = check_catalog(root)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    for warning in check.warnings:
        click.echo(f"warning: {warning}", err=True)
    for problem in check.problems:
        click.echo(str(problem))
    counts: dict[str, int] = {}
    for loaded in check.courses:
        if loaded.ok and loaded.course is not None:
            found = lint_course(loaded.course, loaded.places)
            counts[loaded.slug] = len(found)
            for item in found:
                click.echo(f"{'error' if strict else 'warning'}: {item}")
    bad_plans = [p for p in check.plans if not p.ok]
    if check.plans:
        click.echo(
            f"{len(check.plans)} training plan(s) checked: "
            f"{len(check.plans) - len(bad_plans)} valid, {len(bad_plans)} with problems."
        )
    bad = [c for c in check.courses if not c.ok]
    good = len(check.courses) - len(bad)
    problems = len(check.problems)
    warned = sum(counts.values())
    per_course = ", ".join(f"{slug} {n}" for slug, n in counts.items() if n)
    click.echo(
        f"{len(check.courses)} course(s) checked: {good} valid, {len(bad)} with problems "
        f"({problems} problem{'s' if problems != 1 else ''}); "
        f"{warned} item-writing warning{'s' if warned != 1 else ''}"
        + (f" ({per_course})" if per_course else "")
        + (", treated as errors (--strict)" if strict and warned else "")
        + "."
    )
    sys.exit(1 if bad or bad_plans or (strict and warned) else 0)


@courses.command("sync")
def courses_sync() -> None:
    """Load LMS_COURSES_DIR into the database as fingerprinted versions.

    Reports each course as new, new version, unchanged, retired (its folder is gone) or
    refused (with its problems; an earlier good version keeps serving). Safe to run again.
    Exits 1 when any course was refused.
    """
    settings = load_settings()
    report = run_with_session(settings, lambda db: _sync(db, settings))
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    for result in report.results:
        click.echo(str(result))
        for problem in result.problems:
            click.echo(f"    {problem}")
    sys.exit(1 if report.refused else 0)


async def _sync(db: Any, settings: Settings) -> Any:
    from lms.catalog.service import sync_courses

    try:
        return await sync_courses(db, settings.courses_dir)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def certificates() -> None:
    """Issue certificates in bulk."""


@certificates.command("issue")
@click.option("--course", "course_slug", required=True, help="Course slug, e.g. supervisor-core.")
@click.option(
    "--cohort",
    "cohort_id",
    type=int,
    default=None,
    help="Only the members of this cohort (its number, as in /cohorts/<number>).",
)
@click.option(
    "--workers",
    # A run on its own uses every core; LMS_PDF_WORKERS sizes a web worker's share of them.
    default=os.cpu_count() or 2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes rendering PDFs at once.",
)
def certificates_issue(course_slug: str, cohort_id: int | None, workers: int) -> None:
    """Issue every missing certificate for people who completed a course.

    Shows a progress bar and a summary. Safe to stop and run again: each certificate is
    issued exactly once.
    """
    from lms.certificates import pdf
    from lms.certificates.service import bulk_issue
    from lms.errors import DomainError

    settings = load_settings()
    pdf.pool(workers)  # the pool issue_many renders on, this many processes

    async def work() -> Any:
        engine = database.create_engine(settings.database_url)
        try:
            await database.check_migrations(engine)
            sessionmaker = database.create_sessionmaker(engine)
            bar: Any = None

            def start(total: int) -> None:
                nonlocal bar
                bar = click.progressbar(
                    length=total, label="Issuing certificates", show_pos=True, show_eta=True
                )
                bar.__enter__()

            try:
                return await bulk_issue(
                    sessionmaker,
                    settings,
                    course_slug,
                    cohort_id,
                    progress=lambda n: bar.update(n),
                    on_total=start,
                )
            finally:
                if bar is not None:
                    bar.__exit__(None, None, None)
        finally:
            await engine.dispose()
            pdf.pool().shutdown()

    try:
        result = asyncio.run(work())
    except (DomainError, database.DatabaseBehind) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Issued {result.issued} certificate(s); {result.already} already had one.")


@main.group()
def mail() -> None:
    """Deliver the email outbox."""


@mail.command("send")
@click.option(
    "--limit",
    default=1000,
    show_default=True,
    type=click.IntRange(1),
    help="Send at most this many messages in this run.",
)
def mail_send(limit: int) -> None:
    """Send every due message in the outbox over LMS_SMTP_URL and print a summary.

    Every email is stored in the outbox first, so nothing is lost when the mail server is
    down: a message the server refuses for now is tried again later, after 1, 2, 4 ...
    minutes, and marked failed after 8 tries (admins see it at /admin/outbox). Safe to run
    from cron beside the server, and on several hosts at once: no message is sent twice.
    The server sends by itself every LMS_MAIL_SEND_INTERVAL seconds when LMS_SMTP_URL is set.

    Exits 0 when everything due was sent; 1 when LMS_SMTP_URL is not set, the mail server
    could not be reached, or a message was refused.
    """
    from lms.mail.delivery import send_due

    settings = load_settings()

    async def work() -> Any:
        engine = database.create_engine(settings.database_url)
        try:
            await database.check_migrations(engine)
            return await send_due(database.create_sessionmaker(engine), settings, limit=limit)
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(work())
    except database.DatabaseBehind as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(str(report))
    sys.exit(0 if report.ok else 1)


@main.group()
def reminders() -> None:
    """Due-date reminders for learners."""


@reminders.command("send")
def reminders_send() -> None:
    """Queue today's due-date reminders; run it once a day, e.g. from cron.

    A learner with an active enrollment that has a due date gets one reminder 7 days
    before, one the day before, and one once it is overdue (up to 30 days late). Nobody
    who has completed or withdrawn, or whose account is deactivated, gets one, and running
    it again the same day queues nothing new. Reviewers are reminded of field activities
    waiting 3 and 7 days for their sign-off, never once decided. Training-plan requirements
    get one reminder when due within 30 days and one once overdue, per due date, none once
    met; supervisors get a weekly digest of their overdue team members. The reminders go
    into the outbox; the server (or `lms mail send`) delivers them.
    """
    from lms.activities.service import queue_signoff_reminders
    from lms.compliance.reminders import queue_requirement_reminders
    from lms.db import utcnow
    from lms.mail.reminders import queue_reminders

    settings = load_settings()
    report = run_with_session(settings, lambda db: queue_reminders(db, settings))
    click.echo(
        f"Queued {report.total} reminder(s): {report.due_in_7_days} due within 7 days, "
        f"{report.due_in_1_day} due tomorrow or today, {report.overdue} overdue."
    )
    signoffs = run_with_session(
        settings, lambda db: queue_signoff_reminders(db, settings, utcnow())
    )
    click.echo(f"Queued {signoffs} reminder(s) of field activities waiting for sign-off.")
    today = datetime.now(settings.zone).date()
    required = run_with_session(
        settings, lambda db: queue_requirement_reminders(db, settings, today)
    )
    click.echo(
        f"Queued {required.due_soon + required.overdue} reminder(s) of required training: "
        f"{required.due_soon} due soon, {required.overdue} overdue; "
        f"{required.digests} weekly team digest(s) to supervisors."
    )


@main.group()
def users() -> None:
    """Manage people from the command line."""


@users.command("create")
@click.option("--email", required=True, help="Sign-in email address.")
@click.option("--name", required=True, help="Full name, as printed on certificates.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(["learner", "trainer", "admin"]),
    help="A role; repeat for several.",
)
@click.option("--county", default=None, help="County name, e.g. Shasta.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Initial password (asked for when not given).",
)
@click.option("--temporary", is_flag=True, help="Make them change the password at sign-in.")
def users_create(
    email: str,
    name: str,
    roles: tuple[str, ...],
    county: str | None,
    password: str,
    temporary: bool,
) -> None:
    """Create an account."""
    from sqlalchemy import select

    from lms.accounts import service
    from lms.accounts.models import County
    from lms.errors import DomainError

    settings = load_settings()

    async def work(db: Any) -> Any:
        county_id = None
        if county:
            county_id = await db.scalar(select(County.id).where(County.name == county))
            if county_id is None:
                raise click.ClickException(f"There is no county named {county!r}.")
        form = service.PersonForm(
            email=service.normalise_email(email),
            name=service.check_name(name),
            roles=list(roles),
            county_id=county_id,
        )
        return await service.create_person(db, settings, form, password, None, temporary)

    try:
        user = run_with_session(settings, work)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {user.email} ({', '.join(user.roles)}).")


@main.command()
def demo() -> None:
    """Add demo accounts and demo data (safe to run again).

    Creates one admin, two trainers and a dozen learners across several counties, all
    sharing the password printed at the end. Accounts that already exist are left alone.
    Never run this against a production database.
    """
    from lms.demo import DEMO_PASSWORD, load_demo

    settings = load_settings()
    created = run_with_session(settings, lambda db: load_demo(db, settings))
    click.echo(
        f"Demo data ready ({created} new accounts). Every demo account's password: {DEMO_PASSWORD}"
    )
    for line in demo_sign_ins():
        click.echo(line)


def demo_sign_ins() -> list[str]:
    """What `make run` prints: every demo account, the fresh learner first among learners."""
    from lms.demo import DEMO_PEOPLE, DEMO_PROGRESS, DEMO_SUPERVISOR, DEMO_TEAM, FRESH_LEARNER

    lines = []
    staff = [p for p in DEMO_PEOPLE if set(p[2]) - {"learner"}]
    for email, name, roles, county in staff:
        lines.append(f"  {', '.join(roles):<17} {email:<34} {name} ({county})")
    fresh = next(p for p in DEMO_PEOPLE if p[0] == FRESH_LEARNER)
    lines.append(
        f"  {'learner (new)':<17} {fresh[0]:<34} {fresh[1]}: has started nothing, "
        "take a course from the start"
    )
    others = [p[0] for p in DEMO_PEOPLE if p not in staff and p is not fresh]
    started = sum(1 for email in others if email in DEMO_PROGRESS)
    lines.append(
        f"  {'learners':<17} {', '.join(e.removesuffix('@example.org') for e in others)} "
        f"(@example.org; {started} of them part-way through or done)"
    )
    team = ", ".join(e.removesuffix("@example.org") for e in DEMO_TEAM)
    lines.append(
        f"  {'supervisor':<17} {DEMO_SUPERVISOR:<34} My team: {team}; Sign-offs: a field "
        "activity waiting, one returned, three signed off"
    )
    return lines


if __name__ == "__main__":
    main()
