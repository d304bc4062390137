"""Tables for people, their sign-in sessions, failed sign-ins, counties and regions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, exists
from sqlalchemy.orm import Mapped, aliased, column_property, mapped_column, relationship

from lms.db import Base, utcnow

ROLES = ("learner", "trainer", "admin")
# Job classifications, as training plans name them (course-format.md "Training plans").
CLASSIFICATIONS = {
    "social_worker": "Social worker",
    "supervisor": "Supervisor",
    "manager": "Manager",
    "other": "Other",
}
# How long each kind of one-time link (AccountToken.purpose) works.
TOKEN_HOURS = {"invite": 24 * 14, "reset": 2}


@dataclass(frozen=True)
class PersonName:
    """A person as a long list names them: a roster of 250 on a page is not 250 User objects
    (each with its county and region) to build on every request."""

    id: int
    name: str


class Region(Base):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)


class County(Base):
    __tablename__ = "counties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))

    region: Mapped[Region] = relationship(lazy="joined")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stored lower-cased so that uniqueness is case-insensitive on every database.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(100))
    is_learner: Mapped[bool] = mapped_column(Boolean, default=True)
    is_trainer: Mapped[bool] = mapped_column(Boolean, default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id"), index=True)
    # Whose "My team" this person is on (see lms/supervision); not a role, a link.
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime)
    # What compliance counts from and prints (see lms/compliance): training plans count
    # their deadlines from the hire date or the date of the current role.
    hire_date: Mapped[date | None] = mapped_column(Date)
    role_date: Mapped[date | None] = mapped_column(Date)
    classification: Mapped[str | None] = mapped_column(String(20))
    license_type: Mapped[str | None] = mapped_column(String(40))
    license_number: Mapped[str | None] = mapped_column(String(40))
    license_expires: Mapped[date | None] = mapped_column(Date)

    county: Mapped[County | None] = relationship(lazy="joined")

    @property
    def roles(self) -> list[str]:
        return [role for role in ROLES if getattr(self, f"is_{role}")]

    def has_role(self, role: str) -> bool:
        return role in self.roles


# Whether anyone active names this person as supervisor: the nav shows "My team" then. It is
# read with the signed-in person (accounts.service._SESSION_USER undefers it), so no page pays
# a query for it; deferred everywhere else.
_supervisee = aliased(User)
User.leads_team = column_property(  # set after the class: it refers to User itself
    exists().where(_supervisee.supervisor_id == User.id, _supervisee.active.is_(True)),
    deferred=True,
)


class WebSession(Base):
    """A signed-in browser. The cookie holds a random token; only its hash is stored."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    # What one page hands the next across a redirect, encrypted (see accounts.service.carry).
    carried: Mapped[str | None] = mapped_column(Text, default=None)

    user: Mapped[User] = relationship(lazy="joined")


class SignInFailure(Base):
    """One failed sign-in, counted per account and per client address for throttling."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_email_at", "email", "at"),
        Index("ix_sign_in_failures_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AccountToken(Base):
    """A one-time link to set a password: an invitation or a reset. Only its hash is kept."""

    __tablename__ = "account_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))  # invite or reset
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class PasswordResetRequest(Base):
    """One "forgotten password" request, counted per email and per address for throttling."""

    __tablename__ = "password_reset_requests"
    __table_args__ = (
        Index("ix_password_reset_requests_email_at", "email", "at"),
        Index("ix_password_reset_requests_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
