"""Posting automations' webhook calls (``core.automations.webhooks``) with aiohttp."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

TIMEOUT = aiohttp.ClientTimeout(total=10)


class AiohttpPoster:
    """``core.ports.WebhookPoster``: one short-lived session per call (calls are few and far
    between), no redirects followed (a signed body goes where the school file says only)."""

    def __init__(self, timeout: aiohttp.ClientTimeout = TIMEOUT) -> None:
        self.timeout = timeout

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        async with aiohttp.ClientSession(timeout=self.timeout) as session, session.post(
                url, data=body, headers=dict(headers), allow_redirects=False) as response:
            await response.read()
            return response.status
