"""What comes in from a browser: the one id parser, and form text free of control characters.

Everything a person types reaches the app as a string. Ids are parsed here and nowhere else
(a superscript two counts as a digit to Python's string methods, and `int` refuses it, so
those methods are not a parser), and every
form is read through `read_form`, which refuses NUL and the other C0 control characters before
a handler sees them: PostgreSQL cannot store NUL in text, and openpyxl cannot write the rest.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from lms.errors import InvalidInput

if TYPE_CHECKING:
    from litestar import Request
    from litestar.datastructures import FormMultiDict

# The largest id either database stores in an INTEGER column (SQLite's is larger, PostgreSQL's
# is this); anything above it names nothing.
MAX_ID = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")

# C0 controls and DEL; tab, newline and carriage return are allowed in multi-line fields only.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Pass as `multiline` when every field of a form may hold several lines (free-text answers).
EVERY_FIELD = frozenset({"*"})


def parse_number(raw: object, maximum: int = MAX_ID) -> int | None:
    """A whole number written in ASCII digits, from 0 to `maximum`; None for anything else."""
    if not isinstance(raw, str) or not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if value <= maximum else None


def parse_id(raw: object) -> int | None:
    """The id in a path, query or form field, or None when `raw` cannot be one."""
    value = parse_number(raw)
    return value if value else None


def parse_ids(values: Iterable[object]) -> list[int] | None:
    """Every id of a multi-valued field (checkboxes), or None when any of them is not an id."""
    ids = [parse_id(v) for v in values]
    return None if any(i is None for i in ids) else [i for i in ids if i is not None]


def control_character_message(label: str) -> str:
    return (
        f"{label} contains a control character (such as a NUL byte) that cannot be stored. "
        "Remove it and try again."
    )


def check_text(field: str, value: str, multiline: bool = False) -> str:
    """`value` unchanged, or InvalidInput naming `field` when it holds a control character."""
    pattern = _CONTROL_MULTILINE if multiline else _CONTROL
    if pattern.search(value):
        raise InvalidInput(control_character_message(_label(field)), field=field)
    return value


def _label(field: str) -> str:
    return field.replace("_", " ").strip().capitalize() or "A field"


async def read_form(
    request: Request[Any, Any, Any], multiline: Collection[str] = ()
) -> FormMultiDict:
    """The submitted form, refused with a field message if any text in it holds a control.

    Fields named in `multiline` (or every field, with EVERY_FIELD) may hold tabs and line
    breaks; uploaded files are checked by the code that reads them.
    """
    form = await request.form()
    for name, value in form.multi_items():
        check_text("A field name", name)
        if isinstance(value, str):
            check_text(name, value, multiline=name in multiline or multiline is EVERY_FIELD)
    return form
