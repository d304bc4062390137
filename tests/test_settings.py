"""Settings from the environment, the production refusals and the migration check."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest
from litestar.testing import AsyncTestClient

from lms.app import create_app
from lms.db import DatabaseBehind
from lms.demo import DEMO_PEOPLE, FRESH_LEARNER
from lms.settings import DEFAULT_SECRET, Settings, SettingsError
from tests.conftest import sign_in

STRONG_SECRET = "s" * 48


def test_settings_come_from_lms_variables(tmp_path):
    settings = Settings.from_env(
        {
            "LMS_DATABASE_URL": "sqlite+aiosqlite:///x.db",
            "LMS_COURSES_DIR": str(tmp_path),
            "LMS_BASE_URL": "https://lms.example.org/",
            "LMS_BCRYPT_ROUNDS": "5",
        }
    )
    assert settings.database_url == "sqlite+aiosqlite:///x.db"
    assert settings.courses_dir == tmp_path
    assert settings.base_url == "https://lms.example.org"
    assert settings.bcrypt_rounds == 5 and not settings.production


@pytest.mark.parametrize("secret", [None, DEFAULT_SECRET, "short-secret"])
def test_production_refuses_a_default_or_short_secret(secret):
    env = {"LMS_ENV": "production", "LMS_BASE_URL": "https://lms.example.org"}
    if secret:
        env["LMS_SECRET_KEY"] = secret
    with pytest.raises(SettingsError, match="LMS_SECRET_KEY"):
        Settings.from_env(env)


def test_production_accepts_a_strong_secret():
    env = {
        "LMS_ENV": "production",
        "LMS_SECRET_KEY": STRONG_SECRET,
        "LMS_BASE_URL": "https://lms.example.org",
    }
    assert Settings.from_env(env).production


def test_time_zone_is_the_academys_and_an_unknown_one_is_named():
    assert Settings.from_env({}).time_zone == "America/Los_Angeles"
    assert Settings.from_env({"LMS_TIME_ZONE": "UTC"}).zone.key == "UTC"
    assert Settings.from_env({"LMS_TIME_ZONE": "America/New_York"}).zone.key == "America/New_York"
    for bad in ["Pacific", "America/Los Angeles", "../../etc/passwd", "/etc/localtime"]:
        with pytest.raises(SettingsError, match=r"LMS_TIME_ZONE .*America/Los_Angeles"):
            Settings.from_env({"LMS_TIME_ZONE": bad})


def test_bad_numbers_and_environments_are_named():
    with pytest.raises(SettingsError, match="LMS_BCRYPT_ROUNDS"):
        Settings.from_env({"LMS_BCRYPT_ROUNDS": "twelve"})
    with pytest.raises(SettingsError, match="LMS_ENV"):
        Settings.from_env({"LMS_ENV": "prod"})


def test_serve_refuses_to_start_in_production_with_the_default_secret(tmp_path):
    env = {"LMS_ENV": "production", "LMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"}
    result = subprocess.run(
        [sys.executable, "-m", "lms.cli", "serve"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "LMS_SECRET_KEY must be set" in result.stderr


async def test_production_cookies_are_secure(settings, people):
    production = replace(
        settings, environment="production", secret_key=STRONG_SECRET, base_url="https://x.org"
    )
    async with AsyncTestClient(app=create_app(production), base_url="https://x.org") as client:
        page = await client.get("/sign-in")
        assert "secure" in page.headers["set-cookie"].lower()
        response = await sign_in(client, "learner@example.org")
        cookies = [c for r in response.history for c in r.headers.get_list("set-cookie")]
        session = [c for c in cookies if c.startswith("__Host-lms_session=")]
        assert session and "secure" in session[0].lower() and "httponly" in session[0].lower()
        assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_app_refuses_a_database_behind_its_migrations(tmp_path, settings):
    empty = replace(settings, database_url=f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    with pytest.raises(BaseExceptionGroup) as raised:  # the lifespan wraps it in a group
        async with AsyncTestClient(app=create_app(empty)):
            pass
    assert raised.group_contains(DatabaseBehind, match="Run `lms db upgrade`")


def test_cli_says_which_command_fixes_an_old_database(tmp_path):
    env = {"LMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/empty.db", "PATH": "/usr/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "lms.cli", "demo"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "Run `lms db upgrade`" in result.stderr
    status = subprocess.run(
        [sys.executable, "-m", "lms.cli", "db", "status"], env=env, capture_output=True, text=True
    )
    assert status.returncode == 1 and "lms db upgrade" in status.stdout


@pytest.mark.parametrize("args", [[], ["db", "upgrade"], ["serve"], ["users", "create"], ["demo"]])
def test_every_command_has_help(args):
    result = subprocess.run(
        [sys.executable, "-m", "lms.cli", *args, "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "Usage:" in result.stdout and len(result.stdout) > 200


def test_upgrade_demo_and_users_create_are_repeatable(tmp_path):
    env = {
        "LMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db",
        "LMS_BCRYPT_ROUNDS": "4",
        "PATH": "/usr/bin",
    }

    def lms(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lms.cli", *args], env=env, capture_output=True, text=True
        )

    assert lms("db", "upgrade").returncode == 0
    assert lms("db", "upgrade").returncode == 0
    first, second = lms("demo"), lms("demo")
    assert f"{len(DEMO_PEOPLE)} new accounts" in first.stdout and "0 new accounts" in second.stdout
    # Every demo account is named in what `make run` prints, the fresh learner among them.
    assert "learner2" in first.stdout and FRESH_LEARNER in first.stdout
    create = [
        "users",
        "create",
        "--email",
        "Boss@Example.org",
        "--name",
        "Pat Boss",
        "--role",
        "admin",
        "--role",
        "trainer",
        "--county",
        "Shasta",
        "--password",
        "a long password",
    ]
    made = lms(*create)
    assert made.returncode == 0 and "boss@example.org (trainer, admin)" in made.stdout
    again = lms(*create)
    assert again.returncode == 1 and "already an account" in again.stderr
    bad = lms(
        "users",
        "create",
        "--email",
        "x@example.org",
        "--name",
        "X",
        "--role",
        "learner",
        "--county",
        "Atlantis",
        "--password",
        "a long password",
    )
    assert bad.returncode == 1 and "no county named 'Atlantis'" in bad.stderr
