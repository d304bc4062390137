"""Tables for field activities: one row per enrollment and activity, every step kept."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lms.db import Base, utcnow

# A field activity's states: waiting for the reviewer, sent back to the learner, done.
SUBMITTED, RETURNED, SIGNED_OFF = "submitted", "returned", "signed_off"
STATUS_LABELS = {  # with the two states before anything is sent
    "locked": "Opens when its module is complete",
    "open": "Not sent yet",
    SUBMITTED: "Waiting for sign-off",
    RETURNED: "Returned for changes",
    SIGNED_OFF: "Signed off",
}


class FieldActivity(Base):
    """A learner's field activity in one enrollment, from the first submission on.

    `revision` goes up with every step, so that a decision names the submission it was made
    on: a second sign-off (a double click, or two reviewers at once) finds the revision moved
    and changes nothing.
    """

    __tablename__ = "field_activities"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "activity_id"),
        Index("ix_field_activities_status", "status", "submitted_at"),
        # A reviewer's "decided lately" list (the sign-offs queue).
        Index("ix_field_activities_decided_by", "decided_by_id", "decided_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    activity_id: Mapped[str] = mapped_column(String(100))
    # Who reviews it, from the course when it was first submitted: supervisor or trainer.
    reviewer: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    submitted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)  # the latest
    first_submitted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # at sign-off: criterion -> score


class ActivityStep(Base):
    """One step of a field activity: a submission, a return or the sign-off, by whom, when."""

    __tablename__ = "field_activity_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    field_activity_id: Mapped[int] = mapped_column(
        ForeignKey("field_activities.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # submitted, returned or signed_off
    revision: Mapped[int] = mapped_column(Integer)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    reflection: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("field_activity_files.id"))


class ActivityFile(Base):
    """A file a learner submitted, kept in the database so every host serves the same bytes."""

    __tablename__ = "field_activity_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))  # as the learner's computer named it, cleaned
    media_type: Mapped[str] = mapped_column(String(100))  # from the bytes, not the name
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
