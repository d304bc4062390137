"""The course format validator: valid courses load; each broken one gets its own message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lms.catalog.validate import check_catalog, check_course
from tests.conftest import shipped_check
from tests.course_factory import COURSE_YAML, FIRST_MODULE, write_course

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # problem paths are shown relative to the working folder


def problems_of(tmp_path: Path, changes: dict[str, str | None]) -> list[str]:
    write_course(tmp_path / "courses", changes=changes)
    check = check_catalog(Path("courses"))
    return [str(p) for p in check.problems]


def test_the_shipped_courses_are_valid():
    check = shipped_check()
    assert [str(p) for p in check.problems] == []
    slugs = {c.slug: c.course for c in check.courses}
    assert set(slugs) == {"sop-intro", "emergency-response", "supervisor-core"}
    intro, er, sup = slugs["sop-intro"], slugs["emergency-response"], slugs["supervisor-core"]
    assert intro.enrollment == "open" and intro.pretest and 6 <= len(intro.modules) <= 7
    assert er.prerequisites == ("sop-intro",) and er.enrollment == "assigned"
    assert er.live_sessions == 2
    assert sup.audience == ("supervisor",) and sup.prerequisites == ("sop-intro",)
    assert sup.certificate.issue == "admin" and sup.certificate.valid_for_months == 24
    for course in (intro, er, sup):
        # Every attempt covers every module: a group each, two drawn from a larger pool.
        final, pretest = course.final, course.pretest_form
        assert course.pretest and final and pretest, course.slug
        modules = [m.id for m in course.modules]
        for form, size in ((final, 3), (pretest, 2)):
            by_id = {q.id: q for q in form.questions}
            groups = [[by_id[i] for i in g.question_ids] for g in form.groups]
            assert [{q.module for q in g} for g in groups] == [{m} for m in modules], form.title
            assert all(g.pick == 2 for g in form.groups), form.title
            assert all(len(g) >= size for g in groups), form.title
            assert all(q.objective for q in form.questions), form.title
        # The pre-test is a parallel form: each item measures what a final item measures.
        measured = {(q.module, q.objective) for q in final.questions}
        assert {(q.module, q.objective) for q in pretest.questions} <= measured, course.slug
        assert not {q.id for q in pretest.questions} & {q.id for q in final.questions}
        assert course.evaluation and len(course.evaluation.questions) >= 5
        for module in course.modules:
            assert module.objectives, module.id
            assert 600 <= module.words <= 1600, (module.id, module.words)
            assert module.resources, module.id
            assert module.quiz and 4 <= len(module.quiz.questions) <= 8, module.id
            assert all(q.explanation_html for q in module.quiz.questions), module.id


def test_a_minimal_course_loads(tmp_path):
    loaded = check_course(write_course(tmp_path))
    assert loaded.ok, loaded.problems
    course = loaded.course
    assert course.enrollment == "open" and course.sequential and not course.pretest
    assert course.certificate.title == "Certificate of Completion"
    assert course.certificate.issue == "automatic"
    first = course.modules[0]
    assert first.quiz.pass_mark == 50 and first.quiz.max_attempts is None
    assert first.quiz.questions[1].answer is True
    assert "<strong>text</strong>" in first.body_html
    assert course.modules[1].quiz is None


def test_every_optional_field_is_accepted(tmp_path):
    changes = {
        "course.yaml": COURSE_YAML.replace("hours: 2", "hours: 2.5").replace(
            "certificate:\n  issuer: Test Academy\n", ""
        )
        + """\
description: |
  A *longer* description with a table:

  | a | b |
  |---|---|
  | 1 | 2 |
audience: [social_worker, supervisor]
enrollment: assigned
prerequisites: []
sequential: false
pretest: true
live_sessions: 3
tags: [mapping, safety]
""",
        "assessments/final.yaml": """\
title: Final
pass_mark: 70
max_attempts: 2
shuffle: true
draw: 2
time_limit_minutes: 30
questions:
  - id: f1
    type: multiple
    prompt: Pick the *two* right ones
    points: 2
    explanation: Because.
    choices:
      - {text: A, correct: true, feedback: Right}
      - {text: B, correct: true}
      - {text: C}
  - id: f2
    type: true_false
    prompt: "True: this is true"
    answer: false
  - id: f3
    type: single
    prompt: One
    choices: [{text: x, correct: true}, {text: y}]
""",
        "assessments/evaluation.yaml": """\
title: Evaluation
questions:
  - {id: e1, type: likert, prompt: It was useful}
  - {id: e2, type: text, prompt: Comments, required: false}
  - {id: e3, type: single, prompt: Your role, choices: [Worker, Supervisor]}
""",
        "modules/second.md": """\
---
id: second
title: Second
minutes: 600
resources:
  - {title: Video, kind: video, url: "https://www.youtube-nocookie.com/embed/x"}
  - {title: Nested file, kind: field_tool, file: tools/card.pdf}
---
<iframe src="https://player.vimeo.com/video/1" title="A video"></iframe>
""",
        "resources/tools/card.pdf": "%PDF card",
    }
    changes["course.yaml"] += (
        "certificate:\n  title: Award\n  issuer: Academy\n  signatory_name: A. B.\n"
        "  signatory_title: Director\n  valid_for_months: 12\n  issue: admin\n"
    )
    loaded = check_course(write_course(tmp_path, changes=changes))
    assert loaded.ok, [str(p) for p in loaded.problems]
    course = loaded.course
    assert course.hours == 2.5 and course.enrollment == "assigned" and course.pretest
    assert course.final.draw == 2 and course.final.questions[0].points == 2
    assert course.evaluation.questions[1].required is False
    assert course.certificate.valid_for_months == 12 and course.certificate.issue == "admin"
    assert "player.vimeo.com" in course.modules[1].body_html
    assert course.modules[1].resources[1].file == "tools/card.pdf"


BROKEN = [
    pytest.param(
        {"course.yaml": COURSE_YAML + "pass_mak: 3\n"},
        "courses/test-course/course.yaml:10: pass_mak: unknown field 'pass_mak'",
        id="unknown-field",
    ),
    pytest.param(
        {"modules/first.md": FIRST_MODULE.replace("  pass_mark: 50", "  pass_mak: 50")},
        "courses/test-course/modules/first.md:12: quiz.pass_mak: unknown field 'pass_mak' "
        "(did you mean 'pass_mark'?)",
        id="mistyped-field",
    ),
    pytest.param(
        {"course.yaml": COURSE_YAML.replace("title: Test Course\n", "")},
        "courses/test-course/course.yaml:1: (file): missing required field 'title'",
        id="missing-field",
    ),
    pytest.param(
        {"course.yaml": COURSE_YAML.replace("hours: 2", "hours: lots")},
        "courses/test-course/course.yaml:4: hours: must be a number above 0 and at most 200",
        id="wrong-type",
    ),
    pytest.param(
        {"course.yaml": COURSE_YAML.replace("hours: 2", "hours: 500")},
        "courses/test-course/course.yaml:4: hours: must be a number above 0 and at most 200 "
        "(found 500)",
        id="out-of-range",
    ),
    pytest.param(
        {"course.yaml": COURSE_YAML.replace('version: "1.0"', "version: 1.0")},
        "courses/test-course/course.yaml:2: version: must be text, found the number 1.0; "
        "put it in quotes",
        id="number-for-text",
    ),
    pytest.param(
        {"course.yaml": "title: [unclosed\n"},
        "courses/test-course/course.yaml:2: (file): invalid YAML",
        id="invalid-yaml",
    ),
    pytest.param(
        {"modules/first.md": FIRST_MODULE.replace("id: q2", "id: q1")},
        "courses/test-course/modules/first.md:21: quiz.questions[1].id: duplicate question id "
        "'q1' (first used at courses/test-course/modules/first.md:14)",
        id="duplicate-question-id",
    ),
    pytest.param(
        {
            "modules/first.md": FIRST_MODULE.replace(
                "        - text: That one", "        - text: That one\n          correct: true"
            )
        },
        "courses/test-course/modules/first.md:17: quiz.questions[0].choices: a single question "
        "needs exactly one correct choice (found 2)",
        id="single-with-two-correct",
    ),
    pytest.param(
        {"course.yaml": COURSE_YAML.replace("  - second\n", "  - second\n  - third\n")},
        "courses/test-course/course.yaml:8: modules[2]: modules/third.md does not exist",
        id="missing-module",
    ),
    pytest.param(
        {"modules/second.md": "---\nid: other\ntitle: X\nminutes: 5\n---\nBody\n"},
        "courses/test-course/modules/second.md:2: id: id 'other' must equal the file name 'second'",
        id="id-does-not-match-file",
    ),
    pytest.param(
        {
            "modules/first.md": FIRST_MODULE.replace(
                "file: worksheet.pdf", "file: ../../../etc/passwd"
            )
        },
        "courses/test-course/modules/first.md:10: resources[0].file: '../../../etc/passwd' must "
        "be a path inside the course's resources/ folder",
        id="resource-leaves-folder",
    ),
    pytest.param(
        {"modules/first.md": FIRST_MODULE.replace("file: worksheet.pdf", "file: /etc/passwd")},
        "courses/test-course/modules/first.md:10: resources[0].file: '/etc/passwd' must be a "
        "path inside the course's resources/ folder",
        id="resource-absolute-path",
    ),
    pytest.param(
        {"modules/first.md": FIRST_MODULE.replace("file: worksheet.pdf", "file: missing.pdf")},
        "courses/test-course/modules/first.md:10: resources[0].file: resources/missing.pdf does "
        "not exist",
        id="resource-missing",
    ),
    pytest.param(
        {"modules/first.md": FIRST_MODULE.replace("file: worksheet.pdf", "url: http://x.org/a")},
        "courses/test-course/modules/first.md:10: resources[0].url: must be an https:// address",
        id="resource-not-https",
    ),
    pytest.param(
        {
            "modules/first.md": FIRST_MODULE.replace(
                "    file: worksheet.pdf", "    file: worksheet.pdf\n    url: https://x.org/a"
            )
        },
        "courses/test-course/modules/first.md:8: resources[0]: a resource needs exactly one of "
        "'url' or 'file'",
        id="resource-url-and-file",
    ),
    pytest.param(
        {"modules/first.md": FIRST_MODULE + "\n<script>alert(1)</script>\n"},
        "courses/test-course/modules/first.md:30: body: <script> is not allowed",
        id="script-in-markdown",
    ),
    pytest.param(
        {"modules/first.md": FIRST_MODULE + '\n<img src="x.png" onerror="alert(1)">\n'},
        "courses/test-course/modules/first.md:30: body: event-handler attributes",
        id="event-handler-in-markdown",
    ),
    pytest.param(
        {"modules/first.md": FIRST_MODULE + "\n[click](javascript:alert(1))\n"},
        "courses/test-course/modules/first.md:30: body: javascript: links are not allowed",
        id="javascript-link",
    ),
    pytest.param(
        {
            "modules/first.md": FIRST_MODULE.replace(
                "prompt: Which is right?", "prompt: Which <script>x</script>?"
            )
        },
        "courses/test-course/modules/first.md:16: quiz.questions[0].prompt: <script> is not allowed",
        id="script-in-prompt",
    ),
    pytest.param(
        {"modules/first.md": FIRST_MODULE + '\n<iframe src="https://evil.example/x"></iframe>\n'},
        "courses/test-course/modules/first.md:30: body: an <iframe> from evil.example is not an "
        "allowed video embed",
        id="iframe-not-allowed",
    ),
    pytest.param(
        {"modules/first.md": FIRST_MODULE.replace("      answer: true", "      answer: maybe")},
        "courses/test-course/modules/first.md:24: quiz.questions[1].answer: must be true or false",
        id="true-false-answer-wrong-type",
    ),
    pytest.param(
        {"modules/first.md": FIRST_MODULE.replace("      answer: true\n", "")},
        "courses/test-course/modules/first.md:21: quiz.questions[1]: a true_false question "
        "needs 'answer: true' or 'answer: false'",
        id="true-false-without-answer",
    ),
    pytest.param(
        {"modules/first.md": FIRST_MODULE.replace("type: single", "type: essay")},
        "courses/test-course/modules/first.md:15: quiz.questions[0].type: must be one of single, "
        "multiple, true_false (found 'essay')",
        id="unknown-question-type",
    ),
    pytest.param(
        {"modules/first.md": FIRST_MODULE.replace("  pass_mark: 50", "  pass_mark: 50\n  draw: 5")},
        "courses/test-course/modules/first.md:13: quiz.draw: cannot draw 5 questions from a pool "
        "of 2",
        id="draw-more-than-pool",
    ),
    pytest.param(
        {"course.yaml": COURSE_YAML + "prerequisites: [nowhere]\n"},
        "courses/test-course/course.yaml:10: prerequisites: prerequisite 'nowhere' is not a course",
        id="unknown-prerequisite",
    ),
    pytest.param(
        {"course.yaml": COURSE_YAML + "pretest: true\n"},
        "courses/test-course/course.yaml:10: pretest: pretest: true needs assessments/final.yaml",
        id="pretest-without-final",
    ),
    pytest.param(
        {"modules/second.md": "id: second\ntitle: No front matter\n"},
        "courses/test-course/modules/second.md:1: (file): a module file must start with a '---' "
        "line",
        id="no-front-matter",
    ),
    pytest.param(
        {"course.yaml": COURSE_YAML + "title: Again\n"},
        "courses/test-course/course.yaml:10: (file): duplicate key 'title'",
        id="duplicate-key",
    ),
    pytest.param(
        {"course.yaml": COURSE_YAML + "tags: &a [x]\naudience: *a\n"},
        "courses/test-course/course.yaml:11: (file): YAML anchors and aliases are not allowed",
        id="yaml-alias",
    ),
    pytest.param(
        {
            "course.yaml": COURSE_YAML.replace(
                "  issuer: Test Academy\n", "  issuer: Test Academy\n  issue: whenever\n"
            )
        },
        "courses/test-course/course.yaml:10: certificate.issue: must be one of automatic, admin "
        "(found 'whenever')",
        id="certificate-issue",
    ),
    pytest.param(
        {
            "course.yaml": COURSE_YAML
            + "nested:\n"
            + "".join("  " * i + f"  l{i}:\n" for i in range(12))
            + "  " * 13
            + "x: 1\n"
        },
        "nested deeper than the course format allows",
        id="nesting-too-deep",
    ),
    pytest.param(
        {"course.yaml": COURSE_YAML + "summary2: !!python/object/apply:os.system [echo hi]\n"},
        "courses/test-course/course.yaml:10: (file): the YAML tag "
        "tag:yaml.org,2002:python/object/apply:os.system is not allowed",
        id="unsafe-yaml-tag",
    ),
]


HOURS_FINAL = """\
title: Final
pass_mark: 50
draw: 30
questions:
""" + "".join(
    f"  - id: f{i}\n    type: true_false\n    prompt: Statement {i}.\n    answer: true\n"
    for i in range(40)
)


@pytest.mark.parametrize(
    "hours,final,refused",
    [
        # 180 minutes of modules: 3 hours and no more.
        ("3", None, False),
        ("3.25", None, True),
        # A final without a time limit counts a minute a question it asks (30 drawn of 40).
        ("3.5", HOURS_FINAL, False),
        ("3.75", HOURS_FINAL, True),
        # A time limit counts instead: 180 + 50 minutes is 3.83 hours, up to 4.
        ("4", HOURS_FINAL + "time_limit_minutes: 50\n", False),
        ("4.25", HOURS_FINAL + "time_limit_minutes: 50\n", True),
    ],
)
def test_hours_cannot_exceed_the_time_the_course_asks(tmp_path, hours, final, refused):
    changes: dict[str, str | None] = {
        "course.yaml": COURSE_YAML.replace("hours: 2", f"hours: {hours}"),
        "assessments/final.yaml": final,
    }
    problems = problems_of(tmp_path, changes)
    hours_problems = [p for p in problems if ": hours: " in p]
    assert len(hours_problems) == int(refused), problems
    if refused:
        assert hours_problems[0].startswith("courses/test-course/course.yaml:4: hours: is ")
        assert "but the course asks" in hours_problems[0]
    else:
        assert problems == []


@pytest.mark.parametrize("changes,expected", BROKEN)
def test_each_broken_course_gets_its_own_message(tmp_path, changes, expected):
    problems = problems_of(tmp_path, changes)
    assert any(p.startswith(expected) or expected in p for p in problems), problems


def test_a_file_over_one_mebibyte_is_refused(tmp_path):
    big = FIRST_MODULE + ("padding " * 140_000)
    problems = problems_of(tmp_path, {"modules/first.md": big})
    assert problems == [
        "courses/test-course/modules/first.md:1: (file): file is "
        f"{len(big.encode()):,} bytes; course files may be at most 1 MiB"
    ]


def test_prerequisite_cycle_is_reported_on_each_course(tmp_path):
    root = tmp_path / "courses"
    write_course(root, "alpha", {"course.yaml": COURSE_YAML + "prerequisites: [beta]\n"})
    write_course(root, "beta", {"course.yaml": COURSE_YAML + "prerequisites: [alpha]\n"})
    write_course(root, "gamma", {"course.yaml": COURSE_YAML + "prerequisites: [alpha]\n"})
    check = check_catalog(Path("courses"))
    problems = [str(p) for p in check.problems]
    assert problems == [
        "courses/alpha/course.yaml:10: prerequisites: prerequisites form a cycle: "
        "alpha -> beta -> alpha",
        "courses/beta/course.yaml:10: prerequisites: prerequisites form a cycle: "
        "alpha -> beta -> alpha",
    ]
    assert [c.slug for c in check.courses if c.ok] == ["gamma"]


def test_all_problems_of_all_courses_are_reported_and_the_rest_still_load(tmp_path):
    root = tmp_path / "courses"
    write_course(root, "good")
    write_course(
        root,
        "bad-one",
        {"course.yaml": COURSE_YAML.replace("hours: 2", "hours: 0") + "pass_mak: 1\n"},
    )
    write_course(root, "bad-two", {"modules/second.md": None})
    (root / "not-a-course").mkdir()
    check = check_catalog(Path("courses"))
    assert [c.slug for c in check.courses if c.ok] == ["good"]
    problems = [str(p) for p in check.problems]
    assert len(problems) == 3, problems
    assert check.warnings == ["courses/not-a-course: ignored, it has no course.yaml"]


@pytest.mark.parametrize(
    "line",
    ["title:", "summary: # of visits", "hours:", "tags:"],
)
def test_empty_values_are_refused(tmp_path, line):
    field = line.split(":")[0]
    course = (
        COURSE_YAML.replace(next(x for x in COURSE_YAML.splitlines() if x.startswith(field)), line)
        if field != "tags"
        else COURSE_YAML + line + "\n"
    )
    problems = problems_of(tmp_path, {"course.yaml": course})
    assert any(f": {field}: has no value" in p for p in problems), problems


def test_empty_choice_text_is_refused(tmp_path):
    module = FIRST_MODULE.replace("        - text: That one", "        - text:")
    problems = problems_of(tmp_path, {"modules/first.md": module})
    assert problems == [
        "courses/test-course/modules/first.md:20: quiz.questions[0].choices[1].text: has no "
        "value; give it one or remove the line (text starting with # is a YAML comment: put "
        "such text in quotes)"
    ]


def test_max_attempts_may_be_null(tmp_path):
    module = FIRST_MODULE.replace("  pass_mark: 50", "  pass_mark: 50\n  max_attempts: null")
    assert problems_of(tmp_path, {"modules/first.md": module}) == []


def test_checking_one_course_folder(tmp_path):
    root = tmp_path / "courses"
    write_course(root, "base")
    write_course(root, "next", {"course.yaml": COURSE_YAML + "prerequisites: [base]\n"})
    check = check_catalog(Path("courses/next"))
    assert [c.slug for c in check.courses] == ["next"] and check.problems == []


def test_markdown_headings_sit_below_the_page_title(tmp_path):
    loaded = check_course(write_course(tmp_path))
    assert "<h2>Reading</h2>" in loaded.course.modules[0].body_html


def test_bad_folder_name(tmp_path):
    write_course(tmp_path / "courses", "Bad_Name")
    problems = [str(p) for p in check_catalog(Path("courses")).problems]
    assert problems == [
        "courses/Bad_Name:1: (folder): course folder name 'Bad_Name' must be a slug: lowercase "
        "letters, digits and single hyphens"
    ]


def lms(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "lms.cli", *args], capture_output=True, text=True, cwd=cwd, env=env
    )


def test_courses_check_command(tmp_path):
    root = tmp_path / "courses"
    write_course(root, "good")
    write_course(root, "broken", {"course.yaml": COURSE_YAML + "pass_mak: 1\n"})
    result = lms("courses", "check", "courses", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("courses/broken/course.yaml:10: pass_mak: unknown field")
    assert lines[-1] == (
        "2 course(s) checked: 1 valid, 1 with problems (1 problem); "
        "1 item-writing warning (good 1)."
    )
    ok = lms("courses", "check", str(ROOT / "courses"), cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout
    assert ok.stdout.splitlines()[-1].startswith(
        "3 course(s) checked: 3 valid, 0 with problems (0 problems); "
    )
