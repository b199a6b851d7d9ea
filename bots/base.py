"""What every messenger adapter provides. Adapters translate; they never decide.

The sending half (``Channel``) and the error tree are defined in ``flows.channel`` so that
flows can use them without importing ``bots``; they are re-exported here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from flows.channel import (
    Capabilities,
    Channel,
    MessengerError,
    Payment,
    RetryAfter,
    UserBlocked,
)
from flows.ui import Incoming

if TYPE_CHECKING:
    from aiohttp.web import RouteDef

__all__ = [
    "ApiErrors",
    "Capabilities",
    "Channel",
    "Messenger",
    "MessengerContext",
    "MessengerError",
    "OnIncoming",
    "Payment",
    "RetryAfter",
    "UserBlocked",
]

OnIncoming = Callable[[Incoming], Awaitable[None]]
# A messenger's library's errors: (its API cannot be reached now: try again, it refuses the
# token: no use trying again)
ApiErrors = tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]


class Messenger(Channel, Protocol):
    async def run(self, on_incoming: OnIncoming) -> None:
        """Start receiving; hand every update to ``on_incoming``. Returns once started."""
        ...

    async def stop(self) -> None: ...

    def webhook_routes(self) -> list[RouteDef]:
        """The web routes this messenger receives updates on (none when it polls)."""
        ...


@dataclass(frozen=True)
class MessengerContext:
    """What a messenger's factory needs besides its own settings."""

    base_url: str  # where this server is reached
    public: bool  # PUBLIC_URL is set: receive on a webhook where the messenger can
    default_language: str = "en"
    school_name: str = "School"
