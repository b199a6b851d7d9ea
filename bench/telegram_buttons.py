"""Button presses per second through the whole platform on Telegram, next to a minimal aiogram
bot that answers the same press with the same two Bot API calls and no database.

Both answer a press with answerCallbackQuery and editMessageText, and both edits carry the
same text and keyboard (the minimal bot shows the platform's two screens, taken from it at
start). The platform answers the press in the webhook's HTTP response, as Telegram allows;
``--ack-by-call`` makes it call answerCallbackQuery like the minimal bot, for comparison.

Both run in webhook mode against the same fast fake Bot API on 127.0.0.1 (the test suite's
fake, without validation), with the same number of presses in flight; they take turns, round
after round, in one run. A press is a catalog click that edits the message in place.

    python bench/telegram_buttons.py [--presses 2000] [--rounds 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "bots" / "telegram")]

from aiogram import Bot, Dispatcher  # noqa: E402
from aiogram.client.session.aiohttp import AiohttpSession  # noqa: E402
from aiogram.client.telegram import TelegramAPIServer  # noqa: E402
from aiogram.types import CallbackQuery, InlineKeyboardMarkup  # noqa: E402
from aiogram.webhook.aiohttp_server import SimpleRequestHandler  # noqa: E402
from aiohttp import web  # noqa: E402
from fake_bot_api import FakeBotAPI  # noqa: E402

from bots.telegram.adapter import WEBHOOK_PATH, TelegramMessenger  # noqa: E402
from core.clock import SystemClock  # noqa: E402
from core.school_file import load_school  # noqa: E402
from run import Settings, build_platform, settle_memory  # noqa: E402
from storage.testing import make_sqlite_uow_factory  # noqa: E402

USERS = 256
PRESSED: dict[int, dict[int, int]] = {}  # per fake: presses per student, across rounds
SECRET = "bench-secret-token-0123456789"


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001
    return runner, f"http://127.0.0.1:{port}{WEBHOOK_PATH}"


async def platform_bot(fake: FakeBotAPI, tmp: Path, ack_by_call: bool = False):
    uow_factory, engine = await make_sqlite_uow_factory(tmp)
    messenger = TelegramMessenger(fake.token, api_url=fake.url,
                                  webhook_url="http://127.0.0.1/", webhook_secret=SECRET)
    platform = build_platform(Settings(_env_file=None, secret_key="b" * 32),
                              load_school(ROOT / "school.example.yaml"), uow_factory,
                              SystemClock(), channels={"telegram": messenger})
    messenger.add_webhook_route(platform.app)
    if ack_by_call:
        messenger.answer_in_webhook_reply = False
    runner, url = await serve(platform.app)
    messenger.webhook_url = url
    await messenger.run(platform.flows.handle)
    # Every student has pressed /start: the bench presses buttons of that menu.
    for user in range(1, USERS + 1):
        assert await fake.post_to_webhook(fake.text_update(fake.user(user), "/start")) == 200

    # The two screens the bench switches between, as the student sees them.
    screens = {}
    for action in ("cat", "menu"):
        student = fake.user(1)
        update = fake.callback_update(student, fake.last_message(1), action, check=False)
        assert await fake.post_to_webhook(update) == 200
        shown = fake.last_message(1)
        screens[action] = (shown["text"], InlineKeyboardMarkup.model_validate(
            shown["reply_markup"]))

    async def close():
        await messenger.stop()
        await runner.cleanup()
        await engine.dispose()

    return ("cat", "menu"), close, screens


async def minimal_bot(fake: FakeBotAPI, screens: dict[str, tuple[str, InlineKeyboardMarkup]]):
    bot = Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))
    dispatcher = Dispatcher()

    async def on_press(query: CallbackQuery) -> None:
        text, keyboard = screens[query.data]
        await bot.answer_callback_query(query.id)
        await bot.edit_message_text(text=text, chat_id=query.message.chat.id,
                                    message_id=query.message.message_id, reply_markup=keyboard)

    dispatcher.callback_query.register(on_press)
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, secret_token=SECRET,
                         handle_in_background=False).register(app, path=WEBHOOK_PATH)
    runner, url = await serve(app)
    await bot.set_webhook(url, secret_token=SECRET)
    for user in range(1, USERS + 1):
        await bot.send_message(user, "menu")

    async def close():
        await runner.cleanup()
        await bot.session.close()

    return ("cat", "menu"), close


async def press_round(fake: FakeBotAPI, actions: tuple[str, str], presses: int,
                      concurrency: int) -> tuple[float, list[float]]:
    """``concurrency`` students press at once; each press is one webhook call."""
    latencies: list[float] = []
    per_worker = presses // concurrency
    pressed = PRESSED.setdefault(id(fake), dict.fromkeys(range(1, USERS + 1), 0))

    async def student(worker: int) -> None:
        for n in range(per_worker):
            user = fake.user(1 + (worker + n * concurrency) % USERS)
            message = fake.last_message(user["id"])
            pressed[user["id"]] += 1  # each student alternates: every press changes the screen
            action = actions[pressed[user["id"]] % 2]
            update = fake.callback_update(user, message, action, check=False)
            started = time.perf_counter()
            status = await fake.post_to_webhook(update)
            latencies.append((time.perf_counter() - started) * 1000)
            assert status == 200, status

    began = time.perf_counter()
    await asyncio.gather(*(student(w) for w in range(concurrency)))
    return len(latencies) / (time.perf_counter() - began), latencies


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1]


async def main(presses: int, rounds: int, concurrency: int, ack_by_call: bool) -> None:
    results: dict[str, list] = {"platform": [], "minimal aiogram": []}
    with tempfile.TemporaryDirectory() as tmp:
        fakes = {name: FakeBotAPI(validate=False) for name in results}
        for fake in fakes.values():
            await fake.start()
            # The fake's record of calls, which tests read, would grow by thousands of objects
            # a round that the garbage collector of this one process scans for both bots.
            fake.calls = collections.deque(maxlen=1000)
        *platform, screens = await platform_bot(fakes["platform"], Path(tmp), ack_by_call)
        bots = {
            "platform": platform,
            "minimal aiogram": await minimal_bot(fakes["minimal aiogram"], screens),
        }
        settle_memory()  # as run.py does once it has started
        for name, (actions, _) in bots.items():  # warm-up: every student presses both buttons
            await press_round(fakes[name], actions, 4 * USERS, concurrency)
        for _ in range(rounds):
            for name in results:
                results[name].append(
                    await press_round(fakes[name], bots[name][0], presses, concurrency))
        for _, close in bots.values():
            await close()
        for fake in fakes.values():
            await fake.stop()

    print(f"{presses} presses x {rounds} rounds, {concurrency} in flight, {USERS} students;"
          f" the platform answers presses {'by a call' if ack_by_call else 'in the webhook reply'}")
    rates = {}
    for name, runs in results.items():
        rates[name] = statistics.median(rate for rate, _ in runs)
        latencies = [ms for _, run in runs for ms in run]
        print(f"  {name:16} {rates[name]:7.0f} presses/s   p50 {percentile(latencies, 50):5.1f} ms"
              f"   p99 {percentile(latencies, 99):5.1f} ms")
    # Rounds alternate, so a round and the next one of the other bot share the machine's
    # mood of the moment: their ratios are compared, and their median is the result.
    ratios = [p / m for (p, _), (m, _) in zip(results["platform"], results["minimal aiogram"],
                                               strict=True)]
    print(f"  ratio platform / minimal: {statistics.median(ratios):.2f}"
          f" (median of rounds: {', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presses", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--ack-by-call", action="store_true",
                        help="the platform answers presses with a call of their own")
    args = parser.parse_args()
    asyncio.run(main(args.presses, args.rounds, args.concurrency, args.ack_by_call))
