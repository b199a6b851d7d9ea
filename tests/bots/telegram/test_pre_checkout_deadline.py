"""A pre-checkout query is answered within Telegram's 10 seconds whatever the storage does:
with the SQLite file write-locked by another process, the answer is no, at the deadline."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest
from telegram_harness import TelegramHarness

from core.models import OrderStatus
from storage.testing import make_sqlite_uow_factory

HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.rollback()
"""


@pytest.fixture
async def sqlite_tg(fake_telegram, school, clock, tmp_path):
    uow_factory, engine = await make_sqlite_uow_factory(tmp_path)
    harness = TelegramHarness(fake_telegram, uow_factory, school, clock)
    harness.bot.pre_checkout_deadline = 0.5
    async with harness:
        yield harness
    await engine.dispose()


async def _write_locked(path, seconds: float) -> asyncio.subprocess.Process:
    """Another process holds SQLite's write lock on ``path`` for ``seconds``."""
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD_LOCK, str(path), str(seconds),
        stdout=asyncio.subprocess.PIPE)
    assert holder.stdout is not None
    assert (await holder.stdout.readline()).strip() == b"locked"
    return holder


async def test_a_locked_database_gets_a_no_at_the_deadline_and_changes_nothing(
        sqlite_tg, tmp_path):
    tg = sqlite_tg
    anna = tg.fake.user(701)
    await tg.says(anna, "/start python-life")
    await tg.presses(anna, "bs:python-life", wait_for="sendInvoice")
    invoice = tg.fake.calls_to("sendInvoice")[-1].params

    holder = await _write_locked(tmp_path / "school.db", 4)
    started = time.monotonic()
    tg.fake.push(tg.fake.pre_checkout_update(anna, invoice["payload"], "XTR", 250))
    answer = await tg.fake.wait_for_call("answerPreCheckoutQuery", within=3)
    took = time.monotonic() - started
    assert answer.params["ok"] is False
    assert "try again" in answer.params["error_message"]
    assert answer.status == 200  # Telegram took it: in time
    assert took < 1.5, took

    await holder.wait()  # the lock is gone; whatever the decision did meanwhile is over
    await tg.bot.decided()
    assert len(tg.fake.calls_to("answerPreCheckoutQuery")) == 1
    async with tg.uow_factory() as uow:
        [order] = await uow.orders.for_user(1)
        assert order.status is OrderStatus.NEW
        assert await uow.payments.for_order(order.id) == []
        assert await uow.purchases.for_user(1) == []
    assert tg.fake.violations == []
