"""Entities the core keeps in storage. Plain mutable dataclasses; ids are assigned by storage
(``id=0`` means "not stored yet"). Every datetime is aware UTC."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class User:
    id: int = 0
    created_at: datetime | None = None
    name: str = ""
    language: str = ""  # "" until the messenger tells us
    timezone: str | None = None  # IANA name, when known
    referral_code: str = ""  # this user's own code for inviting others; unique
    referred_by: str | None = None  # referral code of whoever brought them (first one wins)
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    start_offer: str | None = None  # offer code of the first deep link
    # Where messages the platform starts go ("telegram", "vk" ...); None: the messenger the
    # student used last.
    preferred_messenger: str | None = None
    merged_into: int | None = None  # this student linked their accounts into that one
    # Where fiscal receipts go: an email (lower case) or a phone (E.164, "+79001234567").
    receipt_contact: str | None = None
    # Marketing broadcasts reach the student (they turn it off and on in one tap).
    marketing: bool = True


@dataclass
class Identity:
    """One messenger account of a user. ``external_id`` is the private chat address too."""

    id: int = 0
    user_id: int = 0
    messenger: str = ""
    external_id: str = ""
    name: str = ""
    reachable: bool = True
    last_seen_at: datetime | None = None
    # The account's public handle without "@" where the messenger has one (Telegram), as it
    # was when last seen; None where unknown or there is none. Staff look students up by it.
    username: str | None = None


class OrderStatus(enum.StrEnum):
    NEW = "new"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"  # money arrived but not enough: no access
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


@dataclass
class Order:
    id: int = 0
    user_id: int = 0
    offer_code: str = ""
    token: str = ""  # unguessable, unique: the checkout page address
    amount: int = 0  # minor units, after discount
    list_amount: int = 0  # minor units, before discount
    currency: str = ""
    promo_code: str | None = None
    status: OrderStatus = OrderStatus.NEW
    created_at: datetime | None = None
    expires_at: datetime | None = None  # an unpaid order is cancelled after this
    paid_at: datetime | None = None
    closed_at: datetime | None = None  # cancelled or refunded
    close_reason: str | None = None
    messenger: str | None = None  # where the student ordered, for the confirmation
    # What the offer granted when the order was placed, so a later edit of the school file
    # never changes what a paid order delivers.
    products: tuple[str, ...] = ()
    access: str = "lifetime"  # core.school.AccessKind value
    period: str | None = None  # ISO-8601 duration
    extends: tuple[str, ...] = ()
    seat_taken: bool = False  # it holds one of the offer's seats until paid or closed
    # The staff account (``telegram:123``) that granted this order's access with no payment
    # taken; None for an order a student placed.
    granted_by: str | None = None
    # Given without payment by design: a free offer's enrolment, or an automation's grant
    # (amount 0, no payment row); counted apart from sales.
    free: bool = False


class PaymentStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"


@dataclass
class Payment:
    id: int = 0
    order_id: int = 0
    gateway: str = ""
    gateway_payment_id: str = ""  # unique together with gateway
    amount: int = 0
    currency: str = ""
    status: PaymentStatus = PaymentStatus.SUCCEEDED
    created_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # Why this money must go back (it granted nothing: "extra", "underpaid", "currency",
    # "offer_gone"); listed to staff by ``/refunds`` until the payment is REFUNDED.
    refund_reason: str | None = None
    # Minor units given back so far by partial refunds (the access stays); a payment given
    # back in full is REFUNDED.
    refunded_amount: int = 0

    @property
    def refundable_amount(self) -> int:
        """What is left to give back."""
        return max(self.amount - self.refunded_amount, 0)
    refunded_at: datetime | None = None  # when it was given back (the figures count it then)


class PurchaseStatus(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass
class Purchase:
    id: int = 0
    user_id: int = 0
    order_id: int = 0  # the order that created it
    offer_code: str = ""
    products: tuple[str, ...] = ()
    access: str = "lifetime"  # core.school.AccessKind value
    starts_at: datetime | None = None
    ends_at: datetime | None = None  # None: lifetime
    status: PurchaseStatus = PurchaseStatus.ACTIVE
    next_lesson_at: datetime | None = None  # when the next undelivered lesson opens
    updated_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None
    # Who renews it, when someone does: RENEWAL_TELEGRAM_CHANNEL (Telegram charges the member
    # of a Stars-subscription channel every 30 days; the purchase is ended by comparing it
    # with the member's subscription in Telegram), RENEWAL_TELEGRAM_STARS (Telegram charges a
    # Stars subscription to the bot; the purchase lapses a day after its end unless a
    # recurring payment came), or the gateway of a saved method the platform charges.
    renewal: str | None = None
    # How to charge it again: "<gateway>:<saved method>"; kept when the student switches
    # automatic renewal off (``renewal`` None), so they can switch it back on.
    renewal_method: str | None = None
    remind_at: datetime | None = None  # when the next reminder or renewal notice is due


RENEWAL_TELEGRAM_CHANNEL = "telegram_channel"
RENEWAL_TELEGRAM_STARS = "telegram_stars"
RENEWED_BY_TELEGRAM = frozenset({RENEWAL_TELEGRAM_CHANNEL, RENEWAL_TELEGRAM_STARS})


class RenewalStatus(enum.StrEnum):
    PENDING = "pending"  # to be charged at ``due_at`` (again, after a failure)
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the last attempt failed: access ended
    CANCELLED = "cancelled"  # renewed by hand, switched off, or the purchase ended


@dataclass
class Renewal:
    """The automatic renewal of one purchase for the period that ends at ``period_end``: one
    order, reused by every attempt. Attempt n charges with the key
    ``renew:{purchase}:{period_end}:{n}``, so a charge repeated after a crash is the same
    charge at the gateway, and a retry after a recorded failure is a new one."""

    id: int = 0
    purchase_id: int = 0
    period_end: datetime | None = None
    order_id: int = 0
    status: RenewalStatus = RenewalStatus.PENDING
    attempts: int = 0  # failed attempts so far
    due_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # When the current key was first sent to the gateway, while its outcome is unknown (None:
    # not sent yet). A gateway whose idempotency keys expire looks such a charge up first.
    key_sent_at: datetime | None = None

    def charge_key(self) -> str:
        assert self.period_end is not None
        return f"renew:{self.purchase_id}:{int(self.period_end.timestamp())}:{self.attempts}"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


@dataclass
class OutboxMessage:
    """A message to a student, recorded before it is sent and marked after."""

    id: int = 0
    user_id: int = 0
    kind: str = ""  # e.g. "order_paid", "lesson_opened", "access_ended"
    data: dict[str, Any] = field(default_factory=dict)
    dedupe_key: str | None = None  # unique when set: the same event is recorded once
    status: OutboxStatus = OutboxStatus.PENDING
    created_at: datetime | None = None
    due_at: datetime | None = None
    attempts: int = 0
    # The account it goes to: set when recorded to send it there (an answer goes where the
    # question came from), else chosen when it is sent; the one it went to once sent.
    identity_id: int | None = None
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    error: str | None = None
    external_message_id: str | None = None  # the messenger's id of the message sent


@dataclass
class ChatState:
    """The step a chat is on and its data, kept on the server (buttons carry only ids)."""

    messenger: str
    chat_id: str
    step: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None


class MemberStatus(enum.StrEnum):
    MEMBER = "member"
    LEFT = "left"
    REMOVED = "removed"  # by the platform, for want of access


@dataclass
class Membership:
    """A Telegram account seen in a paid group or channel. ``check_at``: when the platform
    must next look whether they may stay (set when access ends, or to retry a failed
    removal); ``enforced``: members who were there before the bot are only removed once an
    admin switches enforcement on."""

    id: int = 0
    group: str = ""  # the school file's group code
    chat_id: int = 0
    external_id: str = ""  # the Telegram user id
    name: str = ""
    status: MemberStatus = MemberStatus.MEMBER
    enforced: bool = True
    source: str = ""  # invite_link | join_request | unknown | imported
    joined_at: datetime | None = None
    check_at: datetime | None = None
    attempts: int = 0  # failed removals in a row
    updated_at: datetime | None = None


@dataclass
class InviteLink:
    """A personal link into a group, for one purchase."""

    id: int = 0
    purchase_id: int = 0
    user_id: int = 0
    group: str = ""
    url: str = ""
    created_at: datetime | None = None
    expires_at: datetime | None = None
    used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass
class SubscriptionLink:
    """A channel's Telegram Stars subscription link for one offer: whoever joins through it
    pays ``price`` Stars and again every 30 days. One open link per offer and price."""

    id: int = 0
    group: str = ""
    offer_code: str = ""
    price: int = 0  # Stars per period
    url: str = ""
    created_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass
class LinkCode:
    """A one-time code that joins the messenger account typing it to ``user_id``."""

    id: int = 0
    code: str = ""
    user_id: int = 0
    created_at: datetime | None = None
    expires_at: datetime | None = None
    used_at: datetime | None = None


@dataclass
class Tag:
    """A label on a student (``vip``, ``webinar-2027``), set by staff or an automation; a
    broadcast's segment and an automation's condition or trigger."""

    user_id: int = 0
    tag: str = ""
    added_at: datetime | None = None
    added_by: str = ""  # ``telegram:1`` for staff, ``automation:<code>``
    id: int = 0
