"""Button presses per second through the whole platform on Telegram, next to a minimal aiogram
bot that answers the same press with the same two Bot API calls and no database.

Both run in webhook mode against the same fast fake Bot API on 127.0.0.1 (the test suite's
fake, without validation), with the same number of presses in flight; they take turns, round
after round, in one run. A press is a catalog click that edits the message in place.

    python bench/telegram_buttons.py [--presses 3000] [--rounds 3] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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
from aiogram.types import CallbackQuery  # noqa: E402
from aiogram.webhook.aiohttp_server import SimpleRequestHandler  # noqa: E402
from aiohttp import web  # noqa: E402
from fake_bot_api import FakeBotAPI  # noqa: E402

from bots.telegram.adapter import WEBHOOK_PATH, TelegramMessenger  # noqa: E402
from core.clock import SystemClock  # noqa: E402
from core.school_file import load_school  # noqa: E402
from run import Settings, build_platform  # noqa: E402
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


async def platform_bot(fake: FakeBotAPI, tmp: Path):
    uow_factory, engine = await make_sqlite_uow_factory(tmp)
    messenger = TelegramMessenger(fake.token, api_url=fake.url,
                                  webhook_url="http://127.0.0.1/", webhook_secret=SECRET)
    platform = build_platform(Settings(_env_file=None, secret_key="b" * 32),
                              load_school(ROOT / "school.example.yaml"), uow_factory,
                              SystemClock(), channels={"telegram": messenger})
    messenger.add_webhook_route(platform.app)
    runner, url = await serve(platform.app)
    messenger.webhook_url = url
    await messenger.run(platform.flows.handle)
    # Every student has pressed /start: the bench presses buttons of that menu.
    for user in range(1, USERS + 1):
        assert await fake.post_to_webhook(fake.text_update(fake.user(user), "/start")) == 200

    async def close():
        await messenger.stop()
        await runner.cleanup()
        await engine.dispose()

    return ("cat", "menu"), close


async def minimal_bot(fake: FakeBotAPI):
    bot = Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))
    dispatcher = Dispatcher()

    async def on_press(query: CallbackQuery) -> None:
        await bot.answer_callback_query(query.id)
        await bot.edit_message_text(text=f"screen {query.data}", chat_id=query.message.chat.id,
                                    message_id=query.message.message_id)

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

    return ("a", "b"), close


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


async def main(presses: int, rounds: int, concurrency: int) -> None:
    results: dict[str, list] = {"platform": [], "minimal aiogram": []}
    with tempfile.TemporaryDirectory() as tmp:
        fakes = {name: FakeBotAPI(validate=False) for name in results}
        for fake in fakes.values():
            await fake.start()
        bots = {
            "platform": await platform_bot(fakes["platform"], Path(tmp)),
            "minimal aiogram": await minimal_bot(fakes["minimal aiogram"]),
        }
        gc.collect()
        gc.freeze()  # start-up garbage is never collected again
        await press_round(fakes["platform"], bots["platform"][0], 200, concurrency)  # warm-up
        await press_round(fakes["minimal aiogram"], bots["minimal aiogram"][0], 200, concurrency)
        for _ in range(rounds):
            for name in results:
                fakes[name].calls.clear()
                results[name].append(
                    await press_round(fakes[name], bots[name][0], presses, concurrency))
        for _, close in bots.values():
            await close()
        for fake in fakes.values():
            await fake.stop()

    print(f"{presses} presses x {rounds} rounds, {concurrency} in flight, {USERS} students")
    rates = {}
    for name, runs in results.items():
        rates[name] = statistics.median(rate for rate, _ in runs)
        latencies = [ms for _, run in runs for ms in run]
        print(f"  {name:16} {rates[name]:7.0f} presses/s   p50 {percentile(latencies, 50):5.1f} ms"
              f"   p99 {percentile(latencies, 99):5.1f} ms")
    print(f"  ratio platform / minimal: {rates['platform'] / rates['minimal aiogram']:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presses", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(main(args.presses, args.rounds, args.concurrency))
