"""Demo accounts and data, so a newcomer sees a working academy at once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.accounts import service
from lms.accounts.models import County, User
from lms.settings import Settings

DEMO_PASSWORD = "sop-demo-2026"  # noqa: S105  (demo accounts only)

DEMO_PEOPLE: list[tuple[str, str, tuple[str, ...], str]] = [
    ("admin@example.org", "Avery Admin", ("admin",), "Sacramento"),
    ("trainer1@example.org", "Dana Whitfield", ("trainer",), "Shasta"),
    ("trainer2@example.org", "Luis Ortega", ("trainer", "learner"), "Fresno"),
    ("learner1@example.org", "María José Hernández", ("learner",), "Shasta"),
    ("learner2@example.org", "Jordan Lee", ("learner",), "Shasta"),
    ("learner3@example.org", "Keisha Brown", ("learner",), "Butte"),
    ("learner4@example.org", "Nguyễn Thảo", ("learner",), "Sacramento"),
    ("learner5@example.org", "Sean O'Malley", ("learner",), "Fresno"),
    ("learner6@example.org", "Priya Raman", ("learner",), "Alameda"),
    ("learner7@example.org", "Tomás Alvarez", ("learner",), "Los Angeles"),
    ("learner8@example.org", "Emily Chen", ("learner",), "San Diego"),
    ("learner9@example.org", "Marcus Johnson", ("learner",), "Kern"),
    ("learner10@example.org", "Aiyana Redcloud", ("learner",), "Humboldt"),
    ("learner11@example.org", "Sofia Rossi", ("learner",), "Santa Clara"),
    ("supervisor@example.org", "Grace Okafor", ("learner",), "Shasta"),
]


async def load_demo(db: AsyncSession, settings: Settings) -> int:
    """Create the demo people that do not exist yet; return how many were created."""
    counties = {c.name: c.id for c in (await db.scalars(select(County))).all()}
    existing = set((await db.scalars(select(User.email))).all())
    created = 0
    for email, name, roles, county in DEMO_PEOPLE:
        if email in existing:
            continue
        form = service.PersonForm(
            email=email, name=name, roles=list(roles), county_id=counties[county]
        )
        await service.create_person(
            db, settings, form, DEMO_PASSWORD, None, must_change_password=False
        )
        created += 1
    return created
