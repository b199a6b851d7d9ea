"""The ``fake_telegram`` fixture: a fake Telegram Bot API on 127.0.0.1 (see fake_bot_api.py)."""

from __future__ import annotations

import pytest
from fake_bot_api import FakeBotAPI

# As the platform imports it: aiogram's types are built on first use (bots/telegram/
# deferred_types.py), so these tests run on the models the platform really uses.
import bots.telegram  # noqa: F401  isort: skip


@pytest.fixture
async def fake_telegram():
    """A running FakeBotAPI on a free port of 127.0.0.1; point aiogram at ``fake_telegram.url``
    with the token ``fake_telegram.token``."""
    fake = FakeBotAPI()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
