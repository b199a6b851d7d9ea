"""An in-memory messenger: the fake for tests and the engine of the local sandbox.

Tests drive it like a student::

    chat = console.chat("42", name="Anna", language="ru")
    await chat.send("/start")
    await chat.click("Courses")
    chat.last.text, chat.last.labels
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bots.base import Capabilities, OnIncoming, UserBlocked
from flows.ui import (
    ATTACHMENT_KINDS,
    Attachment,
    Button,
    InChatPayment,
    Incoming,
    IncomingKind,
    MessageRef,
    Peer,
    Screen,
    Sender,
)

NAME = "console"


@dataclass
class ConsoleMessage:
    id: str
    screen: Screen
    edits: int = 0

    @property
    def text(self) -> str:
        return self.screen.text

    @property
    def labels(self) -> list[str]:
        return [b.text for b in self.screen.buttons]

    @property
    def attachment(self) -> Attachment | None:
        """The picture or document sent with the message, as the flow made it."""
        return self.screen.attachment


@dataclass
class ConsoleChat:
    messenger: ConsoleMessenger
    user_id: str
    name: str = "Student"
    language: str | None = "en"
    messages: list[ConsoleMessage] = field(default_factory=list)
    toasts: list[str | None] = field(default_factory=list)

    @property
    def peer(self) -> Peer:
        return Peer(self.messenger.name, self.user_id)

    @property
    def sender(self) -> Sender:
        return Sender(self.user_id, self.name, self.language)

    @property
    def last(self) -> ConsoleMessage:
        if not self.messages:
            raise AssertionError(f"chat {self.user_id} has no messages")
        return self.messages[-1]

    async def send(self, text: str) -> None:
        await self.messenger.deliver(Incoming(self.peer, self.sender, IncomingKind.TEXT, text=text))

    async def start(self, payload: str = "") -> None:
        await self.send(f"/start {payload}".strip())

    def find(self, label: str) -> tuple[ConsoleMessage, Button]:
        """The newest button whose label contains ``label`` (case-insensitive)."""
        for message in reversed(self.messages):
            for button in message.screen.buttons:
                if label.lower() in button.text.lower():
                    return message, button
        raise AssertionError(f"no button like {label!r}; last screen: {self.last.labels}")

    async def click(self, label: str) -> str | None:
        """Press a button. A link button is not sent to the bot: its URL is returned."""
        message, button = self.find(label)
        if button.url is not None:
            return button.url
        await self.press(button.action or "", message)
        return None

    async def check_payment(self, payload: str, currency: str, amount: int) -> str | None:
        """Ask, as Telegram's pre_checkout_query does, whether a payment may go ahead.
        Returns the refusal, or None for yes."""
        before = len(self.toasts)
        await self.messenger.deliver(Incoming(
            self.peer, self.sender, IncomingKind.PAYMENT_CHECK,
            event_id=f"pc{next(self.messenger.ids)}",
            payment=InChatPayment(payload, currency, amount),
        ))
        assert len(self.toasts) == before + 1, "a payment check must always be answered"
        return self.toasts[-1]

    async def pay_in_chat(self, payload: str, currency: str, amount: int, charge_id: str) -> None:
        """Report money paid in the chat, as Telegram's successful_payment does."""
        await self.messenger.deliver(Incoming(
            self.peer, self.sender, IncomingKind.PAYMENT,
            payment=InChatPayment(payload, currency, amount, charge_id),
        ))

    async def press(self, action: str, message: ConsoleMessage | None = None) -> None:
        """Send raw button data, as a tampering client could."""
        message = message or self.last
        await self.messenger.deliver(
            Incoming(
                self.peer,
                self.sender,
                IncomingKind.ACTION,
                action=action,
                message=MessageRef(self.peer, message.id),
                event_id=f"ev{next(self.messenger.ids)}",
            )
        )


class ConsoleMessenger:
    def __init__(self, name: str = NAME, invoices: frozenset[str] = frozenset(),
                 attachments: frozenset[str] = ATTACHMENT_KINDS) -> None:
        """``invoices``: currencies it takes payment in inside the chat, like Telegram;
        ``attachments``: the kinds of file it shows (all, as Telegram; none, as VK)."""
        self.name = name
        self.capabilities = Capabilities(can_edit=True, invoices=invoices,
                                         attachments=attachments)
        self.chats: dict[str, ConsoleChat] = {}
        self.blocked: set[str] = set()  # students who "blocked the bot"
        self.ids = itertools.count(1)
        self.sent = 0
        self._on_incoming: OnIncoming | None = None

    def chat(self, user_id: str, name: str = "Student", language: str | None = "en") -> ConsoleChat:
        if user_id not in self.chats:
            self.chats[user_id] = ConsoleChat(self, user_id, name, language)
        return self.chats[user_id]

    async def run(self, on_incoming: OnIncoming) -> None:
        self._on_incoming = on_incoming

    async def stop(self) -> None:
        self._on_incoming = None

    def webhook_routes(self) -> list:
        return []  # it is driven in-process, never over the web

    async def deliver(self, incoming: Incoming) -> None:
        if self._on_incoming is None:
            raise RuntimeError("the console messenger is not running")
        self.blocked.discard(incoming.peer.chat_id)  # writing to the bot unblocks it
        await self._on_incoming(incoming)

    async def send(
        self, peer: Peer, screen: Screen, bulk: bool = False, key: str | None = None
    ) -> MessageRef:
        if peer.chat_id in self.blocked:
            raise UserBlocked(f"{peer.chat_id} blocked the bot")
        chat = self.chat(peer.chat_id)
        message = ConsoleMessage(str(next(self.ids)), screen)
        chat.messages.append(message)
        self.sent += 1
        return MessageRef(peer, message.id)

    async def edit(self, ref: MessageRef, screen: Screen, bulk: bool = False) -> MessageRef:
        if ref.peer.chat_id in self.blocked:
            raise UserBlocked(f"{ref.peer.chat_id} blocked the bot")
        for message in self.chat(ref.peer.chat_id).messages:
            if message.id == ref.message_id:
                message.screen = screen
                message.edits += 1
                return ref
        return await self.send(ref.peer, screen)

    async def ack(self, incoming: Incoming, toast: str | None = None) -> None:
        self.chat(incoming.peer.chat_id).toasts.append(toast)
