"""How fast the core turns orders into purchases, and what a race of duplicates costs.

    python bench/checkout.py                       # SQLite (a temporary file)
    BENCH_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/test python bench/checkout.py

PostgreSQL: the database's public schema is wiped. Prints one line per measurement."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from factories import START, make_school  # noqa: E402

from app.bootstrap import build_platform  # noqa: E402
from app.settings import Settings  # noqa: E402
from bots.console import ConsoleMessenger  # noqa: E402
from core.clock import FakeClock  # noqa: E402
from core.services import checkout, payments, users  # noqa: E402
from core.services.payments import Outcome, PaymentNotice  # noqa: E402
from storage.testing import make_postgres_uow_factory, make_sqlite_uow_factory  # noqa: E402


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[q - 1] if len(samples) > 1 else samples[0]


async def orders_per_second(factory, school, now, n: int = 300) -> None:
    latencies = []
    began = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        async with factory() as uow:
            user, _ = await users.resolve(uow, now, "console", f"seq{i}", "S", "en")
            order = (await checkout.place_order(uow, school, now, user, "python-30")).order
            await uow.commit()
        async with factory() as uow:
            notice = PaymentNotice("test", f"seq{i}", order.token, order.amount, order.currency)
            await payments.confirm(uow, school, notice, now)
            await uow.commit()
        latencies.append((time.perf_counter() - t0) * 1000)
    rate = n / (time.perf_counter() - began)
    print(f"  order + payment + grant, one after another: {rate:7.0f}/s   "
          f"p50 {percentile(latencies, 50):.1f} ms   p99 {percentile(latencies, 99):.1f} ms")


async def duplicate_race(factory, school, now, n: int = 100) -> None:
    async with factory() as uow:
        user, _ = await users.resolve(uow, now, "console", "race", "S", "en")
        order = (await checkout.place_order(uow, school, now, user, "python-life")).order
        await uow.commit()
    notice = PaymentNotice("test", "race", order.token, order.amount, order.currency)

    async def confirm():
        async with factory() as uow:
            result = await payments.confirm(uow, school, notice, now)
            await uow.commit()
            return result.outcome

    t0 = time.perf_counter()
    outcomes = await asyncio.gather(*(confirm() for _ in range(n)))
    wall = (time.perf_counter() - t0) * 1000
    print(f"  {n} concurrent duplicate confirmations: {wall:7.0f} ms, "
          f"granted {outcomes.count(Outcome.GRANTED)}, "
          f"duplicates {outcomes.count(Outcome.DUPLICATE)}")


async def button_presses(factory, school, n: int = 300) -> None:
    console = ConsoleMessenger()
    platform = build_platform(Settings(_env_file=None, secret_key="b" * 32), school, factory,
                              FakeClock(START), channels={"console": console})
    await console.run(platform.flows.handle)
    chat = console.chat("bench")
    await chat.start()
    latencies = []
    began = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        await chat.press("cat" if i % 2 == 0 else "o:python-life")
        latencies.append((time.perf_counter() - t0) * 1000)
    rate = n / (time.perf_counter() - began)
    print(f"  button presses through the flow engine:    {rate:7.0f}/s   "
          f"p50 {percentile(latencies, 50):.1f} ms   p99 {percentile(latencies, 99):.1f} ms")


async def run(name: str, factory, engine) -> None:
    school, now = make_school(), START
    print(f"{name}:")
    try:
        await orders_per_second(factory, school, now)
        await duplicate_race(factory, school, now)
        await button_presses(factory, school)
    finally:
        await engine.dispose()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await run("SQLite", *await make_sqlite_uow_factory(Path(tmp)))
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        await run("PostgreSQL", *await make_postgres_uow_factory(url))
    else:
        print("PostgreSQL: skipped (set BENCH_DATABASE_URL)")


if __name__ == "__main__":
    asyncio.run(main())
