"""Database engine, the session per request, the model base and the migration check."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    ColumnElement,
    Integer,
    MetaData,
    String,
    Table,
    any_,
    bindparam,
    event,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lms.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from alembic.config import Config

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def create_engine(url: str) -> AsyncEngine:
    """Create the engine; SQLite gets WAL, foreign keys and a busy timeout."""
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        # Enough connections for the requests a busy worker has waiting on the database at
        # once: past pool_size, each extra connection is opened and closed per request, and
        # re-prepares every statement. Workers x hosts x 30 must stay under the server's
        # max_connections (see "Running for a whole state" in README.md).
        kwargs.update(pool_size=20, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def among(column: Any, name: str, dialect: str) -> ColumnElement[bool]:
    """`column IN :name`, for a statement built once and run with a list of ids as `name`.

    On PostgreSQL it is `column = ANY(:name)`: one array parameter however many ids, so
    the statement stays prepared and hundreds of ids cost nothing to send.
    """
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(Integer)))
    return column.in_(bindparam(name, expanding=True))


async def add_once(db: AsyncSession, row: Base) -> bool:
    """Add `row` in a savepoint: False, and nothing added, when a unique constraint refuses it.

    Two requests doing the same thing at once (a double click, two tabs, two hosts) both get
    past any check made before; the database's unique constraint decides, and the caller
    carries on with the row that won.
    """
    try:
        async with db.begin_nested():
            db.add(row)
    except IntegrityError:
        return False
    return True


class Revision(Base):
    """A number that every change to some derived data raises, in the change's own
    transaction: a worker that keeps a figure worked out from that data (see `Kept`) knows
    from one primary-key read whether it still holds. A row, not a sequence or a max(id): a
    sequence moves before its transaction commits, so a reader could pair the new number
    with the old data and keep a stale figure for good."""

    __tablename__ = "revisions"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class RetentionPolicy(Base):
    """How many years training records are kept: one row, 4 unless the academy keeps them
    longer. Database triggers read it and refuse to delete a younger record (migration
    0023 says which tables); the application never writes it."""

    __tablename__ = "retention_policy"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    years: Mapped[int] = mapped_column(Integer, default=4, server_default="4")


async def bump_revision(db: AsyncSession, name: str) -> None:
    """Raise `name`'s revision (the row is created the first time)."""
    raised = update(Revision).where(Revision.name == name).values(number=Revision.number + 1)
    changed = await db.execute(raised)
    if changed.rowcount == 0 and not await add_once(db, Revision(name=name, number=1)):  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult
        await db.execute(raised)  # another transaction created it first


_REVISION = select(Revision.number).where(Revision.name == bindparam("name"))


async def revision(db: AsyncSession, name: str) -> int:
    """`name`'s revision (0 before its first change); read on every page that keeps a value."""
    return await db.scalar(_REVISION, {"name": name}) or 0


T = TypeVar("T")
_ALL_KEPT: list[Kept[Any]] = []


class Kept(Generic[T]):
    """Values a worker keeps, each with the mark (a revision, a count) it was worked out at:
    one is used again only while the database still gives the same mark. The least recently
    used go past `size`."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.values: OrderedDict[Hashable, tuple[Hashable, T]] = OrderedDict()
        self.locks: dict[Hashable, asyncio.Lock] = {}
        _ALL_KEPT.append(self)

    def get(self, key: Hashable, mark: Hashable) -> T | None:
        found = self.values.get(key)
        if found is None or found[0] != mark:
            return None
        self.values.move_to_end(key)
        return found[1]

    async def get_or(self, key: Hashable, mark: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """The kept value, or `compute`'s, kept. Requests that miss together wait for the
        first one's instead of each working it out (a report opened by 32 people at once
        after a change was worked out 32 times, seconds each under that load)."""
        found = self.get(key, mark)
        if found is not None:
            return found
        lock = self.locks.setdefault(key, asyncio.Lock())
        async with lock:
            found = self.get(key, mark)
            if found is None:
                found = self.put(key, mark, await compute())
        if self.locks.get(key) is lock and not lock.locked():
            del self.locks[key]  # waiters still hold it; whoever comes next finds the value
        return found

    def put(self, key: Hashable, mark: Hashable, value: T) -> T:
        self.values[key] = (mark, value)
        self.values.move_to_end(key)
        while len(self.values) > self.size:
            self.values.popitem(last=False)
        return value


def forget_kept() -> None:
    """Drop every kept value (tests call this: their ids and revisions restart)."""
    for kept in _ALL_KEPT:
        kept.values.clear()
        kept.locks.clear()


def dialect_name(db: AsyncSession) -> str:
    """ "postgresql" or "sqlite": where a query has a faster form on one of them."""
    return db.get_bind().dialect.name


def table_of(model: type[Base]) -> Table:
    """A mapped class's table, for Core statements that skip the ORM's bookkeeping.

    SQLAlchemy types `__table__` as any FromClause; a declarative class's is a Table.
    """
    return cast(Table, model.__table__)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


# Where SessionMiddleware keeps the session it opened to find the signed-in person, so that
# the handler continues in it: one connection and one transaction per request, not two.
REQUEST_SESSION = "lms.db_session"


async def session_scope(
    sessionmaker: async_sessionmaker[AsyncSession], opened: AsyncSession | None = None
) -> AsyncIterator[AsyncSession]:
    """One transaction per request: commit when the handler succeeds, roll back otherwise.

    `opened` is a session the request already has; whoever opened it closes it.
    """
    if opened is not None:
        try:
            yield opened
            await opened.commit()
        except BaseException:
            await opened.rollback()
            raise
        return
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def alembic_config(database_url: str) -> Config:
    # Alembic is imported when a migration is run or checked, not by every command and
    # worker that imports this module (a third of a second of each `lms` command's start).
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.attributes["database_url"] = database_url
    return config


@cache  # reads every migration file (23 ms); they do not change under a running process
def head_revision() -> str | None:
    # Imported here, after the server has set up logging, Alembic would log each plugin it
    # loads at INFO into the server's log: those notes are Alembic's, not the academy's.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(""))
    return script.get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        try:
            result = await conn.execute(text("SELECT version_num FROM alembic_version"))
        except Exception:
            return None
        return result.scalar_one_or_none()


class DatabaseBehind(Exception):
    """The database schema is older than the code; `lms db upgrade` fixes it."""


async def check_migrations(engine: AsyncEngine) -> None:
    current, head = await current_revision(engine), head_revision()
    if current != head:
        raise DatabaseBehind(
            f"The database is at migration {current or 'none (empty database)'} but this "
            f"version of the application needs {head}. Run `lms db upgrade` to bring it up "
            "to date, then start the server again."
        )
