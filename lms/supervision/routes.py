"""The supervisor's pages: My team."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get
from litestar.response import Template

from lms import times
from lms.accounts.models import User
from lms.auth import signed_in
from lms.compliance.models import STATUSES
from lms.db import utcnow
from lms.inject import DB, AppSettings
from lms.pages import page
from lms.supervision import service

guards = [signed_in]


@get("/team", name="supervision.team", guards=guards)
async def my_team(request: Request[User, Any, Any], db: DB, settings: AppSettings) -> Template:
    """Anyone signed in may open it: it lists only the people who name them as supervisor."""
    now = utcnow()
    today = times.local_date(now, settings.zone)
    return page(
        "supervision/team.html",
        team=await service.team(db, request.user, now, today),
        statuses=STATUSES,
    )


router = Router(path="/", route_handlers=[my_team])
