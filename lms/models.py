"""Imports every area's tables so that Alembic and the tests see the whole schema."""

from lms.accounts.models import County, Region, SignInFailure, User, WebSession
from lms.audit import AuditEvent
from lms.catalog.models import Course, CourseFile, CourseVersion

__all__ = [
    "AuditEvent",
    "County",
    "Course",
    "CourseFile",
    "CourseVersion",
    "Region",
    "SignInFailure",
    "User",
    "WebSession",
]
