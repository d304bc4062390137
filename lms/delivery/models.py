"""Tables for how a live session was delivered and the skills scored in it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lms.db import Base, utcnow

# A fidelity log is the session's trainer's account of the delivery; an observation is a
# second trainer's or a coach's, against the same segments and a short checklist.
DELIVERY, OBSERVATION = "delivery", "observation"
# How each segment of the curriculum as written went.
AS_WRITTEN, ADAPTED, SKIPPED = "as_written", "adapted", "skipped"
SEGMENT_STATES = {AS_WRITTEN: "Delivered as written", ADAPTED: "Adapted", SKIPPED: "Skipped"}


class FidelityLog(Base):
    """One person's record of how a session's segments were delivered.

    `segments` holds one entry per segment of the course session, in order:
    {"status": as_written|adapted|skipped, "minutes": int, "note": str}.
    """

    __tablename__ = "fidelity_logs"
    __table_args__ = (UniqueConstraint("session_id", "recorded_by_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # delivery or observation
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    segments: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    checklist: Mapped[dict[str, bool] | None] = mapped_column(JSON)  # observations only
    comment: Mapped[str | None] = mapped_column(Text)
    as_written: Mapped[int] = mapped_column(Integer)  # segments delivered as written
    segment_count: Mapped[int] = mapped_column(Integer)


class SkillScore(Base):
    """A learner's score on one criterion of a skills rubric, given in one session."""

    __tablename__ = "skill_scores"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    skill_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    criterion_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    score: Mapped[int] = mapped_column(Integer)
    scored_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    scored_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
