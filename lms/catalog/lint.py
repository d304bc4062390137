"""Item-writing lint: warnings about questions a test-wise learner can answer without reading.

The validator refuses what breaks the format; these are cues and gaps a valid course can
still have, found by the rules of classical item writing (Haladyna, Downing and Rodriguez,
2002): the key is the longest choice, the keys sit in one position, an absolute word gives a
true/false statement away, a negative stem is easy to misread, a knowledge check repeats the
final, a module objective is never assessed. `lms courses check` lists them with
`file:line`; `--strict` makes them errors. docs/course-authoring.md explains each one with a
before and after.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from difflib import SequenceMatcher

from lms.catalog.definition import CourseDefinition, Question, Quiz
from lms.catalog.source import Place, Problem

# More than this share of a pool's items with the same cue is a pattern, not chance.
CUE_SHARE = 0.40
# Below this many items a share means little (two of three is not a pattern).
MIN_ITEMS = 3
# Questions this alike (difflib ratio of prompt and choices, 0-1) ask the same thing.
NEAR_DUPLICATE = 0.85

ABSOLUTE = re.compile(r"\b(always|never|only|must|all|none)\b", re.IGNORECASE)
NEGATIVE = re.compile(r"\b(not|except)\b", re.IGNORECASE)
# A negative made hard to miss: NOT, *not*, **not**, _not_.
EMPHASIZED = re.compile(r"(\*\*|\*|__|_)\s*(not|except)\s*\1", re.IGNORECASE)
QUOTED = re.compile(r'"[^"]*"|\u201c[^\u201d]*\u201d')
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
WORDS = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class Pool:
    """One set of questions an attempt draws from, with where it is written."""

    name: str  # "module 'what-is-sop' quiz", "final", "pre-test form"
    quiz: Quiz
    place: Place
    module: str | None = None  # the module of a module quiz


def pools(course: CourseDefinition, places: dict[str, Place]) -> list[Pool]:
    found = [
        Pool(f"module '{m.id}' quiz", m.quiz, places[f"pool:{m.id}"], module=m.id)
        for m in course.modules
        if m.quiz is not None
    ]
    if course.final is not None:
        found.append(Pool("final", course.final, places["pool:final"]))
    if course.pretest_form is not None:
        found.append(Pool("pre-test form", course.pretest_form, places["pool:pretest"]))
    return found


def lint_course(course: CourseDefinition, places: dict[str, Place]) -> list[Problem]:
    """Every warning for one course that loaded, in file order."""
    warnings: list[Problem] = []
    course_pools = pools(course, places)
    for pool in course_pools:
        warnings += _longest_key(pool)
        warnings += _key_position(pool)
        warnings += _correct_first(pool, places)
        for question in pool.quiz.questions:
            warnings += _absolute_words(question, places[f"question:{question.id}"])
            warnings += _negative_stem(question, places[f"question:{question.id}"])
    warnings += _near_duplicates(course_pools, places)
    warnings += _objectives_without_questions(course, course_pools, places)
    warnings += _final_gaps(course, places)
    return sorted(warnings, key=lambda w: (w.file, w.line, w.field))


def _warn(place: Place, message: str, field: str | None = None) -> Problem:
    return Problem(place.file, place.line, field or place.field, message)


def _singles(quiz: Quiz) -> list[Question]:
    return [q for q in quiz.questions if q.type == "single" and len(q.choices) > 1]


def _longest_key(pool: Pool) -> Iterator[Problem]:
    singles = _singles(pool.quiz)
    longest = [q.id for q in singles if _key_is_longest(q)]
    if len(singles) >= MIN_ITEMS and len(longest) > CUE_SHARE * len(singles):
        yield _warn(
            pool.place,
            f"in {len(longest)} of the {pool.name}'s {len(singles)} single-answer questions "
            f"the correct choice is the longest ({_ids(longest)}); a learner who picks the "
            "longest choice passes without reading. Make the wrong choices as full and "
            "specific as the right one",
        )


def _key_is_longest(question: Question) -> bool:
    key = [len(c.text) for c in question.choices if c.correct]
    others = [len(c.text) for c in question.choices if not c.correct]
    return len(key) == 1 and key[0] > max(others)


def _key_position(pool: Pool) -> Iterator[Problem]:
    if pool.quiz.shuffle:
        return  # the choices are shuffled for each attempt: where the key is written is hidden
    singles = _singles(pool.quiz)
    positions = Counter(next(i for i, c in enumerate(q.choices) if c.correct) for q in singles)
    if len(singles) < MIN_ITEMS or not positions:
        return
    position, count = positions.most_common(1)[0]
    if count > CUE_SHARE * len(singles):
        yield _warn(
            pool.place,
            f"the {pool.name} is not shuffled and choice {'ABCDEFGHIJ'[position]} is correct "
            f"in {count} of its {len(singles)} single-answer questions; spread the keys over "
            "the positions or add 'shuffle: true'",
        )


def _correct_first(pool: Pool, places: dict[str, Place]) -> Iterator[Problem]:
    if pool.quiz.shuffle:
        return
    multiples = [q for q in pool.quiz.questions if q.type == "multiple"]
    first = [q for q in multiples if _correct_listed_first(q)]
    if multiples and len(first) == len(multiples):
        what = (
            "its multiple-answer question lists"
            if len(multiples) == 1
            else f"all {len(multiples)} of its multiple-answer questions list"
        )
        yield _warn(
            places[f"question:{first[0].id}"],
            f"the {pool.name} is not shuffled and {what} the correct choices first, ahead of "
            f"every wrong one ({_ids([q.id for q in first])}); mix them, or add "
            "'shuffle: true'",
        )


def _correct_listed_first(question: Question) -> bool:
    flags = [c.correct for c in question.choices]
    right = sum(flags)
    return 0 < right < len(flags) and all(flags[:right])


def _absolute_words(question: Question, place: Place) -> Iterator[Problem]:
    if question.type != "true_false" or question.answer is not False:
        return
    words = sorted({w.lower() for w in ABSOLUTE.findall(question.prompt)})
    if words:
        yield _warn(
            place,
            f"question '{question.id}' is false and says {_quoted(words)}: a learner who "
            "marks every absolute statement false gets it right without reading. State the "
            "specific claim that is false instead",
            f"{place.field}.prompt",
        )


def _negative_stem(question: Question, place: Place) -> Iterator[Problem]:
    if question.type == "true_false":
        return  # a statement, not a stem: there is no question to read the wrong way round
    hidden = [
        m.group(0)
        for m in NEGATIVE.finditer(EMPHASIZED.sub("", _stem_question(question.prompt)))
        if not m.group(0).isupper()
    ]
    if hidden:
        yield _warn(
            place,
            f"question '{question.id}' asks in the negative ({_quoted(hidden)}) without "
            "emphasis, so a reader in a hurry answers the opposite. Ask it positively, or "
            "write the word in capitals or **bold**",
            f"{place.field}.prompt",
        )


def _stem_question(prompt: str) -> str:
    """The sentence that asks, without quoted speech: a case may say "not" in passing."""
    unquoted = QUOTED.sub(" ", prompt)
    sentences = [p for p in SENTENCE_END.split(unquoted.strip()) if p.strip()]
    return sentences[-1] if sentences else ""


def _near_duplicates(course_pools: list[Pool], places: dict[str, Place]) -> Iterator[Problem]:
    final = next((p for p in course_pools if p.name == "final"), None)
    if final is None:
        return
    others = [p for p in course_pools if p.module is not None or p.name == "pre-test form"]
    final_prompts = [(q, _normalized(q)) for q in final.quiz.questions]
    for pool in others:
        for question in pool.quiz.questions:
            text = _normalized(question)
            place = places[f"question:{question.id}"]
            for twin, twin_text in final_prompts:
                matcher = SequenceMatcher(None, text, twin_text)
                if matcher.real_quick_ratio() < NEAR_DUPLICATE:
                    continue
                if matcher.quick_ratio() >= NEAR_DUPLICATE and matcher.ratio() >= NEAR_DUPLICATE:
                    where = places[f"question:{twin.id}"]
                    yield _warn(
                        place,
                        f"question '{question.id}' of the {pool.name} nearly repeats the "
                        f"final's '{twin.id}' ({where.file}:{where.line}): a learner who "
                        "met it there answers from memory. Ask the final's question about a "
                        "new case",
                        f"{place.field}.prompt",
                    )
                    break


def _normalized(question: Question) -> str:
    """The prompt and choices as words alone: a question asked again with new commas is the
    same question, and two prompts alike ("Which of these is a ...?") with other choices are
    not."""
    text = " ".join([question.prompt, *(c.text for c in question.choices)])
    return " ".join(WORDS.findall(text.lower()))


def _objectives_without_questions(
    course: CourseDefinition, course_pools: list[Pool], places: dict[str, Place]
) -> Iterator[Problem]:
    measured = {
        (q.module, q.objective)
        for pool in course_pools
        for q in pool.quiz.questions
        if q.module is not None and q.objective is not None
    }
    for module in course.modules:
        for number, objective in enumerate(module.objectives, start=1):
            if (module.id, number) not in measured:
                yield _warn(
                    places[f"objective:{module.id}:{number}"],
                    f"no question measures objective {number} of module '{module.id}' "
                    f"(\"{_short(objective)}\"); give a question 'objective: {number}' "
                    "(and 'module' in an assessment file)",
                )


def _final_gaps(course: CourseDefinition, places: dict[str, Place]) -> Iterator[Problem]:
    if course.final is None:
        return
    measured = {q.module for q in course.final.questions if q.module is not None}
    missing = [m.id for m in course.modules if m.id not in measured]
    if missing:
        yield _warn(
            places["pool:final"],
            f"no question or group of the final measures module{'s' if len(missing) > 1 else ''} "
            f"{_ids(missing)}; give each module questions with 'module: <id>', in a group of "
            "its own so that every attempt covers it",
        )


def _ids(ids: list[str]) -> str:
    shown = ", ".join(ids[:6])
    return shown + (f" and {len(ids) - 6} more" if len(ids) > 6 else "")


def _quoted(words: list[str]) -> str:
    return ", ".join(f"'{w}'" for w in words)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
