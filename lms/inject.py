"""Type aliases that mark what a route handler receives by injection or from its path."""

from typing import TypeAlias

from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from lms.settings import Settings

DB: TypeAlias = NamedDependency[AsyncSession]
AppSettings: TypeAlias = NamedDependency[Settings]
PathInt: TypeAlias = FromPath[int]

__all__ = ["DB", "AppSettings", "PathInt"]
