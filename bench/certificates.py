"""Certificate benchmarks (issue 5).

1. One certificate, warm, against WeasyPrint's floor: a minimal one-line page rendered in the
   same process. Two floors are printed: WeasyPrint's plain call (`HTML(string).write_pdf()`),
   and the same page with the shared font configuration the certificate renderer uses.
   Target: at most 2x the floor.
   Then a transcript of 3, 10 and 30 courses, against the certificate (target: at most 2x).
2. 1,000 certificates issued in bulk (`bulk_issue`, the code behind `lms certificates issue`)
   into a fresh database, with one rendering process per core. Target: under 2 minutes.

Run: .venv/bin/python bench/certificates.py [--count 1000] [--database-url URL]
(--count 0: the single renders only)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lms.certificates import pdf  # noqa: E402


def median_ms(work, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def single(repeat: int = 30) -> tuple[float, float, float]:
    from weasyprint import HTML

    pdf._setup()
    fonts, fetcher = pdf._state["fonts"], pdf._state["fetcher"]
    fields = dict(
        pdf.SAMPLE,
        learner_name="María José Hernández",
        course_title="Introduction to Safety Organized Practice",
    )

    def plain_floor() -> None:
        HTML(string="<p>One line.</p>").write_pdf()

    def floor() -> None:
        HTML(string="<p>One line.</p>", url_fetcher=fetcher).write_pdf(font_config=fonts)

    def certificate() -> None:
        pdf.render(fields)

    for _ in range(3):  # warm every path
        plain_floor()
        floor()
        certificate()
    return median_ms(plain_floor, repeat), median_ms(floor, repeat), median_ms(certificate, repeat)


def transcript_fields(lines: int) -> dict[str, object]:
    """A transcript as `transcripts.printed_fields` gives it, with `lines` completed courses."""
    return {
        "issuer": "SOP Learning Academy",
        "learner_name": "María José Hernández",
        "county": "Shasta",
        "license_type": "LCSW",
        "license_number": "LCSW 123456",
        "issued_on": "December 7, 2026",
        "serial": "ABCD-EFGH-JKLM-NPQR",
        "lines": [
            {
                "course": f"Safety Organized Practice, part {n}: mapping and planning",
                "version": "2026.1",
                "completed_on": "March 3, 2026",
                "hours": 5.5,
                "ce_hours": 3.0 if n % 2 else 0,
                "serial": "WXYZ-2345-6789-ABCD",
                "status": "valid",
            }
            for n in range(1, lines + 1)
        ],
        "total_hours": 5.5 * lines,
        "total_ce_hours": 3.0 * ((lines + 1) // 2),
        "verify_url": "https://lms.example.org/verify/ABCD-EFGH-JKLM-NPQR",
    }


def transcripts(repeat: int = 20) -> dict[int, float]:
    """A transcript's rendering time by its number of lines (issue 18: at most 2x a
    certificate's)."""
    found = {}
    for lines in (3, 10, 30):
        fields = transcript_fields(lines)
        for _ in range(2):
            pdf.render(fields, "transcript")
        found[lines] = median_ms(lambda f=fields: pdf.render(f, "transcript"), repeat)
    return found


async def bulk(count: int, database_url: str | None) -> float:
    from sqlalchemy import insert, select

    from alembic import command
    from lms import db as database
    from lms.accounts.models import User
    from lms.catalog.models import Course
    from lms.catalog.service import sync_courses
    from lms.certificates.service import bulk_issue
    from lms.learning.models import Enrollment
    from lms.settings import Settings

    folder = tempfile.mkdtemp(prefix="lms-bench-")
    url = database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
    await asyncio.to_thread(command.upgrade, database.alembic_config(url), "head")
    settings = replace(Settings(), database_url=url)
    engine = database.create_engine(url)
    sessionmaker = database.create_sessionmaker(engine)
    async with sessionmaker() as db, db.begin():
        await sync_courses(db, ROOT / "courses")
    async with sessionmaker() as db, db.begin():
        course = await db.scalar(select(Course).where(Course.slug == "supervisor-core"))
        now = database.utcnow()
        await db.execute(
            insert(User),
            [
                {
                    "email": f"bench{i}@example.org",
                    "name": f"Bench Learner {i}",
                    "is_learner": True,
                    "is_trainer": False,
                    "is_admin": False,
                    "active": True,
                    "must_change_password": False,
                    "created_at": now,
                }
                for i in range(count)
            ],
        )
        ids = (await db.scalars(select(User.id).where(User.email.like("bench%")))).all()
        await db.execute(
            insert(Enrollment),
            [
                {
                    "user_id": uid,
                    "course_id": course.id,
                    "version_id": course.current_version_id,
                    "status": "completed",
                    "enrolled_at": now,
                    "completed_at": now,
                }
                for uid in ids
            ],
        )
    pdf.pool(os.cpu_count() or 2)
    await asyncio.get_running_loop().run_in_executor(pdf.pool(), pdf.render, pdf.SAMPLE)
    start = time.perf_counter()
    result = await bulk_issue(sessionmaker, settings, "supervisor-core", chunk=32)
    elapsed = time.perf_counter() - start
    await engine.dispose()
    assert result.issued == count, result
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    plain, floor, certificate = single()
    print(f"one-line page, plain call:        {plain:7.1f} ms")
    print(f"one-line page, shared fonts:      {floor:7.1f} ms")
    print(
        f"one certificate, warm:            {certificate:7.1f} ms  = {certificate / plain:.2f}x "
        f"the plain floor, {certificate / floor:.2f}x the shared-fonts floor"
    )
    for lines, took in transcripts().items():
        print(
            f"a transcript of {lines:2d} courses:      {took:7.1f} ms  = {took / certificate:.2f}x "
            "a certificate (target at most 2x)"
        )
    if args.count == 0:
        return
    elapsed = asyncio.run(bulk(args.count, args.database_url))
    print(
        f"{args.count} certificates in bulk:     {elapsed:7.1f} s  with {os.cpu_count()} rendering "
        f"processes ({args.count / elapsed:.1f}/s; target under 120 s)"
    )
    pdf.pool().shutdown()


if __name__ == "__main__":
    main()
