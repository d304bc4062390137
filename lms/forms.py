"""What comes in from a browser: the one id parser, and form text free of control characters.

Every form is read the same way: `read_fields` gives its text fields (every value of each,
so ticked boxes are not lost), and a frozen dataclass per form parses them in `from_form`,
raising InvalidInput naming the field at fault. The helpers below are what those use.

Everything a person types reaches the app as a string. Ids are parsed here and nowhere else
(a superscript two counts as a digit to Python's string methods, and `int` refuses it, so
those methods are not a parser), and `read_fields` refuses NUL and the other C0 control
characters before a handler sees them: PostgreSQL cannot store NUL in text, and openpyxl
cannot write the rest.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from lms.errors import InvalidInput

if TYPE_CHECKING:
    from litestar import Request

# A submitted form's text fields: every value of each, in the order sent.
Fields = Mapping[str, list[str]]

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


def parse_page(raw: str) -> int:
    """A report's page number from its query string (blank is the first page)."""
    if not raw:
        return 1
    number = parse_id(raw)
    if number is None:
        raise InvalidInput("Page must be a whole number, 1 or more.", "page")
    return number


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


async def read_fields(
    request: Request[Any, Any, Any], multiline: Collection[str] = ()
) -> dict[str, list[str]]:
    """The submitted form's text fields, refused with a field message if any holds a control.

    Fields named in `multiline` (or every field, with EVERY_FIELD) may hold tabs and line
    breaks. Uploaded files are left out: `read_upload` reads them, and the code that parses
    a file checks it.
    """
    fields: dict[str, list[str]] = {}
    for name, value in (await request.form()).multi_items():
        check_text("A field name", name)
        if isinstance(value, str):
            check_text(name, value, multiline=name in multiline or multiline is EVERY_FIELD)
            fields.setdefault(name, []).append(value)
    return fields


@dataclass(frozen=True)
class Upload:
    """A file sent with a form: the name the sender's computer gave it, and its bytes."""

    filename: str
    content: bytes


async def read_upload(request: Request[Any, Any, Any], name: str) -> Upload | None:
    """The file uploaded as `name`, or None when none was sent (Litestar parses the form once).

    The name is only what the sender says: code that keeps a file decides its type from
    its bytes.
    """
    from litestar.datastructures import UploadFile

    upload = (await request.form()).get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None  # a file input left empty still sends a part, with no file name
    return Upload(upload.filename, await upload.read())


def safe_file_name(name: str, default: str = "file") -> str:
    """A file name fit for a header and a page: the last part of a path, in letters, digits,
    dot, dash and underscore (what a sender's computer called a file is not trusted)."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip(".-")
    stem, dot, extension = cleaned.rpartition(".")
    if len(cleaned) > 120 and dot and len(extension) <= 10:  # keep the type a name says
        return f"{stem[: 119 - len(extension)]}.{extension}"
    return cleaned[:120] or default


def parse_date(raw: str, label: str, field: str | None = None) -> date | None:
    """A form's date (YYYY-MM-DD, as a date input sends it), or None when left blank."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{label} must be a date like 2026-03-31.", field) from None


def text(data: Fields, field: str, default: str = "") -> str:
    """The field's first value as sent, or `default` when it was not sent."""
    values = data.get(field)
    return values[0] if values else default


def long_text(data: Fields, field: str, limit: int, label: str) -> str:
    """A multi-line field's text, trimmed; InvalidInput naming it when longer than `limit`
    (refused, never cut: a note that lost its end says something else)."""
    value = check_text(field, text(data, field), multiline=True).strip()
    if len(value) > limit:
        raise InvalidInput(
            f"{label} is {len(value):,} characters; the most is {limit:,}. Shorten it.", field
        )
    return value


def one_line(data: Fields, field: str) -> str:
    """The field's text with runs of spaces made one and the ends trimmed (names, titles)."""
    return " ".join(text(data, field).split())


def ticked(data: Fields, field: str) -> bool:
    """A checkbox or a confirmation button: sent with any value but empty."""
    return bool(text(data, field))


def optional_id(data: Fields, field: str, message: str) -> int | None:
    """The id chosen in `field`; None when left blank; InvalidInput(message) when not an id."""
    raw = text(data, field).strip()
    if not raw:
        return None
    value = parse_id(raw)
    if value is None:
        raise InvalidInput(message, field)
    return value


def required_id(data: Fields, field: str, message: str) -> int:
    """The id chosen in `field`; InvalidInput(message) when blank or not an id."""
    value = optional_id(data, field, message)
    if value is None:
        raise InvalidInput(message, field)
    return value


def id_list(data: Fields, field: str, message: str = "That selection is not valid.") -> list[int]:
    """Every id ticked in `field`, each once, in order; InvalidInput(message) if any is not one."""
    ids = parse_ids(data.get(field, []))
    if ids is None:
        raise InvalidInput(message, field)
    return sorted(set(ids))


def shown(data: Fields) -> dict[str, str]:
    """What was typed, to show again in the form when it is refused (the first of each field)."""
    return {name: values[0] for name, values in data.items() if values}


@dataclass(frozen=True)
class Confirmation:
    """The second step of a destructive action (`pages.confirm_page` posts `confirmed=1`)."""

    confirmed: bool

    @classmethod
    def from_form(cls, data: Fields) -> Confirmation:
        return cls(text(data, "confirmed") == "1")


@dataclass(frozen=True)
class Answers:
    """Answers to an author's questions (a quiz, an evaluation), keyed by question id.

    Which questions exist is known only to the code that asked them: it checks every answer.
    """

    by_question: Mapping[str, Sequence[str]]

    @classmethod
    def from_form(cls, data: Fields, prefix: str = "") -> Answers:
        """The fields named `prefix` + a question id; the other fields (the token) are left out."""
        return cls(
            {
                name.removeprefix(prefix): values
                for name, values in data.items()
                if name.startswith(prefix) and name != "_csrf_token"
            }
        )
