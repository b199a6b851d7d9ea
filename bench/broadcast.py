"""A broadcast to many students through a fake Bot API that keeps Telegram's limits, with the
platform run as shipped; and, with ``--outbox``, a backlog of lesson messages all due at once.

Three processes, none measuring itself:
- the fake Bot API (``bench/fake_telegram.py``): ``--rate`` messages a second overall, one a
  second per chat, 429 with retry_after beyond them;
- the platform: ``run.py`` serving (long polling against the fake, TELEGRAM_MESSAGES_PER_SECOND
  = ``--rate``, logging as shipped), on SQLite or ``--database postgresql+asyncpg://...``;
- this one: it seeds the students and the broadcast (or the outbox) before the platform starts,
  kills the platform with SIGKILL once ``--kill-at`` of the students got the message, starts it
  again, and waits until every student has it and the author got the summary.

It prints the pace against the ceiling while sending (every second or more with nothing sent
left out, and shown: the restart after the kill, the wait for the rows the killed process had
claimed), the 429s, the sending process's peak memory (VmHWM), how long sending took to
resume after the kill, and how many students got it twice or never;
the last line reads ``broadcast: <ratio> of ceiling, <n> x 429, peak <m> MB, resume <s> s``.

    python bench/broadcast.py [--students 100000] [--rate 30] [--kill-at 0.5]
    python bench/broadcast.py --database postgresql+asyncpg://postgres@127.0.0.1:5432/test_a
    python bench/broadcast.py --outbox [--students 3000]      # the lessons' backlog
    options: [--no-kill] [--keep-logs DIR]

PostgreSQL: the database's public schema is wiped."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from processes import (  # noqa: E402
    free_port,
    platform_env,
    start_platform,
    start_process,
    stop_process,
    wait_healthy,
)

AUTHOR = 1  # the staff member's chat; students' chats are 1000 and up
FIRST_STUDENT = 1000
TOKEN = "123456:BENCH-token"
TEXT = "Open day on Saturday: come and meet the teachers"


def peak_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


async def seed(database_url: str, students: int, outbox: bool) -> None:
    """The students (one Telegram account each), and a broadcast to all of them or one lesson
    message each, due now; written before the platform starts (SQLite has one writer)."""
    from sqlalchemy import insert, select

    from core.broadcasts import Recipient, Segment, SegmentKind
    from core.services import broadcasts
    from storage.engine import create_engine, session_factory
    from storage.factory import sql_uow_factory
    from storage.migrate import migrate
    from storage.tables import IdentityRow, OutboxRow, UserRow

    engine = create_engine(database_url)
    now = datetime.now(UTC)
    try:
        await migrate(engine)
        async with engine.begin() as connection:
            for start in range(0, students + 1, 5000):
                await connection.execute(insert(UserRow), [
                    {"created_at": now, "name": f"S{n}", "language": "en",
                     "referral_code": f"b{n}", "marketing": True}
                    for n in range(start, min(start + 5000, students + 1))])
            ids = list(await connection.scalars(select(UserRow.id).order_by(UserRow.id)))
            for start in range(0, len(ids), 5000):
                await connection.execute(insert(IdentityRow), [
                    {"user_id": uid, "messenger": "telegram", "name": "", "reachable": True,
                     "external_id": str(AUTHOR if n == 0 else FIRST_STUDENT + n - 1)}
                    for n, uid in enumerate(ids[start:start + 5000], start)])
            if outbox:
                for start in range(1, len(ids), 5000):
                    await connection.execute(insert(OutboxRow), [
                        {"user_id": uid, "kind": "automation_screen", "status": "pending",
                         "data": {"run": 0, "automation": "bench",
                                  "text": {"en": f"Lesson 1 is open, #{n}"}},
                         "created_at": now, "due_at": now, "attempts": 0}
                        for n, uid in enumerate(ids[start:start + 5000], start)])
        if not outbox:
            factory = sql_uow_factory(session_factory(engine))
            async with engine.connect() as connection:
                rows = (await connection.execute(
                    select(IdentityRow.user_id, IdentityRow.id)
                    .where(IdentityRow.external_id != str(AUTHOR)))).all()
            async with factory() as uow:
                await broadcasts.create(
                    uow, author=f"telegram:{AUTHOR}", author_messenger="telegram",
                    author_chat_id=str(AUTHOR), text=TEXT,
                    segment=Segment(SegmentKind.EVERYONE),
                    recipients=[Recipient(u, i, "telegram") for u, i in rows], now=now)
                await uow.commit()
            await factory.close()
    finally:
        await engine.dispose()


async def stats(client: aiohttp.ClientSession, fake_port: int) -> dict:
    async with client.get(f"http://127.0.0.1:{fake_port}/stats") as response:
        return await response.json()


async def wait_until(client, fake_port, done, every: float = 0.5, within: float = 10**6):
    began = time.monotonic()
    while True:
        seen = await stats(client, fake_port)
        if done(seen):
            return seen
        if time.monotonic() - began > within:
            raise RuntimeError(f"timed out; the fake saw {seen}")
        await asyncio.sleep(every)


async def run(args: argparse.Namespace, work: Path) -> str:
    database_url = args.database or f"sqlite+aiosqlite:///{work / 'school.db'}"
    if args.database:
        from storage.testing import reset_postgres

        await reset_postgres(args.database)
    began = time.perf_counter()
    await seed(database_url, args.students, args.outbox)
    print(f"seeded {args.students} students in {time.perf_counter() - began:.1f} s",
          flush=True)
    fake_port, port = free_port(), free_port()
    fake = await start_process([str(ROOT / "bench" / "fake_telegram.py"), "--port",
                                str(fake_port), "--rate", str(args.rate), "--author",
                                str(AUTHOR)], platform_env(), work, work / "fake.log")
    env = platform_env(DATABASE_URL=database_url, TELEGRAM_BOT_TOKEN=TOKEN,
                       TELEGRAM_API_URL=f"http://127.0.0.1:{fake_port}",
                       TELEGRAM_MESSAGES_PER_SECOND=str(args.rate), TEST_PAYMENTS="1",
                       SANDBOX="off")
    log = work / "platform.log"
    peaks: list[float] = []
    async with aiohttp.ClientSession() as client:
        for _ in range(300):  # the fake is listening
            try:
                await stats(client, fake_port)
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
        platform = await start_platform(port, env, work, log)
        try:
            await wait_healthy(port, platform, log)
            kill_at = int(args.students * args.kill_at) if args.kill_at else None
            resume = None
            if kill_at:
                await wait_until(client, fake_port, lambda s: s["accepted"] >= kill_at,
                                 every=0.1)
                peaks.append(peak_mb(platform.pid))
                platform.kill()  # kill -9: no clean stop, nothing released
                killed = time.monotonic()
                await platform.wait()
                before = await stats(client, fake_port)
                sent_at_kill = before["accepted"]
                platform = await start_platform(port, env, work, log)
                await wait_healthy(port, platform, log)
                after = await wait_until(client, fake_port,
                                         lambda s: s["accepted"] > sent_at_kill, every=0.02)
                resume = time.monotonic() - killed
                gap = after["last"] - before["last"]  # the fake's clock: no message in it
            total = args.students
            seen = await wait_until(client, fake_port, lambda s: s["chats"] >= total, every=1)
            if not args.outbox:  # the summary comes once the claims of the dead one return
                seen = await wait_until(
                    client, fake_port, lambda s: any(t.startswith("✅") for t in s["author"]),
                    every=1, within=300)
            peaks.append(peak_mb(platform.pid))
        finally:
            await stop_process(platform)
            await stop_process(fake)
    # Paced from the first window on: its messages may come at once (nothing was sent in
    # the second before), so they are left out.
    if seen["steady"] is not None:
        span, accepted = seen["last"] - seen["steady"], seen["accepted"] - args.rate - 1
    else:  # a single window's worth: all of it
        span, accepted = seen["last"] - seen["first"], seen["accepted"] - 1
    # Nor is any stretch of a second or more with nothing sent, with the window after it: the
    # restart, and the wait for the rows the killed process had claimed (they come back after
    # the stale bound). Shown below, so a stall of the platform cannot hide there.
    idle = seen["idle"]
    if seen["steady"] is None:
        if resume is not None:  # a single window, the restart in it
            idle = [gap]
            span -= gap
    else:
        span -= seen["unpaced_time"]
        accepted -= seen["unpaced"]
    ratio = accepted / span / args.rate if span > 0 else float("nan")
    lost = total - seen["chats"]
    label = "PostgreSQL" if args.database else "SQLite"
    what = "outbox backlog" if args.outbox else "broadcast"
    print(f"{label}, {what} to {total} students at {args.rate}/s:")
    print(f"  pace while sending: {accepted / span:.2f} messages/s = {ratio:.3f} of the ceiling"
          f" ({accepted} messages in {span:.1f} s after the first window)")
    print(f"  429s received: {seen['limited']} {seen['broken'] or ''}; the shortest span of"
          f" {args.rate} messages: {seen['tightest'] or 0:.3f} s; shortest gaps {seen['gaps']} ms")
    print(f"  peak memory of the sending process: {max(peaks):.0f} MB")
    print(f"  nothing sent for {sum(idle):.1f} s in all (left out of the pace with the window "
          f"after each): "
          f"{', '.join(f'{stretch:.1f}' for stretch in idle) or 'never'} s")
    if resume is not None:
        print(f"  killed (SIGKILL) after {sent_at_kill} messages; sending resumed {resume:.1f} s"
              f" after the kill; sent twice: {seen['repeated']}; never sent: {lost}")
    else:
        print(f"  sent twice: {seen['repeated']}; never sent: {lost}")
    if args.outbox:
        return f"outbox: {ratio:.3f} of ceiling, {seen['limited']} x 429"
    return (f"broadcast: {ratio:.3f} of ceiling, {seen['limited']} x 429, "
            f"peak {max(peaks):.0f} MB, resume {resume if resume is not None else 0:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=30)
    parser.add_argument("--database", help="postgresql+asyncpg://... (default: SQLite)")
    parser.add_argument("--kill-at", type=float, default=0.5,
                        help="share of the students sent to when the platform is killed")
    parser.add_argument("--no-kill", dest="kill_at", action="store_const", const=0.0)
    parser.add_argument("--outbox", action="store_true",
                        help="a backlog of lesson messages due at once instead")
    parser.add_argument("--keep-logs", type=Path)
    args = parser.parse_args()
    if args.outbox:
        args.kill_at = 0.0
    with tempfile.TemporaryDirectory(prefix="broadcast-bench-") as tmp:
        work = Path(tmp)
        try:
            last = asyncio.run(run(args, work))
        finally:
            if args.keep_logs:
                args.keep_logs.mkdir(parents=True, exist_ok=True)
                for log in work.glob("*.log"):
                    shutil.copy(log, args.keep_logs / log.name)
    print(last)


if __name__ == "__main__":
    main()
