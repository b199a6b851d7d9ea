"""Fixtures for every messenger's tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _aiogram_closes_at_once(monkeypatch):
    """aiogram waits 250 ms after closing its HTTP session, for TLS connections to close; the
    fake Bot API here speaks plain HTTP on 127.0.0.1, where there is nothing to wait for."""
    # bots.telegram first, as the platform imports it (bots/telegram/deferred_types.py).
    import bots.telegram  # noqa: F401  isort: skip
    from aiogram.client.session.aiohttp import AiohttpSession

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    monkeypatch.setattr(AiohttpSession, "close", close)
