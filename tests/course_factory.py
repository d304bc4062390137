"""Write small course folders for tests: a valid one, and the same with one thing broken."""

from __future__ import annotations

from pathlib import Path

COURSE_YAML = """\
title: Test Course
version: "1.0"
summary: A course used by the tests.
hours: 2
modules:
  - first
  - second
certificate:
  issuer: Test Academy
"""

FIRST_MODULE = """\
---
id: first
title: The first module
minutes: 90
objectives:
  - Know the first thing.
resources:
  - title: A worksheet
    kind: worksheet
    file: worksheet.pdf
quiz:
  pass_mark: 50
  questions:
    - id: q1
      type: single
      prompt: Which is right?
      choices:
        - text: This one
          correct: true
        - text: That one
    - id: q2
      type: true_false
      prompt: The sky is blue.
      answer: true
---
# Reading

Some **text** for the first module.
"""

SECOND_MODULE = """\
---
id: second
title: The second module
minutes: 90
---
The second module has no quiz.
"""


def write_course(
    root: Path, slug: str = "test-course", changes: dict[str, str | None] | None = None
) -> Path:
    """Write a valid course; `changes` maps a relative path to new text (None: leave out)."""
    folder = root / slug
    files: dict[str, str | None] = {
        "course.yaml": COURSE_YAML,
        "modules/first.md": FIRST_MODULE,
        "modules/second.md": SECOND_MODULE,
        "resources/worksheet.pdf": "%PDF-1.4 test worksheet",
    }
    files.update(changes or {})
    for relative, text in files.items():
        if text is None:
            continue
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder
