"""The one form style: each form's frozen dataclass parses every value of its fields."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from lms.accounts.service import PersonForm
from lms.certificates.service import IssueForm
from lms.cohorts.service import AttendanceForm, CohortForm, MemberForm, SessionForm
from lms.errors import InvalidInput
from lms.forms import Answers


def test_repeated_fields_are_all_kept():
    form = CohortForm.from_form(
        {
            "name": ["  Shasta   spring "],
            "trainer": ["7", "3", "7"],
            "county": ["12", "4"],
            "course_5": ["1"],
            "due_5": ["2026-03-31"],
            "due_6": ["2026-04-30"],  # a due date for a course not ticked is not a choice
        }
    )
    assert form.name == "Shasta spring"
    assert list(form.trainer_ids) == [3, 7] and list(form.county_ids) == [4, 12]
    assert dict(form.courses) == {5: date(2026, 3, 31)}
    assert AttendanceForm.from_form({"present": ["2", "9"]}).present == {2, 9}


def test_forms_are_frozen():
    form = MemberForm.from_form({"email": ["a@example.org"]})
    with pytest.raises(dataclasses.FrozenInstanceError):
        form.email = "b@example.org"  # type: ignore[misc]  # assigning to a frozen field is the point of the test


@pytest.mark.parametrize(
    ("form", "data", "field", "message"),
    [
        (MemberForm, {"email": ["a@example.org"], "county_id": ["²"]}, "county_id", "county"),
        (CohortForm, {"name": ["X"], "trainer": ["1", "one"]}, "trainer", "not valid"),
        (CohortForm, {"name": ["X"], "course_2": ["1"], "due_2": ["soon"]}, "due_2", "date"),
        (SessionForm, {"course": ["x"], "title": ["T"]}, "course", "cohort's courses"),
        (
            SessionForm,
            {
                "course": ["1"],
                "title": ["T"],
                "starts_at": ["2026-03-02T09:00"],
                "minutes": ["5"],
                "place": ["Room 1"],
            },
            "minutes",
            "15 and 600",
        ),
        (IssueForm, {"course": ["c"], "enrollment": ["1", "99999999999"]}, "enrollment", "valid"),
        (PersonForm, {"email": ["a@example.org"], "name": ["A"]}, "roles", "role"),
    ],
)
def test_a_bad_field_is_refused_naming_it(form, data, field, message):
    with pytest.raises(InvalidInput) as refused:
        form.from_form(data)
    assert refused.value.field == field
    assert message in str(refused.value)


def test_answers_leave_out_the_token_and_other_fields():
    data = {"_csrf_token": ["t"], "q:q1": ["0", "2"], "note": ["x"]}
    assert Answers.from_form(data, "q:").by_question == {"q1": ["0", "2"]}
    assert "_csrf_token" not in Answers.from_form(data).by_question
