"""Qualified trainers: recorded by admins, required to run a cohort of a course, overridden
by an admin only with a reason that is shown and audited; lapsing ones listed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from lms.audit import AuditEvent
from lms.cohorts.models import Cohort, CohortTrainer, TrainerQualification
from lms.db import utcnow
from tests.conftest import make_person, post, sign_in

COURSES = {"online": {}}


def _cohort_form(course, trainer_id, **more):
    return {
        "name": "Modoc winter",
        "starts_on": "2027-01-04",
        "ends_on": "2027-03-31",
        f"course_{course.id}": "1",
        f"due_{course.id}": "2027-03-31",
        "trainer": str(trainer_id),
        **more,
    }


async def test_an_unqualified_trainer_cannot_run_a_cohort(client, db, settings, courses, people):
    newcomer = await make_person(db, settings, "new.trainer@example.org", ("trainer",), "Nia New")
    await sign_in(client, "new.trainer@example.org")
    refused = await post(
        client, "/cohorts/new", _cohort_form(courses["online"], newcomer.id), "/cohorts/new"
    )
    assert refused.status_code == 400
    assert "Nia New is not qualified to deliver Test Course (no qualification recorded)" in (
        refused.text
    )
    assert await db.scalar(select(func.count()).select_from(Cohort)) == 0


async def test_admins_record_qualifications_and_see_those_lapsing(
    client, db, settings, courses, people
):
    await sign_in(client, "admin@example.org")
    nia = await make_person(db, settings, "new.trainer@example.org", ("trainer",), "Nia New")
    course = courses["online"]
    today = utcnow().date()
    for change, message in [
        ({"basis": "vibes"}, "Choose the basis"),
        ({"until": (today - timedelta(days=400)).isoformat()}, "“Until” is before “since”"),
        ({"since": "next week"}, "Qualified since must be a date"),
        ({"trainer": str(people["learner"].id)}, "Only people with the trainer role"),
    ]:
        form = {
            "trainer": str(nia.id),
            "course": str(course.id),
            "basis": "observed_delivery",
            "since": (today - timedelta(days=100)).isoformat(),
            "until": (today + timedelta(days=20)).isoformat(),
            **change,
        }
        refused = await post(client, "/admin/qualifications", form, "/admin/qualifications")
        assert refused.status_code == 400 and message in refused.text, message
    mine = select(func.count()).select_from(TrainerQualification)
    assert await db.scalar(mine.where(TrainerQualification.user_id == nia.id)) == 0

    form["trainer"] = str(nia.id)
    saved = await post(client, "/admin/qualifications", form, "/admin/qualifications")
    assert "The qualification is recorded" in saved.text
    lapsing = saved.text.split("Lapsing within 60 days")[1].split("</table>")[0]
    assert "Nia New" in lapsing and " (1)</caption>" in lapsing  # the fixtures have no end
    # Renewing replaces the record, and the audit log keeps both.
    await post(client, "/admin/qualifications", {**form, "until": ""}, "/admin/qualifications")
    assert await db.scalar(mine.where(TrainerQualification.user_id == nia.id)) == 1
    renewed = await client.get("/admin/qualifications")
    assert "Nia New" not in renewed.text.split("Lapsing within 60 days")[1].split("</table>")[0]
    events = await db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "trainer.qualify")
    )
    assert events == 2

    # Nia is qualified now: she can run the cohort.
    await post(client, "/sign-out", {}, token_from="/")
    await sign_in(client, "new.trainer@example.org")
    made = await post(client, "/cohorts/new", _cohort_form(course, nia.id), "/cohorts/new")
    assert made.status_code == 200 and "The cohort has been saved" in made.text


async def test_an_admin_override_needs_a_reason_and_is_shown_and_audited(
    client, db, settings, courses, people
):
    nia = await make_person(db, settings, "new.trainer@example.org", ("trainer",), "Nia New")
    await sign_in(client, "admin@example.org")
    course = courses["online"]
    refused = await post(client, "/cohorts/new", _cohort_form(course, nia.id), "/cohorts/new")
    assert refused.status_code == 400 and "give a reason to override" in refused.text
    reason = "Only trainer in Modoc; co-facilitating with Dana in January."
    made = await post(
        client,
        "/cohorts/new",
        _cohort_form(course, nia.id, override_reason=reason),
        "/cohorts/new",
    )
    assert made.status_code == 200
    assert "Nia New</strong> runs this cohort without a qualification" in made.text
    assert reason in made.text
    row = await db.scalar(select(CohortTrainer).where(CohortTrainer.user_id == nia.id))
    assert row.override_reason == reason and row.override_by_id == people["admin"].id
    event = await db.scalar(
        select(AuditEvent).where(AuditEvent.action == "cohort.qualification_override")
    )
    assert event is not None and event.after == {"trainers": [nia.id], "reason": reason}

    # Nia edits her cohort later: the override holds, and is not audited again.
    await post(client, "/sign-out", {}, token_from="/")
    await sign_in(client, "new.trainer@example.org")
    edited = await post(
        client,
        f"/cohorts/{row.cohort_id}/edit",
        _cohort_form(course, nia.id, name="Modoc winter 2027"),
        f"/cohorts/{row.cohort_id}/edit",
    )
    assert edited.status_code == 200 and reason in edited.text
    overrides = select(func.count()).select_from(AuditEvent)
    assert (
        await db.scalar(overrides.where(AuditEvent.action == "cohort.qualification_override")) == 1
    )


async def test_only_admins_open_the_qualifications(client, courses, people):
    await sign_in(client, "trainer@example.org")
    assert (await client.get("/admin/qualifications")).status_code == 403


async def test_an_edit_keeps_what_the_cohort_had_and_checks_what_it_adds(
    client, db, settings, courses, people, tmp_path
):
    from tests.conftest import add_courses

    # A cohort from before qualifications were kept: its trainer has none for its course.
    nia = await make_person(db, settings, "new.trainer@example.org", ("trainer",), "Nia New")
    await sign_in(client, "admin@example.org")
    reason = "Co-facilitating in January."
    course = courses["online"]
    made = await post(
        client, "/cohorts/new", _cohort_form(course, nia.id, override_reason=reason), "/cohorts/new"
    )
    cohort_id = int(str(made.url).rstrip("/").rsplit("/", 1)[1].split("?")[0])
    await post(client, "/sign-out", {}, token_from="/")
    more = await add_courses(db, tmp_path / "more", {"second": {}}, qualify=False)
    await sign_in(client, "new.trainer@example.org")
    # Renaming is fine; adding a course she is not qualified for is not, even overridden.
    form = _cohort_form(course, nia.id, name="Renamed")
    form[f"course_{more['second'].id}"] = "1"
    refused = await post(client, f"/cohorts/{cohort_id}/edit", form, f"/cohorts/{cohort_id}/edit")
    assert refused.status_code == 400 and "not qualified to deliver" in refused.text
    renamed = await post(
        client,
        f"/cohorts/{cohort_id}/edit",
        _cohort_form(course, nia.id, name="Renamed"),
        f"/cohorts/{cohort_id}/edit",
    )
    assert renamed.status_code == 200 and "Renamed" in renamed.text
