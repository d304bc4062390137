"""The certificates table: what was printed, the PDF as issued, and what happened since."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from lms.accounts.models import User
from lms.db import Base, utcnow
from lms.learning.models import Enrollment


class Certificate(Base):
    """One issued certificate. Printed fields are copied here so the record never drifts."""

    __tablename__ = "certificates"
    __table_args__ = (
        # One current certificate per completed enrollment: issuing again is a no-op.
        Index(
            "uq_certificates_current",
            "enrollment_id",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
        Index("ix_certificates_expires_at", "expires_at"),
        Index("ix_certificates_course_issued", "course_slug", "issued_at"),
        Index("ix_certificates_issued_at", "issued_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(32), unique=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    # What the PDF says.
    certificate_title: Mapped[str] = mapped_column(String(200))
    learner_name: Mapped[str] = mapped_column(String(200))
    course_slug: Mapped[str] = mapped_column(String(100))
    course_title: Mapped[str] = mapped_column(String(200))
    course_version: Mapped[str] = mapped_column(String(40))
    hours: Mapped[float] = mapped_column(Float)
    completed_at: Mapped[datetime] = mapped_column(DateTime)
    issued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    issuer: Mapped[str] = mapped_column(String(200))
    signatory_name: Mapped[str | None] = mapped_column(String(200))
    signatory_title: Mapped[str | None] = mapped_column(String(200))
    verify_url: Mapped[str] = mapped_column(String(300))
    # Continuing-education credit, as printed: None when the course gives none, or when the
    # learner missed part of a required session of a full-attendance course.
    ce_hours: Mapped[float | None] = mapped_column(Float)
    ce_categories: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    ce_approval: Mapped[str | None] = mapped_column(Text)
    license_type: Mapped[str | None] = mapped_column(String(40))
    license_number: Mapped[str | None] = mapped_column(String(40))
    # The file as issued, and its fingerprint for checking an uploaded copy.
    pdf: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    sha256: Mapped[str] = mapped_column(String(64))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))

    enrollment: Mapped[Enrollment] = relationship(lazy="raise")
    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="raise")

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.superseded_at is not None:
            return "superseded"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "valid"


class Transcript(Base):
    """A training transcript as issued: what it printed (a line per completed course), its
    PDF and its serial, verifiable at /verify/<serial> as certificates are."""

    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    learner_name: Mapped[str] = mapped_column(String(200))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    total_hours: Mapped[float] = mapped_column(Float)
    total_ce_hours: Mapped[float] = mapped_column(Float)
    verify_url: Mapped[str] = mapped_column(String(300))
    issued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    pdf: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    sha256: Mapped[str] = mapped_column(String(64))
