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
class Segment:
    """A timed part of a live session's agenda, as the curriculum writes it."""

    title: str
    minutes: int
    module: str | None = None  # the module and objective it teaches, if any
    objective: int | None = None
    materials_html: str = ""  # for the trainer


@dataclass(frozen=True)
class LiveSession:
    """A session of the course as written; a cohort's scheduled session delivers one."""

    id: str
    title: str
    minutes: int
    required: bool = True
    segments: tuple[Segment, ...] = ()


@dataclass(frozen=True)
class Level:
    score: int
    label: str
    description: str = ""


@dataclass(frozen=True)
class Criterion:
    id: str
    text: str
    levels: tuple[Level, ...]  # lowest score first


@dataclass(frozen=True)
class Skill:
    """A skills rubric a trainer scores during or after a live session."""

    id: str
    title: str
    criteria: tuple[Criterion, ...]
    pass_score: int  # the total score needed
    session: str | None = None  # the live session where it is usually observed
    required: bool = False


@dataclass(frozen=True)
class Activity:
    """A field activity: done on the job, signed off by the learner's supervisor (or trainer)."""

    id: str
    title: str
    minutes: int
    instructions_html: str
    evidence: str = "reflection"  # reflection, file or both
    signed_off_by: str = "supervisor"  # or trainer
    rubric: tuple[Criterion, ...] = ()
    after: str | None = None  # a module id: it opens once that module is complete
    required: bool = True


@dataclass(frozen=True)
class Certificate:
    title: str
    issuer: str
    signatory_name: str | None
    signatory_title: str | None
    valid_for_months: int | None
    issue: str  # automatic or admin


@dataclass(frozen=True)
class CeCategory:
    name: str  # e.g. "Law and ethics"
    hours: float


@dataclass(frozen=True)
class ContinuingEducation:
    """CE credit a completion earns (course.yaml `ce`), as the certificate prints it."""

    hours: float
    categories: tuple[CeCategory, ...] = ()
    approval: str | None = None  # the provider's approval statement
    full_attendance: bool = True  # no CE hours unless every required session was attended


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
    # The live sessions as written (the list form of `live_sessions`; the number form has
    # none, and `live_sessions` counts the required ones either way).
    sessions: tuple[LiveSession, ...] = ()
    skills: tuple[Skill, ...] = ()
    activities: tuple[Activity, ...] = ()
    ce: ContinuingEducation | None = None

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


def _criteria(data: list[dict[str, Any]]) -> tuple[Criterion, ...]:
    return tuple(
        Criterion(c["id"], c["text"], tuple(Level(**level) for level in c["levels"])) for c in data
    )


def course_from_json(data: dict[str, Any]) -> CourseDefinition:
    """A stored definition back as objects; versions stored before a field existed lack it."""
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
            "sessions": tuple(
                LiveSession(**{**ls, "segments": tuple(Segment(**seg) for seg in ls["segments"])})
                for ls in data.get("sessions", ())
            ),
            "skills": tuple(
                Skill(**{**sk, "criteria": _criteria(sk["criteria"])})
                for sk in data.get("skills", ())
            ),
            "activities": tuple(
                Activity(**{**a, "rubric": _criteria(a["rubric"])})
                for a in data.get("activities", ())
            ),
            "ce": _ce(data.get("ce")),
        }
    )


def _ce(data: dict[str, Any] | None) -> ContinuingEducation | None:
    if data is None:
        return None
    categories = tuple(CeCategory(**c) for c in data["categories"])
    return ContinuingEducation(**{**data, "categories": categories})
