"""What a sweep costs in a big school: 1,000,000 purchases, 1,000 of them due, and how long
each sweep's query takes to find the due ones (expiry, reminders, renewals).

    python bench/sweep_due.py                      # SQLite (a temporary file)
    BENCH_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/test python bench/sweep_due.py
    SWEEP_BENCH_ROWS=100000 python bench/sweep_due.py   # a smaller school

PostgreSQL: the ``bench_sweep`` schema is wiped. Prints one line per measurement (the median
of 20 runs of the query, each in its own transaction, as the sweep makes it)."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from sqlalchemy import insert  # noqa: E402

from storage.tables import OrderRow, PurchaseRow, RenewalRow, UserRow  # noqa: E402
from storage.testing import make_postgres_uow_factory, make_sqlite_uow_factory  # noqa: E402

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
DUE = 1000
CHUNK = 20_000


def _purchase(n: int, due: bool) -> dict:
    ends = NOW - timedelta(minutes=n % 600) if due else NOW + timedelta(days=1 + n % 365)
    return {
        "id": n, "user_id": 1, "order_id": 1, "offer_code": "club-month",
        "products": ["club"], "access": "subscription", "starts_at": NOW - timedelta(days=30),
        "ends_at": ends, "status": "active", "next_lesson_at": None, "updated_at": NOW,
        "ended_at": None, "end_reason": None, "renewal": None, "renewal_method": None,
        "remind_at": ends - timedelta(days=3),
    }


async def fill(engine, rows: int) -> None:
    """``rows`` purchases, every (rows // DUE)-th due now; 2 * DUE renewals, half due."""
    every = rows // DUE
    async with engine.begin() as connection:
        await connection.execute(insert(UserRow.__table__).values(
            id=1, created_at=NOW, name="bench", language="en", timezone=None,
            referral_code="BENCH", referred_by=None, utm_source=None, utm_medium=None,
            utm_campaign=None, start_offer=None))
        await connection.execute(insert(OrderRow.__table__).values(
            id=1, user_id=1, offer_code="club-month", token="bench", amount=900,
            list_amount=900, currency="EUR", promo_code=None, status="paid", created_at=NOW,
            expires_at=NOW, paid_at=NOW, closed_at=None, close_reason=None, messenger=None,
            products=["club"], access="subscription", period="P1M", extends=[],
            seat_taken=False))
    for start in range(1, rows + 1, CHUNK):
        batch = [_purchase(n, n % every == 0) for n in range(start, min(start + CHUNK, rows + 1))]
        async with engine.begin() as connection:
            await connection.execute(insert(PurchaseRow.__table__), batch)
    renewals = [{
        "id": n, "purchase_id": n, "period_end": NOW + timedelta(days=n % 30 + 1),
        "order_id": 1, "status": "pending", "attempts": 0,
        "due_at": NOW - timedelta(minutes=1) if n <= DUE else NOW + timedelta(days=n % 30 + 1),
        "last_error": None, "created_at": NOW, "updated_at": NOW,
    } for n in range(1, 2 * DUE + 1)]
    async with engine.begin() as connection:
        await connection.execute(insert(RenewalRow.__table__), renewals)
        if engine.dialect.name == "postgresql":
            for table in ("purchases", "renewals"):
                await connection.exec_driver_sql(f"ANALYZE {table}")
        else:
            await connection.exec_driver_sql("ANALYZE")


async def measure(label: str, factory, query) -> None:
    samples, found = [], 0
    for _ in range(20):
        async with factory() as uow:
            began = time.perf_counter()
            found = len(await query(uow))
            samples.append((time.perf_counter() - began) * 1000)
            await uow.rollback()
    print(f"{label}: {found} due found in {statistics.median(samples):.1f} ms "
          f"(median of 20; min {min(samples):.1f} ms)", flush=True)


async def run(name: str, factory, engine, rows: int) -> None:
    began = time.perf_counter()
    await fill(engine, rows)
    print(f"{name}: {rows:,} purchases written in {time.perf_counter() - began:.0f} s",
          flush=True)
    await measure(f"{name} expiry sweep", factory,
                  lambda uow: uow.purchases.due_expiry(NOW, DUE))
    await measure(f"{name} reminder sweep", factory,
                  lambda uow: uow.purchases.due_reminders(NOW - timedelta(days=3), DUE))
    await measure(f"{name} renewal sweep", factory, lambda uow: uow.renewals.due(NOW, DUE))
    await engine.dispose()


async def main() -> None:
    rows = int(os.environ.get("SWEEP_BENCH_ROWS", 1_000_000))
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        factory, engine = await make_postgres_uow_factory(url, "bench_sweep")
        await run("PostgreSQL", factory, engine, rows)
        return
    with tempfile.TemporaryDirectory() as tmp:
        factory, engine = await make_sqlite_uow_factory(Path(tmp))
        await run("SQLite", factory, engine, rows)


if __name__ == "__main__":
    asyncio.run(main())
