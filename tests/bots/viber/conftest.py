"""The ``fake_viber`` fixture: a fake Viber REST Bot API on 127.0.0.1 (see fake_viber_api.py)."""

from __future__ import annotations

import pytest
from fake_viber_api import FakeViber


@pytest.fixture
async def fake_viber():
    """A running FakeViber on a free port of 127.0.0.1; point the bot at ``fake_viber.api_url``
    (instead of https://chatapi.viber.com/pa/) with the token ``fake_viber.token``."""
    fake = FakeViber()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
