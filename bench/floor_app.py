"""The floors that bench/run.py measures pages against: what Litestar itself costs.

floor_a: a bare Litestar route rendering an 8 KB Jinja2 page.
floor_b: the same page after 3 indexed SELECTs through SQLAlchemy (an async session per
         request, as the app has, on the app's own engine settings).

Both are served by the same server with the same settings as the app, e.g.
    LMS_DATABASE_URL=... python -m granian --interface asgi --factory bench.floor_app:floor_b
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.enums import MediaType
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import lms.models  # noqa: F401  (every table mapped before the first query)
from lms import db as database
from lms.accounts.models import User
from lms.catalog.models import Course
from lms.learning.models import Enrollment

TEMPLATES = Path(__file__).parent / "templates"
# Who floor_b looks up; bench/run.py passes a seeded learner.
EMAIL = os.environ.get("LMS_FLOOR_EMAIL", "learner00001@academy.example.org")
COURSE = os.environ.get("LMS_FLOOR_COURSE", "sop-intro")


@dataclass
class Link:
    href: str
    label: str
    current: bool = False


@dataclass
class Row:
    id: str
    title: str
    status: str
    css: str
    minutes: int


@dataclass
class Named:
    name: str = "Sample Learner"
    slug: str = "sop-intro"


LINKS = [
    Link("/", "My learning", True),
    Link("/courses", "Courses"),
    Link("/resources", "Resources"),
    Link("/verify", "Verify a certificate"),
]
STATUSES = [("Complete", "ok"), ("In progress", "muted"), ("Not started", "muted")]
ROWS = [
    Row(
        f"module-{i:02d}",
        f"Module {i}: safety, danger and risk in everyday practice",
        *STATUSES[i % 3],
        30 + i,
    )
    for i in range(1, 35)
]


def _template_config() -> TemplateConfig[JinjaTemplateEngine]:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return TemplateConfig(engine=JinjaTemplateEngine.from_environment(env))


def _page(person: object, course: object, status: str) -> Template:
    context = {
        "title": "My learning",
        "links": LINKS,
        "rows": ROWS,
        "person": person,
        "course": course,
        "enrollment_status": status,
    }
    return Template("floor.html", context=context, media_type=MediaType.HTML)


@get("/")
async def bare() -> Template:
    return _page(Named(), Named(), "active")


@get("/")
async def three_selects(db: AsyncSession) -> Template:
    user = await db.scalar(select(User).where(User.email == EMAIL))
    course = await db.scalar(select(Course).where(Course.slug == COURSE))
    assert user is not None and course is not None, "seed the database first"
    enrollment = await db.scalar(
        select(Enrollment).where(Enrollment.user_id == user.id, Enrollment.course_id == course.id)
    )
    return _page(user, course, enrollment.status if enrollment else "not enrolled")


def floor_a() -> Litestar:
    return Litestar(route_handlers=[bare], template_config=_template_config())


def floor_b() -> Litestar:
    url = os.environ["LMS_DATABASE_URL"]

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = database.create_engine(url)
        app.state.sessionmaker = database.create_sessionmaker(engine)
        try:
            yield
        finally:
            await engine.dispose()

    async def provide_db(state: State) -> AsyncIterator[AsyncSession]:
        async for session in database.session_scope(state.sessionmaker):
            yield session

    return Litestar(
        route_handlers=[three_selects],
        dependencies={"db": Provide(provide_db)},
        lifespan=[lifespan],
        template_config=_template_config(),
    )
