"""create_app(settings): the one place where routes, middleware and error handlers are wired."""

from __future__ import annotations

import asyncio
import gc
import os
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from jinja2 import Environment, FileSystemLoader
from litestar import Litestar, get
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.middleware import ASGIMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import File
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from markupsafe import Markup
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from lms import db as database
from lms import times
from lms.accounts.routes import router as accounts_router
from lms.activities.models import STATUS_LABELS as ACTIVITY_LABELS
from lms.activities.routes import router as activities_router
from lms.auth import SessionMiddleware
from lms.catalog import markdown
from lms.catalog.routes import router as catalog_router
from lms.certificates import pdf
from lms.certificates.routes import router as certificates_router
from lms.cohorts.routes import router as cohorts_router
from lms.compliance.routes import router as compliance_router
from lms.errors import EXCEPTION_HANDLERS
from lms.gradebook.routes import router as gradebook_router
from lms.inject import DB
from lms.learning.routes import router as learning_router
from lms.mail import delivery
from lms.mail.routes import router as mail_router
from lms.pages import NOTICES
from lms.quizzes.routes import router as quizzes_router
from lms.reports.routes import router as reports_router
from lms.settings import SITE_NAME, Settings
from lms.supervision.routes import router as supervision_router

STATIC_DIR = Path(__file__).parent / "static"
CONTROL_IN_PATH = re.compile(r"[\x00-\x1f\x7f]")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


class SecurityHeadersMiddleware(ASGIMiddleware):
    """Add the security headers every response carries, and which worker process answered."""

    def __init__(self, production: bool) -> None:
        self.headers = [
            (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
            # Each worker builds its own app: this tells the workers (and their logs) apart.
            (b"x-worker", str(os.getpid()).encode()),
        ]
        if production:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if CONTROL_IN_PATH.search(scope["path"]):
            # No page has a control character in its address; the static files router would
            # hand a NUL to the file system and fail with a 500.
            raise NotFoundException()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *self.headers]
                # Pages and exports of a signed-in person must not stay in a shared or a
                # browser cache (a shared computer at a county office, the back button).
                if scope.get("user") is not None and not any(
                    name.lower() == b"cache-control" for name, _ in headers
                ):
                    headers.append((b"cache-control", b"private, no-store"))
                message["headers"] = headers
            await send(message)

        await next_app(scope, receive, send_with_headers)


@get("/favicon.ico", name="site.favicon", media_type="image/x-icon", cache_control=None)
async def favicon() -> File:
    """Browsers ask for /favicon.ico on every site whatever the page links to."""
    return File(STATIC_DIR / "favicon.ico", content_disposition_type="inline")


@get("/healthz", name="site.health", exclude_from_csrf=True)
async def health(db: DB) -> dict[str, str]:
    await db.execute(text("SELECT 1"))
    return {"status": "ok"}


def settle_garbage_collector() -> None:
    """Keep what start-up built out of every garbage collection, and collect less often.

    A worker holds some 100,000 objects from start-up (the framework, the mappers, the
    templates) that never become garbage; a full collection walks them all. Frozen, they are
    skipped: a 250-learner progress matrix took 60 ms instead of 40 ms before this.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


def template_environment(settings: Settings) -> Environment:
    env = Environment(
        loader=FileSystemLoader(settings.templates_dir),
        autoescape=True,
        auto_reload=not settings.production,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["notices"] = NOTICES
    env.globals["site_name"] = SITE_NAME
    env.globals["activity_labels"] = ACTIVITY_LABELS
    # Every time on a page in the academy's zone, in one style (lms.times).
    env.filters.update(times.filters(settings.zone))
    env.globals["time_zone"] = settings.time_zone  # named beside times typed into a form
    # An author's one-line Markdown (an evaluation prompt), rendered and sanitised.
    env.filters["inline_markdown"] = lambda text: Markup(markdown.render_inline(text))  # noqa: S704  (sanitised by nh3)
    env.globals["kept"] = kept
    return env


def address_maker(app: Litestar) -> Callable[..., str]:
    """The templates' `url_for`: Litestar's, bound to the app and remembered.

    Litestar's takes the template context, and Jinja copies the whole context for such a
    function on every call inside a loop; with the reversal itself (80 microseconds), a list
    of 170 learners with a link each spent 14 of its 32 ms there. An address is a pure
    function of the route name and its parameters, so each is worked out once.
    """

    @lru_cache(maxsize=20_000)
    def reverse(route_name: str, parameters: tuple[tuple[str, Any], ...]) -> str:
        return str(app.route_reverse(route_name, **dict(parameters)))

    def url_for(route_name: str, **path_parameters: Any) -> str:
        return reverse(route_name, tuple(sorted(path_parameters.items())))

    return url_for


def kept(holder: dict[str, Markup], key: str, macro: Callable[..., str], *args: Any) -> Markup:
    """A macro's output, kept in `holder` under `key`: for a section that is a pure function
    of a value a worker keeps (a report's item analysis, 250 learners' answers, renders in 20
    ms; shown again, in none)."""
    found = holder.get(key)
    if found is None:
        found = holder[key] = Markup(macro(*args))  # noqa: S704  (a macro's output, escaped)
    return found


def create_app(
    settings: Settings | None = None, check_migrations: bool = True, stop_pdf_pool: bool = True
) -> Litestar:
    """Build the app. Tests keep the certificate renderers warm across apps (stop_pdf_pool)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = database.create_engine(settings.database_url)
        if check_migrations:
            await database.check_migrations(engine)
        app.state.engine = engine
        app.state.sessionmaker = database.create_sessionmaker(engine)
        pdf.pool(settings.pdf_workers)  # processes start on the first render, not here
        if settings.environment != "test":
            settle_garbage_collector()
        try:
            # Sends due mail in the background when LMS_SMTP_URL is set; stops before the engine.
            async with delivery.background(app.state.sessionmaker, settings):
                yield
        finally:
            await engine.dispose()
            if stop_pdf_pool:
                await asyncio.to_thread(pdf.shutdown_pool)

    async def provide_db(state: State, scope: Scope) -> AsyncIterator[AsyncSession]:
        # SessionMiddleware keeps its session in the scope (an ASGI scope holds any key).
        opened = cast(AsyncSession | None, scope.get(database.REQUEST_SESSION))
        async for session in database.session_scope(state.sessionmaker, opened):
            yield session

    def provide_settings() -> Settings:
        return settings

    app = Litestar(
        route_handlers=[
            favicon,
            health,
            accounts_router,
            catalog_router,
            learning_router,
            quizzes_router,
            certificates_router,
            cohorts_router,
            gradebook_router,
            reports_router,
            mail_router,
            supervision_router,
            activities_router,
            compliance_router,
            create_static_files_router(
                path="/static", directories=[STATIC_DIR], name="site.static"
            ),
        ],
        dependencies={
            "db": Provide(provide_db),
            "settings": Provide(provide_settings, sync_to_thread=False),
        },
        lifespan=[lifespan],
        state=State({"settings": settings}),
        middleware=[SecurityHeadersMiddleware(settings.production), SessionMiddleware()],
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="lms_csrf",
            cookie_secure=settings.production,
            cookie_httponly=True,
            cookie_samesite="lax",
            # Patterns are searched anywhere in the path: anchor them to its start.
            exclude=["^/healthz$", "^/api/"],
        ),
        template_config=TemplateConfig(
            engine=JinjaTemplateEngine.from_environment(template_environment(settings))
        ),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]  # each handler takes its own exception class; Litestar types them all as Exception
        # The HTML routes are not an API; a schema belongs to a real API, documented on purpose.
        openapi_config=None,
        debug=False,
    )
    templates = cast(JinjaTemplateEngine, app.template_engine)
    templates.engine.globals["url_for"] = address_maker(app)
    return app
