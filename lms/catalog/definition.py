"""A loaded course as plain, immutable objects: what the rest of the app reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Choice:
    text: str
    text_html: str
    correct: bool
    feedback_html: str


@dataclass(frozen=True)
class Question:
    id: str
    type: str  # single, multiple, true_false
    prompt: str
    prompt_html: str
    choices: tuple[Choice, ...]
    answer: bool | None
    explanation_html: str
    points: int
    # What it measures (second edition): a module id and a 1-based index into its objectives.
    module: str | None = None
    objective: int | None = None


@dataclass(frozen=True)
class QuestionGroup:
    """Part of a pool: each attempt draws `pick` of its questions, so it covers every group."""

    title: str | None
    pick: int
    question_ids: tuple[str, ...]


@dataclass(frozen=True)
class Quiz:
    title: str
    pass_mark: int
    max_attempts: int | None
    shuffle: bool
    draw: int | None
    time_limit_minutes: int | None
    questions: tuple[Question, ...]  # every question of the pool, groups' included, in order
    groups: tuple[QuestionGroup, ...] = ()
    review: str = "mistakes"  # what an attempt that did not pass shows: score, mistakes, answers

    @property
    def questions_per_attempt(self) -> int:
        if self.groups:
            return sum(g.pick for g in self.groups)
        return self.draw or len(self.questions)


@dataclass(frozen=True)
class Resource:
    title: str
    kind: str
    url: str | None
    file: str | None  # path inside the course's resources/ folder
    sha256: str | None  # of the file, which is kept in the database
    size: int | None


@dataclass(frozen=True)
class Module:
    id: str
    title: str
    minutes: int
    objectives: tuple[str, ...]
    resources: tuple[Resource, ...]
    quiz: Quiz | None
    body_html: str
    words: int


@dataclass(frozen=True)
class SurveyQuestion:
    id: str
    type: str  # likert, text, single
    prompt: str
    choices: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class Evaluation:
    title: str
    questions: tuple[SurveyQuestion, ...]


@dataclass(frozen=True)
class Certificate:
    title: str
    issuer: str
    signatory_name: str | None
    signatory_title: str | None
    valid_for_months: int | None
    issue: str  # automatic or admin


@dataclass(frozen=True)
class CourseDefinition:
    slug: str
    title: str
    version: str
    summary: str
    description_html: str
    audience: tuple[str, ...]
    hours: float
    enrollment: str  # open or assigned
    prerequisites: tuple[str, ...]
    sequential: bool
    modules: tuple[Module, ...]
    pretest: bool
    live_sessions: int
    certificate: Certificate
    tags: tuple[str, ...]
    final: Quiz | None
    evaluation: Evaluation | None
    # assessments/pretest.yaml, a form parallel to the final; without it the pre-test is
    # drawn from the final's pool.
    pretest_form: Quiz | None = None
    # Percent of a module's minutes a learner must have spent reading it before completing it.
    seat_time: int = 0

    def module(self, module_id: str) -> Module | None:
        return next((m for m in self.modules if m.id == module_id), None)

    @property
    def minutes(self) -> int:
        return sum(m.minutes for m in self.modules)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _quiz(data: dict[str, Any] | None) -> Quiz | None:
    if data is None:
        return None
    questions = tuple(
        Question(**{**q, "choices": tuple(Choice(**c) for c in q["choices"])})
        for q in data["questions"]
    )
    groups = tuple(
        QuestionGroup(g["title"], g["pick"], tuple(g["question_ids"]))
        for g in data.get("groups", ())
    )
    return Quiz(**{**data, "questions": questions, "groups": groups})


def course_from_json(data: dict[str, Any]) -> CourseDefinition:
    modules = tuple(
        Module(
            **{
                **m,
                "objectives": tuple(m["objectives"]),
                "resources": tuple(Resource(**r) for r in m["resources"]),
                "quiz": _quiz(m["quiz"]),
            }
        )
        for m in data["modules"]
    )
    evaluation = None
    if data["evaluation"] is not None:
        evaluation = Evaluation(
            title=data["evaluation"]["title"],
            questions=tuple(
                SurveyQuestion(**{**q, "choices": tuple(q["choices"])})
                for q in data["evaluation"]["questions"]
            ),
        )
    return CourseDefinition(
        **{
            **data,
            "audience": tuple(data["audience"]),
            "prerequisites": tuple(data["prerequisites"]),
            "tags": tuple(data["tags"]),
            "modules": modules,
            "certificate": Certificate(**data["certificate"]),
            "final": _quiz(data["final"]),
            "pretest_form": _quiz(data.get("pretest_form")),
            "evaluation": evaluation,
        }
    )
