"""The part of a messenger that flows talk to: sending, editing, acknowledging, and the errors
that tell a passing failure from a student who cannot be reached.

DESIGN.md places these in ``bots/base.py``; they live here because the flow engine and the
outbound dispatcher must use them and dependencies point ``bots -> flows``, never back.
``bots.base`` re-exports them and adds what only adapters need."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from core.models import Order
from flows.ui import Incoming, MessageRef, Peer, Screen

# Where a student pays for an order on the web; None when no web gateway is configured
# (a school that takes money only inside Telegram).
CheckoutUrl = Callable[[Order], str] | None


@dataclass(frozen=True)
class Capabilities:
    can_edit: bool = True
    max_buttons: int | None = None  # per message; the adapter's renderer pages longer lists
    url_buttons: bool = True
    invoices: frozenset[str] = frozenset()  # currencies it can take payment in, in the chat

    @property
    def stars(self) -> bool:
        return "XTR" in self.invoices


class MessengerError(Exception):
    """Sending failed for a reason that may pass: try again later."""


class RetryAfter(MessengerError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"rate limited for {seconds} s")
        self.seconds = seconds


class UserBlocked(MessengerError):
    """The student blocked the bot or never allowed it to write: stop until they write again."""


class Channel(Protocol):
    name: str
    capabilities: Capabilities

    async def send(self, peer: Peer, screen: Screen, bulk: bool = False) -> MessageRef:
        """``bulk``: a message the platform starts (not an answer to the student), which the
        messenger's sending limits apply to."""
        ...
    async def edit(self, ref: MessageRef, screen: Screen) -> MessageRef: ...
    async def ack(self, incoming: Incoming, toast: str | None = None) -> None:
        """Answer a button press (``toast``: a short note) or a payment check (``toast``: the
        reason to refuse; None lets the payment go ahead)."""
        ...
