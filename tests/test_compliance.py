"""Training plans: due dates from hire and role dates, met by completions (late ones shown),
recurring requirements, extensions with a reason, and the views that read them."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from lms import times
from lms.accounts.models import User
from lms.audit import AuditEvent
from lms.catalog.models import PlanVersion, TrainingPlan
from lms.catalog.plans import PlanRequirement
from lms.catalog.service import sync_courses
from lms.catalog.validate import check_catalog
from lms.compliance import service as compliance
from lms.compliance.models import Requirement, RequirementExtension
from lms.db import Revision, bump_revision, revision
from lms.mail.models import OutboxMessage
from tests.conftest import load_courses, make_person, post, shipped_check, sign_in
from tests.course_factory import write_course
from tests.test_certificates import complete
from tests.test_query_counts import count, statements

__all__ = ["statements"]  # the fixture, used below

COURSES = {"first-course": {}, "second-course": {}}
NEW_WORKER = """\
title: New social worker
applies_to:
  classifications: [social_worker]
starts: hire_date
requirements:
  - course: first-course
    within_months: 3
  - course: second-course
    within_months: 12
"""
REFRESHER = """\
title: Refresher
applies_to:
  classifications: [social_worker]
requirements:
  - course: second-course
    within_days: 30
    every_months: 24
"""


def today(settings) -> date:
    return datetime.now(settings.zone).date()


async def write_plans(db, tmp_path: Path, plans: dict[str, str]) -> None:
    folder = tmp_path / "courses" / "plans"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in plans.items():
        (folder / f"{name}.yaml").write_text(text)
    await load_courses(db, tmp_path / "courses")
    await db.commit()


async def hire(db, settings, email: str, hired: date | None, **more) -> User:
    person = await make_person(db, settings, email)
    values = {"hire_date": hired, "classification": "social_worker", **more}
    await db.execute(update(User).where(User.id == person.id).values(**values))
    await compliance.refresh(db, settings.zone, [person.id])
    await db.commit()
    return person


# --- the schedule ----------------------------------------------------------------------


def test_a_schedule_counts_from_the_start_date_and_meets_on_a_completion():
    once = PlanRequirement("core", within_months=12)
    start = date(2026, 1, 31)
    open_ = compliance.schedule(start, once, [], {})
    assert open_.due_on == date(2027, 1, 31) and open_.met_on is None
    in_time = compliance.schedule(start, once, [date(2026, 6, 1)], {})
    assert in_time.met_on == date(2026, 6, 1) and not in_time.late
    late = compliance.schedule(start, once, [date(2027, 3, 1)], {})
    assert late.met_on == date(2027, 3, 1) and late.late
    # An extension moves the due date it names, and a completion before it is in time.
    extended = compliance.schedule(
        start, once, [date(2027, 3, 1)], {date(2027, 1, 31): date(2027, 4, 1)}
    )
    assert extended.due_on == date(2027, 4, 1) and extended.extended and not extended.late
    assert compliance.schedule(None, once, [], {}).due_on is None


def test_a_recurring_requirement_comes_due_again_after_each_completion():
    every = PlanRequirement("refresh", within_days=30, every_months=24)
    start = date(2026, 1, 1)
    assert compliance.schedule(start, every, [], {}).due_on == date(2026, 1, 31)
    once = compliance.schedule(start, every, [date(2026, 1, 20)], {})
    assert once.met_on is None and once.due_on == date(2028, 1, 20)
    assert once.last_completed_on == date(2026, 1, 20)
    twice = compliance.schedule(start, every, [date(2026, 1, 20), date(2028, 3, 1)], {})
    assert twice.due_on == date(2030, 3, 1)


# --- the plan files --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("first-course", "nope"),
            r"new\.yaml:6: requirements\[0\]\.course: 'nope' is not a course",
        ),
        (
            ("social_worker", "caseworker"),
            r"new\.yaml:3: applies_to\.classifications\[0\]: 'caseworker' is not a classification",
        ),
        (("starts: hire_date", "starts: birthday"), r"new\.yaml:4: starts: must be one of"),
        (
            ("    within_months: 3\n", ""),
            r"new\.yaml:6: requirements\[0\]: give exactly one of within_months and within_days",
        ),
        (
            ("    within_months: 3\n", "    within_months: 3\n    within_days: 9\n"),
            r"requirements\[0\]: give exactly one of within_months and within_days",
        ),
        (("within_months: 12", "within_months: 0"), r"requirements\[1\]\.within_months: must be"),
        (("second-course", "first-course"), r"'first-course' is required twice"),
        (
            ("title: New social worker\n", ""),
            r"new\.yaml:1: \(file\): missing required field 'title'",
        ),
        (
            ("    within_months: 3\n", "    within_months: 3\n    every: 4\n"),
            r"unknown field 'every'",
        ),
    ],
)
def test_a_broken_plan_is_refused_with_its_file_and_line(tmp_path, change, expected):
    root = tmp_path / "courses"
    for slug in COURSES:
        write_course(root, slug)
    (root / "plans").mkdir()
    old, new = change
    (root / "plans" / "new.yaml").write_text(NEW_WORKER.replace(old, new, 1))
    check = check_catalog(root)
    assert [c.ok for c in check.courses] == [True, True]  # plans are not course folders
    (plan,) = check.plans
    assert not plan.ok and plan.plan is None
    assert any(re.search(expected, str(p)) for p in plan.problems), plan.problems


def test_the_shipped_plans_load(tmp_path):
    check = shipped_check()
    assert {p.slug for p in check.plans if p.ok} == {
        "new-social-worker",
        "new-supervisor",
        "sop-refresher",
    }
    supervisor = next(p.plan for p in check.plans if p.slug == "new-supervisor")
    assert supervisor is not None and supervisor.starts == "role_date"


async def test_plans_are_versioned_at_sync_and_retired_when_their_file_goes(
    client, db, settings, courses, tmp_path
):
    await write_plans(db, tmp_path, {"new": NEW_WORKER})
    plan = await db.scalar(select(TrainingPlan))
    assert plan.number == 1 and plan.title == "New social worker"
    await write_plans(
        db, tmp_path, {"new": NEW_WORKER.replace("within_months: 3", "within_months: 4")}
    )
    await db.refresh(plan)
    assert plan.number == 2 and plan.content["requirements"][0]["within_months"] == 4
    assert await db.scalar(select(func.count()).select_from(PlanVersion)) == 2
    # A broken edit keeps the last good version in force, with the problem recorded.
    report = await sync_courses(db, tmp_path / "courses")
    (tmp_path / "courses" / "plans" / "new.yaml").write_text(
        NEW_WORKER.replace("first-course", "gone")
    )
    report = await sync_courses(db, tmp_path / "courses")
    (refused,) = report.refused
    assert refused.slug == "plans/new" and "still in force: version 2" in refused.detail
    await db.refresh(plan)
    assert plan.number == 2 and plan.problems and "'gone' is not a course" in plan.problems[0]
    # A county the academy does not have is refused at sync, at its line.
    counties = NEW_WORKER.replace(
        "  classifications: [social_worker]\n",
        "  classifications: [social_worker]\n  counties:\n    - Shasta\n    - Atlantis\n",
    )
    (tmp_path / "courses" / "plans" / "new.yaml").write_text(counties)
    (refused,) = (await sync_courses(db, tmp_path / "courses")).refused
    assert any(
        re.search(r"new\.yaml:6: applies_to\.counties: 'Atlantis' is not a county", p)
        for p in refused.problems
    )
    (tmp_path / "courses" / "plans" / "new.yaml").unlink()
    report = await sync_courses(db, tmp_path / "courses")
    assert [(r.slug, r.outcome) for r in report.results if r.slug.startswith("plans/")] == [
        ("plans/new", "retired")
    ]
    await db.commit()


# --- people's requirements -------------------------------------------------------------


async def test_due_dates_count_from_hire_and_a_completion_meets_them(
    client, db, settings, courses, people, tmp_path
):
    await write_plans(db, tmp_path, {"new": NEW_WORKER, "refresher": REFRESHER})
    now = today(settings)
    eleven = times.add_months(now, -11)
    veteran = await hire(db, settings, "veteran@example.org", eleven)
    fresh = await hire(db, settings, "fresh@example.org", now - timedelta(days=20))
    await hire(db, settings, "undated@example.org", None)
    manager = await hire(db, settings, "manager@example.org", eleven, classification="manager")

    rows = {
        (r.user_id, r.course_slug, r.plan_id): r
        for r in (await db.scalars(select(Requirement))).all()
    }
    assert not [r for r in rows.values() if r.user_id == manager.id]  # no plan applies
    new_plan = await db.scalar(select(TrainingPlan.id).where(TrainingPlan.slug == "new"))
    assert rows[(veteran.id, "first-course", new_plan)].due_on == times.add_months(eleven, 3)
    assert rows[(veteran.id, "second-course", new_plan)].due_on == times.add_months(eleven, 12)
    assert rows[(veteran.id, "first-course", new_plan)].status_on(now) == "overdue"
    assert rows[(fresh.id, "first-course", new_plan)].status_on(now) == "on_track"

    # The admin's report: the person hired 11 months ago with nothing done is at the top.
    await sign_in(client, "admin@example.org")
    page = await client.get("/admin/compliance")
    assert page.status_code == 200
    first_row = page.text.split("<tbody>")[2].split("</tr>")[0]
    assert "Veteran" in first_row and "Overdue" in first_row
    assert "No start date" in page.text  # the person with no hire date is listed, not lost
    only_overdue = await client.get("/admin/compliance?status=overdue")
    assert "Fresh" not in only_overdue.text.split("<tbody>")[2]
    export = await client.get("/admin/compliance?fmt=csv&status=overdue")
    assert export.headers["content-type"].startswith("text/csv")
    assert "veteran@example.org" in export.text and "fresh@example.org" not in export.text

    # A completion, late, meets the requirement and says so; the recurring one comes due.
    await complete(db, settings, veteran, "first-course")
    await complete(db, settings, veteran, "second-course")
    met = await db.scalar(
        select(Requirement).where(
            Requirement.user_id == veteran.id,
            Requirement.course_slug == "first-course",
        )
    )
    assert met.met_on == now and met.late
    recurring = await db.scalar(
        select(Requirement).where(
            Requirement.user_id == veteran.id,
            Requirement.plan_id != new_plan,
        )
    )
    assert recurring.met_on is None and recurring.due_on == times.add_months(now, 24)

    # The learner sees their requirements first on My learning.
    client.cookies.clear()
    await sign_in(client, "fresh@example.org")
    home = await client.get("/")
    assert home.text.index("Your required training") < home.text.index("In progress")
    assert "On track" in home.text and "Due soon" in home.text  # 20 days in, 30 to go


async def test_a_supervisor_extends_a_requirement_with_a_reason(
    client, db, settings, courses, people, tmp_path
):
    await write_plans(db, tmp_path, {"new": NEW_WORKER})
    boss = await make_person(db, settings, "boss@example.org")
    worker = await hire(
        db,
        settings,
        "worker@example.org",
        times.add_months(today(settings), -4),
        supervisor_id=boss.id,
    )
    worker_id = worker.id

    async def first_course() -> Requirement:
        # Refreshing rewrites a person's rows, so each look is a new query.
        db.expire_all()
        return await db.scalar(
            select(Requirement).where(
                Requirement.user_id == worker_id, Requirement.course_slug == "first-course"
            )
        )

    row = await first_course()
    due = row.due_on
    path = f"/people/{worker_id}/requirements"
    form = {
        "plan": str(row.plan_id),
        "course": "first-course",
        "seen": due.isoformat(),
        "extended_to": (due + timedelta(days=90)).isoformat(),
        "reason": "On leave from March to May.",
    }
    # The worker reads their own page but cannot extend their own requirement.
    await sign_in(client, "worker@example.org")
    mine = await client.get(path)
    assert mine.status_code == 200 and "Extend the due date" not in mine.text
    refused = await post(client, path, form, token_from=path)
    assert refused.status_code == 403
    # Another learner does not find the page at all.
    client.cookies.clear()
    await sign_in(client, "learner@example.org")
    assert (await client.get(path)).status_code == 404

    client.cookies.clear()
    await sign_in(client, "boss@example.org")
    team = await client.get("/team")
    assert "1 overdue" in team.text and f'href="{path}"' in team.text
    for bad, message in [
        ({"reason": ""}, "Give the reason"),
        ({"extended_to": due.isoformat()}, "must be after the current one"),
        ({"extended_to": "someday"}, "must be a date like"),
        ({"extended_to": (due + timedelta(days=1)).isoformat()}, "cannot be in the past"),
        (
            {"extended_to": (today(settings) + timedelta(days=400)).isoformat()},
            "a year from today at most",
        ),
        ({"reason": "Leave\x00"}, "control character"),
    ]:
        answer = await post(client, path, {**form, **bad}, token_from=path)
        assert answer.status_code == 400 and message in answer.text, answer.text[-2000:]
    assert await db.scalar(select(func.count()).select_from(RequirementExtension)) == 0

    saved = await post(client, path, form, token_from=path)
    assert "The requirement is extended" in saved.text and "(extended)" in saved.text
    row = await first_course()
    assert row.due_on == due + timedelta(days=90) and row.extended and row.first_due_on == due
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "requirement.extended"))
    assert event is not None and event.after["reason"] == "On leave from March to May."
    # The same form again (a second tab, a second admin at once) changes nothing.
    again = await post(
        client,
        path,
        {**form, "extended_to": (due + timedelta(days=120)).isoformat()},
        token_from=path,
    )
    assert again.status_code == 409 and "someone changed it" in again.text
    row = await first_course()
    assert row.due_on == due + timedelta(days=90)
    # Extending the extended date again is one row, moved on.
    later = {
        **form,
        "seen": row.due_on.isoformat(),
        "extended_to": (due + timedelta(days=150)).isoformat(),
    }
    await post(client, path, later, token_from=path)
    assert await db.scalar(select(func.count()).select_from(RequirementExtension)) == 1
    row = await first_course()
    assert row.due_on == due + timedelta(days=150)


async def test_the_report_costs_the_same_few_statements_for_many_people(
    client, db, settings, courses, people, tmp_path, statements
):
    await write_plans(db, tmp_path, {"new": NEW_WORKER, "refresher": REFRESHER})
    hired = times.add_months(today(settings), -5)
    for n in range(3):
        await hire(db, settings, f"few{n}@example.org", hired)
    await sign_in(client, "admin@example.org")
    path = "/admin/compliance?classification=social_worker"
    await client.get(path)
    # The person, the revision, the open rows, the met rows, the titles, the plans and the
    # counties (the totals are kept; a page of one kind of row skips the other's statement).
    few = await count(statements, client.get(path))
    assert few == 7
    home = await count(statements, client.get("/"))
    for n in range(30):
        await hire(db, settings, f"many{n}@example.org", hired + timedelta(days=n))
    await client.get(path)  # the new people: the totals are counted again, once
    assert await count(statements, client.get(path)) == few - 1  # a page of open ones only
    assert await count(statements, client.get(path + "&page=2")) <= few
    assert await count(statements, client.get("/")) == home


async def test_the_report_keeps_its_totals_until_a_requirement_changes(
    client, db, settings, courses, people, tmp_path, statements
):
    """Counting every requirement took 10 ms of each page: a worker keeps the totals while
    the requirements' revision stands, and counts again once any change raises it."""
    await write_plans(db, tmp_path, {"new": NEW_WORKER})
    hired = times.add_months(today(settings), -5)
    await hire(db, settings, "first@example.org", hired)
    await sign_in(client, "admin@example.org")

    def counted() -> bool:
        return any("count(" in s.lower() and "group by" in s.lower() for s in statements)

    def total(page: str) -> str:
        found = re.search(r"<td>([\d,]+)</td></tr></tbody>", page)
        assert found, page
        return found.group(1)

    first = await client.get("/admin/compliance")
    statements.clear()
    again = await client.get("/admin/compliance")
    assert not counted() and total(again.text) == total(first.text) == "2"
    await hire(db, settings, "second@example.org", hired)  # a change in another transaction
    statements.clear()
    after = await client.get("/admin/compliance")
    assert counted() and total(after.text) == "4"
    # Another filter is counted on its own, and kept on its own.
    assert total((await client.get("/admin/compliance?status=overdue")).text) == "2"
    statements.clear()
    assert total((await client.get("/admin/compliance")).text) == "4" and not counted()


async def test_a_revision_row_is_made_when_missing(db):
    await db.execute(delete(Revision))
    assert await revision(db, "requirements") == 0
    await bump_revision(db, "requirements")
    await bump_revision(db, "requirements")
    assert await revision(db, "requirements") == 2


# --- reminders -------------------------------------------------------------------------


def run_reminders(settings) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
    env["LMS_DATABASE_URL"] = settings.database_url
    return subprocess.run(
        [sys.executable, "-m", "lms.cli", "reminders", "send"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


async def outbox_rows(db) -> list[OutboxMessage]:
    fresh = select(OutboxMessage).order_by(OutboxMessage.id)
    return list((await db.scalars(fresh.execution_options(populate_existing=True))).all())


async def test_reminders_are_sent_once_per_due_date_and_never_once_met(
    client, db, settings, courses, people, tmp_path
):
    await write_plans(db, tmp_path, {"new": NEW_WORKER})
    now = today(settings)
    boss = await make_person(db, settings, "boss@example.org")
    # Overdue on the first course; the second not due for months.
    late = await hire(
        db, settings, "late@example.org", times.add_months(now, -4), supervisor_id=boss.id
    )
    # Due in 10 days on the first course.
    soon = await hire(
        db, settings, "soon@example.org", times.add_months(now, -3) + timedelta(days=10)
    )
    await hire(db, settings, "calm@example.org", now)  # nothing due for 3 months

    first, second = await asyncio.gather(
        asyncio.to_thread(run_reminders, settings), asyncio.to_thread(run_reminders, settings)
    )
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    rows = await outbox_rows(db)
    kinds = sorted((m.kind, m.to_address) for m in rows)
    assert kinds == [
        ("requirement_due", "soon@example.org"),
        ("requirement_overdue", "late@example.org"),
        ("team_overdue", "boss@example.org"),
    ]  # two senders at once, each once
    digest = next(m for m in rows if m.kind == "team_overdue")
    assert "Late: Test Course, due" in digest.text_body
    due = next(m for m in rows if m.kind == "requirement_due")
    assert "10 days" in due.subject and "New social worker" in due.text_body
    again = run_reminders(settings)
    assert "Queued 0 reminder(s) of required training" in again.stdout
    assert len(await outbox_rows(db)) == 3

    # Completing the course before the reminder goes out cancels it, and nothing new comes.
    await complete(db, settings, soon, "first-course")
    cancelled = next(m for m in await outbox_rows(db) if m.kind == "requirement_due")
    assert cancelled.status == "cancelled" and "met" in cancelled.last_error
    run_reminders(settings)
    mine = [m for m in await outbox_rows(db) if m.to_address == "soon@example.org"]
    assert [m.kind for m in mine if m.kind.startswith("requirement")] == ["requirement_due"]

    # An extension gives a new due date: its own reminder when that comes due, not now.
    row = await db.scalar(
        select(Requirement).where(
            Requirement.user_id == late.id, Requirement.course_slug == "first-course"
        )
    )
    await compliance.extend(
        db,
        settings.zone,
        boss,
        late,
        compliance.ExtensionForm(
            row.plan_id, "first-course", row.due_on, now + timedelta(days=45), "Leave."
        ),
    )
    await db.commit()
    overdue = next(m for m in await outbox_rows(db) if m.kind == "requirement_overdue")
    assert overdue.status == "cancelled"  # it was queued for the old date, not yet sent
    assert "Queued 0 reminder(s)" in run_reminders(settings).stdout


async def test_report_pages_run_from_the_open_requirements_into_the_met_ones(
    client, db, settings, courses, people, tmp_path
):
    await write_plans(db, tmp_path, {"new": NEW_WORKER})
    now = today(settings)
    for n in range(3):
        person = await hire(db, settings, f"p{n}@example.org", times.add_months(now, -n - 1))
        if n == 1:
            await complete(db, settings, person, "first-course")
    filters = compliance.ReportFilters()
    totals = await compliance.status_totals(db, filters, now)
    opened = sum(totals.values()) - totals["met"]
    everything = await compliance.report(db, filters, now)
    assert [r.status for r in everything][-1] == "met" and opened == len(everything) - 1
    paged = []
    for offset in range(0, len(everything), 2):
        paged += await compliance.report(db, filters, now, 2, offset, opened)
    assert [(r.user_id, r.course) for r in paged] == [(r.user_id, r.course) for r in everything]
    due = [r.due_on for r in everything if r.status != "met"]
    assert due == sorted(due)  # open ones by due date: the most urgent first
