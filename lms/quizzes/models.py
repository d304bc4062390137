"""Tables for quiz attempts and the answers saved during them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from lms.db import Base, utcnow

PRETEST, FINAL = "pretest", "final"


class Attempt(Base):
    """One try at a knowledge check, the pre-test or the final assessment.

    `target` is `module:<id>`, `final` or `pretest`. The questions drawn and the order of
    their choices are fixed when the attempt starts.
    """

    __tablename__ = "attempts"
    __table_args__ = (
        # One unsubmitted attempt per target: two tabs share it instead of starting two.
        Index(
            "uq_attempts_open",
            "enrollment_id",
            "target",
            unique=True,
            sqlite_where=text("submitted_at IS NULL"),
            postgresql_where=text("submitted_at IS NULL"),
        ),
        Index("ix_attempts_enrollment_target", "enrollment_id", "target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(120))
    number: Mapped[int] = mapped_column(Integer)  # 1 for the first attempt at this target
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    layout: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{"q": id, "c": [order]}]
    points: Mapped[int | None] = mapped_column(Integer)
    max_points: Mapped[int | None] = mapped_column(Integer)
    percent: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    late: Mapped[bool] = mapped_column(Boolean, default=False)


class AttemptAnswer(Base):
    """The latest saved answer to one question of an attempt (choice indices or a boolean)."""

    __tablename__ = "attempt_answers"

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    response: Mapped[list[int] | bool] = mapped_column(JSON)
    saved_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    correct: Mapped[bool | None] = mapped_column(Boolean)
