"""Fixtures: migrated SQLite and PostgreSQL databases, the app, a client, and people."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from alembic import command as alembic_command
from lms import db as database
from lms.accounts import service
from lms.accounts.models import County
from lms.app import create_app
from lms.catalog.service import forget_definitions
from lms.settings import Settings

# Browser fixtures are registered here once, so every browser test shares one Chromium.
from tests.browser import browser, live_server, page  # noqa: E402, F401

PASSWORD = "correct horse battery"
# Reference data loaded by migrations; every other table is emptied after each test.
KEEP_TABLES = {"alembic_version", "regions", "counties"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Browser tests start servers; run them last so a failure elsewhere shows first.
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
    name = f"lms_test_{uuid.uuid4().hex[:10]}"

    async def admin_exec(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin_exec(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {admin} ({exc}). Run "
            "`bash scripts/system-packages.sh test` or set LMS_TEST_POSTGRES_URL.",
            pytrace=False,
        )
    base, _, query = admin.partition("?")
    url = re.sub(r"^postgres(ql)?://", "postgresql+asyncpg://", base.rsplit("/", 1)[0])
    url = f"{url}/{name}" + (f"?{query}" if query else "")
    migrate(url)
    yield url
    asyncio.run(admin_exec(f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return replace(
        Settings(),
        database_url=database_url,
        environment="test",
        bcrypt_rounds=4,
        secret_key="test-secret-" + "x" * 40,
    )


async def empty_tables(url: str) -> None:
    engine = database.create_engine(url)
    tables = [
        t for t in reversed(database.Base.metadata.sorted_tables) if t.name not in KEEP_TABLES
    ]
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            await conn.execute(text("PRAGMA foreign_keys=OFF"))
            for table in tables:
                await conn.execute(table.delete())
    await engine.dispose()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Litestar]:
    yield create_app(settings, stop_pdf_pool=False)
    await empty_tables(settings.database_url)
    forget_definitions()


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


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


def csrf_from(html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found, "page has no CSRF token"
    return found.group(1)


async def form_token(client: AsyncTestClient[Litestar], path: str) -> str:
    response = await client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return csrf_from(response.text)


async def post_form(
    client: AsyncTestClient[Litestar],
    path: str,
    data: dict[str, str],
    token_from: str | None = None,
):
    token = await form_token(client, token_from or path)
    return await client.post(path, data={"_csrf_token": token, **data})


async def sign_in(client: AsyncTestClient[Litestar], email: str, password: str = PASSWORD):
    return await post_form(client, "/sign-in", {"email": email, "password": password})


@pytest.fixture
async def people(db: AsyncSession, settings: Settings) -> dict[str, object]:
    """An admin, two trainers and two learners, all with PASSWORD."""
    return {
        "admin": await make_person(db, settings, "admin@example.org", ("admin",)),
        "trainer": await make_person(db, settings, "trainer@example.org", ("trainer",)),
        "trainer2": await make_person(
            db, settings, "trainer2@example.org", ("trainer",), county="Fresno"
        ),
        "learner": await make_person(db, settings, "learner@example.org"),
        "learner2": await make_person(db, settings, "learner2@example.org", county="Butte"),
    }
