"""Imports every area's tables so that Alembic and the tests see the whole schema."""

from lms.accounts.models import (
    AccountToken,
    County,
    PasswordResetRequest,
    Region,
    SignInFailure,
    User,
    WebSession,
)
from lms.activities.models import ActivityFile, ActivityStep, FieldActivity
from lms.audit import AuditEvent
from lms.catalog.models import Course, CourseFile, CourseVersion, PlanVersion, TrainingPlan
from lms.certificates.models import Certificate, Transcript
from lms.cohorts.models import (
    Attendance,
    Cohort,
    CohortCounty,
    CohortCourse,
    CohortMember,
    CohortTrainer,
    LiveSession,
    TrainerQualification,
)
from lms.compliance.models import Requirement, RequirementExtension
from lms.delivery.models import FidelityLog, SkillScore
from lms.learning.models import Enrollment, EvaluationResponse, ModuleProgress
from lms.mail.models import OutboxMessage
from lms.quizzes.models import Attempt, AttemptAnswer
from lms.reports.models import CompletionCount

__all__ = [
    "AccountToken",
    "ActivityFile",
    "ActivityStep",
    "Attempt",
    "AttemptAnswer",
    "Attendance",
    "AuditEvent",
    "Certificate",
    "Cohort",
    "CohortCounty",
    "CohortCourse",
    "CohortMember",
    "CohortTrainer",
    "CompletionCount",
    "County",
    "Course",
    "CourseFile",
    "CourseVersion",
    "Enrollment",
    "EvaluationResponse",
    "FidelityLog",
    "FieldActivity",
    "LiveSession",
    "ModuleProgress",
    "OutboxMessage",
    "PasswordResetRequest",
    "PlanVersion",
    "Region",
    "Requirement",
    "RequirementExtension",
    "SignInFailure",
    "SkillScore",
    "TrainerQualification",
    "TrainingPlan",
    "Transcript",
    "User",
    "WebSession",
]
