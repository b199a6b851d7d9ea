"""The part of a messenger that flows talk to: sending, editing, acknowledging, and the errors
that tell a passing failure from a student who cannot be reached.

DESIGN.md places these in ``bots/base.py``; they live here because the flow engine and the
outbound dispatcher must use them and dependencies point ``bots -> flows``, never back.
``bots.base`` re-exports them and adds what only adapters need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from core.models import Payment as Payment  # what a refund is of, for the adapters
from flows.ui import Incoming, MessageRef, Peer, Screen


@dataclass(frozen=True)
class Capabilities:
    can_edit: bool = True
    max_buttons: int | None = None  # per message; the adapter's renderer pages longer lists
    url_buttons: bool = True
    invoices: frozenset[str] = frozenset()  # currencies it can take payment in, in the chat
    replies: bool = False  # a typed message says which message it replies to
    attachments: frozenset[str] = frozenset()  # kinds of ``Attachment`` it sends

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

    async def send(
        self, peer: Peer, screen: Screen, bulk: bool = False, key: str | None = None
    ) -> MessageRef:
        """``bulk``: a message the platform starts (not an answer to the student), which the
        messenger's sending limits apply to. ``key``: the same for every attempt to send
        the same message, where the messenger can drop a repeat (VK's ``random_id``)."""
        ...
    async def edit(self, ref: MessageRef, screen: Screen, bulk: bool = False) -> MessageRef:
        """``bulk``: an edit the platform makes by itself (a broadcast's progress), paced
        like ``send``'s bulk messages."""
        ...
    async def ack(self, incoming: Incoming, toast: str | None = None) -> None:
        """Answer a button press (``toast``: a short note) or a payment check (``toast``: the
        reason to refuse; None lets the payment go ahead)."""
        ...


@runtime_checkable
class StarSubscriptions(Protocol):
    """A messenger whose Stars subscriptions the bot can stop and restart (Telegram)."""

    async def set_star_subscription(self, user_id: str, charge_id: str, on: bool) -> None:
        """Stop (``on`` False) or restart Telegram's charging of the subscription; raises
        MessengerError when Telegram refuses (an expired subscription cannot restart)."""
        ...


# A command menu: (command without its slash, description), in the order shown.
MenuCommands = list[tuple[str, str]]


@runtime_checkable
class StaffMenus(Protocol):
    """A messenger that can show one chat a command menu of its own (Telegram's per-chat
    command scopes): a staff member's private chat lists what their role may do. A menu only
    hides or shows commands; who may run them is decided on every command."""

    async def set_staff_menu(self, peer: Peer, commands: MenuCommands | None) -> None:
        """Show ``commands`` in the chat; None takes its own menu away (the chat sees the
        students' menu again). Raises MessengerError when the messenger refuses (Telegram:
        a chat the bot has never talked with)."""
        ...


# The rights the bot needs in a paid group or channel.
NEEDED_RIGHTS = ("can_invite_users", "can_restrict_members")


@runtime_checkable
class GroupAdmin(Protocol):
    """What only Telegram can do: let people into a group or channel and take them out.
    ``user_id`` is the Telegram user id. Every method raises MessengerError on failure."""

    async def create_link(
        self, chat_id: int, name: str, expires_at: datetime, join_request: bool
    ) -> str:
        """A personal link: one use (or a join request), named, expiring."""
        ...

    async def subscription_link(self, chat_id: int, name: str, price: int) -> str:
        """A channel's Stars subscription link: ``price`` Stars every 30 days."""
        ...

    async def member(self, chat_id: int, user_id: str) -> tuple[str, datetime | None]:
        """The user's status in the chat and, for a Stars subscriber, their paid-up end."""
        ...

    async def revoke_link(self, chat_id: int, url: str) -> None: ...
    async def approve(self, chat_id: int, user_id: str) -> None: ...
    async def decline(self, chat_id: int, user_id: str) -> None: ...

    async def remove(self, chat_id: int, user_id: str) -> None:
        """Out of the chat, free to come back with a new link (ban, then unban)."""
        ...

    async def missing_rights(self, chat_id: int) -> list[str]:
        """Which of NEEDED_RIGHTS the bot lacks there (all of them if it is not an admin)."""
        ...
