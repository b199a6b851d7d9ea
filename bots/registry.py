"""Every messenger the platform can run: adding one is a package under ``bots/`` plus an
entry here (its settings model and a factory).

Each messenger's settings and factory sit in a module beside its package
(``bots/telegram_setup.py`` ...), not in it: importing the package loads the messenger's
library, which only a school using that messenger pays for at start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from bots import telegram_setup as telegram
from bots import viber_setup as viber
from bots import vk_setup as vk
from bots.base import ApiErrors, Messenger, MessengerContext


@dataclass(frozen=True)
class MessengerEntry:
    name: str  # in identities and the school file's admins ("telegram:123")
    title: str  # shown to students
    settings: type[BaseModel]  # its fields are named as the environment variables
    build: Callable[[Any, MessengerContext], Messenger | None]  # None: not configured
    token_setting: str = ""  # named when the messenger refuses the token
    numeric_ids: bool = False  # its user ids are numbers
    # A check against the platform's PUBLIC_URL: raises ValueError (settings, public).
    check: Callable[[Any, bool], None] | None = None
    api_errors: Callable[[], ApiErrors] | None = None  # beyond OSError and aiohttp's
    # Messages the platform starts, a second (its sending pace), for broadcast estimates.
    bulk_rate: Callable[[Any], float] | None = None
    # What one such message costs outside the student's 24-hour session, where it charges.
    # (amount, currency)
    message_price: Callable[[Any], tuple[Decimal, str] | None] | None = None


MESSENGERS: tuple[MessengerEntry, ...] = (
    MessengerEntry("telegram", "Telegram", telegram.TelegramSettings, telegram.build,
                   "TELEGRAM_BOT_TOKEN", numeric_ids=True, check=telegram.check,
                   api_errors=telegram.api_errors, bulk_rate=telegram.bulk_rate),
    MessengerEntry("vk", "VK", vk.VkSettings, vk.build, "VK_GROUP_TOKEN", numeric_ids=True,
                   bulk_rate=vk.bulk_rate),
    MessengerEntry("viber", "Viber", viber.ViberSettings, viber.build, "VIBER_AUTH_TOKEN",
                   bulk_rate=viber.bulk_rate, message_price=viber.message_price),
)
# Senders without an entry staff may still be named on: the console of the tests and of
# ``run.py chat``, the browser sandbox's pretend people, and the web pages.
IN_PROCESS = ("console", "web", "sandbox")


def titles(entries: tuple[MessengerEntry, ...] = MESSENGERS) -> dict[str, str]:
    return {entry.name: entry.title for entry in entries}


def known_messengers(entries: tuple[MessengerEntry, ...] = MESSENGERS) -> dict[str, bool]:
    """Every messenger name the school file may use, and whether its user ids are numbers."""
    known = {entry.name: entry.numeric_ids for entry in entries}
    known.update((name, False) for name in IN_PROCESS if name not in known)
    return known
