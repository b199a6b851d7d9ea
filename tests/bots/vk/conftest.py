"""The ``fake_vk`` fixture: a fake VK API on 127.0.0.1 (see fake_vk_api.py)."""

from __future__ import annotations

import pytest
from fake_vk_api import FakeVK


@pytest.fixture
async def fake_vk():
    """A running FakeVK on a free port of 127.0.0.1; point vk_api at it with
    ``session=session_to(fake_vk.url)`` and the token ``fake_vk.token`` (or ``fake_vk.vk_api()``).
    Long polls wait at most 0.3 s here to keep tests fast."""
    fake = FakeVK(long_poll_wait_cap=0.3)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
