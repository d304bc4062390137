"""The format's second edition for practice: live sessions as written, skills, field activities.

Each valid form loads into the course definition, survives being stored and read back (a
version's definition is kept as JSON), and counts toward the hours a course may claim; each
broken one is refused with `file:line: field: message`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lms.catalog.definition import course_from_json
from lms.catalog.validate import check_catalog, check_course
from tests.course_factory import COURSE_YAML, write_course


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # problem paths are shown relative to the working folder


SESSIONS = """\
live_sessions:
  - id: opening
    title: Opening the meeting
    minutes: 120
    segments:
      - title: Welcome and purpose
        minutes: 15
      - title: Practising the three questions
        minutes: 60
        module: first
        objective: 1
        materials: |
          Hand out the **mapping template**; pairs take turns as worker and parent.
  - id: follow-up
    title: Follow-up clinic
    minutes: 60
    required: false
skills:
  - id: open-meeting
    title: Opening a family meeting
    session: opening
    required: true
    criteria:
      - id: purpose
        text: States the purpose in plain language
        levels:
          - {score: 1, label: Not yet}
          - {score: 2, label: Partly}
          - {score: 3, label: Fully, description: "Purpose, agenda and ground rules"}
      - id: strengths
        text: Names something that is working well
        levels:
          - {score: 0, label: Absent}
          - {score: 2, label: Present}
activities:
  - map-a-case
"""

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
---

# Map one of your cases

With your supervisor's agreement, map a case you carry with the family.
"""

PRACTICE = {
    "course.yaml": COURSE_YAML.replace("hours: 2", "hours: 7.5") + SESSIONS,
    "activities/map-a-case.md": ACTIVITY,
}


def problems_of(tmp_path: Path, changes: dict[str, str | None]) -> list[str]:
    write_course(tmp_path / "courses", changes=changes)
    return [str(p) for p in check_catalog(Path("courses")).problems]


def test_sessions_skills_and_activities_load_and_survive_storage(tmp_path):
    loaded = check_course(write_course(tmp_path, changes=PRACTICE))
    assert loaded.ok, loaded.problems
    course = loaded.course
    opening, follow_up = course.sessions
    assert (opening.id, opening.minutes, opening.required) == ("opening", 120, True)
    assert follow_up.required is False and follow_up.segments == ()
    assert course.live_sessions == 1  # the required ones: completion counts these
    practice = opening.segments[1]
    assert (practice.module, practice.objective) == ("first", 1)
    assert "<strong>mapping template</strong>" in practice.materials_html
    [skill] = course.skills
    assert skill.session == "opening" and skill.required
    # By default a pass is every criterion at its second-lowest level: 2 + 2.
    assert skill.pass_score == 4
    assert [lv.score for lv in skill.criteria[0].levels] == [1, 2, 3]
    [activity] = course.activities
    assert (activity.evidence, activity.signed_off_by, activity.after) == (
        "both",
        "supervisor",
        "first",
    )
    assert activity.required and activity.rubric[0].id == "balance"
    assert "<h1>" not in activity.instructions_html  # the title heading is not repeated
    assert "supervisor&#x27;s agreement" in activity.instructions_html or (
        "supervisor's agreement" in activity.instructions_html
    )
    assert course_from_json(course.to_json()) == course


def test_a_first_edition_definition_without_the_new_fields_reads_back(tmp_path):
    course = check_course(write_course(tmp_path)).course
    stored = course.to_json()
    for key in ("sessions", "skills", "activities"):
        del stored[key]  # as a version stored before the second edition holds it
    again = course_from_json(stored)
    assert again == course and again.sessions == () and again.activities == ()


def test_sessions_and_activities_count_toward_the_hours(tmp_path):
    # 180 module minutes + 180 of sessions + 90 of the activity = 450 minutes: 7.5 hours.
    assert problems_of(tmp_path, PRACTICE) == []
    over = {**PRACTICE, "course.yaml": PRACTICE["course.yaml"].replace("hours: 7.5", "hours: 7.75")}
    [problem] = problems_of(tmp_path, over)
    assert problem.startswith("courses/test-course/course.yaml:4: hours: is 7.75, but the course")


def broken(old: str, new: str, where: str = "course.yaml") -> dict[str, str | None]:
    text = PRACTICE[where]
    assert old in text, old
    return {**PRACTICE, where: text.replace(old, new, 1)}


BROKEN = [
    (
        broken("minutes: 15\n", "minutes: 75\n"),
        "course.yaml:14: live_sessions[0].segments: the segments add up to 135 minutes, more "
        "than the session's 120",
    ),
    (
        broken("module: first\n", "module: third\n"),
        "live_sessions[0].segments[1].module: no module 'third' in this course",
    ),
    (
        broken("objective: 1\n", "objective: 4\n"),
        "live_sessions[0].segments[1].objective: module 'first' has 1 objective, so there is no objective 4",
    ),
    (
        broken("  - id: follow-up", "  - id: opening"),
        "live_sessions[1].id: live session 'opening' is listed twice",
    ),
    (
        broken("minutes: 60\n    required", "minutes: 5\n    required"),
        "live_sessions[1].minutes: must be between 15 and 600",
    ),
    (
        broken("    title: Follow-up clinic\n", "    title: Follow-up clinic\n    room: 4\n"),
        "live_sessions[1].room: unknown field 'room'",
    ),
    (
        broken("session: opening", "session: closing"),
        "skills[0].session: 'closing' is not a live session id",
    ),
    (
        broken("          - {score: 2, label: Partly}", "          - {score: 1, label: Partly}"),
        "skills[0].criteria[0].levels[1].score: score 1 is given twice",
    ),
    (
        broken("          - {score: 0, label: Absent}\n", ""),
        "skills[0].criteria[1].levels: must be a list of 2 to 5 levels",
    ),
    (
        broken(
            "    required: true\n    criteria:", "    required: true\n    pass: 9\n    criteria:"
        ),
        "skills[0].pass: must be above the lowest total (1) and at most the highest (5) (found 9)",
    ),
    (
        broken("  - map-a-case", "  - map-a-place"),
        "activities[0]: activities/map-a-place.md does not exist",
    ),
    (
        broken("evidence: both", "evidence: video", "activities/map-a-case.md"),
        "map-a-case.md:5: evidence: must be one of reflection, file, both",
    ),
    (
        broken("after: first", "after: last", "activities/map-a-case.md"),
        "map-a-case.md:6: after: 'last' is not a module",
    ),
    (
        broken("minutes: 90", "minutes: 3", "activities/map-a-case.md"),
        "map-a-case.md:4: minutes: must be between 5 and 2400",
    ),
    (
        broken("id: map-a-case", "id: map-it", "activities/map-a-case.md"),
        "map-a-case.md:2: id: id 'map-it' must equal the file name",
    ),
    (
        broken(
            "With your supervisor's agreement, map a case you carry with the family.\n",
            "",
            "activities/map-a-case.md",
        ),
        "map-a-case.md:14: body: write the instructions",
    ),
]


@pytest.mark.parametrize("changes,expected", BROKEN)
def test_each_broken_practice_field_gets_its_own_message(tmp_path, changes, expected):
    problems = problems_of(tmp_path, changes)
    assert any(expected in p for p in problems), problems


def test_the_number_form_still_means_required_sessions_without_agendas(tmp_path):
    changes = {"course.yaml": COURSE_YAML + "live_sessions: 2\n"}
    course = check_course(write_course(tmp_path, changes=changes)).course
    assert course.live_sessions == 2 and course.sessions == ()
    bad = {"course.yaml": COURSE_YAML + "live_sessions: []\n"}
    assert any(
        "live_sessions: must be a list of at least one session" in p
        for p in problems_of(tmp_path, bad)
    )


async def test_the_course_pages_show_sessions_skills_and_activities(client, db, tmp_path, people):
    from tests.conftest import add_courses, sign_in

    await add_courses(db, tmp_path / "courses", {"practice": PRACTICE})
    await db.commit()
    await sign_in(client, "learner@example.org")
    page = (await client.get("/courses/practice")).text
    assert "Live session: Opening the meeting" in page and "120 min" in page
    assert "Follow-up clinic" in page and "optional" in page
    assert "Field activity: Map one of your cases" in page
    assert "signed off by your supervisor" in page
    await sign_in(client, "admin@example.org")
    admin = (await client.get("/admin/courses/practice")).text
    assert "Opening a family meeting (2 criteria, pass 4, required)" in admin
    assert "Map one of your cases (90 min, signed off by the supervisor)" in admin
