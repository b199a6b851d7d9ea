"""Button presses per second through the whole platform on Telegram, as shipped, next to a bare
aiogram bot that answers the same press with the same two Bot API calls and no database.

Three kinds of process, none measuring itself:
- the platform: ``run.py`` as shipped (webhook mode: PUBLIC_URL on 127.0.0.1,
  TELEGRAM_WEBHOOK_SECRET, TELEGRAM_API_URL pointing at the fake; logging at its default, INFO);
- the bare bot: ``bench/bare_bot.py`` (aiogram, a webhook, logging at INFO, no database), which
  shows the platform's own two screens, taken from it at start;
- this one: the test suite's fake Bot API (without validation), one instance per bot, and the
  load generator, which posts the updates to each bot's webhook as Telegram does, 32 presses
  in flight, and times each until the bot has answered it.

A press is a catalog click that edits the message in place (``cat`` / ``menu``): both bots
answer it (the platform in the webhook's reply, as Telegram allows) and edit the message.
Most presses come from students who pressed a moment ago ("cached"); 1 in 4 (``--cold-share``)
comes from a student whose last press was over a minute ago, which the platform records as
"last seen" ("first in a minute"): those students write /start, then wait ``--cold-wait``
seconds (61) before their one press; a check at the end counts the presses that did write.
The bots take turns, round after round, so that neighbouring rounds share the machine's mood;
each ratio is the median of the ratios of neighbouring rounds.

    python bench/telegram_buttons.py                      # SQLite (a temporary file)
    python bench/telegram_buttons.py --database-url postgresql+asyncpg://postgres@127.0.0.1/db
    python bench/telegram_buttons.py --both               # SQLite, then PostgreSQL at
                                                          # $BENCH_DATABASE_URL or test_g
    options: [--presses 2000] [--rounds 5] [--concurrency 32] [--students 256]
             [--cold-share 0.25] [--cold-wait 61]

PostgreSQL: the database's public schema is wiped. Each process's log is kept in a temporary
directory; with ``--keep-logs DIR`` it is copied there."""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests" / "bots" / "telegram")]

from fake_bot_api import FakeBotAPI  # noqa: E402
from processes import (  # noqa: E402
    free_port,
    platform_env,
    start_platform,
    start_process,
    stop_process,
    wait_healthy,
)

PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/test_g"
SECRET = "bench-secret-token-0123456789"
ACTIONS = ("cat", "menu")  # the two screens a press switches between
COLD_BASE = 10_000_000  # user ids of the students who press first in a minute
GOALS = {"ratio": 1.0, "p99": 60.0, "cold": 0.9}


@dataclass
class Bot:
    """One bot under test and the fake Bot API it talks to."""

    name: str
    fake: FakeBotAPI
    pressed: dict[int, int] = field(default_factory=lambda: collections.defaultdict(int))
    rounds: list[tuple[float, list[tuple[float, bool]]]] = field(default_factory=list)
    cold_pressed: list[int] = field(default_factory=list)


async def in_flight(items: Iterable, job: Callable[..., Awaitable], concurrency: int) -> None:
    queue = collections.deque(items)

    async def worker() -> None:
        while queue:
            await job(queue.popleft())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def post(fake: FakeBotAPI, update: dict) -> float:
    """Posts ``update`` to the bot's webhook; milliseconds until the bot has answered it."""
    began = time.perf_counter()
    status = await fake.post_to_webhook(update)
    elapsed = (time.perf_counter() - began) * 1000
    if status != 200:
        raise RuntimeError(f"the webhook answered {status}")
    return elapsed


async def start_command(bot: Bot, user: int) -> None:
    await post(bot.fake, bot.fake.text_update(bot.fake.user(user), "/start"))


async def press(bot: Bot, user: int) -> float:
    """``user`` presses the button that switches their message to the other screen."""
    fake = bot.fake
    bot.pressed[user] += 1
    action = ACTIONS[(bot.pressed[user] - 1) % 2]
    update = fake.callback_update(fake.user(user), fake.last_message(user), action, check=False)
    return await post(fake, update)


async def wait_for(condition: Callable[[], bool], what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def press_round(bot: Bot, presses: int, concurrency: int, students: int,
                      cold: list[int], cold_every: int) -> None:
    """``concurrency`` students press at once; press k is a cold one when k % cold_every is
    the last of its cycle. Each worker has its own cached students, so no student has two
    presses in flight."""
    latencies: list[tuple[float, bool]] = []
    cold_left = collections.deque(cold)

    async def worker(w: int) -> None:
        mine = list(range(1 + w, students + 1, concurrency))
        for n in range(presses // concurrency):
            k = n * concurrency + w
            if cold_every and k % cold_every == cold_every - 1 and cold_left:
                student = cold_left.popleft()
                bot.cold_pressed.append(student)
                latencies.append((await press(bot, student), True))
            else:
                latencies.append((await press(bot, mine[n % len(mine)]), False))

    began = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    bot.rounds.append((len(latencies) / (time.perf_counter() - began), latencies))


def percentile(samples: list[float], q: int) -> float:
    if len(samples) < 2:
        return samples[0] if samples else float("nan")
    return statistics.quantiles(samples, n=100)[q - 1]


async def cold_presses_that_wrote(database_url: str, cold: list[int],
                                  seeded: datetime) -> int:
    """How many of the cold students' identities were written after their /start."""
    from sqlalchemy import select

    from storage.engine import create_engine
    from storage.tables import IdentityRow

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(IdentityRow.external_id, IdentityRow.last_seen_at)
                .where(IdentityRow.messenger == "telegram"))
            seen = {external_id: at for external_id, at in rows}
    finally:
        await engine.dispose()
    return sum(1 for user in cold if (at := seen.get(str(user))) and at > seeded)


@dataclass
class Measured:
    label: str
    platform: Bot
    bare: Bot
    cold_students: int
    cold_written: int


async def bench(database_url: str | None, args: argparse.Namespace, logs: Path) -> Measured:
    n_cold = round(args.presses * args.cold_share) if args.cold_share else 0
    cold_every = round(1 / args.cold_share) if args.cold_share else 0
    cold = [COLD_BASE + i for i in range(n_cold * args.rounds)]
    cached = range(1, args.students + 1)
    with tempfile.TemporaryDirectory(prefix="telegram-buttons-") as tmp:
        work = Path(tmp)
        if database_url is None:
            database_url = f"sqlite+aiosqlite:///{work / 'school.db'}"
            label = "SQLite"
        else:
            from storage.testing import reset_postgres

            await reset_postgres(database_url)
            label = "PostgreSQL"
        platform = Bot("platform", FakeBotAPI(validate=False))
        bare = Bot("bare aiogram bot", FakeBotAPI(validate=False))
        processes = []
        try:
            for bot in (platform, bare):
                await bot.fake.start()
                # The fake's record of calls, which tests read, is not needed here.
                bot.fake.calls = collections.deque(maxlen=1000)

            port = free_port()
            env = platform_env(
                DATABASE_URL=database_url, TELEGRAM_BOT_TOKEN=platform.fake.token,
                TELEGRAM_API_URL=platform.fake.url, PUBLIC_URL=f"http://127.0.0.1:{port}",
                TELEGRAM_WEBHOOK_SECRET=SECRET, SECRET_KEY="b" * 32)
            log = work / "platform.log"
            processes.append(await start_platform(port, env, work, log))
            await wait_healthy(port, processes[-1], log)
            await wait_for(lambda: platform.fake.webhook is not None, "the platform's webhook")

            async def start_all(bot: Bot, users: Iterable[int]) -> None:
                await in_flight(users, lambda user: start_command(bot, user), args.concurrency)

            # The cold students first: their wait starts now.
            await start_all(platform, cold)
            seeded_cold = datetime.now(UTC)
            seeded_at = time.monotonic()
            await start_all(platform, cached)

            screens = {}
            for action in ACTIONS:  # student 1 presses both buttons: the two screens
                await press(platform, 1)
                shown = platform.fake.last_message(1)
                screens[action] = [shown["text"], shown.get("reply_markup")]
            (work / "screens.json").write_text(json.dumps(screens, ensure_ascii=False))

            bare_port = free_port()
            bare_log = work / "bare.log"
            processes.append(await start_process(
                [str(ROOT / "bench" / "bare_bot.py"), "--api", bare.fake.url,
                 "--token", bare.fake.token, "--port", str(bare_port), "--secret", SECRET,
                 "--screens", str(work / "screens.json")],
                platform_env(), work, bare_log))
            await wait_for(lambda: bare.fake.webhook is not None, "the bare bot's webhook")
            await start_all(bare, cold)
            await start_all(bare, cached)

            for bot in (platform, bare):  # warm-up: every cached student presses both buttons
                await press_round(bot, 4 * args.students, args.concurrency, args.students, [], 0)
                bot.rounds.clear()
            if cold:
                wait = seeded_at + args.cold_wait - time.monotonic()
                if wait > 0:
                    print(f"  ({label}: waiting {wait:.0f} s until the cold students' last "
                          f"message is {args.cold_wait:g} s old)", flush=True)
                    await asyncio.sleep(wait)
            for r in range(args.rounds):
                for bot in (platform, bare):
                    await press_round(bot, args.presses, args.concurrency, args.students,
                                      cold[r * n_cold:(r + 1) * n_cold], cold_every)
            await stop_process(processes[0])
            written = await cold_presses_that_wrote(database_url, platform.cold_pressed,
                                                    seeded_cold)
        finally:
            for process in processes:
                await stop_process(process)
            for bot in (platform, bare):
                await bot.fake.stop()
            logs.mkdir(parents=True, exist_ok=True)
            for name in ("platform.log", "bare.log"):
                if (work / name).exists():
                    shutil.copy(work / name, logs / f"{label.lower()}-{name}")
    return Measured(label, platform, bare, len(platform.cold_pressed), written)


def report(m: Measured, args: argparse.Namespace) -> None:
    cold_note = (f"1 press in {round(1 / args.cold_share)} by one of {m.cold_students} "
                 f"students whose last message was over {args.cold_wait:g} s before"
                 if args.cold_share else "no first-in-a-minute presses")
    presses = args.presses // args.concurrency * args.concurrency
    print(f"{m.label}: {presses} presses x {args.rounds} rounds, {args.concurrency} in "
          f"flight, {args.students} students pressing again; {cold_note}")
    print(f"  {'':18} {'presses/s':>9} {'p50':>9} {'p99':>9}")
    rates = {}
    for bot in (m.platform, m.bare):
        rates[bot.name] = statistics.median(rate for rate, _ in bot.rounds)
        ms = [t for _, run in bot.rounds for t, _ in run]
        print(f"  {bot.name:18} {rates[bot.name]:9.0f} {percentile(ms, 50):6.1f} ms"
              f" {percentile(ms, 99):6.1f} ms")
    ratios = [p / b for (p, _), (b, _) in zip(m.platform.rounds, m.bare.rounds, strict=True)]
    print(f"  platform / bare: {statistics.median(ratios):.2f}"
          f" (rounds: {', '.join(f'{r:.2f}' for r in ratios)}; goal >= {GOALS['ratio']})")
    p99 = percentile([t for _, run in m.platform.rounds for t, _ in run], 99)
    print(f"  platform p99: {p99:.0f} ms (goal <= {GOALS['p99']:.0f} ms)")
    if not args.cold_share:
        return
    for bot in (m.platform, m.bare):
        cached = [t for _, run in bot.rounds for t, cold in run if not cold]
        cold = [t for _, run in bot.rounds for t, cold in run if cold]
        speed = percentile(cached, 50) / percentile(cold, 50)
        goal = f"; goal >= {GOALS['cold']}" if bot is m.platform else " (no database: ~1)"
        print(f"  {bot.name:18} cached p50 {percentile(cached, 50):5.1f} ms, p99 "
              f"{percentile(cached, 99):5.1f} ms; first in a minute p50 "
              f"{percentile(cold, 50):5.1f} ms, p99 {percentile(cold, 99):5.1f} ms; "
              f"cold / cached {speed:.2f}{goal}")
    print(f"  first-in-a-minute presses that wrote last seen: {m.cold_written} of "
          f"{m.cold_students}"
          + ("" if m.cold_written == m.cold_students else
             " (a student seen less than a minute before is not written: raise --cold-wait)"))


async def main(args: argparse.Namespace) -> None:
    databases: list[str | None] = [args.database_url]
    if args.both:
        databases = [None, os.environ.get("BENCH_DATABASE_URL") or PG_DEFAULT]
    logs = Path(args.keep_logs) if args.keep_logs else Path(tempfile.mkdtemp(prefix="bench-"))
    for database in databases:
        report(await bench(database, args, logs), args)
    print(f"logs: {logs}")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presses", type=int, default=2000, help="per round and bot")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32, help="presses in flight")
    parser.add_argument("--students", type=int, default=256, help="students pressing again")
    parser.add_argument("--cold-share", type=float, default=0.25,
                        help="share of presses by a student whose last press was long ago")
    parser.add_argument("--cold-wait", type=float, default=61.0,
                        help="seconds between those students' /start and their press")
    parser.add_argument("--database-url", help="default: SQLite in a temporary file")
    parser.add_argument("--both", action="store_true", help="SQLite, then PostgreSQL")
    parser.add_argument("--keep-logs", help="a directory to copy the bots' logs to")
    args = parser.parse_args(argv)
    if not 0 <= args.cold_share < 1:
        parser.error("--cold-share is a share: 0 <= share < 1")
    if args.students < args.concurrency:
        parser.error("--students must be at least --concurrency (one press per student at once)")
    return args


if __name__ == "__main__":
    asyncio.run(main(arguments()))
