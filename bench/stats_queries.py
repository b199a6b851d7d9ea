"""What ``/stats`` costs in a big school: the figures and the chart's series of each period,
over a year of history (one order, payment and purchase per student by default).

    python bench/stats_queries.py                      # SQLite (a temporary file)
    BENCH_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/test python bench/stats_queries.py
    STATS_BENCH_STUDENTS=10000 python bench/stats_queries.py

PostgreSQL: the ``bench_stats`` schema is wiped. Prints one line per period: the median of 5
runs of the figures (``core.services.stats.report``) and of the chart's series, each in its
own transaction, as ``/stats`` makes them."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from factories import make_school  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from core.services import stats  # noqa: E402
from core.stats import Span  # noqa: E402
from storage.tables import OrderRow, PaymentRow, PurchaseRow, UserRow  # noqa: E402
from storage.testing import make_postgres_uow_factory, make_sqlite_uow_factory  # noqa: E402

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
YEAR = timedelta(days=365)
CHUNK = 10_000
ZONE = ZoneInfo("Europe/Berlin")


def _rows(n: int, students: int) -> tuple[dict, dict, dict | None, dict | None]:
    at = NOW - YEAR + YEAR * n / students
    paid = n % 5 != 0  # four in five pay
    refunded = paid and n % 20 == 1
    lifetime = n % 5 == 1
    user = {"id": n, "created_at": at, "name": f"Student {n}", "language": "en",
            "timezone": None, "referral_code": f"R{n}", "referred_by": None,
            "utm_source": None, "utm_medium": None, "utm_campaign": None, "start_offer": None,
            "preferred_messenger": None, "merged_into": None}
    order = {"id": n, "user_id": n, "offer_code": "club-month", "token": f"t{n}",
             "amount": 900, "list_amount": 900, "currency": "EUR" if n % 7 else "XTR",
             "promo_code": None, "status": "refunded" if refunded else "paid" if paid else "new",
             "created_at": at, "expires_at": at + timedelta(hours=1),
             "paid_at": at if paid else None, "closed_at": at + timedelta(days=3)
             if refunded else None, "close_reason": "refund" if refunded else None,
             "messenger": "telegram", "products": ["club"], "access": "subscription",
             "period": "P30D", "extends": [], "seat_taken": False}
    if not paid:
        return user, order, None, None
    payment = {"id": n, "order_id": n, "gateway": "test", "gateway_payment_id": f"p{n}",
               "amount": 900, "currency": order["currency"],
               "status": "refunded" if refunded else "succeeded", "created_at": at,
               "details": {}, "refund_reason": None,
               "refunded_at": at + timedelta(days=3) if refunded else None}
    ends = None if lifetime else at + timedelta(days=30 * (1 + n % 4))
    ended = at + timedelta(days=3) if refunded else ends if ends and ends < NOW else None
    purchase = {"id": n, "user_id": n, "order_id": n, "offer_code": "club-month",
                "products": ["club"] if n % 3 else ["python-course", "club"],
                "access": "lifetime" if lifetime else "subscription", "starts_at": at,
                "ends_at": ends, "status": "revoked" if refunded else "expired" if ended
                else "active", "next_lesson_at": None, "updated_at": at, "ended_at": ended,
                "end_reason": "refund" if refunded else "expired" if ended else None,
                "renewal": "test" if n % 2 and not lifetime else None,
                "renewal_method": None, "remind_at": None}
    return user, order, payment, purchase


async def fill(engine, students: int) -> None:
    tables = (UserRow.__table__, OrderRow.__table__, PaymentRow.__table__,
              PurchaseRow.__table__)
    for start in range(1, students + 1, CHUNK):
        made = [_rows(n, students) for n in range(start, min(start + CHUNK, students + 1))]
        async with engine.begin() as connection:
            for index, table in enumerate(tables):
                rows = [row[index] for row in made if row[index] is not None]
                await connection.execute(insert(table), rows)
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            for table in ("users", "orders", "payments", "purchases"):
                await connection.exec_driver_sql(f"ANALYZE {table}")
        else:
            await connection.exec_driver_sql("ANALYZE")


async def _timed(factory, work) -> float:
    samples = []
    for _ in range(5):
        async with factory() as uow:
            began = time.perf_counter()
            await work(uow)
            samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


async def run(name: str, factory, engine, students: int) -> None:
    began = time.perf_counter()
    await fill(engine, students)
    print(f"{name}: {students:,} students, orders, payments and purchases written in "
          f"{time.perf_counter() - began:.0f} s", flush=True)
    school = make_school(timezone=ZONE)
    for span in (Span.TODAY, Span.WEEK, Span.MONTH, Span.ALL):
        window = stats.window(span, NOW, ZONE)
        figures = await _timed(factory, lambda uow, w=window: stats.report(uow, w, NOW))
        chart = await _timed(factory, lambda uow, w=window: stats.series(uow, school, w, NOW))
        print(f"{name} {span.value:>5}: figures {figures:.1f} ms, chart series {chart:.1f} ms "
              f"(median of 5)", flush=True)
    await engine.dispose()


async def on_the_database(run, students: int, schema: str) -> None:
    """``run(name, factory, engine, students)`` on PostgreSQL when ``BENCH_DATABASE_URL``
    names one (its schema ``schema`` wiped), else on a temporary SQLite file."""
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        factory, engine = await make_postgres_uow_factory(url, schema)
        await run("PostgreSQL", factory, engine, students)
        return
    with tempfile.TemporaryDirectory() as tmp:
        factory, engine = await make_sqlite_uow_factory(Path(tmp))
        await run("SQLite", factory, engine, students)


async def main() -> None:
    students = int(os.environ.get("STATS_BENCH_STUDENTS", 100_000))
    await on_the_database(run, students, "bench_stats")


if __name__ == "__main__":
    asyncio.run(main())
