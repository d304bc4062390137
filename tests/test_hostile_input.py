"""Hostile input and protocol edges: every case here was a 500 or a leak before it was fixed."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from lms.accounts.models import User
from lms.cohorts.models import Cohort
from lms.forms import MAX_ID, parse_id, parse_ids, parse_number
from tests.conftest import (
    PASSWORD,
    csrf_token,
    form_token,
    load_courses,
    make_person,
    post,
    sign_in,
)
from tests.course_factory import write_course
from tests.test_cohorts import add, enroll_roster, new_cohort, upload


@pytest.fixture
async def small(db, tmp_path):
    await load_courses(db, write_course(tmp_path / "courses").parent)
    return {c.slug: c for c in (await db.scalars(select_courses())).unique().all()}


def select_courses():
    from lms.catalog.models import Course

    return select(Course)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", 1),
        ("42", 42),
        (str(MAX_ID), MAX_ID),
        ("0", None),
        ("²", None),
        ("٣", None),
        ("-1", None),
        (" 1", None),
        ("1.0", None),
        ("", None),
        (str(MAX_ID + 1), None),
        ("9" * 40, None),
        (None, None),
        (7, None),
    ],
)
def test_parse_id_takes_ascii_digits_within_the_integer_column_only(raw, expected):
    assert parse_id(raw) == expected


def test_parse_ids_and_numbers():
    assert parse_ids(["3", "1"]) == [3, 1]
    assert parse_ids(["3", "²"]) is None
    assert parse_number("0") == 0 and parse_number("²") is None


# --- 2: changing a password ends every other session -------------------------------------


async def test_changing_a_password_signs_out_every_other_session(client, people):
    await sign_in(client, "learner@example.org")
    other_browser = client.cookies["lms_session"]
    client.cookies.clear()
    await sign_in(client, "learner@example.org")
    this_browser = client.cookies["lms_session"]
    assert other_browser != this_browser
    new = "a brand new passphrase"
    response = await post(
        client, "/account/password", {"current": PASSWORD, "password": new, "confirm": new}
    )
    assert response.status_code == 200 and "Your password has been changed" in response.text
    # This browser is still signed in; the other one is sent to sign in.
    assert (await client.get("/account/password")).status_code == 200
    client.cookies.set("lms_session", other_browser)
    stale = await client.get("/account/password", follow_redirects=False)
    assert stale.status_code == 303 and stale.headers["location"].startswith("/sign-in")


# --- 4 and 5: control characters ------------------------------------------------------------


async def test_a_control_character_in_a_stored_name_does_not_break_the_xlsx_export(
    client, db, settings, small, people
):
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, small)
    await make_person(db, settings, "ctl@example.org", name="Ctl\x01Char")
    await add(client, cohort_id, "ctl@example.org")
    await enroll_roster(client, cohort_id)
    xlsx = await client.get(f"/cohorts/{cohort_id}/export/matrix.xlsx?course=test-course")
    assert xlsx.status_code == 200
    names = [row[0].value for row in load_workbook(io.BytesIO(xlsx.content)).active.iter_rows()]
    assert "Ctl\ufffdChar" in names


@pytest.mark.parametrize("value", ["Nul\x00Byte", "Bell\x07", "Line\nbreak", "Esc\x1b[31m"])
async def test_control_characters_in_a_persons_name_are_refused_before_anything_is_written(
    client, db, people, value
):
    await sign_in(client, "admin@example.org")
    before = await db.scalar(select(func.count()).select_from(User))
    response = await post(
        client,
        "/admin/people/new",
        {"email": "nul@example.org", "name": value, "role_learner": "1"},
    )
    assert response.status_code == 400
    assert "Name contains a control character" in response.text
    assert await db.scalar(select(func.count()).select_from(User)) == before


async def test_control_characters_in_cohort_and_session_fields_are_refused(
    client, db, small, people
):
    await sign_in(client, "trainer@example.org")
    token = await form_token(client, "/cohorts/new")
    response = await client.post(
        "/cohorts/new", data={"_csrf_token": token, "name": "Nul\x00Cohort"}
    )
    assert response.status_code == 400 and "Name contains a control character" in response.text
    assert await db.scalar(select(func.count()).select_from(Cohort)) == 0
    cohort_id = await new_cohort(client, small)
    course = small["test-course"]
    response = await post(
        client,
        f"/cohorts/{cohort_id}/sessions",
        {
            "course": str(course.id),
            "title": "Day\x00one",
            "starts_at": "2027-01-05T09:00",
            "minutes": "120",
            "place": "Redding",
        },
        token_from=f"/cohorts/{cohort_id}",
    )
    assert response.status_code == 400 and "Title contains a control character" in response.text


async def test_control_characters_in_a_roster_file_are_refused_with_the_line(
    client, db, small, people
):
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, small)
    users_before = await db.scalar(select(func.count()).select_from(User))
    preview = await upload(
        client,
        cohort_id,
        'email,name\nok@example.org,Fine Name\nbad@example.org,"Ctl\x01Char"\n'
        'tab@example.org,"Tab\there"\n',
    )
    assert preview.status_code == 400
    assert "Line 3: Name contains a control character" in preview.text
    assert "Line 4: Name contains a control character" in preview.text
    assert "Apply these changes" not in preview.text
    assert await db.scalar(select(func.count()).select_from(User)) == users_before


async def test_a_revocation_reason_may_have_several_lines_but_no_nul(client, people):
    from lms.errors import InvalidInput
    from lms.forms import check_text

    assert check_text("reason", "Line one\nLine two\tindented", multiline=True)
    with pytest.raises(InvalidInput, match="Reason contains a control character"):
        check_text("reason", "Line one\x00", multiline=True)


# --- 6: ids ---------------------------------------------------------------------------------


async def test_unicode_digits_and_huge_ids_are_not_server_errors(client, db, small, people):
    await sign_in(client, "admin@example.org")
    assert (await client.get("/admin/certificates?cohort=%C2%B2")).status_code == 200
    for path in (
        "/admin/people/99999999999999999999",
        f"/admin/people/{MAX_ID + 1}",
        "/admin/people/0",
    ):
        assert (await client.get(path)).status_code == 404, path
    response = await post(
        client,
        "/admin/people/new",
        {"email": "new@example.org", "name": "New Person", "role_learner": "1", "county_id": "²"},
    )
    assert response.status_code == 400 and "Choose a county from the list" in response.text
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, small)
    assert (await client.get(f"/cohorts/{cohort_id}99999999999999")).status_code == 404
    response = await post(
        client,
        f"/cohorts/{cohort_id}/sessions",
        {
            "course": "²",
            "title": "Day one",
            "starts_at": "2027-01-05T09:00",
            "minutes": "²",
            "place": "Redding",
        },
        token_from=f"/cohorts/{cohort_id}",
    )
    assert response.status_code == 400 and "Choose one of the cohort" in response.text


async def test_a_unicode_digit_as_a_quiz_answer_is_refused(client, db, small, people):
    await sign_in(client, "learner@example.org")
    await post(client, "/courses/test-course/enroll")
    page = await client.get("/courses/test-course/modules/first")
    start = await client.post(
        "/courses/test-course/modules/first/quiz/start",
        data={"_csrf_token": csrf_token(page.text)},
    )
    attempt = str(start.url.path)
    assert attempt.startswith("/attempts/")
    qid = re.search(r'name="q:([^"]+)"', start.text).group(1)
    response = await client.post(
        f"{attempt}/save", data={"_csrf_token": csrf_token(start.text), f"q:{qid}": "²"}
    )
    assert response.status_code == 400 and "not one of the choices" in response.text


# --- 7 to 11: protocol edges ----------------------------------------------------------------


async def test_invalid_utf8_in_a_multipart_form_is_a_400(client):
    body = b'--XX\r\nContent-Disposition: form-data; name="email"\r\n\r\n\xff\xfe\r\n--XX--\r\n'
    response = await client.post(
        "/sign-in", content=body, headers={"content-type": "multipart/form-data; boundary=XX"}
    )
    assert response.status_code == 400
    assert "Something went wrong" not in response.text


@pytest.mark.parametrize("path", ["/static/%00../app.py", "/static/site%01.css", "/%00"])
async def test_a_control_character_in_a_path_is_a_404(client, path):
    assert (await client.get(path)).status_code == 404


async def test_no_openapi_schema_is_published(client, people):
    await sign_in(client, "admin@example.org")
    for path in ("/schema", "/schema/openapi.json", "/schema/swagger"):
        assert (await client.get(path)).status_code == 404, path


async def test_signed_in_pages_and_exports_are_not_cached(client, small, people):
    public = await client.get("/sign-in")
    assert "no-store" not in public.headers.get("cache-control", "")
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, small)
    for path in ("/", f"/cohorts/{cohort_id}", f"/cohorts/{cohort_id}/export/completions.csv"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "private, no-store", path


async def test_the_csrf_exclusions_are_anchored_to_the_start_of_the_path(client, people):
    await sign_in(client, "learner@example.org")
    response = await client.post("/courses/api/enroll", data={"x": "1"})
    assert response.status_code == 403 and "This form has expired" in response.text


# --- 16 and 21: notices and small ones ------------------------------------------------------


async def test_issuing_or_zipping_nothing_says_so_on_the_same_page(client, small, people):
    await sign_in(client, "admin@example.org")
    response = await post(
        client,
        "/admin/certificates/issue",
        {"course": "test-course", "cohort": ""},
        token_from="/admin/certificates",
    )
    assert response.status_code == 200 and response.url.path == "/admin/certificates"
    assert "Nobody was selected, so no certificate was issued" in response.text
    response = await post(client, "/admin/certificates/zip", {}, token_from="/admin/certificates")
    assert response.status_code == 200 and response.url.path == "/admin/certificates"
    assert "No certificate was selected" in response.text


async def test_a_cohort_filter_that_matches_nobody_says_so(client, small, people):
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, small)
    await sign_in(client, "admin@example.org")
    response = await client.get(f"/admin/certificates?cohort={cohort_id}")
    assert "Nobody in this cohort has completed a course without a certificate" in response.text


async def test_csv_content_type_names_its_charset_once(client, small, people):
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, small)
    response = await client.get(f"/cohorts/{cohort_id}/export/completions.csv")
    assert response.headers["content-type"].lower().count("charset") == 1


async def test_the_favicon_is_served(client):
    response = await client.get("/favicon.ico")
    assert response.status_code == 200 and response.content[:4] == b"\x00\x00\x01\x00"


async def test_a_county_that_does_not_exist_is_refused_on_the_roster_form(
    client, db, small, people
):
    await sign_in(client, "trainer@example.org")
    cohort_id = await new_cohort(client, small)
    before = await db.scalar(select(func.count()).select_from(User))
    form = {"email": "zz@example.org", "name": "Zed Zee", "county_id": str(MAX_ID)}
    response = await post(client, f"/cohorts/{cohort_id}/members", form, f"/cohorts/{cohort_id}")
    assert response.status_code == 400 and "Choose a county from the list" in response.text
    assert await db.scalar(select(func.count()).select_from(User)) == before
