"""What choosing a broadcast's audience costs in a big school: the estimate's counts per
messenger and reading every recipient a page at a time, for each kind of segment, over the
students of ``bench/stats_queries.py`` (a year of orders and purchases) with a Telegram
account each and a VK account for one in ten.

    python bench/segments.py                      # SQLite (a temporary file), 100,000 students
    BENCH_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/test python bench/segments.py
    SEGMENTS_BENCH_STUDENTS=10000 python bench/segments.py

PostgreSQL: the ``bench_segments`` schema is wiped. Prints one line per segment: the
estimate's time, the time to read all its recipients and the most Python memory that took."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from sqlalchemy import insert  # noqa: E402
from stats_queries import CHUNK, NOW, fill, on_the_database  # noqa: E402

from core.broadcasts import Segment  # noqa: E402
from core.ports import Audience  # noqa: E402
from core.services import segments  # noqa: E402
from storage.tables import IdentityRow, TagRow  # noqa: E402

SEGMENTS = ("everyone", "holders:product:club", "holders:offer:club-month", "ended:30",
            "never_bought", "unpaid", "messenger:vk", "language:en", "tag:vip")


async def accounts(engine, students: int) -> None:
    """A Telegram account each, seen within the last days; a VK one and a tag for one in
    ten."""
    for start in range(1, students + 1, CHUNK):
        numbers = range(start, min(start + CHUNK, students + 1))
        rows = [{"user_id": n, "messenger": "telegram", "external_id": str(n), "name": "",
                 "reachable": n % 50 != 0, "last_seen_at": NOW - timedelta(hours=n % 72),
                 "username": None} for n in numbers]
        rows += [{"user_id": n, "messenger": "vk", "external_id": str(n), "name": "",
                  "reachable": True, "last_seen_at": NOW - timedelta(days=3), "username": None}
                 for n in numbers if n % 10 == 0]
        tags = [{"user_id": n, "tag": "vip", "added_at": NOW, "added_by": "bench"}
                for n in numbers if n % 10 == 0]
        async with engine.begin() as connection:
            await connection.execute(insert(IdentityRow.__table__), rows)
            await connection.execute(insert(TagRow.__table__), tags)


async def measure(factory, audience: Audience) -> tuple[float, float, int, float]:
    async with factory() as uow:
        began = time.perf_counter()
        await segments.reach(uow, audience)
        estimate = time.perf_counter() - began
    tracemalloc.start()
    async with factory() as uow:
        began, found = time.perf_counter(), 0
        async for page in segments.recipients(uow, audience):
            found += len(page)
        reading = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return estimate * 1000, reading, found, peak


async def run(name: str, factory, engine, students: int) -> None:
    began = time.perf_counter()
    await fill(engine, students)
    await accounts(engine, students)
    async with engine.begin() as connection:
        await connection.exec_driver_sql("ANALYZE")
    print(f"{name}: {students:,} students with their accounts, orders and purchases written "
          f"in {time.perf_counter() - began:.0f} s", flush=True)
    for text in SEGMENTS:
        audience = Audience(Segment.decode(text), NOW,
                            languages=("en", "") if text == "language:en" else ())
        estimate, reading, found, peak = await measure(factory, audience)
        print(f"{name} {text:<25} {found:>7,} recipients: estimate {estimate:.0f} ms, all read "
              f"in {reading:.1f} s, peak {peak:.1f} MB", flush=True)
    await engine.dispose()


async def main() -> None:
    students = int(os.environ.get("SEGMENTS_BENCH_STUDENTS", 100_000))
    await on_the_database(run, students, "bench_segments")


if __name__ == "__main__":
    asyncio.run(main())
