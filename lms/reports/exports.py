"""Tables out as CSV and XLSX, with cells that could run as spreadsheet formulas neutralised."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from litestar import Response

from lms import times

if TYPE_CHECKING:
    from lms.accounts.models import User
    from lms.cohorts.models import Attendance, LiveSession
    from lms.cohorts.progress import Matrix
    from lms.reports.completions import CompletionRow

# A cell starting with one of these is read as a formula by Excel, LibreOffice and Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | bool | date | datetime | None
Table = tuple[list[str], list[list[Cell]]]  # a header and its rows


# XLSX (XML 1.0) cannot hold C0 controls other than tab, newline and carriage return; openpyxl
# raises on them. Forms refuse them, but a name may predate that or come from a roster file.
UNWRITABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def safe_cell(value: Cell) -> Cell:
    """Text that a spreadsheet would run is kept as text by a leading apostrophe."""
    if not isinstance(value, str):
        return value
    value = UNWRITABLE.sub("\ufffd", value)
    if value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Sequence[Sequence[Cell]], zone: tzinfo) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else safe_cell(_plain(v, zone)) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode()  # BOM: Excel opens UTF-8 names correctly


def _plain(value: Cell, zone: tzinfo) -> Cell:
    """A time as ISO 8601 with the academy's offset, "2026-12-04T19:30:00-08:00": a bare
    time would be read as local by some and as UTC by others. A date stays YYYY-MM-DD."""
    if isinstance(value, datetime):
        return times.iso(value, zone)
    if isinstance(value, date):
        return value.isoformat()
    return value


def to_xlsx(
    title: str, header: Sequence[str], rows: Sequence[Sequence[Cell]], zone: tzinfo
) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append([safe_cell(h) for h in header])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        # Times as the same ISO text as in CSV: an Excel time cannot hold an offset.
        sheet.append([safe_cell(times.iso(v, zone) if isinstance(v, datetime) else v) for v in row])
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever it starts with
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def download(
    name: str, fmt: str, title: str, header: Sequence[str], rows: Sequence[Any], zone: tzinfo
) -> Response[bytes]:
    if fmt == "xlsx":
        body = to_xlsx(title, header, rows, zone)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body, media = to_csv(header, rows, zone), "text/csv"  # Litestar adds "; charset=utf-8"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


# The tables exported, each written once: the cohort's and the admin's completions are one.


def completions_table(found: Sequence[CompletionRow]) -> Table:
    header = ["Learner", "Email", "County", "Region", "Course", "Completed", "Hours", "Certificate"]
    rows: list[list[Cell]] = [
        [r.learner, r.email, r.county, r.region, r.course, r.completed_at, r.hours, r.certificate]
        for r in found
    ]
    return header, rows


def matrix_table(matrix: Matrix, zone: tzinfo) -> Table:
    """A cohort's progress matrix: a row per learner, a column per module."""
    from lms.learning.progress import STATE_LABELS

    modules = list(matrix.definition.modules)
    header = [
        "Learner",
        "Email",
        "County",
        "Status",
        "Progress %",
        *[f"Module {i}: {m.title}" for i, m in enumerate(modules, start=1)],
        "Best final %",
        "Minutes spent",
        "Last activity",
        "Due",
        "Overdue",
        "At risk",
    ]
    rows: list[list[Cell]] = []
    for row in matrix.rows:
        cells = [STATE_LABELS.get(status, "") for status in row.statuses]
        rows.append(
            [
                row.learner.name,
                row.learner.email,
                row.county,
                row.status,
                row.percent,
                *cells,
                row.best_final,
                row.minutes_spent,
                row.last_activity,
                # A due date is a day (the academy's): YYYY-MM-DD, not the moment it ends.
                times.local_date(row.due_at, zone) if row.due_at else None,
                "yes" if row.overdue else "",
                "yes" if row.at_risk else "",
            ]
        )
    return header, rows


def attendance_table(records: Sequence[tuple[LiveSession, Attendance, User]]) -> Table:
    header = ["Session", "Starts", "Learner", "Email", "Attendance"]
    rows: list[list[Cell]] = [
        [
            session.title,
            session.starts_at,
            learner.name,
            learner.email,
            "present" if record.present else "absent",
        ]
        for session, record, learner in records
    ]
    return header, rows
