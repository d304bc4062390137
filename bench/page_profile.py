"""Profile one page in-process: where a request's time goes, by function, with cProfile.

Run: .venv/bin/python bench/page_profile.py --database-url URL --as EMAIL /cohorts/1/progress
(the database seeded by bench/seed.py; every seeded account has its password).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.seed import PASSWORD  # noqa: E402
from lms.app import create_app  # noqa: E402
from lms.settings import Settings  # noqa: E402
from tests.servers import csrf_token  # noqa: E402


async def profile(
    url: str, email: str, path: str, times: int, top: int, sort: str, dump: str | None
) -> None:
    settings = Settings.from_env({**os.environ, "LMS_DATABASE_URL": url, "LMS_BCRYPT_ROUNDS": "4"})
    app = create_app(settings)
    # The app runs in this thread and event loop, so that the profiler sees it.
    transport = httpx.ASGITransport(app=app)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://lms") as client,
    ):
        page = await client.get("/sign-in")
        form = {"_csrf_token": csrf_token(page.text), "email": email, "password": PASSWORD}
        signed = await client.post("/sign-in", data=form, follow_redirects=False)
        if signed.status_code != 303:
            raise SystemExit(f"could not sign {email} in: {signed.status_code}")
        first = await client.get(path)
        print(f"{path}: {first.status_code}, {len(first.content):,} bytes")
        started = time.perf_counter()
        for _ in range(times):
            await client.get(path)
        took = (time.perf_counter() - started) / times
        print(f"{took * 1000:.1f} ms a request, {times} requests, one at a time")
        started = time.perf_counter()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(times):
            await client.get(path)
        profiler.disable()
        took = (time.perf_counter() - started) / times
        print(f"{took * 1000:.1f} ms a request (with the profiler on), {times} requests")
        pstats.Stats(profiler).sort_stats(sort).print_stats(top)
        if dump:
            profiler.dump_stats(dump)  # for snakeviz, or pstats grouped by package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--as", dest="email", required=True, help="who signs in")
    parser.add_argument("--times", type=int, default=50)
    parser.add_argument("--top", type=int, default=40, help="functions to print")
    parser.add_argument("--sort", default="cumulative", help="cumulative or tottime")
    parser.add_argument("--dump", help="also write the profile to this file")
    parser.add_argument("path")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(
        profile(
            args.database_url, args.email, args.path, args.times, args.top, args.sort, args.dump
        )
    )


if __name__ == "__main__":
    main()
