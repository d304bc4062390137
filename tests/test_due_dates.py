# ruff: noqa: F811  (the courses fixture, imported, is a parameter of each test)
"""A cohort's due date lasts until 23:59 in the academy's time zone, not 23:59 UTC."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import select

from alembic import command
from lms import db as database
from lms.learning.models import Enrollment
from tests.conftest import sign_in
from tests.test_cohorts import COURSES, add, enroll_roster, new_cohort  # noqa: F401  (the courses)


async def enroll_with_due_date(client, courses, due: str) -> None:
    """The trainer enrolls the learner in the online course through a cohort due `due`."""
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, {"online": courses["online"]}, due=due)
    await add(client, cohort_id, "learner@example.org")
    await enroll_roster(client, cohort_id)


async def test_a_due_date_ends_at_midnight_in_california(client, db, settings, courses, people):
    await enroll_with_due_date(client, courses, "2027-01-15")
    enrollment = await db.scalar(select(Enrollment))
    # 23:59 on January 15 in Los Angeles (PST, UTC-8) is 07:59 on January 16 in UTC.
    assert enrollment.due_at == datetime(2027, 1, 16, 7, 59)
    await sign_in(client, "learner@example.org")
    assert "Jan 15, 2027" in (await client.get("/")).text


async def test_due_dates_stored_before_move_to_the_academys_day(
    client, db, settings, courses, people
):
    await enroll_with_due_date(client, courses, "2027-07-01")
    config = database.alembic_config(settings.database_url)
    # Back to 0010: as the first edition stored it, 23:59 UTC.
    await asyncio.to_thread(command.downgrade, config, "0010")
    await db.commit()
    stored = await db.scalar(select(Enrollment.due_at))
    assert stored == datetime(2027, 7, 1, 23, 59)
    # End the read's transaction: on PostgreSQL it holds a lock on enrollments, which a
    # later migration's ALTER TABLE enrollments (0024) waits for, for ever.
    await db.commit()
    await asyncio.to_thread(command.upgrade, config, "head")
    await db.commit()
    # 23:59 on July 1 in Los Angeles (PDT, UTC-7) is 06:59 on July 2 in UTC.
    assert await db.scalar(select(Enrollment.due_at)) == datetime(2027, 7, 2, 6, 59)
