"""The migrations build exactly the schema the models describe: every change is a migration."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lms import models  # noqa: F401  (every area's tables)
from lms.db import Base, create_engine


async def test_the_migrated_database_matches_the_models(database_url):
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    await engine.dispose()
    assert differences == []
