"""Post/redirect/get, everywhere: every form a person can submit answers 303 to a page.

The walk below signs in as the demo academy's people and submits one form of every POST
route, found on the page where a person meets it, as a browser would send it: the form's
own values, the first choice of every question, and the few fields a person types. Each
answer must be a 303 to a page that loads, so that reloading what follows a form never
runs the action again. The route table is the list: a new POST route without a step here
fails the test.
"""

from __future__ import annotations

import random
import re
import shutil
from datetime import date, timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

from sqlalchemy import select, update

from lms.accounts import service as accounts
from lms.accounts.models import User
from lms.activities.models import FieldActivity
from lms.catalog.models import Course
from lms.certificates import service as certificates
from lms.certificates.models import Certificate
from lms.cohorts.models import Attendance, LiveSession
from lms.demo import (
    DEMO_PASSWORD,
    FRESH_LEARNER,
    _advance,
    _field_work,
    _pass,
    _read,
    load_demo,
)
from lms.learning import service as learning
from lms.learning.models import Enrollment, ModuleProgress
from lms.learning.progress import module_target, progress_of
from lms.mail.models import OutboxMessage
from tests.conftest import SHIPPED, load_courses
from tests.course_factory import COURSE_YAML, write_course

# A ZIP of the certificates ticked: a download changes nothing, so it may answer the POST.
DOWNLOADS = {"certificates.admin_zip"}


class _Forms(HTMLParser):
    """The POST forms of a page: action, the values a browser would send as the page stands,
    and each radio group's choices (none is ticked until a person picks one)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post":
            self.forms.append({"actions": [a.get("action", "")], "values": [], "radios": {}})
            return
        if not self.forms or self.forms[-1].get("closed"):
            return
        form, name = self.forms[-1], a.get("name", "")
        if a.get("formaction"):  # a button that sends the same form elsewhere
            form["actions"].append(a["formaction"])
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind == "radio":
                form["radios"].setdefault(name, []).append(a.get("value", "on"))
                if "checked" in a:
                    form["values"].append((name, a.get("value", "on")))
            elif kind == "checkbox":
                if "checked" in a:
                    form["values"].append((name, a.get("value", "on")))
            elif kind not in ("file", "submit", "button"):
                form["values"].append((name, a.get("value", "")))
        elif tag == "select" and name:
            self._select = name
            form["values"].append((name, None))  # the first option unless one is selected
        elif tag == "option" and self._select:
            values = form["values"]
            index = max(i for i, (n, _) in enumerate(values) if n == self._select)
            if values[index][1] is None or "selected" in a:
                values[index] = (self._select, a.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            form["values"].append((name, ""))

    def handle_data(self, data: str) -> None:
        if self._textarea and self.forms:
            name, text = self.forms[-1]["values"][-1]
            self.forms[-1]["values"][-1] = (name, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form" and self.forms:
            self.forms[-1]["closed"] = True


class Walk:
    def __init__(self, client) -> None:
        self.client = client
        self.walked: set[str] = set()
        self.landed = ""  # the page the last redirect led to, as first seen

    async def sign_in(self, email: str, password: str = DEMO_PASSWORD) -> None:
        await self.submit(
            "accounts.sign_in_submit", "/sign-in", {"email": email, "password": password}
        )

    async def submit(
        self,
        name: str,
        page: str,
        fields: dict[str, str | list[str]] | None = None,
        files: dict | None = None,
        **path_parameters: object,
    ) -> str:
        """Submit the form for route `name` found on `page`; return where it led, loaded."""
        action = self.client.app.route_reverse(name, **path_parameters)
        shown = await self.client.get(page)
        assert shown.status_code == 200, (page, shown.status_code)
        parser = _Forms()
        parser.feed(shown.text)
        found = [
            (f, sent)
            for f in parser.forms
            for sent in f["actions"]
            if urlsplit(sent).path == action
        ]
        assert found, f"{page} has no form that posts to {action} ({name})"
        form, sent_to = found[0]
        data: dict[str, list[str]] = {}
        for key, value in form["values"]:
            data.setdefault(key, []).append(value or "")
        for key, choices in form["radios"].items():
            data.setdefault(key, [choices[0]])  # a person picks an answer
        for key, value in (fields or {}).items():
            data[key] = value if isinstance(value, list) else [value]
        response = await self.client.post(sent_to, data=data, files=files, follow_redirects=False)
        if name in DOWNLOADS:
            assert response.status_code == 200, (name, response.status_code)
            assert "attachment" in response.headers["content-disposition"], name
            self.walked.add(name)
            return page
        assert response.status_code == 303, (name, response.status_code, _errors(response.text))
        location = response.headers["location"]
        landed = await self.client.get(location)
        assert landed.status_code == 200, (name, location, landed.status_code)
        assert landed.headers["content-type"].startswith("text/html"), (name, location)
        self.walked.add(name)
        self.landed = landed.text
        return location


async def test_every_post_route_answers_with_a_redirect_to_a_page(client, db, settings, tmp_path):
    root = tmp_path / "courses"
    shutil.copytree(SHIPPED, root)
    # Its second module has no quiz ("Mark as done") and opens without the first.
    write_course(root, "walk-course", {"course.yaml": COURSE_YAML + "sequential: false\n"})
    await load_courses(db, root)
    await load_demo(db, settings)
    # learner1 completes supervisor-core, whose certificates an administrator issues.
    supervisor_core = await db.scalar(select(Course).where(Course.slug == "supervisor-core"))
    learner1 = await db.scalar(select(User).where(User.email == "learner1@example.org"))
    enrolled, _ = await learning.enroll(db, learner1, supervisor_core)
    await db.flush()
    await _advance(db, settings, enrolled, "done", random.Random(1))
    await _field_work(db, settings, enrolled, learner1, "signed off")
    await db.commit()
    people = {u.email: u for u in (await db.scalars(select(User))).all()}
    walk = Walk(client)

    # Before signing in.
    await walk.submit("accounts.forgot_submit", "/account/forgot", {"email": FRESH_LEARNER})
    certificate = await db.scalar(
        select(Certificate).where(Certificate.user_id == people["learner1@example.org"].id)
    )
    pdf = await certificates.pdf_of(db, certificate)
    checked = await walk.submit(
        "certificates.verify_file",
        f"/verify/{certificate.serial}",
        files={"file": ("certificate.pdf", pdf, "application/pdf")},
        serial=certificate.serial,
    )
    assert "is exactly the certificate that was issued" in (await client.get(checked)).text
    token = await accounts.create_token(db, people["learner11@example.org"], "reset")
    await db.commit()
    new_password = "a long new password for the walk"
    await walk.submit(
        "accounts.set_password_submit",
        f"/account/set-password/{token}",
        {"password": new_password, "confirm": new_password},
        token=token,
    )
    await walk.submit("accounts.sign_out", "/")

    # A new learner takes a course from the start.
    await walk.sign_in(FRESH_LEARNER)
    await walk.submit("learning.enroll", "/courses/sop-intro", slug="sop-intro")
    attempt = await walk.submit(
        "quizzes.pretest_start", "/courses/sop-intro/pretest", slug="sop-intro"
    )
    attempt_id = int(attempt.rsplit("/", 1)[1].split("?")[0])
    await walk.submit("quizzes.save", attempt, attempt_id=attempt_id)
    await walk.submit("quizzes.submit", attempt, attempt_id=attempt_id)
    enrollment = await learning.find_enrollment(
        db, people[FRESH_LEARNER].id, (await _course_id(db, "sop-intro"))
    )
    progress = await progress_of(db, enrollment)
    first = progress.course.modules[0]
    rng = random.Random(1)
    await _read(db, enrollment, first.id, first.minutes, rng)  # the course's seat time
    await db.commit()
    await walk.submit(
        "quizzes.module_start",
        f"/courses/sop-intro/modules/{first.id}",
        slug="sop-intro",
        module_id=first.id,
    )
    for module in progress.course.modules:  # the modules passed, as if read and answered
        await _read(db, enrollment, module.id, module.minutes, rng)
        await _pass(db, settings, enrollment, progress.course, module_target(module.id), rng, 1.0)
    await db.commit()
    await walk.submit("quizzes.final_start", "/courses/sop-intro/final", slug="sop-intro")
    await walk.submit("learning.enroll", "/courses/walk-course", slug="walk-course")
    await walk.submit(
        "learning.reading",
        "/courses/walk-course/modules/second",
        slug="walk-course",
        module_id="second",
    )
    await walk.submit(
        "learning.done",
        "/courses/walk-course/modules/second",
        slug="walk-course",
        module_id="second",
    )
    await walk.submit("learning.withdraw", "/courses/walk-course", slug="walk-course")
    await walk.submit("accounts.profile_submit", "/account/profile", {"name": "Fresh Renamed"})
    await walk.submit(
        "accounts.password_submit",
        "/account/password",
        {"current": DEMO_PASSWORD, "password": new_password, "confirm": new_password},
    )
    await walk.submit("accounts.sign_out", "/")

    # A learner who passed the final gives the evaluation.
    await walk.sign_in("learner8@example.org")
    await walk.submit(
        "learning.evaluation_submit", "/courses/sop-intro/evaluation", slug="sop-intro"
    )
    await walk.submit("accounts.sign_out", "/")

    # A learner sends a returned field activity again; the supervisor signs it off.
    await walk.sign_in("learner3@example.org")
    [activity] = progress.course.activities
    activity_page = f"/courses/sop-intro/activities/{activity.id}"
    await walk.submit(
        "activities.submit",
        activity_page,
        {"reflection": "Sent again, with the children's words."},
        slug="sop-intro",
        activity_id=activity.id,
    )
    await walk.submit("accounts.sign_out", "/")
    await walk.sign_in("supervisor@example.org")
    record = await db.scalar(
        select(FieldActivity)
        .join(Enrollment, Enrollment.id == FieldActivity.enrollment_id)
        .where(Enrollment.user_id == people["learner3@example.org"].id)
    )
    await walk.submit(
        "activities.decide",
        f"/sign-offs/{record.id}",
        {"decision": "sign_off"},
        record_id=record.id,
    )
    await walk.submit("accounts.sign_out", "/")

    # A trainer.
    await walk.sign_in("trainer1@example.org")
    intro = await _course_id(db, "sop-intro")
    made = await walk.submit(
        "cohorts.create",
        "/cohorts/new",
        {
            "name": "Walk cohort",
            "starts_on": "2027-01-04",
            "ends_on": "2027-06-30",
            f"course_{intro}": "1",
            f"due_{intro}": "2027-06-30",
        },
    )
    cohort_id = int(urlsplit(made).path.rsplit("/", 1)[1])
    await walk.submit(
        "cohorts.update",
        f"/cohorts/{cohort_id}/edit",
        {"name": "Walk cohort, renamed"},
        cohort_id=cohort_id,
    )
    added = await walk.submit(
        "cohorts.add_member",
        f"/cohorts/{cohort_id}",
        {"email": "walk.new@example.org", "name": "Walk Newcomer"},
        cohort_id=cohort_id,
    )
    # The new account's link is shown once, on the page the redirect leads to; not again.
    assert walk.landed.count("/account/set-password/") == 1
    assert "/account/set-password/" not in (await client.get(added)).text
    preview = await walk.submit(
        "cohorts.roster_upload",
        f"/cohorts/{cohort_id}/roster",
        files={"file": ("roster.csv", b"email,name\nwalk.csv@example.org,Walk Csv\n", "text/csv")},
        cohort_id=cohort_id,
    )
    imported = await walk.submit("cohorts.roster_apply", preview, cohort_id=cohort_id)
    assert walk.landed.count("/account/set-password/") == 1
    again = (await client.get(imported)).text
    assert "/account/set-password/" not in again and "1 new account" in again
    await walk.submit("cohorts.enroll", f"/cohorts/{cohort_id}/enroll", cohort_id=cohort_id)
    member = people["learner1@example.org"].id
    await walk.submit(
        "cohorts.add_member",
        f"/cohorts/{cohort_id}",
        {"email": "learner1@example.org"},
        cohort_id=cohort_id,
    )
    await walk.submit(
        "cohorts.remove_member",
        f"/cohorts/{cohort_id}/members/{member}/remove",
        cohort_id=cohort_id,
        user_id=member,
    )
    live = await db.scalar(select(LiveSession).order_by(LiveSession.id))
    await walk.submit(
        "cohorts.schedule",
        f"/cohorts/{live.cohort_id}",
        {
            "course_session": f"{live.course_id}/case-consultation-webinar",
            "title": "Walk session",
            "starts_at": "2027-02-01T09:00",
            "minutes": "90",
            "place": "Redding training room",
        },
        cohort_id=live.cohort_id,
    )
    session_page = f"/cohorts/{live.cohort_id}/sessions/{live.id}"
    await walk.submit(
        "cohorts.attendance", session_page, cohort_id=live.cohort_id, session_id=live.id
    )
    attendee = await db.scalar(
        select(Attendance.user_id).where(
            Attendance.session_id == live.id, Attendance.present.is_(True)
        )
    )
    await walk.submit(
        "cohorts.skills",
        f"{session_page}/skills/{attendee}",
        cohort_id=live.cohort_id,
        session_id=live.id,
        user_id=attendee,
    )
    await walk.submit(
        "cohorts.fidelity", session_page, cohort_id=live.cohort_id, session_id=live.id
    )
    # The gradebook, on a demo learner with a module done and the final not yet passed.
    done = (
        await db.execute(
            select(Enrollment.cohort_id, Enrollment.user_id, ModuleProgress.module_id)
            .join(ModuleProgress, ModuleProgress.enrollment_id == Enrollment.id)
            .where(
                ModuleProgress.status == "done",
                Enrollment.status == "active",
                Enrollment.cohort_id.is_not(None),
            )
            .order_by(Enrollment.id)
            .limit(1)
        )
    ).one()
    learner_page = f"/cohorts/{done.cohort_id}/learners/{done.user_id}"
    ids = {"cohort_id": done.cohort_id, "user_id": done.user_id}
    why = {"reason": "Walked."}
    await walk.submit("gradebook.grant", learner_page, why, **ids)
    later = (date.today() + timedelta(days=60)).isoformat()
    await walk.submit("gradebook.due_date", learner_page, {**why, "due_on": later}, **ids)
    await walk.submit("gradebook.reopen", learner_page, why, **ids)
    await walk.submit("accounts.sign_out", "/")

    # An administrator.
    await walk.sign_in("admin@example.org")
    await walk.submit("cohorts.qualify", "/admin/qualifications", {"until": "2030-01-31"})
    jordan = people["learner2@example.org"].id  # overdue on the introduction (lms/demo.py)
    await walk.submit(
        "compliance.extend",
        f"/people/{jordan}/requirements",
        {"extended_to": (date.today() + timedelta(days=30)).isoformat(), "reason": "Walked."},
        person_id=jordan,
    )
    await walk.submit(
        "certificates.transcript_issue", f"/people/{jordan}/transcript", person_id=jordan
    )
    shasta = await db.scalar(select(User.county_id).where(User.id == jordan))
    await walk.submit(
        "certificates.admin_transcripts_issue", "/admin/transcripts", {"county": str(shasta)}
    )
    made = await walk.submit(
        "accounts.person_create",
        "/admin/people/new",
        {
            "email": "walk.admin.made@example.org",
            "name": "Walk Made",
            "role_learner": "1",
            "password": "a temporary password",
        },
    )
    person = int(urlsplit(made).path.rsplit("/", 1)[1])
    await walk.submit(
        "accounts.person_update",
        f"/admin/people/{person}",
        {"name": "Walk Renamed"},
        person_id=person,
    )
    await walk.submit(
        "accounts.person_password",
        f"/admin/people/{person}",
        {"password": "a temporary password"},
        person_id=person,
    )
    await walk.submit(
        "accounts.person_active", f"/admin/people/{person}/deactivate", person_id=person
    )
    issued = await walk.submit(
        "certificates.admin_issue", "/admin/certificates", {"enrollment": str(enrolled.id)}
    )
    assert "The certificates have been issued" in (await client.get(issued)).text
    await walk.submit(
        "certificates.admin_zip", "/admin/certificates", {"serial": certificate.serial}
    )
    await walk.submit(
        "certificates.reissue",
        f"/admin/certificates/{certificate.serial}",
        serial=certificate.serial,
    )
    current = await db.scalar(
        select(Certificate).where(
            Certificate.user_id == certificate.user_id, Certificate.serial != certificate.serial
        )
    )
    await walk.submit(
        "certificates.revoke",
        f"/admin/certificates/{current.serial}/revoke",
        {"reason": "Issued in error during the walk"},
        serial=current.serial,
    )
    message = await db.scalar(select(OutboxMessage).order_by(OutboxMessage.id))
    await db.execute(
        update(OutboxMessage).where(OutboxMessage.id == message.id).values(status="failed")
    )
    await db.commit()
    await walk.submit("mail.retry", f"/admin/outbox/{message.id}", message_id=message.id)
    await walk.submit("catalog.admin_sync", "/admin/courses")

    posts = set()
    for route in client.app.routes:
        for method, handler in getattr(route, "route_handler_map", {}).items():
            if method == "POST":
                posts.add((handler[0] if isinstance(handler, tuple) else handler).name)
    assert len(posts) >= 35 and posts - walk.walked == set()


async def _course_id(db, slug: str) -> int:
    return await db.scalar(select(Course.id).where(Course.slug == slug))


def _errors(html: str) -> list[str]:
    return re.findall(r'class="(?:error-summary|field-error)"[^>]*>(.*?)</', html, re.S)
