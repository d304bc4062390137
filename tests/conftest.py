"""Fixtures: migrated SQLite and PostgreSQL databases, the app, a client, and people."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import replace
from datetime import date
from functools import cache
from pathlib import Path

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import sort_tables_and_constraints

from alembic import command as alembic_command
from lms import db as database
from lms.accounts import service
from lms.accounts.models import County, User
from lms.app import create_app
from lms.catalog.models import Course
from lms.catalog.service import forget_definitions, sync_courses
from lms.catalog.validate import CatalogCheck, check_catalog
from lms.cohorts.models import TrainerQualification
from lms.settings import Settings

# Browser fixtures are registered here once, so every browser test shares one Chromium.
from tests.browser import browser, live_server, page  # noqa: E402, F401
from tests.course_factory import write_course
from tests.servers import create_database, csrf_token, drop_database

PASSWORD = "correct horse battery"
SHIPPED = Path(__file__).resolve().parent.parent / "courses"
# Reference data loaded by migrations; every other table is emptied after each test.
# The retention triggers refuse to delete young training records: the emptying lifts the
# policy inside its own transaction (a year in the future: nothing is young) and restores it.
LIFT_RETENTION = "UPDATE retention_policy SET years = -1"
RESTORE_RETENTION = "UPDATE retention_policy SET years = 4"
KEEP_TABLES = {"alembic_version", "regions", "counties", "retention_policy"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Browser tests start servers; run them last so a failure elsewhere shows first. (Not
    # first: Playwright's running event loop would then refuse the migrations' asyncio.run.)
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def postgres_admin_dsn() -> str:
    return os.environ.get(
        "LMS_TEST_POSTGRES_URL", "postgresql:///postgres?host=/var/run/postgresql"
    )


def migrate(url: str) -> None:
    alembic_command.upgrade(database.alembic_config(url), "head")


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    migrate(url)
    return url


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    """A throwaway database on the real PostgreSQL server, migrated, dropped at the end."""
    admin = postgres_admin_dsn()
    try:
        name, url = create_database(admin, "lms_test")
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {admin} ({exc}). Run "
            "`bash scripts/system-packages.sh test` or set LMS_TEST_POSTGRES_URL.",
            pytrace=False,
        )
    migrate(url)
    yield url
    drop_database(admin, name)


# Session-scoped, so that each database gets one app for the whole session (building one
# takes a tenth of a second) and pytest runs each database's tests together.
@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return replace(
        Settings(),
        database_url=database_url,
        environment="test",
        bcrypt_rounds=4,
        secret_key="test-secret-" + "x" * 40,
    )


# Tables kept by triggers on others (the completions report's counts): emptied after them.
TRIGGER_KEPT = ("completion_counts",)
_emptying: dict[str, str] = {}


async def lift_retention(db: AsyncSession) -> None:
    """Let young training records be deleted until the test's tables are emptied (its
    teardown restores the policy): for tests of what a deletion does to other tables'
    triggers. The retention guard's own tests are in test_retention."""
    await db.execute(text(LIFT_RETENTION))


async def empty_tables(url: str) -> None:
    tables = [
        t for t in reversed(database.Base.metadata.sorted_tables) if t.name not in KEEP_TABLES
    ]
    if url.startswith("postgresql"):
        await _empty_postgresql(url, [t.name for t in tables])
        return
    engine = database.create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("PRAGMA foreign_keys=OFF"))
        await conn.execute(text(LIFT_RETENTION))
        for table in tables:
            await conn.execute(table.delete())
        await conn.execute(text(RESTORE_RETENTION))
    await engine.dispose()


async def _empty_postgresql(url: str, tables: list[str]) -> None:
    """One script of DELETEs (children first) and sequence resets, sent in one round trip.

    TRUNCATE ... RESTART IDENTITY took 0.3 s a test, some 500 times a run: it makes every
    table a new file. A test leaves a few rows, which DELETE removes in milliseconds.
    """
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        script = _emptying.get(url)
        if script is None:
            sequences = await connection.fetch(
                "SELECT quote_ident(sequencename) FROM pg_sequences"
                " WHERE schemaname = current_schema()"
            )
            last = [t for t in tables if t in TRIGGER_KEPT]
            ordered = [t for t in tables if t not in TRIGGER_KEPT] + last
            # A foreign key in a cycle (a course's current version) is let go of first.
            cycles = sort_tables_and_constraints(database.Base.metadata.sorted_tables)
            loose = [c for table, constraints in cycles if table is None for c in constraints]
            # Every name comes from the models' metadata or the server's catalog.
            script = _emptying[url] = "".join(
                [f"{LIFT_RETENTION};"]
                + [f'UPDATE "{c.parent.name}" SET "{c.column_keys[0]}" = NULL;' for c in loose]  # noqa: S608
                + [f'DELETE FROM "{name}";' for name in ordered]  # noqa: S608
                + [f"SELECT setval('{row[0]}', 1, false);" for row in sequences]
                + [f"{RESTORE_RETENTION};"]
            )
        await connection.execute(script)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def app(settings: Settings) -> Litestar:
    return create_app(settings, stop_pdf_pool=False)


@pytest.fixture
async def client(app: Litestar, settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client with no cookies on the session's app, whose startup opens a new engine; the
    tables are emptied afterwards and the parsed course versions forgotten (ids restart)."""
    async with AsyncTestClient(app=app) as test_client:
        yield test_client
    await empty_tables(settings.database_url)
    forget_definitions()
    database.forget_kept()


@pytest.fixture
async def db(settings: Settings, client: AsyncTestClient[Litestar]) -> AsyncIterator[AsyncSession]:
    """A session on the app's database (its own engine: the app runs on another event loop)."""
    engine = database.create_engine(settings.database_url)
    async with database.create_sessionmaker(engine)() as session:
        yield session
    await engine.dispose()


async def make_person(
    db: AsyncSession,
    settings: Settings,
    email: str,
    roles: tuple[str, ...] = ("learner",),
    name: str | None = None,
    county: str | None = "Shasta",
    must_change_password: bool = False,
    password: str = PASSWORD,
):
    county_id = None
    if county:
        county_id = await db.scalar(
            County.__table__.select().with_only_columns(County.id).where(County.name == county)
        )
    form = service.PersonForm(
        email=email,
        name=name or email.split("@")[0].title(),
        roles=list(roles),
        county_id=county_id,
    )
    user = await service.create_person(db, settings, form, password, None, must_change_password)
    await db.commit()
    return user


async def form_token(client: AsyncTestClient[Litestar], path: str) -> str:
    response = await client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return csrf_token(response.text)


async def post(
    client: AsyncTestClient[Litestar],
    path: str,
    data: Mapping[str, str | list[str]] | None = None,
    token_from: str = "/sign-in",
):
    """POST a form with the CSRF token of the client's session (any page with a form shows it;
    the sign-in page has one whether or not anyone is signed in)."""
    token = await form_token(client, token_from)
    return await client.post(path, data={"_csrf_token": token, **(data or {})})


async def sign_in(client: AsyncTestClient[Litestar], email: str, password: str = PASSWORD):
    return await post(client, "/sign-in", {"email": email, "password": password})


@cache
def shipped_check() -> CatalogCheck:
    """The shipped courses, checked once per test session (the check takes half a second)."""
    return check_catalog(SHIPPED)


async def load_courses(db, root: Path = SHIPPED, with_plans: bool = True) -> None:
    await sync_courses(
        db, root, shipped_check() if root == SHIPPED else None, with_plans=with_plans
    )
    await db.commit()


async def qualify_trainers(db: AsyncSession) -> None:
    """Qualify every trainer for every course loaded: a cohort takes only qualified trainers,
    and the tests' trainers are (tests of the rule make trainers of their own afterwards)."""
    trainers = (await db.scalars(select(User.id).where(User.is_trainer.is_(True)))).all()
    courses = (await db.scalars(select(Course.id))).all()
    pairs = select(TrainerQualification.user_id, TrainerQualification.course_id)
    held = {(user_id, course_id) for user_id, course_id in (await db.execute(pairs)).all()}
    for trainer in trainers:
        for course in courses:
            if (trainer, course) not in held:
                db.add(
                    TrainerQualification(
                        user_id=trainer,
                        course_id=course,
                        basis="completed_course",
                        since=date(2020, 1, 1),
                        recorded_by_id=trainer,
                    )
                )
    await db.commit()


async def add_courses(
    db: AsyncSession, root: Path, spec: Mapping[str, dict[str, str | None]], qualify: bool = True
) -> dict[str, Course]:
    """Write and load test courses (slug: changes to the test course); all courses by slug."""
    for slug, changes in spec.items():
        write_course(root, slug, changes)
    # A database migrated only part of the way (qualify False) has no plans or qualifications.
    await load_courses(db, root, with_plans=qualify)
    if qualify:
        await qualify_trainers(db)
    return {c.slug: c for c in (await db.scalars(select(Course))).unique().all()}


@pytest.fixture
async def courses(
    request: pytest.FixtureRequest, db: AsyncSession, tmp_path: Path
) -> dict[str, Course]:
    """The test module's COURSES loaded, by slug."""
    return await add_courses(db, tmp_path / "courses", request.module.COURSES)


@pytest.fixture
async def people(db: AsyncSession, settings: Settings) -> dict[str, object]:
    """An admin, two trainers and two learners, all with PASSWORD."""
    made = {
        "admin": await make_person(db, settings, "admin@example.org", ("admin",)),
        "trainer": await make_person(db, settings, "trainer@example.org", ("trainer",)),
        "trainer2": await make_person(
            db, settings, "trainer2@example.org", ("trainer",), county="Fresno"
        ),
        "learner": await make_person(db, settings, "learner@example.org"),
        "learner2": await make_person(db, settings, "learner2@example.org", county="Butte"),
    }
    await qualify_trainers(db)
    return made
