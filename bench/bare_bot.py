"""The bare aiogram bot that bench/telegram_buttons.py compares the platform with, in a process
of its own: a webhook, no database, and the platform's own two screens.

It answers /start with the menu screen, and a press with answerCallbackQuery and
editMessageText showing the screen the button names, as aiogram's examples are written
(logging at INFO, the update handled inside the webhook's request). Like the platform as
shipped, it leaves out aiogram's line per update, so neither pays for logging the other skips.

    python bench/bare_bot.py --api URL --token TOKEN --port PORT --secret SECRET --screens FILE

FILE: JSON {"cat": [text, reply_markup], "menu": [text, reply_markup]}."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
from pathlib import Path

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

WEBHOOK_PATH = "/webhook"


async def main(args: argparse.Namespace) -> None:
    screens = {
        action: (text, InlineKeyboardMarkup.model_validate(markup))
        for action, (text, markup) in json.loads(Path(args.screens).read_text()).items()
    }
    bot = Bot(args.token, session=AiohttpSession(api=TelegramAPIServer.from_base(args.api)))
    dispatcher = Dispatcher()

    @dispatcher.message(CommandStart())
    async def on_start(message: Message) -> None:
        text, keyboard = screens["menu"]
        await message.answer(text, reply_markup=keyboard)

    @dispatcher.callback_query()
    async def on_press(query: CallbackQuery) -> None:
        text, keyboard = screens[query.data]
        await query.answer()
        await bot.edit_message_text(text=text, chat_id=query.message.chat.id,
                                    message_id=query.message.message_id, reply_markup=keyboard)

    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, secret_token=args.secret,
                         handle_in_background=False).register(app, path=WEBHOOK_PATH)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    await bot.set_webhook(f"http://127.0.0.1:{args.port}{WEBHOOK_PATH}", secret_token=args.secret)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await bot.session.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for option in ("--api", "--token", "--secret", "--screens"):
        parser.add_argument(option, required=True)
    parser.add_argument("--port", type=int, required=True)
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    asyncio.run(main(parser.parse_args()))
