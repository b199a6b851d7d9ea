"""Broadcasts: one message from the staff to a segment of students, sent at each messenger's
limit. A broadcast is a row; each student it goes to is a recipient row claimed in batches,
so a crash resumes where it stopped (``core.services.broadcasts`` decides, the sender in
``flows`` sends)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

MAX_TEXT = 3500  # characters: below Telegram's 4096 (VK and Viber allow more), room to format
MAX_BUTTONS = 6


class BroadcastStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # to start at ``start_at``
    SENDING = "sending"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"


class RecipientStatus(enum.StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"  # a sender has it in hand since ``claimed_at``
    SENT = "sent"
    FAILED = "failed"  # retried ``attempts`` times, still failing
    UNREACHABLE = "unreachable"  # blocked the bot, or the account is gone
    SKIPPED = "skipped"  # cancelled, or turned marketing off before their turn


class ButtonKind(enum.StrEnum):
    OFFER = "offer"  # value: an offer code of the school
    URL = "url"  # value: an https:// address
    COURSES = "courses"  # "My courses"; no value


class SegmentKind(enum.StrEnum):
    EVERYONE = "everyone"
    HOLDERS = "holders"  # value: "product:<code>" or "offer:<code>", access now
    ENDED = "ended"  # value: days, access ended within them (and none now)
    NEVER_BOUGHT = "never_bought"
    UNPAID = "unpaid"  # placed an order and never paid any
    MESSENGER = "messenger"  # value: "telegram", "vk", "viber" ...
    LANGUAGE = "language"  # value: "en", "ru", "fr" ...
    TAG = "tag"  # value: a tag


VALUED = frozenset(SegmentKind) - {SegmentKind.EVERYONE, SegmentKind.NEVER_BOUGHT,
                                   SegmentKind.UNPAID}


@dataclass(frozen=True)
class Segment:
    kind: SegmentKind
    value: str = ""

    def encode(self) -> str:
        """``holders:offer:basic``, ``everyone``: as stored and as carried in a button."""
        return f"{self.kind}:{self.value}" if self.value else str(self.kind)

    @classmethod
    def decode(cls, text: str) -> Segment:
        """The inverse of ``encode``; ValueError for what no segment encodes to."""
        kind, _, value = text.partition(":")
        segment = cls(SegmentKind(kind), value)
        if (segment.kind in VALUED) != bool(value):
            raise ValueError(f"segment {text!r}")
        return segment


@dataclass(frozen=True)
class BroadcastButton:
    kind: ButtonKind
    label: str = ""  # "" for COURSES: the student's language names it
    value: str = ""


@dataclass
class Broadcast:
    id: int = 0
    author: str = ""  # the staff account, ``telegram:123``
    author_messenger: str = ""  # where the progress message is kept
    author_chat_id: str = ""
    text: str = ""  # formatted: the HTML subset Telegram reads, plain text escaped
    picture_url: str | None = None
    buttons: list[dict[str, str]] = field(default_factory=list)  # BroadcastButton as dicts
    segment: str = ""  # ``Segment.encode()``
    marketing: bool = True  # False: a service announcement to holders (opt-outs get it too)
    status: BroadcastStatus = BroadcastStatus.SCHEDULED
    created_at: datetime | None = None
    start_at: datetime | None = None
    finished_at: datetime | None = None
    total: int = 0
    progress_message_id: str | None = None

    def button_list(self) -> list[BroadcastButton]:
        return [BroadcastButton(ButtonKind(b["kind"]), b.get("label", ""), b.get("value", ""))
                for b in self.buttons]


@dataclass(frozen=True)
class Recipient:
    """Who a broadcast goes to, chosen when it is created: the student and the account."""

    user_id: int
    identity_id: int
    messenger: str


@dataclass
class BroadcastRecipient:
    id: int = 0
    broadcast_id: int = 0
    user_id: int = 0
    identity_id: int = 0
    messenger: str = ""
    status: RecipientStatus = RecipientStatus.PENDING
    attempts: int = 0
    claimed_at: datetime | None = None
    done_at: datetime | None = None
    error: str | None = None


@dataclass
class Claimed:
    """A recipient row a sender has in hand, with what sending needs: the account's chat,
    the student's language, and whether they still take marketing."""

    recipient: BroadcastRecipient
    external_id: str = ""
    language: str = ""
    marketing: bool = True  # the student's own setting now
    reachable: bool = True  # the account, now


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed recipient: its new status (PENDING: try again), the
    attempts it has used and the error, if any."""

    recipient_id: int
    status: RecipientStatus
    attempts: int
    error: str | None = None


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0

    @property
    def remaining(self) -> int:
        return self.total - self.sent - self.failed - self.unreachable - self.skipped


@dataclass
class ButtonPress:
    broadcast_id: int
    button: int  # its index in ``Broadcast.buttons``
    user_id: int
    pressed_at: datetime | None = None
    id: int = 0
