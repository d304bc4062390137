"""The admin completions report: pages of people, and totals that agree with the enrollments."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser

import asyncpg
import pytest
from sqlalchemy import column, delete, func, insert, select, table, text, update

from alembic import command as alembic_command
from lms import db as database
from lms.accounts.models import County, User
from lms.catalog import service as catalog
from lms.catalog.models import Course
from lms.cohorts.models import Cohort, CohortCourse, CohortMember, CohortTrainer
from lms.learning.models import Enrollment, EvaluationResponse
from lms.quizzes.models import Attempt, AttemptAnswer
from lms.reports import charts
from lms.reports import completions as service
from lms.reports.models import CompletionCount
from tests.conftest import (
    add_courses,
    lift_retention,
    load_courses,
    make_person,
    postgres_admin_dsn,
    sign_in,
)
from tests.course_factory import COURSE_YAML, write_course

BASE = datetime(2025, 11, 3, 9, 0)
OTHER = COURSE_YAML.replace("Test Course", "Other Course").replace("hours: 2", "hours: 3")


# Loaded by the `courses` fixture in conftest.py.
COURSES = {"online": {}, "other": {"course.yaml": OTHER}}


# Enrollments as migration 0007 left them: the model describes the newest schema.
ENROLLMENTS_0007 = table(
    "enrollments",
    *(column(name) for name in ("user_id", "course_id", "version_id", "status", "enrolled_at")),
    column("completed_at"),
)
USERS_0007 = table(
    "users",
    *(column(name) for name in ("id", "email", "name", "county_id", "created_at")),
    *(column(name) for name in ("is_learner", "is_trainer", "is_admin", "active")),
    column("must_change_password"),
)


async def person_0007(db, email: str, county: str | None) -> User:
    """A learner as migration 0007's users table holds one (no supervisor yet)."""
    county_id = await db.scalar(select(County.id).where(County.name == county)) if county else None
    values = {"email": email, "name": email, "county_id": county_id, "created_at": BASE}
    flags = {"is_learner": True, "is_trainer": False, "is_admin": False, "active": True}
    found = await db.execute(
        insert(USERS_0007)
        .values(**values, **flags, must_change_password=False)
        .returning(USERS_0007.c.id)
    )
    return User(id=found.scalar_one(), email=email)


def completed(user: User, course: Course, at: datetime | None, status: str = "completed"):
    return Enrollment(
        user_id=user.id,
        course_id=course.id,
        version_id=course.current_version_id,
        status=status,
        enrolled_at=BASE - timedelta(days=90),
        completed_at=at,
    )


async def thirty_learners_with_two_completions_each(db, settings, courses) -> list[User]:
    """Learner 00 to 29; completion k (0-59) is k minutes after BASE, learner k // 2."""
    learners = []
    for i in range(30):
        learner = await make_person(
            db, settings, f"learner{i:02d}@example.org", name=f"Learner {i:02d}"
        )
        learners.append(learner)
        for c, slug in enumerate(("online", "other")):
            db.add(completed(learner, courses[slug], BASE + timedelta(minutes=2 * i + c)))
    await db.commit()
    return learners


def names_on(html: str) -> set[str]:
    return set(re.findall(r"<td>(Learner \d\d)</td>", html))


def link(html: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', html)
    return found.group(1).replace("&amp;", "&") if found else None


async def test_completions_show_fifty_at_a_time_newest_first(client, db, settings, courses, people):
    await thirty_learners_with_two_completions_each(db, settings, courses)
    await sign_in(client, "admin@example.org")
    first = await client.get("/admin/completions")
    assert first.status_code == 200
    assert "60 completions" in first.text and "Showing 1–50 of 60, newest first." in first.text
    # The newest 50 are learners 05 to 29 (two each); the oldest 10 are on the next page.
    assert names_on(first.text) == {f"Learner {i:02d}" for i in range(5, 30)}
    assert first.text.count("<td>Learner ") == 50
    assert link(first.text, "prev") is None and "Page 1 of 2" in first.text
    older = link(first.text, "next")
    assert older is not None and older.endswith("page=2#people")

    second = await client.get(older)
    assert "Showing 51–60 of 60, newest first." in second.text
    assert names_on(second.text) == {f"Learner {i:02d}" for i in range(5)}
    assert link(second.text, "next") is None and "Page 2 of 2" in second.text
    assert link(second.text, "prev").endswith("page=1#people")
    # The totals above the table are for every completion, whichever page is shown.
    assert (
        "60 completions" in second.text and "<td>Shasta</td><td>60</td><td>150</td>" in second.text
    )


async def test_page_links_keep_the_filters(client, db, settings, courses, people):
    await thirty_learners_with_two_completions_each(db, settings, courses)
    shasta = await db.scalar(select(County.id).where(County.name == "Shasta"))
    await sign_in(client, "admin@example.org")
    filters = f"by=month&course=&county={shasta}&region=&since=2025-11-01&until=2025-11-30"
    first = await client.get(f"/admin/completions?{filters}")
    assert "Showing 1–50 of 60" in first.text
    assert link(first.text, "next") == f"/admin/completions?{filters}&page=2#people"
    second = await client.get(link(first.text, "next"))
    assert link(second.text, "prev") == f"/admin/completions?{filters}&page=1#people"
    # A filter that leaves fewer than 50 has one page and no page links.
    online = await client.get("/admin/completions?course=online&page=1")
    assert "Showing 1–30 of 30" in online.text and 'rel="next"' not in online.text
    assert "Page 1 of" not in online.text


async def test_the_filters_offered_and_chosen_stay_chosen(client, db, courses, people):
    shasta, region = (
        await db.execute(select(County.id, County.region_id).where(County.name == "Shasta"))
    ).one()
    await sign_in(client, "admin@example.org")
    page = await client.get(f"/admin/completions?course=other&region={region}&county={shasta}")
    assert '<option value="online">Test Course</option>' in page.text
    assert '<option value="other" selected>Other Course</option>' in page.text
    assert f'<option value="{region}" selected>Northern</option>' in page.text
    assert f'<option value="{shasta}" selected>Shasta</option>' in page.text
    # Group by; then "All" and each course, region (all four) and county.
    assert page.text.count("<option") == 4 + (1 + 2) + (1 + 4) + (1 + 58)


@pytest.mark.parametrize("page", ["abc", "0", "-1", "1.5", "２", "9" * 12])
async def test_a_page_that_is_not_a_number_is_refused(client, people, page):
    await sign_in(client, "admin@example.org")
    response = await client.get("/admin/completions", params={"page": page})
    assert response.status_code == 400
    assert "Page must be a whole number, 1 or more." in response.text


async def test_a_page_past_the_end_shows_the_last(client, db, settings, courses, people):
    await thirty_learners_with_two_completions_each(db, settings, courses)
    await sign_in(client, "admin@example.org")
    response = await client.get("/admin/completions?page=7")
    assert response.status_code == 200 and "Showing 51–60 of 60" in response.text


async def test_an_unknown_grouping_is_refused(client, people):
    await sign_in(client, "admin@example.org")
    response = await client.get("/admin/completions?by=colour")
    assert response.status_code == 400
    assert "Group completions by county, region, course or month." in response.text


async def test_no_completions_says_so(client, people):
    await sign_in(client, "admin@example.org")
    response = await client.get("/admin/completions?page=3")
    assert response.status_code == 200 and "0 completions" in response.text
    assert "Showing" not in response.text and response.text.count("No completions match.") == 2


@pytest.mark.parametrize("who,status", [("learner", 403), ("trainer", 403), ("admin", 200)])
async def test_only_admins_see_pages_of_completions(
    client, db, settings, courses, people, who, status
):
    await thirty_learners_with_two_completions_each(db, settings, courses)
    await sign_in(client, f"{who}@example.org")
    response = await client.get("/admin/completions?page=2")
    assert response.status_code == status
    assert ("Learner 00" in response.text) == (who == "admin")


async def test_export_still_has_every_row(client, db, settings, courses, people):
    await thirty_learners_with_two_completions_each(db, settings, courses)
    await sign_in(client, "admin@example.org")
    exported = await client.get("/admin/completions?fmt=csv&page=2")
    lines = exported.content.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 61 and lines[1].startswith("Learner 29,")


async def expected_totals(db, by: str, **filters) -> tuple[int, list[tuple[str, int, float]]]:
    """What the report should say, counted here from every enrollment, one by one."""
    rows = (
        await db.execute(
            select(Enrollment, User.county_id).join(User, User.id == Enrollment.user_id)
        )
    ).all()
    counties = {c.id: c for c in (await db.scalars(select(County))).unique().all()}
    courses = {c.id: c.slug for c in (await db.scalars(select(Course))).unique().all()}
    definitions = await catalog.get_definitions(db, {e.version_id for e, _ in rows})
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for enrollment, county_id in rows:
        county = counties.get(county_id)
        at = enrollment.completed_at
        if enrollment.status != "completed" or at is None:
            continue
        if filters.get("course_slug") and courses[enrollment.course_id] != filters["course_slug"]:
            continue
        if filters.get("county_id") and county_id != filters["county_id"]:
            continue
        if filters.get("region_id") and (
            county is None or county.region_id != filters["region_id"]
        ):
            continue
        if filters.get("since") and at < filters["since"]:
            continue
        if filters.get("until") and at >= filters["until"]:
            continue
        definition = definitions[enrollment.version_id]
        name = {
            "county": county.name if county else "No county",
            "region": county.region.name if county else "No region",
            "course": definition.title,
            "month": at.strftime("%Y-%m"),
        }[by]
        totals[name][0] += 1
        totals[name][1] += definition.hours
    ordered = sorted(totals.items(), reverse=by == "month")
    groups = [(name, int(n), hours) for name, (n, hours) in ordered]
    return sum(n for _, n, _ in groups), groups


async def counted_by_month(db) -> dict[tuple[str, int, int], int]:
    rows = (await db.execute(select(CompletionCount))).scalars().all()
    return {(str(r.month), r.county_id, r.version_id): r.completions for r in rows if r.completions}


async def recounted_by_month(db) -> dict[tuple[str, int, int], int]:
    counts: dict[tuple[str, int, int], int] = defaultdict(int)
    query = select(Enrollment.completed_at, User.county_id, Enrollment.version_id).join(
        User, User.id == Enrollment.user_id
    )
    query = query.where(Enrollment.status == "completed", Enrollment.completed_at.is_not(None))
    for at, county_id, version_id in (await db.execute(query)).all():
        counts[(at.strftime("%Y-%m-01"), county_id or 0, version_id)] += 1
    return dict(counts)


RANGES = [
    {},
    {"since": datetime(2025, 11, 1)},
    {"since": datetime(2025, 10, 20), "until": datetime(2026, 1, 1)},
    {"since": datetime(2025, 11, 3, 9, 30), "until": datetime(2025, 11, 20)},
    {"since": datetime(2025, 12, 2), "until": datetime(2026, 2, 10)},
    {"until": datetime(2025, 12, 15)},
]


async def assert_totals_agree(db) -> None:
    await db.commit()
    assert await counted_by_month(db) == await recounted_by_month(db)
    shasta = await db.scalar(select(County).where(County.name == "Shasta"))
    scopes = [
        {},
        {"county_id": shasta.id},
        {"region_id": shasta.region_id},
        {"course_slug": "other"},
    ]
    for by in service.GROUPINGS:
        for scope in scopes:
            for dates in RANGES:
                filters = scope | dates
                found = await service.completion_totals(db, by, **filters)
                assert found == await expected_totals(db, by, **filters), (by, filters)


async def test_totals_agree_with_the_enrollments_through_every_change(
    db, settings, courses, people
):
    """Completions are counted by month by triggers; every way they change is followed."""
    online, other = courses["online"], courses["other"]
    shasta = await make_person(db, settings, "s@example.org", name="Shasta Person")
    butte = await make_person(db, settings, "b@example.org", county="Butte")
    nowhere = await make_person(db, settings, "n@example.org", county=None)
    moments = [
        BASE - timedelta(days=20),
        BASE,
        BASE + timedelta(days=30),
        BASE + timedelta(days=70),
    ]
    enrollments = []
    for person in (shasta, butte, nowhere):
        for course in (online, other):
            for at in moments[: 2 + person.id % 3]:
                enrollments.append(completed(person, course, at))
    active = completed(shasta, online, None, status="active")
    undated = completed(butte, other, None)  # what no code does; left out of every count
    db.add_all([*enrollments, active, undated])
    await assert_totals_agree(db)

    active.status, active.completed_at = "completed", BASE + timedelta(days=1)
    enrollments[0].completed_at = BASE + timedelta(days=45)  # into another month
    enrollments[-1].status = "withdrawn"
    enrollments[2].course_id, enrollments[2].version_id = other.id, other.current_version_id
    enrollments[3].user_id = butte.id
    await db.flush()
    await lift_retention(db)  # deleting is what an expired record's removal does
    await db.execute(delete(Enrollment).where(Enrollment.id == enrollments[4].id))
    await assert_totals_agree(db)

    # Moving a person moves their completions, as the report always counted them.
    await db.execute(update(User).where(User.id == shasta.id).values(county_id=butte.county_id))
    await db.execute(update(User).where(User.id == butte.id).values(county_id=None))
    await db.execute(update(User).where(User.id == nowhere.id).values(county_id=shasta.county_id))
    await assert_totals_agree(db)

    await db.execute(update(Enrollment).values(status="completed", completed_at=BASE))
    await assert_totals_agree(db)
    await lift_retention(db)
    await db.execute(delete(Enrollment))
    await db.commit()
    assert await counted_by_month(db) == {}
    assert await service.completion_totals(db) == (0, [])


@pytest.fixture(params=["sqlite", "postgresql"])
async def blank_database(request, tmp_path):
    """A database of its own, not yet migrated, dropped at the end."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'blank.db'}"
        return
    admin = postgres_admin_dsn()
    name = f"lms_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        base, _, query = admin.partition("?")
        url = re.sub(r"^postgres(ql)?://", "postgresql+asyncpg://", base.rsplit("/", 1)[0])
        yield f"{url}/{name}" + (f"?{query}" if query else "")
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def migrate(url: str, revision: str, down: bool = False) -> None:
    # Alembic's env.py runs its own event loop, so it cannot run on this one.
    run = alembic_command.downgrade if down else alembic_command.upgrade
    await asyncio.to_thread(run, database.alembic_config(url), revision)


async def test_the_migration_counts_the_completions_already_there(blank_database, tmp_path):
    url = blank_database
    await migrate(url, "0007")
    engine = database.create_engine(url)
    try:
        async with database.create_sessionmaker(engine)() as db:
            courses = await add_courses(db, tmp_path / "courses", COURSES, qualify=False)
            for i, county in enumerate(["Shasta", "Butte", None]):
                person = await person_0007(db, f"p{i}@example.org", county)
                for day in range(i + 1):
                    row = completed(person, courses["online"], BASE + timedelta(days=40 * day))
                    values = {c.name: getattr(row, c.name) for c in ENROLLMENTS_0007.columns}
                    await db.execute(insert(ENROLLMENTS_0007).values(**values))
            await db.commit()
        await migrate(url, "head")
        async with database.create_sessionmaker(engine)() as db:
            assert sum((await counted_by_month(db)).values()) == 6
            assert await counted_by_month(db) == await recounted_by_month(db)
        await migrate(url, "0007", down=True)
        async with database.create_sessionmaker(engine)() as db:
            # The triggers went with the table: enrollments can change without it.
            await db.execute(update(Enrollment).values(completed_at=BASE))
            await db.commit()
            tables = "SELECT count(*) FROM completion_counts"
            with pytest.raises(Exception, match="completion_counts"):
                await db.execute(text(tables))
            await db.rollback()
        await migrate(url, "head")
        async with database.create_sessionmaker(engine)() as db:
            assert await counted_by_month(db) == await recounted_by_month(db)
            months = await db.scalar(select(func.count()).select_from(CompletionCount))
            assert months == 3  # one month, three counties
    finally:
        await engine.dispose()
        catalog.forget_definitions()


# The cohort's course report: summaries first, detail behind disclosures, charts whose
# table is their accessible text, question text as Markdown, Likert colours in order.

LONG_ROLE = "Ongoing, family maintenance or other child welfare social worker"
EVALUATION_YAML = f"""\
title: Evaluation
questions:
  - {{id: e1, type: likert, prompt: "I can name the **existing safety** on a map."}}
  - {{id: e2, type: likert, prompt: The modules were clearly written.}}
  - id: e3
    type: single
    prompt: Which best describes your current role?
    choices:
      - {LONG_ROLE}
      - Supervisor or practice lead
  - {{id: e4, type: text, prompt: "What should we improve?", required: false}}
"""
MARKDOWN_QUIZ = {
    "course.yaml": COURSE_YAML,
    "assessments/evaluation.yaml": EVALUATION_YAML,
}
# Six learners' evaluations: e1 is answered 2, 3, 4, 4, 4, 5 (one Disagree, one Neither,
# three Agree, one Strongly agree); e2 by five of them (1, 1, 0, 1, 2); e3 and e4 by some.
ANSWERS = [
    {"e1": 2, "e2": 5, "e3": LONG_ROLE, "e4": "More cases"},
    {"e1": 3, "e2": 5, "e3": LONG_ROLE, "e4": ""},
    {"e1": 4, "e2": 1, "e3": "Supervisor or practice lead", "e4": "Shorter videos"},
    {"e1": 4, "e2": 4, "e3": LONG_ROLE},
    {"e1": 4, "e2": 2, "e3": LONG_ROLE},
    {"e1": 5, "e3": LONG_ROLE},
]


async def cohort_with_evaluations(db, settings, people, root, answers=ANSWERS) -> int:
    """A cohort of the trainer's whose learners completed the course and its evaluation."""
    from tests.course_factory import FIRST_MODULE

    first = FIRST_MODULE.replace(
        "prompt: Which is right?", 'prompt: "Which is the **existing safety**?"'
    )
    write_course(root, "online", {**MARKDOWN_QUIZ, "modules/first.md": first})
    await load_courses(db, root)
    course = await db.scalar(select(Course).where(Course.slug == "online"))
    cohort = Cohort(name="Shasta spring", created_by_id=people["trainer"].id)
    db.add(cohort)
    await db.flush()
    db.add(CohortTrainer(cohort_id=cohort.id, user_id=people["trainer"].id))
    db.add(CohortCourse(cohort_id=cohort.id, course_id=course.id))
    for i, given in enumerate(answers):
        learner = await make_person(db, settings, f"eval{i}@example.org", name=f"Eval {i}")
        db.add(CohortMember(cohort_id=cohort.id, user_id=learner.id))
        enrollment = Enrollment(
            user_id=learner.id,
            course_id=course.id,
            version_id=course.current_version_id,
            status="completed",
            enrolled_at=BASE,
            completed_at=BASE + timedelta(days=i),
            cohort_id=cohort.id,
        )
        db.add(enrollment)
        await db.flush()
        db.add(
            EvaluationResponse(
                enrollment_id=enrollment.id, version_id=course.current_version_id, answers=given
            )
        )
        attempt = Attempt(
            enrollment_id=enrollment.id,
            target="module:first",
            number=1,
            layout=[],
            submitted_at=BASE,
            percent=50.0,
            passed=True,
        )
        db.add(attempt)
        await db.flush()
        db.add(AttemptAnswer(attempt_id=attempt.id, question_id="q1", response=[1], correct=False))
    await db.commit()
    return cohort.id


@dataclass
class Node:
    """An element of a parsed page: enough of a DOM to ask what is inside what."""

    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node | str] = field(default_factory=list)

    def iter(self, tag: str | None = None):
        for child in self.children:
            if isinstance(child, Node):
                if tag is None or child.tag == tag:
                    yield child
                yield from child.iter(tag)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def inner_html_has(self, needle: str) -> bool:
        return needle in self.markup()

    def markup(self) -> str:
        inside = "".join(c if isinstance(c, str) else c.markup() for c in self.children)
        return f"<{self.tag}>{inside}</{self.tag}>"

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def shown(self) -> bool:
        """Seen without opening any disclosure: no closed <details> around it but its summary."""
        node: Node = self
        for above in self.ancestors():
            if above.tag == "details" and "open" not in above.attrs and node.tag != "summary":
                return False
            if "visually-hidden" in above.attrs.get("class", "").split():
                return False
            node = above
        return "visually-hidden" not in self.attrs.get("class", "").split()


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root", {})
        self.at = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.at)
        self.at.children.append(node)
        if tag not in VOID:
            self.at = node

    def handle_startendtag(self, tag, attrs):
        self.at.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.at))

    def handle_endtag(self, tag):
        node: Node | None = self.at
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.at = node.parent

    def handle_data(self, data):
        self.at.children.append(data)


def parse(html: str) -> Node:
    tree = _Tree()
    tree.feed(html)
    return tree.root


def by_id(root: Node, ident: str) -> Node:
    (found,) = [n for n in root.iter() if n.attrs.get("id") == ident]
    return found


def sections(root: Node) -> dict[str, Node]:
    """Each <section> of the report by its heading's text."""
    found = {}
    for section in root.iter("section"):
        heading = next(section.iter("h2"))
        found[heading.text().split("(")[0].strip()] = section
    return found


async def course_report(client, db, settings, people, tmp_path, answers=ANSWERS) -> str:
    cohort_id = await cohort_with_evaluations(db, settings, people, tmp_path / "courses", answers)
    await sign_in(client, "trainer@example.org")
    response = await client.get(f"/cohorts/{cohort_id}/report?course=online")
    assert response.status_code == 200, response.text[:500]
    return response.text


async def test_question_text_is_shown_as_markdown(client, db, settings, people, tmp_path):
    html = await course_report(client, db, settings, people, tmp_path)
    assert "**" not in html
    root = parse(html)
    # The evaluation statement and the knowledge-check question, in their tables.
    statements = by_id(root, "evaluation-statements-data")
    assert statements.inner_html_has("I can name the <strong>existing safety</strong> on a map.")
    questions = next(sections(root)["Item analysis"].iter("table"))
    assert questions.inner_html_has("Which is the <strong>existing safety</strong>?")
    # Inside the chart's SVG text the emphasis is plain text, not asterisks.
    chart = next(
        s for s in root.iter("svg") if s.attrs.get("aria-describedby") == statements.attrs["id"]
    )
    assert "I can name the existing safety on a map." in chart.text()


async def test_each_chart_has_one_copy_of_its_numbers(client, db, settings, people, tmp_path):
    html = await course_report(client, db, settings, people, tmp_path)
    root = parse(html)
    charts_ = list(root.iter("svg"))
    assert len(charts_) == 4  # status, completions, the statements, the role question
    tables = [t for t in root.iter("table") if t.attrs.get("id", "").endswith("-data")]
    for chart in charts_:
        # The chart is an image described by its table, which is behind a disclosure of its own:
        # opening the section shows the chart, not the chart and a copy of it.
        assert chart.attrs["role"] == "img" and chart.attrs.get("aria-label")
        table = by_id(root, chart.attrs["aria-describedby"])
        assert table.tag == "table" and table in tables
        disclosure = table.parent
        assert disclosure.tag == "details" and "open" not in disclosure.attrs
        assert chart not in list(disclosure.iter("svg"))
        assert chart.parent is disclosure.parent  # straight beside the chart it describes
    assert len(tables) == len(charts_)
    # One row per statement with its counts, in one table, not one table per statement.
    rows = [
        [td.text() for td in tr.iter("td")]
        for tr in by_id(root, "evaluation-statements-data").iter("tr")
    ]
    assert ["0", "1", "1", "3", "1", "6"] in rows and ["1", "1", "0", "1", "2", "5"] in rows
    assert html.count("I can name the <strong>existing safety</strong> on a map.") == 1


async def test_likert_colours_read_from_disagree_to_agree(client, db, settings, people, tmp_path):
    html = await course_report(client, db, settings, people, tmp_path)
    root = parse(html)
    (chart,) = [
        s for s in root.iter("svg") if s.attrs["aria-describedby"] == "evaluation-statements-data"
    ]
    order = ["Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree"]
    legend = [
        r.attrs["data-answer"] for r in chart.iter("rect") if "legend" in r.attrs.get("class", "")
    ]
    assert legend == order
    fills = {
        r.attrs["data-answer"]: r.attrs["fill"]
        for r in chart.iter("rect")
        if r.attrs.get("data-answer")
    }
    assert [fills[a] for a in order] == list(charts.LIKERT_COLORS)
    # Each statement's bar goes from disagree to agree, left to right.
    for row in chart.iter("g"):
        segments = [r for r in row.iter("rect") if r.attrs.get("data-answer")]
        xs = [float(r.attrs["x"]) for r in segments]
        assert xs == sorted(xs)
        assert [order.index(r.attrs["data-answer"]) for r in segments] == sorted(
            order.index(r.attrs["data-answer"]) for r in segments
        )


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def test_the_likert_palette_is_diverging_and_agree_is_not_red():
    disagree, mild, neither, agree, strongly = (rgb(c) for c in charts.LIKERT_COLORS)
    for red, _, blue in (disagree, mild):
        assert red > blue + 60  # the disagree end is warm
    for red, _, blue in (agree, strongly):
        assert blue > red + 60  # the agree end is cool: never red
    assert max(neither) - min(neither) < 20  # a grey in the middle
    # The ends are darker than the mild answers next to them: strength reads as depth.
    assert sum(disagree) < sum(mild) and sum(strongly) < sum(agree)


async def test_each_section_opens_with_a_summary_and_hides_its_detail(
    client, db, settings, people, tmp_path
):
    html = await course_report(client, db, settings, people, tmp_path)
    root = parse(html)
    found = sections(root)
    assert list(found) == ["Status", "Completions", "Knowledge gain", "Item analysis", "Evaluation"]
    summaries = {
        "Status": "6 learners: 6 completed.",
        "Completions": "6 of 6 learners have completed the course, the first on Nov 3, 2025 "
        "and the latest on Nov 8, 2025.",
        "Item analysis": "1 question, from 6 first graded attempts by 6 learners (retakes are "
        "left out). No question is flagged. 1 question had fewer than 20 attempts: its "
        "statistics are not yet reliable, so it is not flagged.",
        "Evaluation": "6 learners answered the evaluation.",
    }
    for name, section in found.items():
        shown = " ".join(
            " ".join(n.text().split()) for n in section.iter() if n.tag in ("p", "li") and n.shown()
        )
        if name in summaries:
            assert summaries[name] in shown, (name, shown)
        # No chart or table is on the page until its disclosure is opened.
        assert not [n for n in section.iter() if n.tag in ("svg", "table") and n.shown()], name
        if name != "Knowledge gain":  # a sentence with nothing behind it
            detail = next(section.iter("details"))
            assert next(detail.iter("summary")).text().strip()
    evaluation = " ".join(found["Evaluation"].text().split())
    assert (
        "Across the 2 statements, 7 of 11 answers (64%) were Agree or Strongly agree" in evaluation
    )
    assert "least agreed with: “The modules were clearly written.” (60%)" in evaluation
    assert "2 written comments" in evaluation
    assert " style=" not in html  # the page's CSP allows no inline styles


async def test_a_long_label_is_wrapped_not_cut(client, db, settings, people, tmp_path):
    html = await course_report(client, db, settings, people, tmp_path)
    root = parse(html)
    chart = next(
        s for s in root.iter("svg") if s.attrs.get("aria-label", "").startswith("Which best")
    )
    label = next(t for t in chart.iter("text") if "Ongoing" in t.text())
    lines = [t.text() for t in label.iter("tspan")]
    assert len(lines) > 1 and " ".join(lines) == LONG_ROLE
    assert all(len(line) <= charts.LABEL_CHARS for line in lines)
    # The wrapped label fits between the left edge and the bars.
    assert float(label.attrs["x"]) <= charts.LABEL_WIDTH
    assert charts.LABEL_CHARS * charts.CHAR_WIDTH * 13 <= charts.LABEL_WIDTH - 8


def test_bar_chart_rows_grow_with_their_labels():
    svg = charts.bar_chart("Roles", [(LONG_ROLE, 5), ("Other", 1)], described_by="x")
    (height,) = re.findall(r'viewBox="0 0 \d+ (\d+)"', svg)
    tspans = re.findall(r"<tspan[^>]*>([^<]*)</tspan>", svg)
    assert " ".join(tspans[:-1]) == LONG_ROLE and tspans[-1] == "Other"
    assert int(height) >= 16 * len(tspans)
    for y in re.findall(r'<rect[^>]* y="([\d.]+)"[^>]* height="([\d.]+)"', svg):
        assert float(y[0]) + float(y[1]) <= int(height)


async def test_a_cohort_without_answers_says_so(client, db, settings, people, tmp_path):
    html = await course_report(client, db, settings, people, tmp_path, answers=[])
    found = sections(parse(html))
    assert "No learners yet." in found["Status"].text()
    assert "Nobody has completed the course yet." in found["Completions"].text()
    assert "Nobody has answered the evaluation yet." in found["Evaluation"].text()
