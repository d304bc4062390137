"""Retention (issue 18): no training record younger than 4 years can be deleted, by the
application or by hand; people are deactivated instead and their records stay."""

from __future__ import annotations

import importlib.util
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from lms.accounts.models import User
from lms.certificates.models import Certificate
from lms.db import utcnow
from lms.learning.models import Enrollment, ModuleProgress
from lms.settings import PROJECT_ROOT
from tests.conftest import make_person, sign_in
from tests.test_certificates import complete

COURSES = {"auto-course": {}}


def guarded_tables() -> dict[str, tuple[str, ...]]:
    path = PROJECT_ROOT / "alembic" / "versions" / "0023_retention.py"
    spec = importlib.util.spec_from_file_location("retention_migration", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.GUARDED)


async def refused(db, statement) -> str:
    """The database's refusal of `statement`, rolled back to where it was."""
    with pytest.raises(DBAPIError) as refusal:
        async with db.begin_nested():
            await db.execute(statement)
    return str(refusal.value)


async def test_young_records_cannot_be_deleted_and_old_ones_can(db, settings, courses, people):
    learner = people["learner"]
    await complete(db, settings, learner, "auto-course")
    tables = {
        "enrollments": Enrollment,
        "module_progress": ModuleProgress,
        "certificates": Certificate,
    }
    for name, model in tables.items():
        assert await db.scalar(select(func.count()).select_from(model)), name
        message = await refused(db, delete(model))
        assert f"retention: {name.replace('_', ' ')} younger than the retention period" in message
        assert await db.scalar(select(func.count()).select_from(model)), f"{name} deleted"
    # The person cannot go either: they are deactivated instead.
    await refused(db, delete(User).where(User.id == learner.id))
    assert await db.get(User, learner.id) is not None

    # Five years on, the same rows may go.
    old = utcnow() - timedelta(days=5 * 366)
    await db.execute(update(Certificate).values(issued_at=old, revoked_at=None, superseded_at=None))
    await db.execute(delete(Certificate))
    await db.execute(
        update(ModuleProgress).values(opened_at=old, last_seen_at=old, completed_at=old)
    )
    await db.execute(delete(ModuleProgress))
    assert await db.scalar(select(func.count()).select_from(Certificate)) == 0
    assert await db.scalar(select(func.count()).select_from(ModuleProgress)) == 0
    await db.rollback()


async def test_every_record_table_has_its_guard(db):
    """Each table the migration names has its trigger (a table rebuilt by a later SQLite batch
    migration would lose it)."""
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        query = text("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'retention_%'")
    else:
        query = text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'retention_%'"
        )
    found = set((await db.scalars(query)).all())
    assert found == {f"retention_{table}" for table in guarded_tables()}
    assert len(found) == 12


async def test_a_deactivated_person_keeps_their_records(client, db, settings, courses, people):
    learner = people["learner"]
    await complete(db, settings, learner, "auto-course")
    await db.execute(update(User).where(User.id == learner.id).values(active=False))
    await db.commit()
    certificate = await db.scalar(select(Certificate).where(Certificate.user_id == learner.id))
    assert certificate is not None
    await sign_in(client, "admin@example.org")
    page = await client.get(f"/people/{learner.id}/transcript")
    assert page.status_code == 200 and certificate.serial in page.text


async def test_a_person_with_records_stays_even_where_foreign_keys_are_off(
    db, settings, courses, people
):
    """A hand-opened SQLite shell does not check foreign keys; the trigger on users still
    refuses to delete someone whose records are kept."""
    learner = people["learner"]
    await complete(db, settings, learner, "auto-course")
    if db.get_bind().dialect.name == "sqlite":
        await db.execute(text("PRAGMA foreign_keys=OFF"))
    message = await refused(db, delete(User).where(User.id == learner.id))
    assert "a person with training records cannot be deleted" in message
    nobody = await make_person(db, settings, "nobody@example.org")  # no records: may go
    await db.execute(delete(User).where(User.id == nobody.id))
    assert await db.get(User, learner.id) is not None
