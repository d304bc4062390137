"""lms.db.Kept: what a worker keeps, used again only while its mark holds."""

from __future__ import annotations

import asyncio

from lms.db import Kept


async def test_requests_that_miss_together_work_it_out_once():
    kept: Kept[int] = Kept(4)
    calls = 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)  # the others arrive while it is being worked out
        return 42

    found = await asyncio.gather(*(kept.get_or("report", 1, compute) for _ in range(8)))
    assert found == [42] * 8 and calls == 1
    assert await kept.get_or("report", 1, compute) == 42 and calls == 1
    assert await kept.get_or("report", 2, compute) == 42 and calls == 2  # a new mark
    assert kept.locks == {}


def test_the_least_recently_used_go_past_the_size():
    kept: Kept[str] = Kept(2)
    kept.put("a", 1, "A")
    kept.put("b", 1, "B")
    assert kept.get("a", 1) == "A"  # used: b is now the oldest
    kept.put("c", 1, "C")
    assert kept.get("b", 1) is None and kept.get("a", 1) == "A" and kept.get("c", 1) == "C"
    assert kept.get("a", 2) is None  # another mark: no longer holds
