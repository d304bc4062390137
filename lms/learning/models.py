"""Tables for enrollments, module progress and evaluation responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User
from lms.catalog.models import Course
from lms.db import Base, utcnow

ACTIVE, COMPLETED, WITHDRAWN = "active", "completed", "withdrawn"


class Enrollment(Base):
    """A person taking one version of a course. Completed ones are kept as history."""

    __tablename__ = "enrollments"
    __table_args__ = (
        # At most one enrollment per person and course that is not completed.
        Index(
            "uq_enrollments_open",
            "user_id",
            "course_id",
            unique=True,
            sqlite_where=text("status != 'completed'"),
            postgresql_where=text("status != 'completed'"),
        ),
        Index("ix_enrollments_course_status", "course_id", "status"),
        Index("ix_enrollments_user_course", "user_id", "course_id"),
        # The completions report: latest first, and counted from the index alone.
        Index(
            "ix_enrollments_completions",
            "completed_at",
            "user_id",
            "version_id",
            sqlite_where=text("status = 'completed'"),
            postgresql_where=text("status = 'completed'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("course_versions.id"))
    status: Mapped[str] = mapped_column(String(20), default=ACTIVE)
    enrolled_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id"), index=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Set on enrolling, starting, saving or submitting an attempt, the evaluation and a
    # module marked done. Reading a module page sets only its module_progress.last_seen_at;
    # the last activity trainers see is the later of the two (lms.cohorts.progress), so that
    # a page view writes one row.
    last_activity_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Raised by triggers whenever the enrollment's progress changes (migration 0009).
    progress_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Attempts a trainer granted beyond a quiz's limit, by target ("final", "module:<id>");
    # who granted them and why is in the audit log.
    extra_attempts: Mapped[dict[str, int] | None] = mapped_column(JSON)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="raise")
    course: Mapped[Course] = relationship(lazy="joined")

    def attempts_granted(self, target: str) -> int:
        return (self.extra_attempts or {}).get(target, 0)

    def attempts_allowed(self, limit: int | None, target: str) -> int | None:
        """A quiz's attempt limit plus the attempts granted at it here; None: no limit."""
        return None if limit is None else limit + self.attempts_granted(target)


class ModuleProgress(Base):
    """One learner's progress through one module of their enrollment's version."""

    __tablename__ = "module_progress"

    enrollment_id: Mapped[int] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE"), primary_key=True
    )
    module_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="in_progress")  # or done
    opened_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    seconds_spent: Mapped[int] = mapped_column(Integer, default=0)


class EvaluationResponse(Base):
    """A learner's answers to the course evaluation, submitted once per enrollment."""

    __tablename__ = "evaluation_responses"

    enrollment_id: Mapped[int] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE"), primary_key=True
    )
    version_id: Mapped[int] = mapped_column(ForeignKey("course_versions.id"), index=True)
    submitted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
