"""Roster import from CSV: read, check every row, preview the changes, apply all or nothing.

An import creates accounts and puts people on the roster; it never edits an existing account.
A trainer may list anyone's email (admins included), so letting the file's name or county
overwrite the account would let any trainer rename any person, and a reissued certificate
would print that name; nor may a file move someone's hire date and so their training plan's
deadlines. Only administrators edit people, on the admin people pages.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms import audit, times
from lms.accounts import service as accounts
from lms.accounts.models import County, User
from lms.cohorts import service
from lms.cohorts.models import Cohort, CohortMember
from lms.compliance import service as compliance
from lms.db import utcnow
from lms.errors import DomainError, InvalidInput
from lms.forms import check_text, parse_date
from lms.settings import Settings

MAX_BYTES = 1024 * 1024
MAX_ROWS = 5000
# The optional compliance columns are accounts.COMPLIANCE_FIELDS, named as the admin form names
# them; dates YYYY-MM-DD, the classification by its key or its label.
COMPLIANCE_COLUMNS = accounts.COMPLIANCE_FIELDS
DATE_COLUMNS = ("hire_date", "role_date", "license_expires")
COLUMNS = ("email", "name", "county", "supervisor_email", *COMPLIANCE_COLUMNS)


@dataclass
class RosterRow:
    line: int
    email: str
    name: str
    county: str
    supervisor_email: str = ""
    county_id: int | None = None
    supervisor: User | None = None  # an existing person; set only on accounts the file creates
    user: User | None = None
    # The compliance columns the file gives a value in, parsed (dates, a classification key).
    compliance: dict[str, str | date] = field(default_factory=dict)
    action: str = ""  # new account, new member, no change
    # For an existing account: the fields where the file differs and which are kept as they are.
    kept: list[str] = field(default_factory=list)

    @property
    def note(self) -> str:
        """What the preview says beside the row's action, e.g. "exists: name not changed"."""
        if self.user is None:
            return ""
        if not self.kept:
            return "exists"
        return "exists: " + ", ".join(f"{f} not changed" for f in self.kept)


@dataclass
class RosterPlan:
    rows: list[RosterRow]
    problems: list[str]
    # The compliance columns the file has, in the order the preview shows them.
    columns: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.rows)


def read_csv(raw: bytes) -> tuple[list[tuple[int, dict[str, str]]], list[str], list[str]]:
    """The file's rows (line, column: value), its problems, and its compliance columns."""
    if len(raw) > MAX_BYTES:
        raise InvalidInput("The file is larger than 1 MiB; split the roster into smaller files.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(
            "The file is not UTF-8 text. Save it from your spreadsheet as "
            "'CSV UTF-8' and try again."
        ) from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InvalidInput("The file is empty.") from None
    except csv.Error as exc:
        raise InvalidInput(f"Line 1: the file is not valid CSV ({exc}).") from None
    missing = [c for c in ("email", "name") if c not in header]
    if missing:
        raise InvalidInput(
            "Line 1 must name the columns email and name, and may add county, "
            "supervisor_email, hire_date, role_date, classification, license_type, "
            f"license_number and license_expires; missing: {', '.join(missing)}."
        )
    rows, problems = [], []
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(header):
                problems.append(f"Line {line}: more values than columns.")
                continue
            record = {
                c: values[header.index(c)].strip() if header.index(c) < len(values) else ""
                for c in COLUMNS
                if c in header
            }
            try:
                for column, value in record.items():
                    check_text(column, value)
            except InvalidInput as exc:
                problems.append(f"Line {line}: {exc}")
                continue
            rows.append((line, record))
            if len(rows) > MAX_ROWS:
                raise InvalidInput(f"The file has more than {MAX_ROWS:,} rows.")
    except csv.Error as exc:
        problems.append(f"Line {reader.line_num}: not valid CSV ({exc}).")
    return rows, problems, [c for c in COMPLIANCE_COLUMNS if c in header]


def compliance_values(record: dict[str, str], today: date) -> dict[str, str | date]:
    """The row's compliance values that are not blank, checked as the admin form checks them
    (`today` is the academy's: no hire date in the future)."""
    values: dict[str, str | date] = {}
    for column in COMPLIANCE_COLUMNS:
        raw = record.get(column, "")
        value: str | date | None
        if column in DATE_COLUMNS:
            value = parse_date(raw, column, column)
        elif column == "classification":
            value = accounts.parse_classification(raw, by_label=True)
        else:
            value = accounts.check_license(raw, column, column)
        if value is not None:
            values[column] = value
    hire, role = values.get("hire_date"), values.get("role_date")
    expires = values.get("license_expires")
    accounts.check_dates(
        hire if isinstance(hire, date) else None,
        role if isinstance(role, date) else None,
        expires if isinstance(expires, date) else None,
        today,
    )
    return values


async def plan(db: AsyncSession, cohort: Cohort, raw: bytes, today: date) -> RosterPlan:
    """What importing this file would change, with a problem listed for every bad row."""
    records, problems, columns = read_csv(raw)
    counties = {c.name.lower(): c for c in (await db.scalars(select(County))).all()}
    emails = [accounts.normalise_email(r["email"]) for _, r in records if _valid_email(r["email"])]
    supervisor_emails = [
        accounts.normalise_email(r["supervisor_email"])
        for _, r in records
        if r.get("supervisor_email") and _valid_email(r["supervisor_email"])
    ]
    wanted = set(emails) | set(supervisor_emails)
    users = {
        u.email: u for u in (await db.scalars(select(User).where(User.email.in_(wanted)))).all()
    }
    members = set(
        await db.scalars(select(CohortMember.user_id).where(CohortMember.cohort_id == cohort.id))
    )
    seen: dict[str, int] = {}
    rows = []
    for line, record in records:
        row = RosterRow(
            line,
            record.get("email", ""),
            record.get("name", ""),
            record.get("county", ""),
            record.get("supervisor_email", ""),
        )
        try:
            row.email = accounts.normalise_email(row.email)
            row.name = accounts.check_name(row.name) if row.name else ""
            if row.supervisor_email:
                row.supervisor_email = accounts.normalise_email(row.supervisor_email)
            row.compliance = compliance_values(record, today)
        except DomainError as exc:
            problems.append(f"Line {line}: {exc}")
            continue
        if row.supervisor_email:
            # Someone already in the system, so that nobody supervises by a typo.
            row.supervisor = users.get(row.supervisor_email)
            if row.supervisor is None or not row.supervisor.active:
                problems.append(
                    f"Line {line}: the supervisor {row.supervisor_email} has no active account; "
                    "an administrator adds them first."
                )
                continue
            if row.supervisor_email == row.email:
                problems.append(f"Line {line}: a person cannot be their own supervisor.")
                continue
        if row.email in seen:
            problems.append(f"Line {line}: {row.email} is already on line {seen[row.email]}.")
            continue
        seen[row.email] = line
        if row.county:
            county = counties.get(row.county.lower().removesuffix(" county"))
            if county is None:
                problems.append(f"Line {line}: '{row.county}' is not a California county.")
                continue
            row.county_id = county.id
        row.user = users.get(row.email)
        if row.user is None:
            if not row.name:
                problems.append(
                    f"Line {line}: a name is needed to create an account for {row.email}."
                )
                continue
            row.action = "new account"
        else:
            # The account stays as it is: say which of the file's values are not applied.
            if row.name and row.name != row.user.name:
                row.kept.append("name")
            if row.county_id and row.county_id != row.user.county_id:
                row.kept.append("county")
            if row.supervisor and row.supervisor.id != row.user.supervisor_id:
                row.kept.append("supervisor")
            row.kept += [c for c, v in row.compliance.items() if v != getattr(row.user, c)]
            row.action = "new member" if row.user.id not in members else "no change"
        rows.append(row)
    return RosterPlan(rows, problems, columns)


def _valid_email(raw: str) -> bool:
    try:
        accounts.normalise_email(raw)
    except DomainError:
        return False
    return True


@dataclass
class Invitation:
    name: str
    email: str
    token: str


async def apply(
    db: AsyncSession, settings: Settings, cohort: Cohort, raw: bytes, by: User
) -> tuple[RosterPlan, list[Invitation]]:
    """Apply a roster file in the caller's transaction: every row, or none if any is bad.

    Nobody missing from the file is removed, and no existing account is changed.
    """
    roster = await plan(db, cohort, raw, times.local_date(utcnow(), settings.zone))
    if not roster.ok:
        raise InvalidInput("The file has problems; nothing was changed.")
    invitations = []
    created = []
    for row in roster.rows:
        if row.action in ("new account", "new member"):
            added = await service.add_member(
                db,
                settings,
                cohort,
                by,
                row.email,
                row.name,
                row.county_id,
                row.supervisor.id if row.supervisor else None,
            )
            if added.invite_token:
                invitations.append(
                    Invitation(added.user.name, added.user.email, added.invite_token)
                )
            if added.created:
                created.append(added.user.id)
            if added.created and row.compliance:
                # Set after the account is made (cohorts.add_member knows only name and
                # county), and audited as an edit so the log shows where the dates came from.
                before = accounts.person_snapshot(added.user)
                for column, value in row.compliance.items():
                    setattr(added.user, column, value)
                audit.record(
                    db,
                    by,
                    "person.update",
                    "user",
                    added.user.id,
                    before,
                    accounts.person_snapshot(added.user) | {"via": f"roster {cohort.id}"},
                )
    if created:
        await compliance.refresh(db, settings.zone, created)
    await db.flush()
    total = await db.scalar(
        select(func.count()).select_from(CohortMember).where(CohortMember.cohort_id == cohort.id)
    )
    audit.record(
        db,
        by,
        "cohort.roster_import",
        "cohort",
        cohort.id,
        after={"rows": len(roster.rows), "members": total},
    )
    return roster, invitations
