"""The benchmarks run end to end with tiny numbers (their figures are in the README)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def bench(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})} if env else None)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    return done.stdout


def test_telegram_buttons_compares_the_platform_with_the_bare_bot(tmp_path):
    out = bench("telegram_buttons.py", "--presses", "64", "--rounds", "1", "--students", "32",
                "--concurrency", "8", "--cold-wait", "0", "--keep-logs", str(tmp_path))
    assert re.search(r"platform +\d+ +[\d.]+ ms +[\d.]+ ms", out), out
    assert re.search(r"bare aiogram bot +\d+ +[\d.]+ ms +[\d.]+ ms", out), out
    assert re.search(r"platform / bare: [\d.]+", out), out
    assert "cold / cached" in out
    # Seen a moment before, the "cold" students were not written: the check says so.
    assert "wrote last seen: 0 of 16" in out
    # The platform ran as shipped: its own process, logging at INFO without aiogram's line
    # per update.
    platform_log = (tmp_path / "sqlite-platform.log").read_text()
    assert "is up at" in platform_log
    assert "Update id=" not in platform_log


def test_startup_memory_measures_a_start():
    out = bench("startup_memory.py", "--starts", "1", "--idle", "0.5", "--only", "demo")
    assert re.search(r"demo +first start \(new database\): [\d.]+ s, idle RSS +[\d.]+ MB", out)


def test_stats_queries_measures_each_period():
    out = bench("stats_queries.py", env={"STATS_BENCH_STUDENTS": "300"})
    for period in ("today", "7d", "30d", "all"):
        line = rf"(SQLite|PostgreSQL) +{period}: figures [\d.]+ ms, chart series [\d.]+ ms"
        assert re.search(line, out), out


def test_segments_measures_each_kind_of_segment():
    out = bench("segments.py", env={"SEGMENTS_BENCH_STUDENTS": "300"})
    for segment in ("everyone", "holders:product:club", "ended:30", "never_bought", "unpaid",
                    "messenger:vk", "language:en", "tag:vip"):
        line = (rf"(SQLite|PostgreSQL) {segment} +[\d,]+ recipients: estimate \d+ ms, all "
                rf"read in [\d.]+ s, peak [\d.]+ MB")
        assert re.search(line, out), out


def test_broadcast_sends_to_every_student_through_the_fake_bot_api():
    out = bench("broadcast.py", "--students", "300", "--rate", "300", "--no-kill")
    assert "sent twice: 0; never sent: 0" in out, out
    assert re.search(r"broadcast: [\d.]+ of ceiling, \d+ x 429, peak \d+ MB, resume [\d.]+ s$",
                     out.strip().splitlines()[-1]), out


def test_broadcast_outbox_mode_sends_the_backlog():
    out = bench("broadcast.py", "--outbox", "--students", "300", "--rate", "300")
    assert "never sent: 0" in out, out
    assert re.search(r"^outbox: [\d.]+ of ceiling, \d+ x 429$", out.strip().splitlines()[-1]), out


def test_telegram_burst_measures_the_limits_over_http():
    out = bench("telegram_burst.py", "--chats", "20", "--messages", "1", "--limited", "0")
    assert re.search(r"sent 20 messages to 20 chats in [\d.]+ s \(the limits allow no less "
                     r"than [\d.]+ s\); 0 answered 429", out), out
    assert re.search(r"most calls in any second: \d+ \(limit 30\)", out), out
    assert re.search(r"most calls to one chat in any second: 1, in any 3 seconds: 1", out), out
    assert "calls the real Bot API would refuse: 0" in out
