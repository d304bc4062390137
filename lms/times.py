"""Times as the academy reads them: naive UTC from the database shown in LMS_TIME_ZONE.

The database holds naive UTC (lms.db.utcnow). Pages and emails show a time in the academy's
zone with the zone's abbreviation (PST or PDT), and a date as the academy's local date, so an
evening completion in California is not shown as the next day; exports carry ISO 8601 with
the offset. One style for every page and email: "Dec 4, 2026, 3:32 PM PST", "Dec 4, 2026".
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Callable
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any, TypeVar

Day = TypeVar("Day", date, datetime)


def add_months(day: Day, months: int) -> Day:
    """The same day `months` later, or the month's last day when it is shorter (Jan 31 + 1
    month is Feb 28 or 29): certificates expire and plan requirements fall due so."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, monthrange(year, month)[1]))


def local(moment: datetime, zone: tzinfo) -> datetime:
    """A database time (naive means UTC) as an aware time in `zone`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone)


def to_utc(moment: datetime, zone: tzinfo) -> datetime:
    """A time as the academy writes it (naive means in `zone`) as naive UTC for the database."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).replace(tzinfo=None)


def end_of_day(day: date, zone: tzinfo) -> datetime:
    """The last minute of an academy calendar day (a due date), as naive UTC for the database."""
    return to_utc(datetime.combine(day, time(23, 59)), zone)


def local_date(value: date | datetime, zone: tzinfo) -> date:
    """The academy's calendar day of a database time; a plain date is already one."""
    if isinstance(value, datetime):
        return local(value, zone).date()
    return value


def show_date(value: date | datetime | None, zone: tzinfo) -> str:
    """ "Dec 4, 2026": the one date style of pages and emails ("" for no date)."""
    if value is None:
        return ""
    day = local_date(value, zone)
    return f"{day:%b} {day.day}, {day.year}"


def long_date(value: date | datetime | None, zone: tzinfo, weekday: bool = False) -> str | None:
    """ "December 4, 2026", as a certificate prints it (None for no date); with `weekday`,
    "Friday, December 4, 2026", as a reminder names a due day."""
    if value is None:
        return None
    day = local_date(value, zone)
    return (
        f"{day:%A, }{day:%B} {day.day}, {day.year}"
        if weekday
        else f"{day:%B} {day.day}, {day.year}"
    )


def show_time(moment: datetime | None, zone: tzinfo) -> str:
    """ "Dec 4, 2026, 3:32 PM PST": the zone's abbreviation says which (PDT in summer)."""
    if moment is None:
        return ""
    here = local(moment, zone)
    hour = here.hour % 12 or 12
    return f"{show_date(here, zone)}, {hour}:{here:%M} {'AM' if here.hour < 12 else 'PM'} {here:%Z}"


def iso(moment: datetime | None, zone: tzinfo) -> str:
    """ "2026-12-04T15:32:00-08:00": unambiguous for exports and for scripts on a page."""
    if moment is None:
        return ""
    return local(moment, zone).isoformat(timespec="seconds")


def filters(zone: tzinfo) -> dict[str, Callable[[Any], Any]]:
    """The Jinja filters every environment registers (pages, emails), bound to the zone."""
    return {
        "show_date": lambda value: show_date(value, zone),
        "show_time": lambda value: show_time(value, zone),
        "iso": lambda value: iso(value, zone),
        "local_date": lambda value: local_date(value, zone),
    }
