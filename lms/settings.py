"""Settings read from LMS_* environment variables and passed into the app."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.policy import SMTP
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SITE_NAME = "SOP Learning"  # in every page title and email
DEFAULT_SECRET = "dev-only-secret-change-me-for-production-use"  # noqa: S105
MIN_SECRET_LENGTH = 32


def one_address(value: str) -> Address | None:
    """`Name <user@host>` or `user@host` parsed as exactly one address, else None."""
    header = SMTP.header_factory("From", value)
    addresses = header.addresses
    if header.defects or len(addresses) != 1 or not addresses[0].domain:
        return None
    address: Address = addresses[0]
    return address


class SettingsError(Exception):
    """A setting is missing or unsafe; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    database_url: str = f"sqlite+aiosqlite:///{PROJECT_ROOT / 'var' / 'lms.db'}"
    secret_key: str = DEFAULT_SECRET
    courses_dir: Path = PROJECT_ROOT / "courses"
    base_url: str = "http://127.0.0.1:8000"
    environment: str = "development"
    bcrypt_rounds: int = 12
    session_hours: int = 12
    sign_in_limit_per_account: int = 5
    sign_in_limit_per_address: int = 30
    sign_in_window_minutes: int = 15
    templates_dir: Path = field(default=PROJECT_ROOT / "templates")
    smtp_url: str = ""
    mail_from: str = "SOP Learning <no-reply@localhost>"
    mail_send_interval: int = 30
    # Pages, emails and exports show times in the academy's zone; the database keeps UTC.
    time_zone: str = "America/Los_Angeles"
    # Processes rendering certificate PDFs in each server worker (and for bulk issue).
    pdf_workers: int = 1

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def zone(self) -> ZoneInfo:
        """LMS_TIME_ZONE as a zone (check() refuses an unknown one)."""
        return ZoneInfo(self.time_zone)

    @property
    def mail_sender(self) -> Address:
        """LMS_MAIL_FROM as an address (check() refuses one that is not)."""
        sender = one_address(self.mail_from)
        if sender is None:
            raise ValueError(f"LMS_MAIL_FROM is not one address: {self.mail_from!r}")
        return sender

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        defaults = cls()

        def get(name: str, default: str) -> str:
            return env.get(f"LMS_{name}", "").strip() or default

        def get_int(name: str, default: int) -> int:
            raw = get(name, str(default))
            try:
                return int(raw)
            except ValueError:
                raise SettingsError(f"LMS_{name} must be a whole number, got {raw!r}") from None

        environment = get("ENV", defaults.environment)
        if environment not in ("development", "test", "production"):
            raise SettingsError(
                f"LMS_ENV must be development, test or production, got {environment!r}"
            )
        settings = cls(
            database_url=get("DATABASE_URL", defaults.database_url),
            secret_key=get("SECRET_KEY", defaults.secret_key),
            courses_dir=Path(get("COURSES_DIR", str(defaults.courses_dir))),
            base_url=get("BASE_URL", defaults.base_url).rstrip("/"),
            environment=environment,
            bcrypt_rounds=get_int("BCRYPT_ROUNDS", defaults.bcrypt_rounds),
            session_hours=get_int("SESSION_HOURS", defaults.session_hours),
            sign_in_limit_per_account=get_int(
                "SIGN_IN_LIMIT_PER_ACCOUNT", defaults.sign_in_limit_per_account
            ),
            sign_in_limit_per_address=get_int(
                "SIGN_IN_LIMIT_PER_ADDRESS", defaults.sign_in_limit_per_address
            ),
            smtp_url=get("SMTP_URL", defaults.smtp_url),
            mail_from=get("MAIL_FROM", defaults.mail_from),
            mail_send_interval=get_int("MAIL_SEND_INTERVAL", defaults.mail_send_interval),
            time_zone=get("TIME_ZONE", defaults.time_zone),
            pdf_workers=get_int("PDF_WORKERS", defaults.pdf_workers),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse settings that would be unsafe in production."""
        if not 4 <= self.bcrypt_rounds <= 16:
            raise SettingsError("LMS_BCRYPT_ROUNDS must be between 4 and 16")
        if not 1 <= self.pdf_workers <= 64:
            raise SettingsError("LMS_PDF_WORKERS must be between 1 and 64")
        if self.smtp_url and not _smtp_url_ok(self.smtp_url):
            raise SettingsError(
                "LMS_SMTP_URL must look like smtp://user:password@host:587?starttls=true, "
                "smtps://user:password@host:465 or smtp://127.0.0.1:25"
            )
        if one_address(self.mail_from) is None:
            raise SettingsError(
                'LMS_MAIL_FROM must be one address, e.g. "SOP Learning <no-reply@example.org>" '
                "(a name with a comma goes in double quotes)"
            )
        if self.mail_send_interval < 0:
            raise SettingsError("LMS_MAIL_SEND_INTERVAL must be 0 (off) or a number of seconds")
        if not _zone_ok(self.time_zone):
            raise SettingsError(
                f"LMS_TIME_ZONE must be a time zone name such as America/Los_Angeles or UTC, "
                f"got {self.time_zone!r} (the names come from the system's tz database, tzdata)"
            )
        if not self.production:
            return
        if self.secret_key == DEFAULT_SECRET or len(self.secret_key) < MIN_SECRET_LENGTH:
            raise SettingsError(
                "LMS_SECRET_KEY must be set to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters in production; generate one with: "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if self.bcrypt_rounds < 12:
            raise SettingsError("LMS_BCRYPT_ROUNDS must be at least 12 in production")
        if not self.base_url.startswith("https://"):
            raise SettingsError("LMS_BASE_URL must be an https:// address in production")


def _smtp_url_ok(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        return False
    return parts.scheme in ("smtp", "smtps") and bool(parts.hostname)


def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # ValueError: a path, e.g. "../x"
        return False
    return True


def served_base_url(environ: Mapping[str, str], host: str, port: int) -> str | None:
    """The base URL of the address being served, when LMS_BASE_URL is unset outside production.

    In production LMS_BASE_URL stays required (Settings.check refuses a missing https one):
    behind a proxy, the address served is not the address people use.
    """
    if environ.get("LMS_BASE_URL", "").strip() or environ.get("LMS_ENV") == "production":
        return None
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def serve_base_url_from(host: str, port: int) -> str | None:
    """Use the address served as LMS_BASE_URL when it is unset (see `served_base_url`).

    Set in the environment, which the server's worker processes read their settings from,
    so that links in certificates and emails follow the port. Returns it, or None if unchanged.
    """
    served = served_base_url(os.environ, host, port)
    if served:
        os.environ["LMS_BASE_URL"] = served
    return served
