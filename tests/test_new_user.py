"""What a new learner, trainer or admin meets first: links, confirmations, the catalog, demo."""

from __future__ import annotations

from sqlalchemy import func, select

from lms.accounts.models import User
from lms.audit import AuditEvent
from lms.certificates.models import Certificate
from lms.cli import demo_sign_ins
from lms.cohorts.models import CohortMember
from lms.demo import DEMO_PEOPLE, DEMO_PROGRESS, FRESH_LEARNER
from lms.settings import served_base_url
from tests.conftest import csrf_token, load_courses, post, sign_in
from tests.test_cohorts import COURSES, add, new_cohort  # noqa: F401  (the courses)

# --- 12: the base URL follows the address served in development ----------------------------


def test_the_base_url_follows_the_port_served_when_unset():
    assert served_base_url({}, "127.0.0.1", 8101) == "http://127.0.0.1:8101"
    assert served_base_url({"LMS_BASE_URL": ""}, "0.0.0.0", 8200) == "http://127.0.0.1:8200"  # noqa: S104
    assert served_base_url({}, "::1", 8000) == "http://[::1]:8000"
    # Set, or in production (where it is required and checked), it is left alone.
    assert served_base_url({"LMS_BASE_URL": "https://lms.example.org"}, "127.0.0.1", 1) is None
    assert served_base_url({"LMS_ENV": "production"}, "127.0.0.1", 8101) is None


# --- 15: destructive actions take a confirmation step -------------------------------------


async def test_removing_from_a_roster_asks_first(client, db, courses, people):  # noqa: F811
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    await add(client, cohort_id, "learner@example.org")
    learner = people["learner"].id
    page = await client.get(f"/cohorts/{cohort_id}")
    assert f'href="/cohorts/{cohort_id}/members/{learner}/remove"' in page.text
    # A post without the confirmation (an old page, a stray click) only shows the question.
    one_click = await client.post(
        f"/cohorts/{cohort_id}/members/{learner}/remove",
        data={"_csrf_token": csrf_token(page.text)},
    )
    assert one_click.url.path == f"/cohorts/{cohort_id}/members/{learner}/remove"
    assert "Take Learner (learner@example.org) off the roster" in one_click.text
    assert await db.scalar(select(func.count()).select_from(CohortMember)) == 1
    done = await client.post(
        f"/cohorts/{cohort_id}/members/{learner}/remove",
        data={"_csrf_token": csrf_token(one_click.text), "confirmed": "1"},
    )
    assert done.url.path == f"/cohorts/{cohort_id}" and "taken off the roster" in done.text
    assert await db.scalar(select(func.count()).select_from(CohortMember)) == 0
    gone = await client.get(f"/cohorts/{cohort_id}/members/{learner}/remove")
    assert gone.status_code == 404


async def test_deactivating_an_account_asks_first(client, db, people):
    await sign_in(client, "admin@example.org")
    path = f"/admin/people/{people['learner'].id}"
    page = await client.get(path)
    assert f'href="{path}/deactivate"' in page.text
    one_click = await client.post(
        f"{path}/active", data={"_csrf_token": csrf_token(page.text), "active": "0"}
    )
    assert one_click.url.path == f"{path}/deactivate"
    assert "Deactivate the account of Learner (learner@example.org)?" in one_click.text
    await db.refresh(people["learner"])
    assert people["learner"].active is True
    done = await client.post(
        f"{path}/active",
        data={"_csrf_token": csrf_token(one_click.text), "active": "0", "confirmed": "1"},
    )
    assert "deactivated and signed out everywhere" in done.text
    assert (await db.get(User, people["learner"].id, populate_existing=True)).active is False


async def test_revoking_a_certificate_asks_first_and_takes_the_reason_there(
    client, db, settings, people, tmp_path
):
    from tests.course_factory import write_course
    from tests.test_certificates import complete

    write_course(tmp_path / "courses", "auto-course")
    await load_courses(db, tmp_path / "courses")
    await complete(db, settings, people["learner"], "auto-course")
    certificate = await db.scalar(select(Certificate))
    await sign_in(client, "admin@example.org")
    path = f"/admin/certificates/{certificate.serial}"
    detail = await client.get(path)
    assert f'href="{path}/revoke"' in detail.text and 'name="reason"' not in detail.text
    one_click = await client.post(
        f"{path}/revoke", data={"_csrf_token": csrf_token(detail.text), "reason": "Mistake"}
    )
    assert one_click.url.path == f"{path}/revoke" and 'name="reason"' in one_click.text
    revoked = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "certificate.revoke")
    )
    assert await db.scalar(revoked) == 0
    done = await client.post(
        f"{path}/revoke",
        data={"_csrf_token": csrf_token(one_click.text), "reason": "Mistake", "confirmed": "1"},
    )
    assert done.url.path == path and "has been revoked" in done.text
    assert await db.scalar(revoked) == 1


# --- 17: a missing prerequisite is shown instead of the Enroll button ----------------------


async def test_a_missing_prerequisite_is_shown_instead_of_the_enroll_button(client, db, people):
    await load_courses(db)
    await sign_in(client, "learner@example.org")
    page = await client.get("/courses/supervisor-core")
    assert page.status_code == 200
    assert "first; then you can enroll" in page.text
    assert 'action="/courses/supervisor-core/enroll"' not in page.text
    assert 'href="/courses/sop-intro"' in page.text
    open_course = await client.get("/courses/sop-intro")
    assert 'action="/courses/sop-intro/enroll"' in open_course.text


# --- 21: small ones --------------------------------------------------------------------------


async def test_audiences_are_all_plural_in_the_catalog(client, db, people):
    await load_courses(db)
    await sign_in(client, "learner@example.org")
    catalog = await client.get("/courses")
    assert "for social workers, supervisors" in catalog.text
    assert "social worker," not in catalog.text


async def test_the_full_name_field_is_a_styled_text_input(client, people):
    await sign_in(client, "admin@example.org")
    form = await client.get("/admin/people/new")
    assert '<input id="name" name="name" type="text"' in form.text


def test_make_run_names_every_demo_learner_and_one_fresh_one():
    printed = "\n".join(demo_sign_ins())
    for email, *_ in DEMO_PEOPLE:
        assert email.removesuffix("@example.org") in printed, email
    assert "learner2" in printed and FRESH_LEARNER in printed
    assert FRESH_LEARNER not in DEMO_PROGRESS


async def test_the_fresh_demo_learner_has_started_nothing(db, settings, client):
    from lms.demo import load_demo
    from lms.learning.models import Enrollment

    await load_courses(db)
    await load_demo(db, settings)
    await db.commit()
    fresh = await db.scalar(select(User).where(User.email == FRESH_LEARNER))
    assert fresh is not None
    assert (
        await db.scalar(
            select(func.count()).select_from(Enrollment).where(Enrollment.user_id == fresh.id)
        )
        == 0
    )
    await sign_in(client, FRESH_LEARNER, "sop-demo-2026")
    intro = await client.get("/courses/sop-intro")
    assert 'action="/courses/sop-intro/enroll"' in intro.text
    assert "You are enrolled" in (await post(client, "/courses/sop-intro/enroll")).text
