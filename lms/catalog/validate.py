"""Checks course folders against the course format and builds Course objects from them.

Every problem is collected (not just the first) as `file:line: field: message`.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lms.catalog import markdown
from lms.catalog.definition import (
    Activity,
    CeCategory,
    Certificate,
    Choice,
    ContinuingEducation,
    CourseDefinition,
    Criterion,
    Evaluation,
    Level,
    LiveSession,
    Module,
    Question,
    QuestionGroup,
    Quiz,
    Resource,
    Segment,
    Skill,
    SurveyQuestion,
)
from lms.catalog.plans import PLANS_FOLDER, LoadedPlan, check_plans
from lms.catalog.source import (
    Document,
    FieldPath,
    Place,
    Problem,
    SourceError,
    format_field,
    parse_yaml,
    read_text,
    split_front_matter,
)

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MODULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
RESOURCE_KINDS = ("quick_guide", "practice_brief", "field_tool", "video", "article", "worksheet")
MAX_RESOURCE_BYTES = 50 * 1024 * 1024

COURSE_FIELDS = {
    "title": True,
    "version": True,
    "summary": True,
    "description": False,
    "audience": False,
    "hours": True,
    "enrollment": False,
    "prerequisites": False,
    "sequential": False,
    "modules": True,
    "pretest": False,
    "live_sessions": False,
    "seat_time": False,
    "certificate": True,
    "tags": False,
    "skills": False,
    "activities": False,
    "ce": False,
}
CE_FIELDS = {"hours": True, "categories": False, "approval": False, "full_attendance": False}
CE_CATEGORY_FIELDS = {"name": True, "hours": True}
CERTIFICATE_FIELDS = {
    "title": False,
    "issuer": True,
    "signatory_name": False,
    "signatory_title": False,
    "valid_for_months": False,
    "issue": False,
}
MODULE_FIELDS = {
    "id": True,
    "title": True,
    "minutes": True,
    "objectives": False,
    "resources": False,
    "quiz": False,
}
RESOURCE_FIELDS = {"title": True, "kind": True, "url": False, "file": False}
QUIZ_FIELDS = {
    "pass_mark": False,
    "max_attempts": False,
    "shuffle": False,
    "draw": False,
    "time_limit_minutes": False,
    "review": False,
    "questions": False,  # exactly one of questions and groups: checked in check_quiz
    "groups": False,
}
PRETEST_FORM_WITHOUT = ("pass_mark", "max_attempts", "review")
GROUP_FIELDS = {"title": False, "pick": True, "questions": True}
REVIEWS = ("score", "mistakes", "answers")
QUESTION_FIELDS = {
    "id": True,
    "type": True,
    "prompt": True,
    "choices": False,
    "answer": False,
    "explanation": False,
    "points": False,
    "module": False,
    "objective": False,
}
CHOICE_FIELDS = {"text": True, "correct": False, "feedback": False}
LIVE_SESSION_FIELDS = {
    "id": True,
    "title": True,
    "minutes": True,
    "required": False,
    "segments": False,
}
SEGMENT_FIELDS = {
    "title": True,
    "minutes": True,
    "module": False,
    "objective": False,
    "materials": False,
}
SKILL_FIELDS = {
    "id": True,
    "title": True,
    "session": False,
    "criteria": True,
    "pass": False,
    "required": False,
}
CRITERION_FIELDS = {"id": True, "text": True, "levels": True}
LEVEL_FIELDS = {"score": True, "label": True, "description": False}
ACTIVITY_FIELDS = {
    "id": True,
    "title": True,
    "minutes": True,
    "evidence": False,
    "signed_off_by": False,
    "rubric": False,
    "after": False,
    "required": False,
}
EVIDENCE_KINDS = ("reflection", "file", "both")
REVIEWERS = ("supervisor", "trainer")
EVALUATION_FIELDS = {"title": True, "questions": True}
# Fields the format allows to be `null` on purpose.
NULLABLE = {"max_attempts"}
SURVEY_QUESTION_FIELDS = {
    "id": True,
    "type": True,
    "prompt": True,
    "choices": False,
    "required": False,
}


@dataclass
class FileBlob:
    sha256: str
    path: Path


@dataclass
class LoadedCourse:
    """The result of checking one course folder."""

    slug: str
    folder: Path
    course: CourseDefinition | None = None
    problems: list[Problem] = field(default_factory=list)
    fingerprint: str | None = None
    files: dict[str, FileBlob] = field(default_factory=dict)  # resources, by sha256
    prerequisites_line: tuple[str, int] = ("", 1)
    # Where each question ("question:<id>"), pool ("pool:<module id>", "pool:final",
    # "pool:pretest") and objective ("objective:<module id>:<n>") is written: for the lint.
    places: dict[str, Place] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems and self.course is not None


@dataclass
class CatalogCheck:
    """Every course folder under one directory, checked together."""

    courses: list[LoadedCourse]
    warnings: list[str]
    plans: list[LoadedPlan] = field(default_factory=list)  # courses/plans/*.yaml

    @property
    def problems(self) -> list[Problem]:
        return [p for c in self.courses for p in c.problems] + [
            p for plan in self.plans for p in plan.problems
        ]


def display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value)"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping of fields"
    return type(value).__name__


class Checker:
    """Field checks against one document, collecting problems instead of stopping."""

    def __init__(self, doc: Document, problems: list[Problem]) -> None:
        self.doc = doc
        self.problems = problems

    def error(self, path: FieldPath, message: str, line: int | None = None) -> None:
        self.problems.append(
            Problem(self.doc.file, line or self.doc.line(path), format_field(path), message)
        )

    def mapping(
        self, value: Any, path: FieldPath, allowed: dict[str, bool], what: str
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(path, f"{what} must be a mapping of fields, found {_describe(value)}")
            return None
        for key, item in value.items():
            if item is None and key in allowed and key not in NULLABLE:
                self.error(
                    (*path, key),
                    "has no value; give it one or remove the line (text starting with # "
                    "is a YAML comment: put such text in quotes)",
                )
            if key not in allowed:
                guess = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
                hint = f" (did you mean '{guess[0]}'?)" if guess else ""
                known = ", ".join(allowed)
                self.error(
                    (*path, key), f"unknown field '{key}'{hint}; the fields of {what} are: {known}"
                )
        for key, required in allowed.items():
            if required and key not in value:
                self.error(path, f"missing required field '{key}'")
        return value

    def text(
        self,
        data: dict[str, Any],
        key: str,
        path: FieldPath,
        max_len: int = 10_000,
        min_len: int = 1,
        default: str | None = None,
    ) -> str | None:
        if key not in data or data[key] is None:
            return default
        value = data[key]
        if isinstance(value, bool | int | float) and not isinstance(value, str):
            self.error((*path, key), f"must be text, found {_describe(value)}; put it in quotes")
            return default
        if not isinstance(value, str):
            self.error((*path, key), f"must be text, found {_describe(value)}")
            return default
        stripped = value.strip()
        if len(stripped) < min_len:
            self.error((*path, key), "must not be empty")
            return default
        if len(stripped) > max_len:
            self.error(
                (*path, key), f"must be at most {max_len} characters (found {len(stripped)})"
            )
            return default
        return stripped

    def integer(
        self,
        data: dict[str, Any],
        key: str,
        path: FieldPath,
        low: int | None = None,
        high: int | None = None,
        default: int | None = None,
    ) -> int | None:
        if key not in data or data[key] is None:
            return default
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.error((*path, key), f"must be a whole number, found {_describe(value)}")
            return default
        if (low is not None and value < low) or (high is not None and value > high):
            self.error((*path, key), f"must be {_range(low, high)} (found {value})")
            return default
        return value

    def boolean(self, data: dict[str, Any], key: str, path: FieldPath, default: bool) -> bool:
        if key not in data:
            return default
        value = data[key]
        if not isinstance(value, bool):
            self.error((*path, key), f"must be true or false, found {_describe(value)}")
            return default
        return value

    def one_of(
        self,
        data: dict[str, Any],
        key: str,
        path: FieldPath,
        options: Iterable[str],
        default: str | None = None,
    ) -> str | None:
        options = tuple(options)
        if key not in data:
            return default
        value = data[key]
        if value not in options:
            shown = value if isinstance(value, str) else _describe(value)
            choices = ", ".join(options)
            self.error((*path, key), f"must be one of {choices} (found '{shown}')")
            return default
        return value

    def text_list(self, data: dict[str, Any], key: str, path: FieldPath) -> list[str]:
        if key not in data or data[key] is None:
            return []
        value = data[key]
        if not isinstance(value, list):
            self.error((*path, key), f"must be a list, found {_describe(value)}")
            return []
        result = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.error((*path, key, i), f"must be non-empty text, found {_describe(item)}")
            else:
                result.append(item.strip())
        return result

    def markup(self, text: str | None, path: FieldPath, line: int | None = None) -> None:
        """Refuse raw HTML that would be stripped: the author should know, not guess."""
        if not text:
            return
        for issue in markdown.unsafe_markup(text):
            self.error(path, issue, line)


def _range(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


def load_document(path: Path, problems: list[Problem]) -> Document | None:
    display = display_path(path)
    try:
        return parse_yaml(read_text(path, display), display)
    except SourceError as exc:
        problems.append(Problem(display, exc.line, "(file)", exc.message))
        return None


@dataclass(frozen=True)
class Measures:
    """What a pool's questions may say they measure: the course's modules and objectives.

    `own` is the module of a module quiz (its questions measure that module unless they say
    otherwise); None for an assessment file.
    """

    objectives: dict[str, int]  # module id -> how many objectives it has
    own: str | None = None


def check_quiz(
    c: Checker,
    raw: Any,
    path: FieldPath,
    seen_ids: dict[str, Place],
    needs_title: bool,
    measures: Measures,
    pretest_form: bool = False,
) -> Quiz | None:
    allowed = {**({"title": True} if needs_title else {}), **QUIZ_FIELDS}
    what = "an assessment" if needs_title else "a quiz"
    if pretest_form:  # taken once, ungraded, never reviewed: these have no meaning there
        allowed = {k: v for k, v in allowed.items() if k not in PRETEST_FORM_WITHOUT}
        what = "a pre-test form"
    data = c.mapping(raw, path, allowed, what)
    if data is None:
        return None
    before = len(c.problems)
    title = c.text(data, "title", path, 200, default="Knowledge check")
    pass_mark = c.integer(data, "pass_mark", path, 0, 100, default=80)
    max_attempts = c.integer(data, "max_attempts", path, 1, default=None)
    shuffle = c.boolean(data, "shuffle", path, False)
    draw = c.integer(data, "draw", path, 1, default=None)
    time_limit = c.integer(data, "time_limit_minutes", path, 1, default=None)
    review = c.one_of(data, "review", path, REVIEWS, "mistakes")
    questions: list[Question] = []
    groups: list[QuestionGroup] = []
    if "questions" in data and "groups" in data:
        c.error((*path, "groups"), "a pool has either 'questions' or 'groups', not both")
    elif "groups" in data:
        if draw is not None:
            c.error(
                (*path, "draw"),
                "'draw' is only for a flat list of questions; with groups, each group's "
                "'pick' says how many questions it gives",
            )
        raw_groups = data["groups"]
        if not isinstance(raw_groups, list) or not raw_groups:
            c.error((*path, "groups"), "must be a list of at least one group")
        else:
            for i, item in enumerate(raw_groups):
                group = check_group(c, item, (*path, "groups", i), seen_ids, measures)
                if group is not None:
                    groups.append(group[0])
                    questions += group[1]
    elif "questions" in data:
        questions = check_questions(c, data, path, seen_ids, measures)
        raw_questions = data["questions"]
        if draw is not None and isinstance(raw_questions, list) and draw > len(raw_questions):
            c.error(
                (*path, "draw"),
                f"cannot draw {draw} questions from a pool of {len(raw_questions)}",
            )
    else:
        c.error(path, "missing required field 'questions' (or 'groups')")
    if len(c.problems) > before:
        return None
    return Quiz(
        title=title or "Knowledge check",
        pass_mark=pass_mark if pass_mark is not None else 80,
        max_attempts=max_attempts,
        shuffle=shuffle,
        draw=draw,
        time_limit_minutes=time_limit,
        questions=tuple(questions),
        groups=tuple(groups),
        review=review or "mistakes",
    )


def check_questions(
    c: Checker,
    data: dict[str, Any],
    path: FieldPath,
    seen_ids: dict[str, Place],
    measures: Measures,
) -> list[Question]:
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        c.error((*path, "questions"), "must be a list of at least one question")
        return []
    questions = []
    for i, item in enumerate(raw_questions):
        question = check_question(c, item, (*path, "questions", i), seen_ids, measures)
        if question:
            questions.append(question)
    return questions


def check_group(
    c: Checker, raw: Any, path: FieldPath, seen_ids: dict[str, Place], measures: Measures
) -> tuple[QuestionGroup, list[Question]] | None:
    data = c.mapping(raw, path, GROUP_FIELDS, "a question group")
    if data is None:
        return None
    before = len(c.problems)
    title = c.text(data, "title", path, 200)
    pick = c.integer(data, "pick", path, 1)
    questions = check_questions(c, data, path, seen_ids, measures) if "questions" in data else []
    raw_questions = data.get("questions")
    if pick is not None and isinstance(raw_questions, list) and pick > len(raw_questions):
        c.error(
            (*path, "pick"),
            f"cannot pick {pick} questions from a group of {len(raw_questions)}",
        )
    if len(c.problems) > before or pick is None:
        return None
    return QuestionGroup(title, pick, tuple(q.id for q in questions)), questions


def check_measures(
    c: Checker, data: dict[str, Any], path: FieldPath, measures: Measures
) -> tuple[str | None, int | None]:
    """A question's `module` and `objective`: they must name what the course has."""
    module = c.text(data, "module", path, 100)
    objective = c.integer(data, "objective", path, 1)
    if module is not None and measures.own is not None and module != measures.own:
        c.error(
            (*path, "module"),
            f"a question of module '{measures.own}'s quiz measures that module; "
            f"'module: {module}' belongs in an assessment file",
        )
        return None, None
    if module is not None and module not in measures.objectives:
        known = ", ".join(measures.objectives) or "none"
        c.error((*path, "module"), f"no module '{module}' in this course (its modules: {known})")
        return None, None
    measured = module or measures.own
    if objective is not None:
        if measured is None:
            c.error(
                (*path, "objective"),
                "an objective is counted in a module: give this question 'module' too",
            )
            return module, None
        count = measures.objectives.get(measured, 0)
        if objective > count:
            c.error(
                (*path, "objective"),
                f"module '{measured}' has {count} objective{'s' if count != 1 else ''}, "
                f"so there is no objective {objective}",
            )
            return module, None
    return measured, objective


def check_question(
    c: Checker, raw: Any, path: FieldPath, seen_ids: dict[str, Place], measures: Measures
) -> Question | None:
    data = c.mapping(raw, path, QUESTION_FIELDS, "a question")
    if data is None:
        return None
    before = len(c.problems)
    qid = c.text(data, "id", path, 100)
    if qid is not None:
        where = Place(c.doc.file, c.doc.line((*path, "id")), format_field(path))
        if qid in seen_ids:
            c.error((*path, "id"), f"duplicate question id '{qid}' (first used at {seen_ids[qid]})")
        else:
            seen_ids[qid] = where
    qtype = c.one_of(data, "type", path, ("single", "multiple", "true_false"))
    prompt = c.text(data, "prompt", path, 5000)
    explanation = c.text(data, "explanation", path, 10_000, default="")
    points = c.integer(data, "points", path, 1, default=1)
    module, objective = check_measures(c, data, path, measures)
    c.markup(prompt, (*path, "prompt"))
    c.markup(explanation, (*path, "explanation"))
    choices: list[Choice] = []
    answer: bool | None = None
    if qtype == "true_false":
        if "choices" in data:
            c.error((*path, "choices"), "a true_false question has no choices; use 'answer'")
        if "answer" not in data:
            c.error(path, "a true_false question needs 'answer: true' or 'answer: false'")
        elif not isinstance(data["answer"], bool):
            c.error((*path, "answer"), f"must be true or false, found {_describe(data['answer'])}")
        else:
            answer = data["answer"]
    elif qtype in ("single", "multiple"):
        if "answer" in data:
            c.error(
                (*path, "answer"),
                f"'answer' is only for true_false; a {qtype} question "
                "marks its correct choices with 'correct: true'",
            )
        raw_choices = data.get("choices")
        if not isinstance(raw_choices, list) or not 2 <= len(raw_choices) <= 10:
            found = len(raw_choices) if isinstance(raw_choices, list) else _describe(raw_choices)
            c.error((*path, "choices"), f"a {qtype} question needs 2 to 10 choices (found {found})")
        else:
            for j, item in enumerate(raw_choices):
                choice = check_choice(c, item, (*path, "choices", j))
                if choice:
                    choices.append(choice)
            if len(choices) == len(raw_choices):
                correct = sum(ch.correct for ch in choices)
                if qtype == "single" and correct != 1:
                    c.error(
                        (*path, "choices"),
                        f"a single question needs exactly one correct choice (found {correct})",
                    )
                if qtype == "multiple" and correct < 1:
                    c.error(
                        (*path, "choices"),
                        "a multiple question needs at least one correct choice (found 0)",
                    )
                texts = [ch.text for ch in choices]
                if len(set(texts)) != len(texts):
                    c.error((*path, "choices"), "two choices have the same text")
    if len(c.problems) > before or qid is None or qtype is None or prompt is None:
        return None
    return Question(
        id=qid,
        type=qtype,
        prompt=prompt,
        prompt_html=markdown.render_inline(prompt),
        choices=tuple(choices),
        answer=answer,
        explanation_html=markdown.render(explanation or ""),
        points=points or 1,
        module=module,
        objective=objective,
    )


def check_choice(c: Checker, raw: Any, path: FieldPath) -> Choice | None:
    data = c.mapping(raw, path, CHOICE_FIELDS, "a choice")
    if data is None:
        return None
    before = len(c.problems)
    text = c.text(data, "text", path, 2000)
    correct = c.boolean(data, "correct", path, False)
    feedback = c.text(data, "feedback", path, 5000, default="")
    c.markup(text, (*path, "text"))
    c.markup(feedback, (*path, "feedback"))
    if len(c.problems) > before or text is None:
        return None
    return Choice(
        text=text,
        text_html=markdown.render_inline(text),
        correct=correct,
        feedback_html=markdown.render_inline(feedback or ""),
    )


def check_resource(
    c: Checker, raw: Any, path: FieldPath, folder: Path, files: dict[str, FileBlob]
) -> Resource | None:
    data = c.mapping(raw, path, RESOURCE_FIELDS, "a resource")
    if data is None:
        return None
    before = len(c.problems)
    title = c.text(data, "title", path, 200)
    kind = c.one_of(data, "kind", path, RESOURCE_KINDS)
    has_url, has_file = "url" in data, "file" in data
    url = file = sha = None
    size = None
    if has_url == has_file:
        c.error(path, "a resource needs exactly one of 'url' or 'file'")
    elif has_url:
        url = c.text(data, "url", path, 2000)
        if url is not None and (not url.startswith("https://") or len(url) < 12 or " " in url):
            c.error((*path, "url"), f"must be an https:// address (found '{url}')")
    else:
        file = c.text(data, "file", path, 300)
        if file is not None:
            found = resolve_resource(c, file, (*path, "file"), folder)
            if found is not None:
                size = found.stat().st_size
                if size > MAX_RESOURCE_BYTES:
                    c.error(
                        (*path, "file"),
                        f"'{file}' is {size:,} bytes; files over 50 MiB "
                        "should be offered with a url instead",
                    )
                else:
                    sha = hashlib.sha256(found.read_bytes()).hexdigest()
                    files[sha] = FileBlob(sha, found)
    if len(c.problems) > before or title is None or kind is None:
        return None
    return Resource(title=title, kind=kind, url=url, file=file, sha256=sha, size=size)


def resolve_resource(c: Checker, name: str, path: FieldPath, folder: Path) -> Path | None:
    resources = (folder / "resources").resolve()
    if name.startswith(("/", "\\")) or ".." in Path(name).parts or "\\" in name:
        c.error(path, f"'{name}' must be a path inside the course's resources/ folder")
        return None
    candidate = (resources / name).resolve()
    if not candidate.is_relative_to(resources):
        c.error(path, f"'{name}' leads outside the course's resources/ folder")
        return None
    if not candidate.is_file():
        c.error(path, f"resources/{name} does not exist")
        return None
    return candidate


def listed_files(c: Checker, raw: Any, key: str, folder: Path, what: str) -> list[str]:
    """The ids a course.yaml list gives (`modules`, `activities`), each naming <key>/<id>.md:
    well formed, listed once, the file there. The rest are reported."""
    if not isinstance(raw, list) or not raw:
        c.error((key,), f"must be a list of at least one {what} id")
        return []
    found: list[str] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, str) or not MODULE_ID.match(item):
            c.error((key, i), f"a {what} id is letters, digits, '-' and '_' (found {item!r})")
        elif item in seen:
            c.error((key, i), f"{what} '{item}' is listed twice")
        else:
            seen.add(item)
            if (folder / key / f"{item}.md").is_file():
                found.append(item)
            else:
                c.error((key, i), f"{key}/{item}.md does not exist")
    return found


def read_front_matter(
    folder: Path, relative: str, problems: list[Problem], digest: Any
) -> tuple[Document, str, int] | None:
    """A Markdown file with YAML front matter (a module, an activity), into the digest: its
    front matter parsed, its body and the body's first line."""
    path = folder / relative
    display = display_path(path)
    try:
        text = read_text(path, display)
        digest.update(f"{relative}\0".encode() + text.encode() + b"\0")
        front, body, body_line = split_front_matter(text)
        return parse_yaml(front, display, line_offset=1), body, body_line
    except SourceError as exc:
        problems.append(Problem(display, exc.line, "(file)", exc.message))
        return None


def check_file_id(c: Checker, data: dict[str, Any], expected: str) -> None:
    found = c.text(data, "id", (), 100)
    if found is not None and found != expected:
        c.error(("id",), f"id '{found}' must equal the file name '{expected}'")


def check_module(
    folder: Path,
    module_id: str,
    problems: list[Problem],
    seen_ids: dict[str, Place],
    files: dict[str, FileBlob],
    digest: Any,
    places: dict[str, Place],
) -> Module | None:
    found = read_front_matter(folder, f"modules/{module_id}.md", problems, digest)
    if found is None:
        return None
    doc, body, body_line = found
    display = doc.file
    c = Checker(doc, problems)
    data = c.mapping(doc.data, (), MODULE_FIELDS, "module front matter")
    if data is None:
        return None
    before = len(problems)
    check_file_id(c, data, module_id)
    title = c.text(data, "title", (), 200)
    minutes = c.integer(data, "minutes", (), 1, 600)
    objectives = c.text_list(data, "objectives", ())
    for i in range(len(objectives)):
        places[f"objective:{module_id}:{i + 1}"] = Place(
            display, doc.line(("objectives", i)), f"objectives[{i}]"
        )
    resources = []
    if "resources" in data and data["resources"] is not None:
        if not isinstance(data["resources"], list):
            c.error(("resources",), f"must be a list, found {_describe(data['resources'])}")
        else:
            for i, item in enumerate(data["resources"]):
                resource = check_resource(c, item, ("resources", i), folder, files)
                if resource:
                    resources.append(resource)
    quiz = None
    if data.get("quiz") is not None:
        own = Measures({module_id: len(objectives)}, own=module_id)
        quiz = check_quiz(c, data["quiz"], ("quiz",), seen_ids, needs_title=False, measures=own)
        places[f"pool:{module_id}"] = Place(display, doc.line(("quiz",)), "quiz")
    for line_no, issue in _body_markup_issues(body, body_line):
        problems.append(Problem(display, line_no, "body", issue))
    if len(problems) > before or title is None or minutes is None:
        return None
    body = _without_title_heading(body, title)
    return Module(
        id=module_id,
        title=title,
        minutes=minutes,
        objectives=tuple(objectives),
        resources=tuple(resources),
        quiz=quiz,
        body_html=markdown.render(body),
        words=markdown.word_count(body),
    )


def _without_title_heading(body: str, title: str) -> str:
    """Drop a first `# Title` line that repeats the module title shown above the reading."""
    lines = body.lstrip("\n").split("\n", 1)
    if lines and lines[0].strip().lstrip("#").strip() == title and lines[0].startswith("# "):
        return lines[1] if len(lines) > 1 else ""
    return body


def _body_markup_issues(body: str, first_line: int) -> list[tuple[int, str]]:
    return [
        (first_line + offset, issue)
        for offset, line in enumerate(body.splitlines())
        for issue in markdown.unsafe_markup(line)
    ]


def check_evaluation(
    doc: Document, problems: list[Problem], seen: dict[str, Place]
) -> Evaluation | None:
    c = Checker(doc, problems)
    data = c.mapping(doc.data, (), EVALUATION_FIELDS, "an evaluation")
    if data is None:
        return None
    before = len(problems)
    title = c.text(data, "title", (), 200)
    questions = []
    raw = data.get("questions")
    if "questions" in data and (not isinstance(raw, list) or not raw):
        c.error(("questions",), "must be a list of at least one question")
    elif isinstance(raw, list):
        for i, item in enumerate(raw):
            path: FieldPath = ("questions", i)
            q = c.mapping(item, path, SURVEY_QUESTION_FIELDS, "an evaluation question")
            if q is None:
                continue
            qid = c.text(q, "id", path, 100)
            if qid is not None:
                if qid in seen:
                    c.error(
                        (*path, "id"), f"duplicate question id '{qid}' (first used at {seen[qid]})"
                    )
                else:
                    seen[qid] = Place(doc.file, doc.line((*path, "id")), format_field(path))
            qtype = c.one_of(q, "type", path, ("likert", "text", "single"))
            prompt = c.text(q, "prompt", path, 2000)
            required = c.boolean(q, "required", path, True)
            choices: list[str] = []
            if qtype == "single":
                choices = c.text_list(q, "choices", path)
                if not 2 <= len(choices) <= 10:
                    c.error(
                        (*path, "choices"),
                        f"a single question needs 2 to 10 choices (found {len(choices)})",
                    )
            elif "choices" in q:
                c.error((*path, "choices"), f"a {qtype} question has no choices")
            if qid and qtype and prompt:
                questions.append(SurveyQuestion(qid, qtype, prompt, tuple(choices), required))
    if len(problems) > before or title is None:
        return None
    return Evaluation(title=title, questions=tuple(questions))


def check_course(folder: Path) -> LoadedCourse:
    """Check one course folder; the course is built only when nothing is wrong."""
    slug = folder.name
    loaded = LoadedCourse(slug=slug, folder=folder)
    problems = loaded.problems
    course_file = folder / "course.yaml"
    if not SLUG.match(slug):
        problems.append(
            Problem(
                display_path(folder),
                1,
                "(folder)",
                f"course folder name '{slug}' must be a slug: lowercase letters, "
                "digits and single hyphens",
            )
        )
    doc = load_document(course_file, problems)
    if doc is None:
        return loaded
    digest = hashlib.sha256()
    digest.update(b"course.yaml\0" + course_file.read_bytes() + b"\0")
    c = Checker(doc, problems)
    data = c.mapping(doc.data, (), COURSE_FIELDS, "course.yaml")
    if data is None:
        return loaded
    title = c.text(data, "title", (), 200)
    version = c.text(data, "version", (), 40)
    summary = c.text(data, "summary", (), 500)
    description = c.text(data, "description", (), 50_000, default="")
    c.markup(description, ("description",))
    audience = c.text_list(data, "audience", ())
    tags = c.text_list(data, "tags", ())
    hours = data.get("hours")
    if "hours" in data and (
        isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 200
    ):
        c.error(("hours",), f"must be a number above 0 and at most 200 (found {hours!r})")
        hours = None
    enrollment = c.one_of(data, "enrollment", (), ("open", "assigned"), "open")
    prerequisites = c.text_list(data, "prerequisites", ())
    loaded.prerequisites_line = (doc.file, doc.line(("prerequisites",)))
    for i, prereq in enumerate(prerequisites):
        if prereq == slug:
            c.error(("prerequisites", i), "a course cannot be its own prerequisite")
    sequential = c.boolean(data, "sequential", (), True)
    pretest = c.boolean(data, "pretest", (), False)
    seat_time = c.integer(data, "seat_time", (), 0, 100, default=0)
    certificate = check_certificate(c, data.get("certificate"))
    ce = check_ce(c, data, hours if isinstance(hours, int | float) else None)

    seen_ids: dict[str, Place] = {}
    modules: list[Module] = []
    if "modules" in data:
        for module_id in listed_files(c, data["modules"], "modules", folder, "module"):
            module = check_module(
                folder, module_id, problems, seen_ids, loaded.files, digest, loaded.places
            )
            if module:
                modules.append(module)

    measures = Measures({m.id: len(m.objectives) for m in modules})
    live_sessions, sessions = check_live_sessions(c, data, measures)
    skills = check_skills(c, data, _session_ids(data))
    activities = check_activities(c, data, folder, measures, digest)
    final_path = folder / "assessments" / "final.yaml"
    final = check_assessment(final_path, problems, digest, seen_ids, measures, loaded.places)
    if not final_path.is_file() and pretest:
        c.error(
            ("pretest",),
            "pretest: true needs assessments/final.yaml (the pre-test is the "
            "final assessment taken once before the first module)",
        )
    pretest_path = folder / "assessments" / "pretest.yaml"
    pretest_form = check_assessment(
        pretest_path, problems, digest, seen_ids, measures, loaded.places, pretest_form=True
    )
    if pretest_path.is_file() and not pretest:
        problems.append(
            Problem(
                display_path(pretest_path),
                1,
                "(file)",
                "assessments/pretest.yaml is a pre-test form, but course.yaml does not "
                "ask for a pre-test: add 'pretest: true' or remove the file",
            )
        )
    evaluation = None
    evaluation_path = folder / "assessments" / "evaluation.yaml"
    if evaluation_path.is_file():
        evaluation_doc = load_document(evaluation_path, problems)
        if evaluation_doc is not None:
            digest.update(b"evaluation.yaml\0" + evaluation_path.read_bytes() + b"\0")
            evaluation = check_evaluation(evaluation_doc, problems, dict(seen_ids))

    asked = asked_hours(modules, final, sessions, activities)
    if hours and not problems and hours > asked:
        c.error(
            ("hours",),
            f"is {hours:g}, but the course asks {asked:g} hours of a learner: its modules' "
            f"minutes, its live sessions' and activities' minutes and its final's time limit "
            f"(or 1 minute a question), rounded up to the quarter hour; lower hours or give "
            f"the modules their real minutes",
        )
    for sha in sorted(loaded.files):
        digest.update(b"file\0" + sha.encode())
    if problems or not (title and version and summary and hours and certificate and enrollment):
        return loaded
    loaded.course = CourseDefinition(
        slug=slug,
        title=title,
        version=version,
        summary=summary,
        description_html=markdown.render(description or ""),
        audience=tuple(audience),
        hours=float(hours),
        enrollment=enrollment,
        prerequisites=tuple(prerequisites),
        sequential=sequential,
        modules=tuple(modules),
        pretest=pretest,
        live_sessions=live_sessions,
        certificate=certificate,
        tags=tuple(tags),
        final=final,
        evaluation=evaluation,
        pretest_form=pretest_form,
        seat_time=seat_time or 0,
        sessions=sessions,
        skills=skills,
        activities=activities,
        ce=ce,
    )
    loaded.fingerprint = digest.hexdigest()
    loaded.places.update({f"question:{qid}": place for qid, place in seen_ids.items()})
    return loaded


def asked_hours(
    modules: list[Module],
    final: Quiz | None,
    sessions: Iterable[LiveSession] = (),
    activities: Iterable[Activity] = (),
) -> float:
    """The most `hours` a course may claim: the time it asks of a learner, to the quarter hour.

    Live sessions in the number form have no minutes, so they add none.
    """
    minutes = sum(m.minutes for m in modules)
    minutes += sum(s.minutes for s in sessions) + sum(a.minutes for a in activities)
    if final is not None:
        minutes += final.time_limit_minutes or final.questions_per_attempt
    return math.ceil(minutes / 15) / 4


def check_assessment(
    path: Path,
    problems: list[Problem],
    digest: Any,
    seen_ids: dict[str, Place],
    measures: Measures,
    places: dict[str, Place],
    pretest_form: bool = False,
) -> Quiz | None:
    """assessments/final.yaml or pretest.yaml, when the file exists; it goes into the digest."""
    if not path.is_file():
        return None
    doc = load_document(path, problems)
    if doc is None:
        return None
    digest.update(f"{path.name}\0".encode() + path.read_bytes() + b"\0")
    pool = "groups" if isinstance(doc.data, dict) and "groups" in doc.data else "questions"
    places["pool:pretest" if pretest_form else "pool:final"] = Place(
        doc.file, doc.line((pool,)), pool
    )
    return check_quiz(
        Checker(doc, problems), doc.data, (), seen_ids, True, measures, pretest_form=pretest_form
    )


def _hours(c: Checker, data: dict[str, Any], key: str, path: FieldPath) -> float | None:
    value = data.get(key)
    if key not in data:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        c.error((*path, key), f"must be a number of hours above 0 (found {_describe(value)})")
        return None
    return float(value)


def check_ce(
    c: Checker, data: dict[str, Any], course_hours: float | None
) -> ContinuingEducation | None:
    """Continuing-education credit: hours up to the course's, categories within them."""
    if "ce" not in data:
        return None
    path: FieldPath = ("ce",)
    found = c.mapping(data["ce"], path, CE_FIELDS, "ce")
    if found is None:
        return None
    before = len(c.problems)
    hours = _hours(c, found, "hours", path)
    if hours is not None and course_hours is not None and hours > course_hours:
        c.error((*path, "hours"), f"is {hours:g}, more than the course's {course_hours:g} hours")
    categories: list[CeCategory] = []
    raw = found.get("categories")
    if "categories" in found and not isinstance(raw, list):
        c.error((*path, "categories"), f"must be a list, found {_describe(raw)}")
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        where = (*path, "categories", i)
        entry = c.mapping(item, where, CE_CATEGORY_FIELDS, "a CE category")
        if entry is None:
            continue
        name = c.text(entry, "name", where, 100)
        share = _hours(c, entry, "hours", where)
        if name is not None and share is not None:
            categories.append(CeCategory(name, share))
    total = sum(cat.hours for cat in categories)
    if hours is not None and total > hours + 1e-9:
        c.error(
            (*path, "categories"),
            f"add up to {total:g} hours, more than the {hours:g} CE hours",
        )
    approval = c.text(found, "approval", path, 1000)
    full = c.boolean(found, "full_attendance", path, True)
    if len(c.problems) > before or hours is None:
        return None
    return ContinuingEducation(hours, tuple(categories), approval, full)


def check_certificate(c: Checker, raw: Any) -> Certificate | None:
    if raw is None:
        return None  # 'missing required field' is already reported
    data = c.mapping(raw, ("certificate",), CERTIFICATE_FIELDS, "certificate")
    if data is None:
        return None
    path: FieldPath = ("certificate",)
    before = len(c.problems)
    title = c.text(data, "title", path, 200, default="Certificate of Completion")
    issuer = c.text(data, "issuer", path, 200)
    signatory_name = c.text(data, "signatory_name", path, 200)
    signatory_title = c.text(data, "signatory_title", path, 200)
    valid = c.integer(data, "valid_for_months", path, 1, 600)
    issue = c.one_of(data, "issue", path, ("automatic", "admin"), "automatic")
    if len(c.problems) > before or issuer is None or issue is None:
        return None
    return Certificate(
        title=title or "Certificate of Completion",
        issuer=issuer,
        signatory_name=signatory_name,
        signatory_title=signatory_title,
        valid_for_months=valid,
        issue=issue,
    )


def check_catalog(root: Path, known_slugs: Iterable[str] = ()) -> CatalogCheck:
    """Check every course folder under `root`, then the prerequisites between them."""
    warnings: list[str] = []
    loaded: list[LoadedCourse] = []
    if not root.is_dir():
        raise FileNotFoundError(f"courses folder {root} does not exist")
    if (root / "course.yaml").is_file():
        # PATH is one course folder: check it, with its siblings as possible prerequisites.
        siblings = {
            p.name for p in root.resolve().parent.iterdir() if (p / "course.yaml").is_file()
        }
        single = check_course(root)
        check_prerequisites([single], set(known_slugs) | siblings)
        return CatalogCheck([single], warnings)
    folders = sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name != PLANS_FOLDER
    )
    for folder in folders:
        if not (folder / "course.yaml").is_file():
            warnings.append(f"{display_path(folder)}: ignored, it has no course.yaml")
            continue
        loaded.append(check_course(folder))
    check_prerequisites(loaded, set(known_slugs))
    return CatalogCheck(loaded, warnings, check_plans(root, [c.slug for c in loaded]))


def check_prerequisites(loaded: list[LoadedCourse], known: set[str]) -> None:
    """Every prerequisite must name a course; prerequisites may not form a cycle."""
    by_slug = {c.slug: c for c in loaded}
    graph: dict[str, list[str]] = {}
    for course in loaded:
        doc = load_prereqs(course)
        graph[course.slug] = doc
        file, line = course.prerequisites_line
        for prereq in doc:
            if prereq not in by_slug and prereq not in known:
                course.problems.append(
                    Problem(file, line, "prerequisites", f"prerequisite '{prereq}' is not a course")
                )
    for cycle in find_cycles(graph):
        text = " -> ".join([*cycle, cycle[0]])
        for slug in cycle:
            file, line = by_slug[slug].prerequisites_line
            by_slug[slug].problems.append(
                Problem(file, line, "prerequisites", f"prerequisites form a cycle: {text}")
            )
    for course in loaded:
        if course.problems:
            course.course = None
            course.fingerprint = None


def load_prereqs(course: LoadedCourse) -> list[str]:
    if course.course is not None:
        return list(course.course.prerequisites)
    # A course with other problems still takes part in the cycle check.
    try:
        doc = parse_yaml(read_text(course.folder / "course.yaml", ""), "")
    except (SourceError, OSError):
        return []
    data = doc.data if isinstance(doc.data, dict) else {}
    value = data.get("prerequisites")
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :])
            elif state.get(nxt) is None:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


# --- Second edition: live sessions as written, skills rubrics, field activities ------------


def _listed(c: Checker, raw: Any, path: FieldPath, what: str) -> list[Any]:
    """A list field of at least one item, or an error (and nothing)."""
    if not isinstance(raw, list) or not raw:
        c.error(path, f"must be a list of at least one {what}, found {_describe(raw)}")
        return []
    return raw


def check_live_sessions(
    c: Checker, data: dict[str, Any], measures: Measures
) -> tuple[int, tuple[LiveSession, ...]]:
    """`live_sessions`: a number of required sessions without agendas, or the sessions as
    written. Returns how many are required, and the written ones."""
    raw = data.get("live_sessions")
    if not isinstance(raw, list):
        return c.integer(data, "live_sessions", (), 0, 100, default=0) or 0, ()
    sessions: list[LiveSession] = []
    seen: set[str] = set()
    for i, item in enumerate(_listed(c, raw, ("live_sessions",), "session")):
        path: FieldPath = ("live_sessions", i)
        entry = c.mapping(item, path, LIVE_SESSION_FIELDS, "a live session")
        if entry is None:
            continue
        before = len(c.problems)
        sid = c.text(entry, "id", path, 100)
        if sid is not None and not MODULE_ID.match(sid):
            c.error((*path, "id"), f"an id is letters, digits, '-' and '_' (found {sid!r})")
        elif sid is not None and sid in seen:
            c.error((*path, "id"), f"live session '{sid}' is listed twice")
        title = c.text(entry, "title", path, 200)
        minutes = c.integer(entry, "minutes", path, 15, 600)
        required = c.boolean(entry, "required", path, True)
        segments = []
        if entry.get("segments") is not None:
            for j, raw_segment in enumerate(
                _listed(c, entry["segments"], (*path, "segments"), "segment")
            ):
                segment = check_segment(c, raw_segment, (*path, "segments", j), measures)
                if segment is not None:
                    segments.append(segment)
            planned = sum(s.minutes for s in segments)
            if minutes is not None and planned > minutes:
                c.error(
                    (*path, "segments"),
                    f"the segments add up to {planned} minutes, more than the session's "
                    f"{minutes}; shorten them or lengthen the session",
                )
        if sid is None or title is None or minutes is None or len(c.problems) > before:
            continue
        seen.add(sid)
        sessions.append(LiveSession(sid, title, minutes, required, tuple(segments)))
    return sum(1 for s in sessions if s.required), tuple(sessions)


def check_segment(c: Checker, raw: Any, path: FieldPath, measures: Measures) -> Segment | None:
    entry = c.mapping(raw, path, SEGMENT_FIELDS, "a segment")
    if entry is None:
        return None
    before = len(c.problems)
    title = c.text(entry, "title", path, 200)
    minutes = c.integer(entry, "minutes", path, 1, 600)
    module_id, objective = check_measures(c, entry, path, measures)
    materials = c.text(entry, "materials", path, 20_000, default="")
    c.markup(materials, (*path, "materials"))
    if title is None or minutes is None or len(c.problems) > before:
        return None
    return Segment(title, minutes, module_id, objective, markdown.render(materials or ""))


def check_criteria(c: Checker, raw: Any, path: FieldPath) -> tuple[Criterion, ...] | None:
    """A rubric: criteria, each with 2-5 levels of distinct scores (kept lowest first)."""
    criteria: list[Criterion] = []
    seen: set[str] = set()
    before = len(c.problems)
    for i, item in enumerate(_listed(c, raw, path, "criterion")):
        here: FieldPath = (*path, i)
        entry = c.mapping(item, here, CRITERION_FIELDS, "a criterion")
        if entry is None:
            continue
        cid = c.text(entry, "id", here, 100)
        if cid is not None and cid in seen:
            c.error((*here, "id"), f"criterion '{cid}' is listed twice")
        text = c.text(entry, "text", here, 1000)
        levels: list[Level] = []
        raw_levels = entry.get("levels")
        if "levels" in entry and (
            not isinstance(raw_levels, list) or not 2 <= len(raw_levels) <= 5
        ):
            c.error(
                (*here, "levels"), f"must be a list of 2 to 5 levels, found {_describe(raw_levels)}"
            )
        elif isinstance(raw_levels, list):
            for j, raw_level in enumerate(raw_levels):
                level_path: FieldPath = (*here, "levels", j)
                level = c.mapping(raw_level, level_path, LEVEL_FIELDS, "a level")
                if level is None:
                    continue
                score = c.integer(level, "score", level_path, 0, 100)
                label = c.text(level, "label", level_path, 100)
                description = c.text(level, "description", level_path, 1000, default="")
                if score is not None and any(lv.score == score for lv in levels):
                    c.error((*level_path, "score"), f"score {score} is given twice; scores differ")
                elif score is not None and label is not None:
                    levels.append(Level(score, label, description or ""))
        if cid is not None and text is not None:
            seen.add(cid)
            criteria.append(Criterion(cid, text, tuple(sorted(levels, key=lambda lv: lv.score))))
    return tuple(criteria) if len(c.problems) == before else None


def _session_ids(data: dict[str, Any]) -> list[str]:
    """The ids the live_sessions list gives, those with problems too: a skill naming one is
    not wrong for it."""
    raw = data.get("live_sessions")
    entries = raw if isinstance(raw, list) else []
    return [e["id"] for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)]


def check_skills(c: Checker, data: dict[str, Any], session_ids: list[str]) -> tuple[Skill, ...]:
    if data.get("skills") is None:
        return ()
    skills: list[Skill] = []
    seen: set[str] = set()
    for i, item in enumerate(_listed(c, data["skills"], ("skills",), "skill")):
        path: FieldPath = ("skills", i)
        entry = c.mapping(item, path, SKILL_FIELDS, "a skill")
        if entry is None:
            continue
        before = len(c.problems)
        sid = c.text(entry, "id", path, 100)
        if sid is not None and sid in seen:
            c.error((*path, "id"), f"skill '{sid}' is listed twice")
        title = c.text(entry, "title", path, 200)
        session = c.text(entry, "session", path, 100)
        if session is not None and session not in session_ids:
            known = ", ".join(session_ids) or "none: give live_sessions as a list"
            c.error((*path, "session"), f"'{session}' is not a live session id ({known})")
        criteria = check_criteria(c, entry.get("criteria"), (*path, "criteria"))
        required = c.boolean(entry, "required", path, False)
        pass_score = c.integer(entry, "pass", path, 0)
        if criteria:
            lowest = sum(cr.levels[0].score for cr in criteria)
            highest = sum(cr.levels[-1].score for cr in criteria)
            if pass_score is None:
                pass_score = sum(cr.levels[1].score for cr in criteria)
            elif not lowest < pass_score <= highest:
                c.error(
                    (*path, "pass"),
                    f"must be above the lowest total ({lowest}) and at most the highest "
                    f"({highest}) (found {pass_score})",
                )
        if sid is None or title is None or not criteria or len(c.problems) > before:
            continue
        seen.add(sid)
        skills.append(Skill(sid, title, criteria, pass_score or 0, session, required))
    return tuple(skills)


def check_activities(
    c: Checker, data: dict[str, Any], folder: Path, measures: Measures, digest: Any
) -> tuple[Activity, ...]:
    """course.yaml `activities`: ids of activities/<id>.md files, each checked."""
    if data.get("activities") is None:
        return ()
    activities = []
    for activity_id in listed_files(c, data["activities"], "activities", folder, "activity"):
        activity = check_activity(folder, activity_id, c.problems, measures, digest)
        if activity is not None:
            activities.append(activity)
    return tuple(activities)


def check_activity(
    folder: Path, activity_id: str, problems: list[Problem], measures: Measures, digest: Any
) -> Activity | None:
    found = read_front_matter(folder, f"activities/{activity_id}.md", problems, digest)
    if found is None:
        return None
    doc, body, body_line = found
    display = doc.file
    c = Checker(doc, problems)
    data = c.mapping(doc.data, (), ACTIVITY_FIELDS, "activity front matter")
    if data is None:
        return None
    before = len(problems)
    check_file_id(c, data, activity_id)
    title = c.text(data, "title", (), 200)
    minutes = c.integer(data, "minutes", (), 5, 2400)
    evidence = c.one_of(data, "evidence", (), EVIDENCE_KINDS, "reflection")
    reviewer = c.one_of(data, "signed_off_by", (), REVIEWERS, "supervisor")
    rubric: tuple[Criterion, ...] | None = ()
    if data.get("rubric") is not None:
        rubric = check_criteria(c, data["rubric"], ("rubric",))
    after = c.text(data, "after", (), 100)
    if after is not None and after not in measures.objectives:
        known = ", ".join(measures.objectives) or "none loaded"
        c.error(("after",), f"'{after}' is not a module of this course ({known})")
    required = c.boolean(data, "required", (), True)
    if not _without_title_heading(body, title or "").strip():
        problems.append(
            Problem(display, body_line, "body", "write the instructions below the front matter")
        )
    for line_no, issue in _body_markup_issues(body, body_line):
        problems.append(Problem(display, line_no, "body", issue))
    if len(problems) > before or title is None or minutes is None or rubric is None:
        return None
    return Activity(
        id=activity_id,
        title=title,
        minutes=minutes,
        instructions_html=markdown.render(_without_title_heading(body, title)),
        evidence=evidence or "reflection",
        signed_off_by=reviewer or "supervisor",
        rubric=rubric,
        after=after,
        required=required,
    )
