"""A burst of messages the platform starts (lessons, a broadcast) to many Telegram chats at
once, through the real sender, aiogram and HTTP, against the test suite's fake Bot API, which
notes when each call arrives and answers the first ``--limited`` calls with 429.

    python bench/telegram_burst.py                     # 100 chats, 2 messages each, 3 429s
    options: [--chats 100] [--messages 2] [--limited 3] [--retry-after 1]

Prints, in real seconds as the fake saw them: how long the burst took next to the least its
limits allow, the most calls in any second (overall and to one chat), the most to one chat
in any 3 seconds, and the calls to a chat that arrived while a 429 for it said to wait. The
test suite checks the same limits on virtual time (tests/bots/telegram/test_telegram_sender.py),
where the machine's load cannot move them."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "bots" / "telegram")]

from fake_bot_api import FakeBotAPI  # noqa: E402

import bots.telegram  # noqa: E402, F401  isort: skip  (before aiogram: deferred_types.py)
from bots.telegram.adapter import TelegramMessenger  # noqa: E402
from bots.telegram.sender import TelegramSender  # noqa: E402
from flows.ui import Peer, Screen  # noqa: E402


async def burst(chats: int, messages: int, limited: int, retry_after: int) -> None:
    fake = FakeBotAPI()
    await fake.start()
    sender = TelegramSender()
    bot = TelegramMessenger(fake.token, api_url=fake.url, sender=sender)
    ids = [1000 + i for i in range(chats)]
    for chat in ids:
        fake.user(chat)
    if limited:
        fake.fail("sendMessage", code=429, retry_after=retry_after, times=limited)
    try:
        started = time.monotonic()
        await asyncio.gather(*(bot.send(Peer("telegram", str(chat)), Screen(f"hello {n}"),
                                        bulk=True)
                               for n in range(messages) for chat in ids))
        elapsed = time.monotonic() - started
    finally:
        await bot.bot.session.close()
        await fake.stop()

    calls = fake.calls_to("sendMessage")
    pauses = [(c.chat_id, c.at, c.at + retry_after) for c in calls if c.status == 429]
    in_pauses = [c for c in calls if any(c.chat_id == chat and start < c.at < end - 0.05
                                         for chat, start, end in pauses)]
    total = chats * messages
    print(f"sent {total} messages to {chats} chats in {elapsed:.2f} s "
          f"(the limits allow no less than {total / sender.per_second:.2f} s); "
          f"{len(pauses)} answered 429")
    print(f"most calls in any second: {fake.max_rate('sendMessage', 1.0)} "
          f"(limit {sender.per_second})")
    print(f"most calls to one chat in any second: {fake.max_rate_per_chat('sendMessage', 1.0)}, "
          f"in any 3 seconds: {fake.max_rate_per_chat('sendMessage', 3.0)} (limit 3)")
    print(f"calls to a chat arriving while a 429 for it said to wait: {len(in_pauses)}")
    print(f"calls the real Bot API would refuse: {len(fake.violations)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--messages", type=int, default=2, help="to each chat")
    parser.add_argument("--limited", type=int, default=3, help="calls answered with 429")
    parser.add_argument("--retry-after", type=int, default=1, help="seconds, in each 429")
    args = parser.parse_args()
    asyncio.run(burst(args.chats, args.messages, args.limited, args.retry_after))


if __name__ == "__main__":
    main()
