"""Type aliases that mark what a route handler receives by injection or from its path."""

from typing import Annotated, TypeAlias

from litestar.di import NamedDependency
from litestar.params import PathParameter
from sqlalchemy.ext.asyncio import AsyncSession

from lms.forms import MAX_ID
from lms.settings import Settings

DB: TypeAlias = NamedDependency[AsyncSession]
AppSettings: TypeAlias = NamedDependency[Settings]
# An id in a path: the router reads the digits, the bound keeps it inside an INTEGER column.
# A path id out of bounds names nothing, so lms.errors answers 404 rather than 400.
PathInt: TypeAlias = Annotated[int, PathParameter(ge=1, le=MAX_ID)]

__all__ = ["DB", "AppSettings", "PathInt"]
