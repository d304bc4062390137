"""Training plans (`courses/plans/<plan-id>.yaml`): checked against the course format's
"Training plans" section, with every problem as `file:line: field: message`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lms.accounts.models import CLASSIFICATIONS
from lms.catalog.source import Problem

PLANS_FOLDER = "plans"  # beside the course folders, and not one of them
PLAN_FIELDS = {"title": True, "applies_to": True, "starts": False, "requirements": True}
APPLIES_FIELDS = {"classifications": True, "counties": False}
REQUIREMENT_FIELDS = {
    "course": True,
    "within_months": False,
    "within_days": False,
    "every_months": False,
}
STARTS = ("hire_date", "role_date")


@dataclass(frozen=True)
class PlanRequirement:
    course: str
    within_months: int | None = None
    within_days: int | None = None
    every_months: int | None = None  # recurs: due again this long after each completion


@dataclass(frozen=True)
class PlanDefinition:
    slug: str
    title: str
    classifications: tuple[str, ...]
    counties: tuple[str, ...]  # empty: every county
    starts: str  # hire_date or role_date
    requirements: tuple[PlanRequirement, ...]

    def content(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_content(cls, content: dict[str, Any]) -> PlanDefinition:
        return cls(
            slug=content["slug"],
            title=content["title"],
            classifications=tuple(content["classifications"]),
            counties=tuple(content["counties"]),
            starts=content["starts"],
            requirements=tuple(PlanRequirement(**r) for r in content["requirements"]),
        )

    def applies_to(self, classification: str | None, county: str | None) -> bool:
        if classification not in self.classifications:
            return False
        return not self.counties or county in self.counties


@dataclass
class LoadedPlan:
    slug: str
    file: str
    plan: PlanDefinition | None = None
    problems: list[Problem] = field(default_factory=list)
    fingerprint: str | None = None
    county_lines: dict[str, int] = field(default_factory=dict)  # checked against the database

    @property
    def ok(self) -> bool:
        return not self.problems and self.plan is not None


def check_plans(root: Path, course_slugs: Iterable[str]) -> list[LoadedPlan]:
    """Every plan file under `root/plans`, against the courses whose folders are present."""
    folder = root / PLANS_FOLDER
    if not folder.is_dir():
        return []
    present = set(course_slugs)
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return [check_plan(path, present) for path in files]


def check_plan(path: Path, course_slugs: set[str]) -> LoadedPlan:
    # Imported here: validate.py imports this module to take plans into the catalog check.
    from lms.catalog.validate import SLUG, Checker, load_document

    loaded = LoadedPlan(path.stem, "")
    if path.suffix not in (".yaml", ".yml"):
        loaded.problems.append(
            Problem(str(path), 1, "(file)", "a plan is a .yaml file; nothing else goes here")
        )
        return loaded
    doc = load_document(path, loaded.problems)
    if doc is None:
        return loaded
    loaded.file = doc.file
    c = Checker(doc, loaded.problems)
    if not SLUG.match(path.stem):
        c.error((), f"the file name '{path.stem}' must be lower-case words joined by hyphens")
    data = c.mapping(doc.data, (), PLAN_FIELDS, "a training plan")
    if data is None:
        return loaded
    title = c.text(data, "title", (), max_len=200)
    starts = c.one_of(data, "starts", (), STARTS, default="hire_date")
    classifications: list[str] = []
    counties: list[str] = []
    applies = data.get("applies_to")
    if "applies_to" in data:
        found = c.mapping(applies, ("applies_to",), APPLIES_FIELDS, "applies_to")
        if found is not None:
            path_ = ("applies_to",)
            classifications = c.text_list(found, "classifications", path_)
            if "classifications" in found and not classifications:
                c.error((*path_, "classifications"), "must name at least one classification")
            for i, name in enumerate(classifications):
                if name not in CLASSIFICATIONS:
                    c.error(
                        (*path_, "classifications", i),
                        f"'{name}' is not a classification; use " + ", ".join(CLASSIFICATIONS),
                    )
            counties = c.text_list(found, "counties", path_)
            for i, name in enumerate(counties):
                loaded.county_lines[name] = doc.line((*path_, "counties", i))
    requirements = _requirements(c, data, course_slugs)
    if loaded.problems or title is None or starts is None:
        return loaded
    loaded.plan = PlanDefinition(
        path.stem, title, tuple(classifications), tuple(counties), starts, tuple(requirements)
    )
    text = json.dumps(loaded.plan.content(), sort_keys=True)
    loaded.fingerprint = hashlib.sha256(text.encode()).hexdigest()
    return loaded


def _requirements(c: Any, data: dict[str, Any], course_slugs: set[str]) -> list[PlanRequirement]:
    raw = data.get("requirements")
    if "requirements" not in data:
        return []
    if not isinstance(raw, list) or not raw:
        c.error(("requirements",), "must be a list of at least one requirement")
        return []
    found: list[PlanRequirement] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        path = ("requirements", i)
        entry = c.mapping(item, path, REQUIREMENT_FIELDS, "a requirement")
        if entry is None:
            continue
        course = c.text(entry, "course", path, max_len=100)
        if course is not None:
            if course not in course_slugs:
                c.error(
                    (*path, "course"),
                    f"'{course}' is not a course here (a course whose folder is gone retires: "
                    "a plan cannot require it)",
                )
            elif course in seen:
                c.error((*path, "course"), f"'{course}' is required twice in this plan")
            seen.add(course)
        months = c.integer(entry, "within_months", path, low=1, high=120)
        days = c.integer(entry, "within_days", path, low=1, high=3650)
        every = c.integer(entry, "every_months", path, low=1, high=120)
        if ("within_months" in entry) == ("within_days" in entry):
            c.error(path, "give exactly one of within_months and within_days")
        if course is not None and (months or days):
            found.append(PlanRequirement(course, months, days, every))
    return found


def check_plan_counties(plans: list[LoadedPlan], county_names: set[str]) -> None:
    """A plan's counties must be counties of the academy (known only to the database)."""
    for loaded in plans:
        for name, line in loaded.county_lines.items():
            if name not in county_names:
                loaded.problems.append(
                    Problem(
                        loaded.file,
                        line,
                        "applies_to.counties",
                        f"'{name}' is not a county of the academy",
                    )
                )
                loaded.plan = None
