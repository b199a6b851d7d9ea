"""The neutral UI every messenger renders: screens of text and rows of buttons."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

MAX_ACTION_BYTES = 64  # Telegram's callback_data limit; VK (255) and Viber allow more


@dataclass(frozen=True)
class Button:
    """An action button (a short opaque id the server resolves) or a link button."""

    text: str
    action: str | None = None
    url: str | None = None
    pays: bool = False  # the checkout link a native invoice replaces

    def __post_init__(self) -> None:
        if (self.action is None) == (self.url is None):
            raise ValueError("a button has exactly one of action and url")
        if self.action is not None and not 0 < len(self.action.encode()) <= MAX_ACTION_BYTES:
            raise ValueError(f"button action {self.action!r} is not 1..64 bytes")


@dataclass(frozen=True)
class Invoice:
    """An in-chat payment a messenger may show natively (Telegram), in place of the screen's
    ``Button.pays`` link to the checkout page. Amounts are minor units, as in the core."""

    title: str
    description: str
    payload: str  # the order token: it comes back with the payment
    currency: str
    amount: int
    label: str = "Pay"  # the pay button's text
    # Seconds between charges of a subscription the messenger renews itself (Telegram Stars:
    # 30 days); None for a one-time payment.
    renews_every: int | None = None


ATTACHMENT_KINDS = frozenset({"photo", "document"})


@dataclass(frozen=True)
class Attachment:
    """A file sent with a screen: a picture shown in the chat, or a document to save. The
    screen's text is its caption where the messenger allows one that long."""

    kind: str  # "photo" | "document"
    filename: str
    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if self.kind not in ATTACHMENT_KINDS:
            raise ValueError(f"an attachment is a photo or a document, not {self.kind!r}")


@dataclass(frozen=True)
class Screen:
    text: str
    rows: tuple[tuple[Button, ...], ...] = ()
    invoice: Invoice | None = None
    # Only for a messenger whose ``Capabilities.attachments`` has its kind: a flow offers
    # another way (a link, the text alone) to the others.
    attachment: Attachment | None = None
    # A picture by its public https address (a broadcast's): Telegram sends a photo with the
    # text as its caption, Viber a picture message before the text, the others a link.
    picture: str | None = None
    # ``text`` is formatted (``flows.formatting``): Telegram shows it so, others as plain text.
    html: bool = False

    @property
    def buttons(self) -> list[Button]:
        return [button for row in self.rows for button in row]


def screen(text: str, *rows: list[Button] | tuple[Button, ...] | Button) -> Screen:
    """``screen("Hi", [b1, b2], b3)``: a list is a row, a lone button is a row of one."""
    return Screen(text, tuple(tuple(r) if isinstance(r, list | tuple) else (r,) for r in rows))


@dataclass(frozen=True)
class Peer:
    """A chat the bot talks in."""

    messenger: str
    chat_id: str


@dataclass(frozen=True)
class MessageRef:
    peer: Peer
    message_id: str


@dataclass(frozen=True)
class Sender:
    external_id: str
    name: str = ""
    language: str | None = None  # as the messenger reports it, e.g. "ru" or "en-US"
    # Not a person's own account: Telegram's anonymous group admin, a message signed by a
    # channel. Never taken for a staff member, whatever its id.
    impersonal: bool = False
    # The account's handle without "@" ("" for none) where the messenger tells it (Telegram);
    # None where it does not.
    username: str | None = None


class IncomingKind(enum.StrEnum):
    TEXT = "text"  # a typed message; commands start with "/"
    ACTION = "action"  # an action button was pressed
    STARTED = "started"  # the messenger's "conversation started" with an optional payload
    PAYMENT_CHECK = "payment_check"  # may this payment go ahead? (Telegram pre_checkout_query)
    PAYMENT = "payment"  # money arrived in the chat (Telegram successful_payment)
    REFUNDED = "refunded"  # a payment was given back (Telegram refunded_payment)
    BLOCKED = "blocked"  # the student blocked the bot: stop writing until they write again
    SUBSCRIBED = "subscribed"  # the student allowed the bot to write again (Viber, VK)
    MEMBER = "member"  # someone's status in a paid group changed (Telegram chat_member)
    JOIN_REQUEST = "join_request"  # someone asks to join a paid group
    BOT_STATUS = "bot_status"  # the bot's own status or rights in a group changed


@dataclass(frozen=True)
class InChatPayment:
    """What a messenger's in-chat payment says: the invoice payload and the money."""

    payload: str
    currency: str
    amount: int
    charge_id: str = ""  # the messenger's unique id of the charge (empty for a check)
    provider_charge_id: str = ""
    recurring: bool = False  # a payment of a subscription (Telegram Stars)
    first_recurring: bool = False  # ... its first one
    paid_until: datetime | None = None  # the subscription's end after this payment


@dataclass(frozen=True)
class GroupEvent:
    """What happened in a group or channel; ``peer.chat_id`` of the Incoming is the group.
    ``sender`` is the member concerned (for BOT_STATUS: whoever changed the bot's rights)."""

    chat_id: int
    status: str = ""  # the member's (or the bot's) new status: member, left, administrator...
    old_status: str = ""
    invite_link: str | None = None  # the link they joined or asked through
    via_request: bool = False  # let in by an approved join request
    user_chat_id: int | None = None  # where a join requester can be written to
    missing_rights: tuple[str, ...] = ()  # BOT_STATUS: rights the bot lacks there
    until: datetime | None = None  # a Stars subscriber's paid-up end
    subscription_price: int | None = None  # Stars per period of the link they came through
    link_name: str | None = None


@dataclass(frozen=True)
class Incoming:
    peer: Peer
    sender: Sender
    kind: IncomingKind
    text: str = ""
    action: str = ""
    message: MessageRef | None = None  # the message whose button was pressed
    event_id: str | None = None  # the messenger's id for acknowledging a button press
    payment: InChatPayment | None = None
    group: GroupEvent | None = None
    reply_to: MessageRef | None = None  # the message a typed one replies to (Telegram)
    # The typed text with the formatting the author gave it (``flows.formatting``), where
    # the messenger has formatting (Telegram); None elsewhere.
    html: str | None = None
