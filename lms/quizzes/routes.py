"""Quiz pages: start or continue an attempt, save answers, submit, and see the result."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from litestar import Request, Router, get, post
from litestar.params import FromPath
from litestar.response import Response, Template

from lms import times
from lms.accounts.models import User
from lms.auth import signed_in
from lms.errors import DomainError
from lms.forms import EVERY_FIELD, Answers, read_fields
from lms.inject import DB, AppSettings, PathInt
from lms.learning import service as learning
from lms.learning.progress import module_target, progress_of
from lms.pages import page, redirect_to, wants_json
from lms.quizzes import service
from lms.quizzes.models import FINAL, PRETEST

Req = Request[User, Any, Any]
guards = [signed_in]


async def _start(request: Req, db: DB, slug: str, target: str) -> Any:
    enrollment = await learning.get_enrollment(db, request.user, slug)
    attempt = await service.start_attempt(db, enrollment, target)
    return redirect_to("quizzes.attempt", attempt_id=attempt.id)


async def _landing(request: Req, db: DB, slug: str, target: str) -> Template:
    enrollment = await learning.get_enrollment(db, request.user, slug)
    progress = await progress_of(db, enrollment)
    quiz = service.quiz_for(progress.course, target)
    open_attempt = await service.find_open_attempt(db, enrollment.id, target)
    return page(
        "quizzes/landing.html",
        progress=progress,
        quiz=quiz,
        target=target,
        title=service.target_title(progress.course, target),
        open_attempt=open_attempt,
    )


@get("/courses/{slug:str}/pretest", name="quizzes.pretest", guards=guards)
async def pretest_page(request: Req, db: DB, slug: FromPath[str]) -> Template:
    return await _landing(request, db, slug, PRETEST)


@get("/courses/{slug:str}/final", name="quizzes.final", guards=guards)
async def final_page(request: Req, db: DB, slug: FromPath[str]) -> Template:
    return await _landing(request, db, slug, FINAL)


@post("/courses/{slug:str}/pretest/start", name="quizzes.pretest_start", guards=guards)
async def pretest_start(request: Req, db: DB, slug: FromPath[str]) -> Any:
    return await _start(request, db, slug, PRETEST)


@post("/courses/{slug:str}/final/start", name="quizzes.final_start", guards=guards)
async def final_start(request: Req, db: DB, slug: FromPath[str]) -> Any:
    return await _start(request, db, slug, FINAL)


@post(
    "/courses/{slug:str}/modules/{module_id:str}/quiz/start",
    name="quizzes.module_start",
    guards=guards,
)
async def module_quiz_start(
    request: Req, db: DB, slug: FromPath[str], module_id: FromPath[str]
) -> Any:
    return await _start(request, db, slug, module_target(module_id))


@get("/attempts/{attempt_id:int}", name="quizzes.attempt", guards=guards)
async def attempt_page(request: Req, db: DB, attempt_id: PathInt) -> Template:
    view = await service.get_attempt_view(db, attempt_id, request.user.id)
    if view.attempt.submitted_at is not None:
        progress = await progress_of(db, view.enrollment)
        return page("quizzes/result.html", view=view, progress=progress)
    return page("quizzes/attempt.html", view=view, now=service.utcnow())


@post("/attempts/{attempt_id:int}/save", name="quizzes.save", guards=guards)
async def save(request: Req, db: DB, attempt_id: PathInt) -> Any:
    view = await service.get_attempt_view(db, attempt_id, request.user.id, with_answers=False)
    try:
        form = Answers.from_form(await read_fields(request, EVERY_FIELD), service.ANSWER_PREFIX)
        responses = service.parse_answers(view, form)
        saved = await service.save_answers(db, view, responses)
    except DomainError as exc:
        if wants_json(request):
            return Response({"error": str(exc)}, status_code=exc.status_code)
        await service.load_answers(db, view)
        return page(
            "quizzes/attempt.html", exc.status_code, view=view, now=service.utcnow(), error=str(exc)
        )
    if wants_json(request):
        return Response(
            # With its offset: a bare time would not say that it is UTC.
            {"saved": saved, "at": times.iso(service.utcnow(), UTC)},
            status_code=200,
        )
    return redirect_to("quizzes.attempt", "answers-saved", attempt_id=attempt_id)


@post("/attempts/{attempt_id:int}/submit", name="quizzes.submit", guards=guards)
async def submit(request: Req, db: DB, settings: AppSettings, attempt_id: PathInt) -> Any:
    view = await service.get_attempt_view(db, attempt_id, request.user.id, with_answers=False)
    try:
        form = Answers.from_form(await read_fields(request, EVERY_FIELD), service.ANSWER_PREFIX)
        responses = service.parse_answers(view, form)
    except DomainError as exc:
        await service.load_answers(db, view)
        return page(
            "quizzes/attempt.html", exc.status_code, view=view, now=service.utcnow(), error=str(exc)
        )
    await service.submit(db, settings, view, responses)
    return redirect_to("quizzes.attempt", attempt_id=attempt_id)


router = Router(
    path="/",
    route_handlers=[
        pretest_page,
        final_page,
        pretest_start,
        final_start,
        module_quiz_start,
        attempt_page,
        save,
        submit,
    ],
)
