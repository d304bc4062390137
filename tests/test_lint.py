"""Item-writing lint: each cue and gap is found at its file and line, and a clean course has none."""

from __future__ import annotations

from pathlib import Path

import pytest

from lms.catalog.lint import lint_course
from lms.catalog.validate import check_catalog
from tests.conftest import shipped_check
from tests.course_factory import COURSE_YAML, FIRST_MODULE, write_course
from tests.test_catalog_validation import lms

# A final with no cue: keys in three positions and never the longest choice, the correct
# choices of the multiple-answer question mixed in, a true statement, a positive stem, every
# module measured and the first module's objective too.
CLEAN_FINAL = """\
title: Final
pass_mark: 50
questions:
  - id: f1
    type: single
    module: first
    objective: 1
    prompt: Which colour is the sky on a clear day?
    choices:
      - text: Blue
        correct: true
      - text: Green
      - text: Orange
  - id: f2
    type: single
    module: second
    prompt: Which animal barks?
    choices:
      - text: A cat
      - text: A dog
        correct: true
      - text: A cow
  - id: f3
    type: single
    module: second
    prompt: Which number is even?
    choices:
      - text: Three
      - text: Five
      - text: Four
        correct: true
  - id: f4
    type: multiple
    module: second
    prompt: Which of these are fruits?
    choices:
      - text: Carrot
      - text: Apple
        correct: true
      - text: Potato
      - text: Pear
        correct: true
  - id: f5
    type: true_false
    module: second
    prompt: Water boils at 100 degrees Celsius at sea level.
    answer: true
"""

LONGEST_KEYS = (
    CLEAN_FINAL.replace("- text: Blue\n", "- text: Blue, because sunlight scatters\n")
    .replace("- text: A dog\n", "- text: A dog, the family pet\n")
    .replace("- text: Four\n", "- text: Four, which is two twos\n")
)
KEYS_IN_A = CLEAN_FINAL.replace(
    """      - text: A cat
      - text: A dog
        correct: true""",
    """      - text: A dog
        correct: true
      - text: A cat""",
).replace(
    """      - text: Three
      - text: Five
      - text: Four
        correct: true""",
    """      - text: Four
        correct: true
      - text: Three
      - text: Five""",
)
CORRECT_FIRST = CLEAN_FINAL.replace(
    """      - text: Carrot
      - text: Apple
        correct: true
      - text: Potato
      - text: Pear
        correct: true""",
    """      - text: Apple
        correct: true
      - text: Pear
        correct: true
      - text: Carrot
      - text: Potato""",
)
ABSOLUTE = CLEAN_FINAL.replace(
    "prompt: Water boils at 100 degrees Celsius at sea level.\n    answer: true",
    "prompt: Water always boils at 90 degrees Celsius.\n    answer: false",
)
NEGATIVE = CLEAN_FINAL.replace("prompt: Which animal barks?", "prompt: Which animal does not meow?")
NO_OBJECTIVE = CLEAN_FINAL.replace("    objective: 1\n", "", 1)
SECOND_LEFT_OUT = CLEAN_FINAL.replace("    module: second\n", "")
# The first module's quiz asks the final's first question again, with new punctuation.
REPEATED_QUIZ = FIRST_MODULE.replace(
    """      prompt: Which is right?
      choices:
        - text: This one
          correct: true
        - text: That one""",
    """      prompt: "Which colour is the sky, on a clear day?"
      choices:
        - text: Blue
          correct: true
        - text: Green
        - text: Orange""",
)
PRETEST_FORM = """\
title: Before you start
questions:
  - id: p1
    type: single
    module: first
    prompt: Which colour is the sky on a clear day?
    choices:
      - text: Blue
        correct: true
      - text: Green
      - text: Orange
"""


def lint(tmp_path: Path, changes: dict[str, str | None]) -> list[str]:
    write_course(tmp_path / "courses", changes={"assessments/final.yaml": CLEAN_FINAL, **changes})
    (loaded,) = check_catalog(tmp_path / "courses").courses
    assert loaded.ok, [str(p) for p in loaded.problems]
    assert loaded.course is not None
    return [str(w) for w in lint_course(loaded.course, loaded.places)]


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_a_course_without_cues_has_no_warnings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert lint(tmp_path, {}) == []


FINAL = "courses/test-course/assessments/final.yaml"
FIRST = "courses/test-course/modules/first.md"

CASES = {
    "longest": (
        {"assessments/final.yaml": LONGEST_KEYS},
        f"{FINAL}:3: questions: in 3 of the final's 3 single-answer questions the correct "
        "choice is the longest (f1, f2, f3)",
    ),
    "position": (
        {"assessments/final.yaml": KEYS_IN_A},
        f"{FINAL}:3: questions: the final is not shuffled and choice A is correct in 3 of its "
        "3 single-answer questions",
    ),
    "correct first": (
        {"assessments/final.yaml": CORRECT_FIRST},
        f"{FINAL}:{line_of(CORRECT_FIRST, '- id: f4')}: questions[3]: the final is not "
        "shuffled and its multiple-answer question lists the correct choices first",
    ),
    "absolute": (
        {"assessments/final.yaml": ABSOLUTE},
        f"{FINAL}:{line_of(ABSOLUTE, '- id: f5')}: questions[4].prompt: question 'f5' is "
        "false and says 'always'",
    ),
    "negative": (
        {"assessments/final.yaml": NEGATIVE},
        f"{FINAL}:{line_of(NEGATIVE, '- id: f2')}: questions[1].prompt: question 'f2' asks in "
        "the negative ('not') without emphasis",
    ),
    "objective": (
        {"assessments/final.yaml": NO_OBJECTIVE},
        f"{FIRST}:{line_of(FIRST_MODULE, '- Know the first thing.')}: objectives[0]: no "
        "question measures objective 1 of module 'first' (\"Know the first thing.\")",
    ),
    "final gap": (
        {"assessments/final.yaml": SECOND_LEFT_OUT},
        f"{FINAL}:3: questions: no question or group of the final measures module second;",
    ),
    "quiz repeats final": (
        {"modules/first.md": REPEATED_QUIZ},
        f"{FIRST}:{line_of(REPEATED_QUIZ, '- id: q1')}: quiz.questions[0].prompt: question "
        "'q1' of the module 'first' quiz nearly repeats the final's 'f1' "
        f"({FINAL}:{line_of(CLEAN_FINAL, '- id: f1')})",
    ),
    "pre-test repeats final": (
        {
            "course.yaml": COURSE_YAML + "pretest: true\n",
            "assessments/pretest.yaml": PRETEST_FORM,
        },
        "courses/test-course/assessments/pretest.yaml:3: questions[0].prompt: question 'p1' "
        "of the pre-test form nearly repeats the final's 'f1'",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_each_cue_is_warned_at_its_line(tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    changes, expected = CASES[case]
    warnings = lint(tmp_path, changes)
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(expected), warnings[0]


@pytest.mark.parametrize(
    "fixed",
    [
        KEYS_IN_A.replace("pass_mark: 50\n", "pass_mark: 50\nshuffle: true\n"),
        CORRECT_FIRST.replace("pass_mark: 50\n", "pass_mark: 50\nshuffle: true\n"),
        NEGATIVE.replace("does not meow", "does **not** meow"),
        NEGATIVE.replace("does not meow", "does NOT meow"),
        # A case may say "not" in passing; only the sentence that asks is the stem.
        CLEAN_FINAL.replace(
            "prompt: Which animal barks?",
            "prompt: 'A neighbour says: \"It is not my dog.\" Which animal barks?'",
        ),
        # An absolute word in a true statement gives nothing away.
        CLEAN_FINAL.replace("Water boils at", "Water always boils at"),
    ],
    ids=["shuffled keys", "shuffled multiple", "bold not", "capital NOT", "quoted not", "true"],
)
def test_the_fix_clears_the_warning(tmp_path, monkeypatch, fixed):
    monkeypatch.chdir(tmp_path)
    assert lint(tmp_path, {"assessments/final.yaml": fixed}) == []


def test_courses_check_lists_warnings_and_strict_makes_them_errors(tmp_path):
    write_course(tmp_path / "courses", changes={"assessments/final.yaml": NEGATIVE})
    result = lms("courses", "check", "courses", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"warning: {FINAL}:{line_of(NEGATIVE, '- id: f2')}: ")
    assert lines[-1] == (
        "1 course(s) checked: 1 valid, 0 with problems (0 problems); "
        "1 item-writing warning (test-course 1)."
    )
    strict = lms("courses", "check", "--strict", "courses", cwd=tmp_path)
    assert strict.returncode == 1
    assert strict.stdout.splitlines()[0].startswith(f"error: {FINAL}:")
    assert strict.stdout.splitlines()[-1].endswith("treated as errors (--strict).")


def test_the_shipped_courses_pass_the_strict_check():
    """Issue 16: no item a test-wise learner passes without reading, in any shipped course."""
    # The session's one check of them (`make test` runs `lms courses check --strict` too).
    check = shipped_check()
    assert len(check.courses) == 3 and not check.problems
    warnings = [str(w) for c in check.courses if c.course for w in lint_course(c.course, c.places)]
    assert warnings == []
