"""Show how PostgreSQL runs the heavy queries, on a seeded academy (for docs/scaling.md).

Calls the app's own functions, captures each statement with its parameters as it is sent,
and prints EXPLAIN (ANALYZE, BUFFERS) for it. Everything runs in a transaction that is
rolled back, so the module-page UPDATE changes nothing.

Run: .venv/bin/python bench/explain.py --database-url URL > plans.md
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lms import db as database  # noqa: E402
from lms import models as m  # noqa: E402
from lms.accounts import service as accounts  # noqa: E402
from lms.catalog import service as catalog  # noqa: E402
from lms.certificates import service as certificates  # noqa: E402
from lms.cohorts import progress  # noqa: E402
from lms.learning import service as learning  # noqa: E402
from lms.learning.progress import of_person  # noqa: E402
from lms.reports import completions as reports  # noqa: E402
from lms.settings import Settings  # noqa: E402

RANDOM_PAGE_COST = 1.1
LONG_LIST = re.compile(r"'\{(\d+),(\d+),[\d,]{40,}?,(\d+)\}'")


def _shorten(found: re.Match[str]) -> str:
    count = found.group(0).count(",") + 1
    return f"'{{{found.group(1)},{found.group(2)},...,{found.group(3)}}}' ({count} ids)"


async def explain(url: str) -> str:
    engine = database.create_engine(url)
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not statement.startswith("EXPLAIN"):
            captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    out: list[str] = []
    async with database.create_sessionmaker(engine)() as db:
        # Someone part way through emergency response, with the introduction behind them.
        learner = await db.scalar(
            select(m.User)
            .join(m.Enrollment, m.Enrollment.user_id == m.User.id)
            .join(m.Course, m.Course.id == m.Enrollment.course_id)
            .where(m.Enrollment.status == "active", m.Course.slug == "emergency-response")
            .order_by(m.Enrollment.id)
            .limit(1)
        )
        assert learner is not None, "seed the database first (bench/seed.py)"
        cohort = await db.get(m.Cohort, 1)
        intro = await db.scalar(select(m.Course).where(m.Course.slug == "sop-intro"))
        serial = await db.scalar(select(m.Certificate.serial).limit(1))
        await catalog.get_definitions(db, set(await db.scalars(select(m.CourseVersion.id))))
        token = await accounts.start_session(db, Settings(), learner)
        size = len(await _members(db, 1))
        progresses = await of_person(db, learner.id)
        active = next(p for p in progresses if p.enrollment.status == "active")
        module = next(s for s in active.modules if s.status in ("in_progress", "available"))
        slug = active.course.slug

        async def show(title: str, work: Callable[[], Awaitable[Any]]) -> None:
            captured.clear()
            await work()
            conn = await db.connection()
            for n, (statement, parameters) in enumerate(captured, start=1):
                plan = await conn.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters
                )
                lines = [LONG_LIST.sub(_shorten, row[0]) for row in plan.all()]
                part = f" ({n} of {len(captured)})" if len(captured) > 1 else ""
                out.extend([f"### {title}{part}", "", "```sql", statement.strip(), "```", ""])
                out.extend(["```", *lines, "```", ""])

        # What SSDs and a cached database call for (see docs/scaling.md); the default, 4,
        # makes PostgreSQL prefer reading a whole table to a few hundred index lookups.
        await db.execute(text(f"SET random_page_cost = {RANDOM_PAGE_COST}"))

        await show(
            "Who is signed in (every request)", lambda: accounts.find_session_user(db, token)
        )
        await show("My learning: enrollments and certificates", lambda: of_person(db, learner.id))
        await show(
            "A module page: the course and the learner's enrollment",
            lambda: learning.get_enrollment(db, learner, slug),
        )
        await show(
            "A module page: the learner's progress, then the time spent",
            lambda: learning.open_module(db, active.enrollment, module.module.id),
        )
        assert cohort is not None and intro is not None
        await show(
            f"Progress matrix of a {size}-learner cohort",
            lambda: progress.build_matrix(db, cohort, intro, zone=Settings().zone),
        )
        await show("Completions: totals by county", lambda: reports.completion_totals(db, "county"))
        await show("Completions: the latest 500", lambda: reports.completions(db, limit=500))
        county = learner.county_id
        await show(
            "Completions: one county's, by month, this year",
            lambda: reports.completion_totals(
                db, "month", county_id=county, since=datetime(database.utcnow().year, 1, 1)
            ),
        )
        await show(
            "Certificate verification", lambda: certificates.find_by_serial(db, serial or "")
        )
        await db.rollback()
    await engine.dispose()
    return "\n".join(out)


async def _members(db: Any, cohort_id: int) -> list[int]:
    query = select(m.CohortMember.user_id).where(m.CohortMember.cohort_id == cohort_id)
    return list((await db.scalars(query)).all())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    print(asyncio.run(explain(args.database_url)))


if __name__ == "__main__":
    main()
