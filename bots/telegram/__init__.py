"""The school on Telegram, through aiogram 3."""

from bots.telegram.deferred_types import import_aiogram

import_aiogram()
