"""A link by route name, so that services can say where to go without writing addresses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Link:
    """A route by name, with its path parameters: a template turns it into an address with
    `url_for(link.name, **link.params)`, a handler into a redirect with `redirect_to`."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
