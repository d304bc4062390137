"""Real servers and databases for tests and `bench/`: written once, used by both.

A server runs in its own process group, so that stopping it stops its workers too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    if not found:
        raise AssertionError("the page has no CSRF token")
    return found.group(1)


# --- PostgreSQL ---------------------------------------------------------------------------


def run_sql(admin_dsn: str, sql: str) -> None:
    """One statement as the server's administrator (CREATE DATABASE cannot be in a transaction)."""
    import asyncpg

    async def execute() -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute())


def create_database(admin_dsn: str, prefix: str) -> tuple[str, str]:
    """A new, empty database on the server of `admin_dsn`: (its name, its app URL)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    run_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    base, _, query = admin_dsn.partition("?")
    url = re.sub(r"^postgres(ql)?://", "postgresql+asyncpg://", base.rsplit("/", 1)[0])
    return name, f"{url}/{name}" + (f"?{query}" if query else "")


def drop_database(admin_dsn: str, name: str) -> None:
    run_sql(admin_dsn, f'DROP DATABASE "{name}" WITH (FORCE)')


# --- servers ------------------------------------------------------------------------------


def lms_env(database_url: str, port: int, **overrides: str) -> dict[str, str]:
    """The environment of an `lms` command in test mode on one database and port."""
    return {
        **os.environ,
        "LMS_DATABASE_URL": database_url,
        "LMS_BCRYPT_ROUNDS": "4",
        "LMS_BASE_URL": f"http://{HOST}:{port}",
        "LMS_ENV": "test",
        **overrides,
    }


def lms(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m lms.cli ARGS`; a failure shows its output."""
    done = subprocess.run(
        [sys.executable, "-m", "lms.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"lms {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def lms(self, *args: str) -> subprocess.CompletedProcess[str]:
        return lms(self.env, *args)

    def log(self) -> str:
        return self.log_path.read_text()

    def worker_pids(self) -> list[int]:
        """The granian worker processes: children of the main process."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []


def start(name: str, args: list[str], env: dict[str, str], folder: Path) -> Server:
    """Start `args` (which name `--port`), its output in FOLDER/NAME.log."""
    port = int(args[args.index("--port") + 1])
    log_path = folder / f"{name}.log"
    with open(log_path, "w") as out:
        process = subprocess.Popen(  # noqa: S603  (our own server commands)
            args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(name, f"http://{HOST}:{port}", process, log_path, env)


def wait_ready(server: Server, path: str = "/healthz", timeout: float = 60) -> None:
    """Wait until PATH answers 200; a server that exits or stays silent shows its log."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(server.url + path, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:  # refused, reset, timed out, or an HTTP error status
            pass
        if time.monotonic() > deadline or server.process.poll() is not None:
            stop(server)
            raise RuntimeError(f"{server.name} did not start:\n{server.log()[-3000:]}")
        time.sleep(0.2)


def stop(server: Server) -> None:
    """Stop the server and everything it started; kill it if it does not stop in time."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)


@contextlib.contextmanager
def serving(name: str, env: dict[str, str], folder: Path, *serve_args: str) -> Iterator[Server]:
    """`lms serve` on the port of env's LMS_BASE_URL, ready, stopped at the end."""
    port = env["LMS_BASE_URL"].rsplit(":", 1)[1]
    args = [sys.executable, "-m", "lms.cli", "serve", "--port", port, *serve_args]
    server = start(name, args, env, folder)
    try:
        wait_ready(server)
        yield server
    finally:
        stop(server)
