"""In headless Chromium: a new learner completes sop-intro end to end; axe checks the pages."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from lms.catalog.definition import CourseDefinition, Question
from lms.catalog.validate import check_course
from tests.browser import assert_accessible, read_through, set_supervisor, sign_in_as
from tests.learning_helpers import questions_by_id
from tests.servers import Server

pytestmark = pytest.mark.browser
INTRO = Path(__file__).resolve().parent.parent / "courses" / "sop-intro"


def sop_intro() -> CourseDefinition:
    loaded = check_course(INTRO)
    assert loaded.course is not None
    return loaded.course


def questions(course: CourseDefinition) -> dict[str, Question]:
    return questions_by_id(course)


def answer_page(page: Page, course: CourseDefinition, right: bool) -> None:
    """Answer every question on an attempt page by clicking its labels."""
    by_id = questions(course)
    names = page.locator("input[name^='q:']").evaluate_all(
        "inputs => [...new Set(inputs.map(i => i.name))]"
    )
    for name in names:
        q = by_id[name[2:]]
        if q.type == "true_false":
            values = ["true" if q.answer == right else "false"]
        else:
            correct = [str(i) for i, c in enumerate(q.choices) if c.correct]
            wrong = [str(i) for i, c in enumerate(q.choices) if not c.correct]
            values = correct if right else wrong[:1]
        for value in values:
            page.locator(f"input[name='{name}'][value='{value}']").check()


def shown_questions(page: Page, course: CourseDefinition) -> list[Question]:
    by_id = questions(course)
    names = page.locator("input[name^='q:']").evaluate_all(
        "inputs => [...new Set(inputs.map(i => i.name))]"
    )
    return [by_id[name[2:]] for name in names]


def assert_reveals_no_answer(received: list[str], shown: list[Question]) -> None:
    """No page or script response of the pre-test says which answer is right, or why."""
    bodies = [html.unescape(body) for body in received]
    assert "Pre-test recorded" in bodies[-1]
    assert '"saved"' in bodies[1]  # the autosave's JSON
    for body in bodies:
        assert "correct answer" not in body
        assert 'class="explanation"' not in body and 'class="feedback"' not in body
        for question in shown:
            explanation = re.sub(r"<[^>]+>", "", html.unescape(question.explanation_html))
            assert not explanation or explanation[:60] not in body, question.id
            for choice in question.choices:
                feedback = re.sub(r"<[^>]+>", "", html.unescape(choice.feedback_html))
                assert not feedback or feedback[:60] not in body, question.id


def make_learner(server: Server, email: str) -> None:
    server.lms(
        "users",
        "create",
        "--email",
        email,
        "--name",
        "Rosa Delgado-Núñez",
        "--role",
        "learner",
        "--county",
        "Shasta",
        "--password",
        "browser-test-pass",
    )


def test_a_new_learner_completes_sop_intro(page, live_server):
    course = sop_intro()
    make_learner(live_server, "rosa@example.org")
    sign_in_as(page, live_server, "rosa@example.org", "browser-test-pass")
    expect(page.get_by_text("You have no courses in progress")).to_be_visible()

    page.get_by_role("link", name="Courses", exact=True).click()
    assert_accessible(page)
    page.get_by_role("link", name=course.title).click()
    page.get_by_role("button", name="Enroll").click()
    expect(page.get_by_role("status")).to_contain_text("You are enrolled")

    # What the browser holds while taking the pre-test: the pages and the autosave's JSON.
    page.get_by_role("link", name="Take the pre-test").click()
    page.get_by_role("button", name="Start").click()
    shown = shown_questions(page, course)
    received = [page.content()]
    with page.expect_response(lambda r: r.url.endswith("/save")) as saved:
        answer_page(page, course, right=False)
    received.append(saved.value.text())
    page.get_by_role("button", name="Submit answers").click()
    expect(page.get_by_text("Pre-test recorded")).to_be_visible()
    received.append(page.content())
    assert_reveals_no_answer(received, shown)

    for number, module in enumerate(course.modules, start=1):
        page.get_by_role("link", name=re.compile(f"Module {number}, ")).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(module.title)
        if number == 1:
            assert_accessible(page)
            # The course's seat time: the check waits until half the minutes are read.
            page.get_by_role("button", name=re.compile("knowledge check")).click()
            expect(page.get_by_text(re.compile(r"more minutes? to go"))).to_be_visible()
            page.go_back()
        read_through(live_server, "rosa@example.org", module.id, module.minutes)
        page.get_by_role("button", name=re.compile("knowledge check")).click()
        if number == 1:
            assert_accessible(page)
            answer_page(page, course, right=False)
            page.get_by_role("button", name="Submit answers").click()
            expect(page.get_by_text(re.compile("You scored"))).to_be_visible()
            page.get_by_role("link", name=re.compile("Resume: Module 1")).click()
            page.get_by_role("button", name="Try the knowledge check again").click()
        answer_page(page, course, right=True)
        page.get_by_role("button", name="Submit answers").click()
        expect(page.get_by_text(re.compile("You passed with 100%"))).to_be_visible()

    page.get_by_role("link", name="Take the final assessment").click()
    page.get_by_role("button", name="Start").click()
    answer_page(page, course, right=True)
    page.get_by_role("button", name="Submit answers").click()
    expect(
        page.get_by_text(re.compile(r"Knowledge gain: pre-test 0% → first final attempt 100%"))
    ).to_be_visible()

    page.get_by_role("link", name="Complete the course evaluation").click()
    assert_accessible(page)
    for q in course.evaluation.questions:
        if q.type == "likert":
            page.locator(f"input[name='{q.id}'][value='4']").check()
        elif q.type == "single":
            page.locator(f"input[name='{q.id}']").first.check()
    page.get_by_role("button", name="Submit the evaluation").click()
    expect(page.get_by_role("status")).to_contain_text("your evaluation has been recorded")

    # The field activity: sent, returned by the supervisor, sent again, signed off.
    [activity] = course.activities
    set_supervisor(live_server, "rosa@example.org", "supervisor@example.org")
    page.get_by_role("link", name=f"Do the field activity: {activity.title}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(activity.title)
    assert_accessible(page)
    page.get_by_label("Your reflection").fill("The mother named her sister's daily visits.")
    page.get_by_role("button", name="Send for sign-off").click()
    expect(page.get_by_role("status")).to_contain_text("Your work has been sent for sign-off")

    supervisor = page.context.browser.new_context().new_page()
    sign_in_as(supervisor, live_server, "supervisor@example.org", "sop-demo-2026")
    supervisor.get_by_role("link", name="Sign-offs").click()
    assert_accessible(supervisor)
    supervisor.get_by_role("link", name="Rosa Delgado-Núñez").click()
    expect(supervisor.get_by_text("The mother named her sister")).to_be_visible()
    assert_accessible(supervisor)
    supervisor.get_by_label("Comment for Rosa Delgado-Núñez").fill("Add the children's words.")
    supervisor.get_by_role("button", name="Return for changes").click()
    expect(supervisor.get_by_role("status")).to_contain_text("The activity is returned")

    page.reload()
    expect(page.get_by_text("Add the children's words.")).to_be_visible()
    page.get_by_label("Your reflection").fill("Her son said: 'Auntie helps us.'")
    page.get_by_role("button", name="Send it again").click()
    expect(page.get_by_role("status")).to_contain_text("Your work has been sent for sign-off")

    supervisor.get_by_role("link", name="Sign-offs").click()
    supervisor.get_by_role("link", name="Rosa Delgado-Núñez").first.click()
    for criterion in activity.rubric:
        supervisor.locator(f"input[name='score-{criterion.id}']").last.check()
    supervisor.get_by_role("button", name="Sign off").click()
    expect(supervisor.get_by_role("status")).to_contain_text("The activity is signed off")
    supervisor.context.close()

    page.get_by_role("link", name="My learning").click()
    completed = page.get_by_role("region", name="Completed")
    expect(completed).to_contain_text(course.title)


def test_quiz_answers_survive_a_reload(page, live_server):
    course = sop_intro()
    make_learner(live_server, "reload@example.org")
    sign_in_as(page, live_server, "reload@example.org", "browser-test-pass")
    page.goto(f"{live_server.url}/courses/sop-intro")
    page.get_by_role("button", name="Enroll").click()
    page.get_by_role("link", name="Take the pre-test").click()
    page.get_by_role("button", name="Start").click()
    first = page.locator("input[name^='q:']").first
    first.check()
    expect(page.locator("#save-status")).to_contain_text("Answers saved at")
    page.reload()
    expect(page.locator("input[name^='q:']").first).to_be_checked()
    assert course.pretest
