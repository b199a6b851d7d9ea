"""How long ``run.py`` takes to start, and how much memory it holds once idle.

``run.py`` runs as shipped, in its own process, in a fresh directory (SQLite, test payments,
logging at INFO), in two configurations:

- demo: no messenger token (the sandbox is on, as it is then by default);
- telegram: TELEGRAM_BOT_TOKEN with TELEGRAM_API_URL pointing at the test suite's fake Bot API,
  which runs in this process (long polling, as with no PUBLIC_URL).

Start-up is the time from launching ``python run.py`` until GET /healthz answers 200; the
first start creates the database, the others find it migrated. Idle memory is VmRSS (from
/proc/<pid>/status) after ``--idle`` seconds without traffic.

    python bench/startup_memory.py [--starts 5] [--idle 5] [--only demo|telegram]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests" / "bots" / "telegram")]

from processes import (  # noqa: E402
    free_port,
    platform_env,
    rss_mb,
    start_platform,
    stop_process,
    wait_healthy,
)

GOALS = "goals: start-up < 2 s, idle RSS < 120 MB"


async def one_start(directory: Path, settings: dict[str, str], idle: float
                    ) -> tuple[float, float]:
    port = free_port()
    log = directory / "run.log"
    process = await start_platform(port, platform_env(**settings), directory, log)
    try:
        seconds = await wait_healthy(port, process, log)
        await asyncio.sleep(idle)
        memory = rss_mb(process.pid)
    finally:
        code = await stop_process(process)
    if code != 0:
        raise RuntimeError(f"run.py stopped with {code}:\n{log.read_text()[-3000:]}")
    return seconds, memory


async def configuration(name: str, starts: int, idle: float) -> None:
    settings: dict[str, str] = {}
    fake = None
    if name == "telegram":
        from fake_bot_api import FakeBotAPI

        fake = FakeBotAPI(validate=False)
        await fake.start()
        settings = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.url}
    try:
        with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
            results = [await one_start(Path(tmp), settings, idle) for _ in range(starts)]
    finally:
        if fake is not None:
            await fake.stop()
    first, *again = results
    print(f"  {name:9} first start (new database): {first[0]:4.2f} s, idle RSS "
          f"{first[1]:5.1f} MB")
    if again:
        times = [s for s, _ in again]
        memory = [m for _, m in again]
        print(f"  {name:9} restarts (median of {len(again)}): {statistics.median(times):4.2f} s"
              f" ({min(times):.2f} – {max(times):.2f}), idle RSS {statistics.median(memory):5.1f}"
              f" MB ({min(memory):.1f} – {max(memory):.1f})")


async def main(starts: int, idle: float, only: str | None) -> None:
    print(f"run.py started {starts} times per configuration, RSS after {idle:g} s idle; {GOALS}")
    for name in ("demo", "telegram"):
        if only in (None, name):
            await configuration(name, starts, idle)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=5, help="starts per configuration")
    parser.add_argument("--idle", type=float, default=5.0,
                        help="seconds without traffic before reading the memory")
    parser.add_argument("--only", choices=("demo", "telegram"))
    args = parser.parse_args()
    asyncio.run(main(args.starts, args.idle, args.only))
