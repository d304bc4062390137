"""The supervisor's pages: My team."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get
from litestar.response import Template

from lms.accounts.models import User
from lms.auth import signed_in
from lms.db import utcnow
from lms.inject import DB
from lms.pages import page
from lms.supervision import service

guards = [signed_in]


@get("/team", name="supervision.team", guards=guards)
async def my_team(request: Request[User, Any, Any], db: DB) -> Template:
    """Anyone signed in may open it: it lists only the people who name them as supervisor."""
    return page("supervision/team.html", team=await service.team(db, request.user, utcnow()))


router = Router(path="/", route_handlers=[my_team])
