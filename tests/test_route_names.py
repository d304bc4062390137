"""Route names: every route has an "area.thing" name from its own area, and every name that
templates and redirects reverse exists, so a typo fails here rather than on a rare page."""

from __future__ import annotations

import re
from pathlib import Path

from litestar.routes import HTTPRoute

from lms.app import create_app

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"[a-z]+\.[a-z]+(_[a-z]+)*")
# Names Litestar gives the static router's extra handlers, after the name given to it.
DERIVED = re.compile(r"site\.static/head")
# A literal route name handed to url_for (or base.html's nav_link) in a template, or to
# redirect_to or route_reverse in the code.
IN_TEMPLATES = re.compile(r"(?:url_for|nav_link)\('([^']+)'\s*[,)]")
IN_CODE = re.compile(r"(?:redirect_to|route_reverse)\(\s*\"([^\"]+)\"")


def _handlers():
    for route in create_app().routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                if handler.name is not None:  # Litestar's own OPTIONS answers have none
                    yield route.path, handler


def test_every_route_is_named_area_thing_from_its_own_area():
    wrong = []
    for path, handler in _handlers():
        name = handler.name
        if DERIVED.fullmatch(name):
            continue
        module = handler.fn.__module__
        area, _, _ = name.partition(".")
        home = "lms.app" if area == "site" else f"lms.{area}.routes"
        if not NAME.fullmatch(name) or (module.startswith("lms.") and module != home):
            wrong.append((path, name, module))
    assert wrong == []


def test_every_route_name_used_exists():
    names = {handler.name for _, handler in _handlers()}
    used = {
        (str(path.relative_to(ROOT)), name)
        for path in (ROOT / "templates").rglob("*.html")
        for name in IN_TEMPLATES.findall(path.read_text())
    } | {
        (str(path.relative_to(ROOT)), name)
        for path in (ROOT / "lms").rglob("*.py")
        for name in IN_CODE.findall(path.read_text())
    }
    assert len(used) > 100
    assert sorted((where, name) for where, name in used if name not in names) == []


def test_no_template_writes_an_address_of_this_site_by_hand():
    """Links and form actions go through url_for; "#main" and external links are not ours."""
    by_hand = re.compile(r"""(?:href|action|formaction|src|data-autosave)=["'](/[^"']*)""")
    found = [
        (str(path.relative_to(ROOT)), address)
        for path in (ROOT / "templates").rglob("*.html")
        for address in by_hand.findall(path.read_text())
    ]
    assert found == []
