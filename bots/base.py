"""What every messenger adapter provides. Adapters translate; they never decide.

The sending half (``Channel``) and the error tree are defined in ``flows.channel`` so that
flows can use them without importing ``bots``; they are re-exported here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from flows.channel import (
    Capabilities,
    Channel,
    MessengerError,
    Payment,
    RetryAfter,
    UserBlocked,
)
from flows.ui import Incoming

__all__ = [
    "Capabilities",
    "Channel",
    "Messenger",
    "MessengerError",
    "OnIncoming",
    "Payment",
    "RetryAfter",
    "UserBlocked",
]

OnIncoming = Callable[[Incoming], Awaitable[None]]


class Messenger(Channel, Protocol):
    async def run(self, on_incoming: OnIncoming) -> None:
        """Start receiving; hand every update to ``on_incoming``. Returns once started."""
        ...

    async def stop(self) -> None: ...
