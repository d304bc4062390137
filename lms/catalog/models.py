"""Tables for courses, their immutable content versions and the files they offer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import Base, utcnow


class Course(Base):
    """A course folder, known by its slug; `current_version` is what new enrollments get."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active or retired
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("course_versions.id", use_alter=True, name="fk_courses_current_version")
    )
    problems: Mapped[list[str] | None] = mapped_column(JSON)
    checked_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime)

    current_version: Mapped[CourseVersion | None] = relationship(
        foreign_keys=[current_version_id], lazy="joined"
    )


class CourseVersion(Base):
    """One fingerprinted, never-changing state of a course's content."""

    __tablename__ = "course_versions"
    __table_args__ = (
        UniqueConstraint("course_id", "fingerprint"),
        UniqueConstraint("course_id", "number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    hours: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Large, and parsed once per process (see service.get_definition): load only on request.
    content: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)


class CourseFile(Base):
    """A resource file's bytes, kept by content hash so every host serves the same file."""

    __tablename__ = "course_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))  # base name when first stored
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class TrainingPlan(Base):
    """A training plan from `courses/plans/<slug>.yaml`, as it stands (its current version's
    content is kept here, beside the history in `plan_versions`)."""

    __tablename__ = "training_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active or retired
    number: Mapped[int] = mapped_column(Integer)  # the current version's number
    fingerprint: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    problems: Mapped[list[str] | None] = mapped_column(JSON)
    checked_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PlanVersion(Base):
    """Every version a plan has had, so that a requirement met under one can be explained."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("training_plans.id"))
    number: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
