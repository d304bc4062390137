"""Field activities: the learner sends work done on the job, the supervisor returns it or
signs it off, every step is kept, and a sign-off counts toward completion."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta

from sqlalchemy import func, select, update

from lms.activities import service
from lms.activities.models import ActivityFile, ActivityStep, FieldActivity
from lms.audit import AuditEvent
from lms.learning import service as learning
from lms.learning.models import COMPLETED, Enrollment
from lms.mail.models import OutboxMessage
from tests.conftest import csrf_token, make_person, post, sign_in
from tests.course_factory import COURSE_YAML

ACTIVITY = """\
---
id: map-a-case
title: Map one of your cases
minutes: 90
evidence: both
after: first
rubric:
  - id: balance
    text: Worries and strengths are both in behavioural detail
    levels:
      - {score: 1, label: Not yet}
      - {score: 2, label: Done}
  - id: voice
    text: The family's own words are there
    levels:
      - {score: 1, label: Not yet}
      - {score: 2, label: Partly}
      - {score: 3, label: Fully}
---

# Map one of your cases

With your supervisor's agreement, map a case you carry with the family.
"""

REFLECT = """\
---
id: reflect
title: Reflect on a visit
minutes: 30
---

Write what went well in one home visit.
"""

COURSES = {
    "practice": {
        "course.yaml": COURSE_YAML.replace("hours: 2", "hours: 4")
        + "activities:\n  - map-a-case\n",
        "activities/map-a-case.md": ACTIVITY,
    },
    "reflective": {
        "course.yaml": COURSE_YAML.replace("title: Test Course", "title: Reflective Course")
        + "activities:\n  - reflect\n",
        "activities/reflect.md": REFLECT,
    },
}

PDF = b"%PDF-1.4\n% a de-identified case map\n"
PAGE = "/courses/practice/activities/map-a-case"


async def _ready(db, settings, courses, people, supervised=True) -> Enrollment:
    """The learner enrolled in the practice course with its first module done."""
    learner = people["learner"]
    if supervised:
        learner.supervisor_id = people["learner2"].id
    enrollment, _ = await learning.enroll(db, learner, courses["practice"])
    await learning.complete_module(db, settings, enrollment, "first")
    await db.commit()
    return enrollment


async def _form(client) -> dict[str, str]:
    """The activity form's hidden fields, as the learner's page gives them."""
    page = (await client.get(PAGE)).text
    revision = re.search(r'name="revision" value="([0-9]+)"', page)
    assert revision is not None, "the page has no form to send"
    return {"_csrf_token": csrf_token(page), "revision": revision.group(1)}


async def _send(client, reflection="I mapped the Ruiz case with the mother.", file=None, form=None):
    data = {**(form or await _form(client)), "reflection": reflection}
    files = {"file": file or ("case-map.pdf", PDF, "application/pdf")}
    return await client.post(PAGE, data=data, files=files)


async def _decide(client, record_id, decision, revision, comment="", scores=None):
    return await post(
        client,
        f"/sign-offs/{record_id}",
        {
            "decision": decision,
            "comment": comment,
            "revision": str(revision),
            **{f"score-{k}": str(v) for k, v in (scores or {}).items()},
        },
    )


async def _record(db) -> FieldActivity:
    db.expire_all()
    record = await db.scalar(select(FieldActivity))
    assert record is not None
    return record


async def _mail(db, kind: str) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
    return list((await db.scalars(query)).all())


async def test_send_return_send_again_sign_off_and_complete(client, db, settings, courses, people):
    learner_id, supervisor_id = people["learner"].id, people["learner2"].id
    enrollment = await _ready(db, settings, courses, people)
    await learning.complete_module(db, settings, enrollment, "second")
    await db.commit()
    await sign_in(client, "learner@example.org")
    course_page = await client.get("/courses/practice")
    assert f'href="{PAGE}"' in course_page.text and "Not sent yet" in course_page.text
    page = await client.get(PAGE)
    assert (
        "Map one of your cases" in page.text
        and f"It goes to {people['learner2'].name}" in page.text
    )

    sent = await _send(client)
    assert sent.status_code == 200 and "Your work has been sent for sign-off" in sent.text
    record = await _record(db)
    assert (record.status, record.revision, record.reviewer) == ("submitted", 1, "supervisor")
    [request] = await _mail(db, "activity_submitted")
    assert request.to_address == "learner2@example.org"
    assert f"/sign-offs/{record.id}" in request.text_body
    await db.refresh(enrollment)
    assert enrollment.status == "active"  # modules done, but the sign-off is still owed

    # The supervisor finds it in the queue, scores it and returns it with a comment.
    await post(client, "/sign-out", {}, token_from="/")
    await sign_in(client, "learner2@example.org")
    queue = await client.get("/sign-offs")
    assert f'href="/sign-offs/{record.id}"' in queue.text and "Map one of your cases" in queue.text
    review = await client.get(f"/sign-offs/{record.id}")
    assert "I mapped the Ruiz case" in review.text and "case-map.pdf" in review.text
    returned = await _decide(
        client, record.id, "return", 1, "Add the grandmother's words.", {"balance": 2}
    )
    assert "The activity is returned" in returned.text
    record = await _record(db)
    assert (record.status, record.revision) == ("returned", 2)
    [told] = await _mail(db, "activity_decided")
    assert told.to_address == "learner@example.org" and "grandmother" in told.text_body

    # The learner sees the comment, sends again; the supervisor signs off.
    await post(client, "/sign-out", {}, token_from="/")
    await sign_in(client, "learner@example.org")
    again_page = await client.get(PAGE)
    assert "Add the grandmother" in again_page.text and "Send it again" in again_page.text
    again = await _send(client, "Now with the grandmother's words.")
    assert again.status_code == 200
    record = await _record(db)
    assert (record.status, record.revision) == ("submitted", 3)
    assert len(await _mail(db, "activity_submitted")) == 2

    await post(client, "/sign-out", {}, token_from="/")
    await sign_in(client, "learner2@example.org")
    done = await _decide(client, record.id, "sign_off", 3, "Well done.", {"balance": 2, "voice": 3})
    assert "The activity is signed off" in done.text
    record = await _record(db)
    assert (record.status, record.scores) == ("signed_off", {"balance": 2, "voice": 3})
    await db.refresh(enrollment)
    assert enrollment.status == COMPLETED  # the sign-off was the last thing owed

    steps = (await db.scalars(select(ActivityStep).order_by(ActivityStep.id))).all()
    assert [(s.kind, s.revision, s.by_id) for s in steps] == [
        ("submitted", 1, learner_id),
        ("returned", 2, supervisor_id),
        ("submitted", 3, learner_id),
        ("signed_off", 4, supervisor_id),
    ]
    actions = (await db.scalars(select(AuditEvent.action).order_by(AuditEvent.id))).all()
    assert [a for a in actions if a.startswith("activity.")] == [
        "activity.submit",
        "activity.return",
        "activity.submit",
        "activity.sign_off",
    ]


async def test_a_double_sign_off_records_one_and_a_late_second_decision_is_refused(
    client, db, settings, courses, people
):
    await _ready(db, settings, courses, people)
    await sign_in(client, "learner@example.org")
    form = await _form(client)
    await _send(client, form=form)
    again = await _send(client, form=form)  # a double click on "Send" sends one
    assert again.status_code == 200 and "Waiting for sign-off" in again.text
    assert await db.scalar(select(func.count()).select_from(ActivityStep)) == 1
    record = await _record(db)
    await post(client, "/sign-out", {}, token_from="/")
    await sign_in(client, "learner2@example.org")
    scores = {"balance": 2, "voice": 2}
    first = await _decide(client, record.id, "sign_off", 1, scores=scores)
    second = await _decide(client, record.id, "sign_off", 1, scores=scores)
    assert first.status_code == second.status_code == 200
    assert await db.scalar(select(func.count()).select_from(ActivityStep)) == 2
    assert len(await _mail(db, "activity_decided")) == 1
    late = await _decide(client, record.id, "return", 1, "Change it.")
    assert late.status_code == 409 and "already signed off this submission" in late.text
    assert (await _record(db)).status == "signed_off"
    assert await db.scalar(select(func.count()).select_from(ActivityStep)) == 2


async def test_bad_decisions_are_refused_and_change_nothing(client, db, settings, courses, people):
    await _ready(db, settings, courses, people)
    await sign_in(client, "learner@example.org")
    await _send(client)
    record = await _record(db)
    await post(client, "/sign-out", {}, token_from="/")

    # Someone who is not the reviewer, even a trainer or an admin, cannot decide.
    for email in ("trainer@example.org", "admin@example.org"):
        await sign_in(client, email)
        refused = await _decide(client, record.id, "sign_off", 1, scores={"balance": 2, "voice": 2})
        assert refused.status_code in (403, 404), email
        await post(client, "/sign-out", {}, token_from="/")

    await sign_in(client, "learner2@example.org")
    for scores, comment, decision, message in [
        ({"balance": 7, "voice": 2}, "", "sign_off", "“7” is not a level of"),
        ({"balance": 2}, "", "sign_off", "Score “The family&#39;s own words are there”"),
        ({}, "", "return", "a returned activity needs a comment"),
        ({}, "x", "maybe", "Choose to sign off or to return"),
    ]:
        refused = await _decide(client, record.id, decision, 1, comment, scores)
        assert refused.status_code == 400 and message in refused.text, message
    record = await _record(db)
    assert (record.status, record.revision) == ("submitted", 1)
    assert await db.scalar(select(func.count()).select_from(ActivityStep)) == 1


async def test_uploads_are_checked_from_their_bytes(client, db, settings, courses, people):
    await _ready(db, settings, courses, people)
    await sign_in(client, "learner@example.org")
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    xlsx = io.BytesIO()
    with zipfile.ZipFile(xlsx, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    big = b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024)
    for file, message in [
        (("run-me.pdf", b"MZ\x90\x00 an executable", "application/pdf"), "is named as a PDF"),
        (("sheet.docx", xlsx.getvalue(), "application/octet-stream"), "is named as a Word"),
        (("photo.png", b"\xff\xd8\xff\xe0 a jpeg", "image/png"), "is named as a PNG"),
        (("notes.txt", b"plain text", "text/plain"), "is not a PDF, Word (DOCX), PNG or JPEG"),
        (("huge.pdf", big, "application/pdf"), "the largest file is 10 MB"),
        (("empty.pdf", b"", "application/pdf"), "is empty"),
    ]:
        refused = await _send(client, file=file)
        assert refused.status_code == 400 and message in refused.text, file[0]
        assert "I mapped the Ruiz case" in refused.text  # the reflection is not lost
    assert await db.scalar(select(func.count()).select_from(FieldActivity)) == 0
    assert await db.scalar(select(func.count()).select_from(ActivityFile)) == 0

    sent = await _send(client, file=("C:\\Users\\me\\My Map.docx", docx.getvalue(), "x/y"))
    assert sent.status_code == 200
    stored = await db.scalar(select(ActivityFile))
    assert stored is not None and stored.name == "My-Map.docx"
    assert stored.media_type.endswith("wordprocessingml.document")


async def test_only_the_learner_reviewer_and_admins_see_the_work(
    client, db, settings, courses, people
):
    await _ready(db, settings, courses, people)
    await sign_in(client, "learner@example.org")
    await _send(client)
    record = await _record(db)
    stored = await db.scalar(select(ActivityFile))
    assert stored is not None
    file_path = f"/activity-files/{stored.id}/{stored.name}"
    mine = await client.get(file_path)
    assert mine.status_code == 200 and mine.content == PDF
    assert mine.headers["content-type"].startswith("application/pdf")
    assert "attachment" in mine.headers["content-disposition"]
    assert (await client.get(f"/sign-offs/{record.id}")).status_code == 404  # not a reviewer
    await post(client, "/sign-out", {}, token_from="/")

    await make_person(db, settings, "other.supervisor@example.org")
    for email in ("trainer@example.org", "other.supervisor@example.org"):
        await sign_in(client, email)
        assert (await client.get(f"/sign-offs/{record.id}")).status_code == 404, email
        assert (await client.get(file_path)).status_code == 404, email
        queue = await client.get("/sign-offs")
        assert "Nothing is waiting for your sign-off" in queue.text, email
        assert (await client.get(PAGE)).status_code == 403, email  # not enrolled
        await post(client, "/sign-out", {}, token_from="/")

    await sign_in(client, "admin@example.org")
    seen = await client.get(f"/sign-offs/{record.id}")
    assert seen.status_code == 200 and "I mapped the Ruiz case" in seen.text
    assert "Your decision" not in seen.text  # an admin reads; the supervisor decides
    assert (await client.get(file_path)).content == PDF
    await post(client, "/sign-out", {}, token_from="/")
    assert (await client.get(file_path, follow_redirects=False)).status_code == 303


async def test_a_learner_without_a_supervisor_is_told_and_nothing_is_sent(
    client, db, settings, courses, people
):
    await _ready(db, settings, courses, people, supervised=False)
    await sign_in(client, "learner@example.org")
    page = await client.get(PAGE)
    assert "no supervisor is recorded for you yet" in page.text
    assert 'name="reflection"' not in page.text
    token = csrf_token(page.text)
    data = {"_csrf_token": token, "reflection": "Sent anyway", "revision": "0"}
    files = {"file": ("map.pdf", PDF, "application/pdf")}
    refused = await client.post(PAGE, data=data, files=files)
    assert refused.status_code == 400 and "no supervisor is recorded" in refused.text
    assert await db.scalar(select(func.count()).select_from(FieldActivity)) == 0


async def test_an_activity_opens_when_its_module_is_complete(client, db, settings, courses, people):
    people["learner"].supervisor_id = people["learner2"].id
    await learning.enroll(db, people["learner"], courses["practice"])
    await db.commit()
    await sign_in(client, "learner@example.org")
    page = await client.get(PAGE)
    assert "opens once the module it follows is complete" in page.text
    token = csrf_token((await client.get("/courses/practice")).text)
    data = {"_csrf_token": token, "reflection": "Too early", "revision": "0"}
    files = {"file": ("map.pdf", PDF, "application/pdf")}
    early = await client.post(PAGE, data=data, files=files)
    assert early.status_code == 403 and "opens once the module" in early.text
    assert await db.scalar(select(func.count()).select_from(FieldActivity)) == 0


async def test_a_reflection_only_activity_takes_no_file(client, db, settings, courses, people):
    people["learner"].supervisor_id = people["learner2"].id
    await learning.enroll(db, people["learner"], courses["reflective"])
    await db.commit()
    await sign_in(client, "learner@example.org")
    path = "/courses/reflective/activities/reflect"
    page = await client.get(path)
    assert 'type="file"' not in page.text
    token = csrf_token(page.text)
    files = {"file": ("map.pdf", PDF, "application/pdf")}
    data = {"_csrf_token": token, "reflection": "It went well.", "revision": "0"}
    refused = await client.post(path, data=data, files=files)
    assert refused.status_code == 400 and "a written reflection only" in refused.text
    blank = await client.post(path, data={**data, "reflection": "  "})
    assert blank.status_code == 400 and "Write your reflection" in blank.text
    long = await client.post(path, data={**data, "reflection": "x" * 5001})
    assert long.status_code == 400 and "the most is 5,000" in long.text
    nul = await client.post(path, data={**data, "reflection": "a\x00b"})
    assert nul.status_code == 400 and "control character" in nul.text
    assert await db.scalar(select(func.count()).select_from(FieldActivity)) == 0
    sent = await client.post(path, data=data)
    assert sent.status_code == 200 and "Waiting for sign-off" in sent.text


async def test_waiting_sign_offs_remind_the_reviewer_until_decided(
    client, db, settings, courses, people
):
    await _ready(db, settings, courses, people)
    await sign_in(client, "learner@example.org")
    await _send(client)
    record = await _record(db)
    now = record.submitted_at
    assert await service.queue_signoff_reminders(db, settings, now + timedelta(days=2)) == 0
    assert await service.queue_signoff_reminders(db, settings, now + timedelta(days=3)) == 1
    assert await service.queue_signoff_reminders(db, settings, now + timedelta(days=4)) == 0
    await db.commit()
    [reminder] = await _mail(db, "activity_waiting")
    assert reminder.to_address == "learner2@example.org" and "waited 3 days" in reminder.text_body

    # Signed off before the reminder went out: it is not sent, and no more are queued.
    await post(client, "/sign-out", {}, token_from="/")
    await sign_in(client, "learner2@example.org")
    await _decide(client, record.id, "sign_off", 1, scores={"balance": 2, "voice": 2})
    db.expire_all()
    [reminder] = await _mail(db, "activity_waiting")
    assert reminder.status == "cancelled"
    assert await service.queue_signoff_reminders(db, settings, now + timedelta(days=8)) == 0


async def test_my_team_shows_what_waits_for_sign_off(client, db, settings, courses, people):
    await _ready(db, settings, courses, people)
    await sign_in(client, "learner@example.org")
    await _send(client)
    await post(client, "/sign-out", {}, token_from="/")
    await sign_in(client, "learner2@example.org")
    team = await client.get("/team")
    assert "1 waiting for your sign-off" in team.text and 'href="/sign-offs"' in team.text
    await db.execute(update(FieldActivity).values(status="signed_off"))
    await db.commit()
    assert "waiting for your sign-off" not in (await client.get("/team")).text


async def test_the_trainer_sees_who_has_no_supervisor(client, db, courses, people):
    from tests.test_cohorts import add, new_cohort

    people["learner"].supervisor_id = people["learner2"].id
    await db.commit()
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, courses)
    await add(client, cohort_id, "learner@example.org")
    await add(client, cohort_id, "trainer2@example.org")
    page = await client.get(f"/cohorts/{cohort_id}")
    assert "1 member has no supervisor recorded" in page.text
    assert "Trainer2" in page.text.split("no supervisor recorded")[1].split("</p>")[0]


async def test_a_stale_form_is_refused_not_dropped(client, db, settings, courses, people):
    await _ready(db, settings, courses, people)
    await sign_in(client, "learner@example.org")
    form = await _form(client)
    await _send(client, form=form)
    record = await _record(db)
    await post(client, "/sign-out", {}, token_from="/")
    await sign_in(client, "learner2@example.org")
    await _decide(client, record.id, "return", 1, "Add more detail.")
    await post(client, "/sign-out", {}, token_from="/")
    await sign_in(client, "learner@example.org")
    # The form opened before the return, sent again from an old tab: refused, and said so.
    stale = await _send(
        client, "From the old tab.", form={**(await _form(client)), "revision": "0"}
    )
    assert stale.status_code == 409 and "changed since you opened it" in stale.text
    assert (await _record(db)).status == "returned"
