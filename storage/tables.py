"""The schema. Column names match the field names of the dataclasses in ``core.models``."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.automations.records import CallStatus, RunStatus, Waiting
from core.broadcasts import BroadcastStatus, RecipientStatus
from core.contacts import ContactKind
from core.inbox import ConversationStatus
from core.models import (
    MemberStatus,
    OrderStatus,
    OutboxStatus,
    PaymentStatus,
    PurchaseStatus,
    RenewalStatus,
)
from core.staff import AuditResult, Role

NAMING = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on every dialect. SQLite keeps no offset, so it gets UTC
    wall time (which also sorts correctly as text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: only aware datetimes are stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StrEnumType(TypeDecorator[enum.StrEnum]):
    """A ``StrEnum`` stored as its plain string value."""

    impl = String(20)
    cache_ok = True

    def __init__(self, enum_class: type[enum.StrEnum]) -> None:
        super().__init__()
        self.enum_class = enum_class

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_class(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> enum.StrEnum | None:
        return None if value is None else self.enum_class(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


ACTIVE = text("status = 'active'")


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (
        Index(
            "ix_users_referral_code",
            "referral_code",
            unique=True,
            sqlite_where=text("referral_code <> ''"),
            postgresql_where=text("referral_code <> ''"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime | None] = mapped_column(index=True)
    name: Mapped[str]
    language: Mapped[str]
    timezone: Mapped[str | None]
    referral_code: Mapped[str]
    referred_by: Mapped[str | None]
    utm_source: Mapped[str | None]
    utm_medium: Mapped[str | None]
    utm_campaign: Mapped[str | None]
    start_offer: Mapped[str | None]
    preferred_messenger: Mapped[str | None]
    merged_into: Mapped[int | None]
    receipt_contact: Mapped[str | None]
    marketing: Mapped[bool] = mapped_column(server_default=text("true"))


class IdentityRow(Base):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("messenger", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    messenger: Mapped[str]
    external_id: Mapped[str] = mapped_column(index=True)  # staff find a bare number
    name: Mapped[str]
    reachable: Mapped[bool]
    last_seen_at: Mapped[datetime | None]
    username: Mapped[str | None]


class OrderRow(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    offer_code: Mapped[str]
    token: Mapped[str] = mapped_column(unique=True)
    amount: Mapped[int]
    list_amount: Mapped[int]
    currency: Mapped[str]
    promo_code: Mapped[str | None]
    status: Mapped[OrderStatus] = mapped_column(StrEnumType(OrderStatus))
    created_at: Mapped[datetime | None] = mapped_column(index=True)
    expires_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None] = mapped_column(index=True)
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None]
    messenger: Mapped[str | None]
    products: Mapped[list[str]] = mapped_column(JSON)
    access: Mapped[str]
    period: Mapped[str | None]
    extends: Mapped[list[str]] = mapped_column(JSON)
    seat_taken: Mapped[bool]
    granted_by: Mapped[str | None]
    free: Mapped[bool] = mapped_column(server_default=text("false"))


TO_REFUND = text("refund_reason IS NOT NULL AND status = 'succeeded'")


class PaymentRow(Base):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("gateway", "gateway_payment_id"),
        Index("ix_payments_to_refund", "created_at", sqlite_where=TO_REFUND,
              postgresql_where=TO_REFUND),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    gateway: Mapped[str]
    gateway_payment_id: Mapped[str]
    amount: Mapped[int]
    currency: Mapped[str]
    status: Mapped[PaymentStatus] = mapped_column(StrEnumType(PaymentStatus))
    created_at: Mapped[datetime | None] = mapped_column(index=True)
    details: Mapped[dict[str, Any]]
    refund_reason: Mapped[str | None]
    refunded_amount: Mapped[int] = mapped_column(server_default="0")
    refunded_at: Mapped[datetime | None] = mapped_column(index=True)


class PurchaseRow(Base):
    __tablename__ = "purchases"
    __table_args__ = (
        Index(
            "ix_purchases_next_lesson_at_active",
            "next_lesson_at",
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        ),
        Index(
            "ix_purchases_ends_at_active",
            "ends_at",
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    offer_code: Mapped[str]
    products: Mapped[list[str]] = mapped_column(JSON)
    access: Mapped[str]
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    status: Mapped[PurchaseStatus] = mapped_column(StrEnumType(PurchaseStatus))
    next_lesson_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None] = mapped_column(index=True)
    end_reason: Mapped[str | None]
    renewal: Mapped[str | None]
    renewal_method: Mapped[str | None]
    remind_at: Mapped[datetime | None] = mapped_column(index=True)


class CounterRow(Base):
    __tablename__ = "counters"

    key: Mapped[str] = mapped_column(primary_key=True)
    used: Mapped[int]


class LessonDeliveryRow(Base):
    __tablename__ = "lesson_deliveries"
    __table_args__ = (UniqueConstraint("user_id", "course", "lesson"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    course: Mapped[str]
    lesson: Mapped[str]
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), index=True)
    delivered_at: Mapped[datetime]


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due_at", "status", "due_at"),
                      Index("ix_outbox_identity_id_external_message_id", "identity_id",
                            "external_message_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str]
    data: Mapped[dict[str, Any]]
    dedupe_key: Mapped[str | None] = mapped_column(unique=True)
    status: Mapped[OutboxStatus] = mapped_column(StrEnumType(OutboxStatus))
    created_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    attempts: Mapped[int]
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id"))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None]
    external_message_id: Mapped[str | None]


class ChatStateRow(Base):
    __tablename__ = "chat_states"

    messenger: Mapped[str] = mapped_column(primary_key=True)
    chat_id: Mapped[str] = mapped_column(primary_key=True)
    step: Mapped[str]
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime | None]


class MembershipRow(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("chat_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group: Mapped[str]
    chat_id: Mapped[int] = mapped_column(BigInteger)
    external_id: Mapped[str] = mapped_column(index=True)
    name: Mapped[str]
    status: Mapped[MemberStatus] = mapped_column(StrEnumType(MemberStatus))
    enforced: Mapped[bool]
    source: Mapped[str]
    joined_at: Mapped[datetime | None]
    check_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int]
    updated_at: Mapped[datetime | None]


class InviteLinkRow(Base):
    __tablename__ = "invite_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    group: Mapped[str]
    url: Mapped[str] = mapped_column(unique=True)
    created_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class SubscriptionLinkRow(Base):
    __tablename__ = "subscription_links"
    __table_args__ = (Index("ix_subscription_links_group_offer", "group", "offer_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group: Mapped[str]
    offer_code: Mapped[str]
    price: Mapped[int]
    url: Mapped[str] = mapped_column(unique=True)
    created_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LinkCodeRow(Base):
    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]


PENDING = text("status = 'pending'")


class RenewalRow(Base):
    __tablename__ = "renewals"
    __table_args__ = (
        UniqueConstraint("purchase_id", "period_end"),
        Index("ix_renewals_due_at_pending", "due_at", sqlite_where=PENDING,
              postgresql_where=PENDING),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"))
    period_end: Mapped[datetime]
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    status: Mapped[RenewalStatus] = mapped_column(StrEnumType(RenewalStatus))
    attempts: Mapped[int]
    due_at: Mapped[datetime | None]
    last_error: Mapped[str | None]
    created_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    key_sent_at: Mapped[datetime | None]


class TagRow(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("user_id", "tag"), Index("ix_tags_tag", "tag"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    tag: Mapped[str]
    added_at: Mapped[datetime | None]
    added_by: Mapped[str]


class StaffMemberRow(Base):
    __tablename__ = "staff_members"
    __table_args__ = (UniqueConstraint("messenger", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    messenger: Mapped[str]
    external_id: Mapped[str]
    role: Mapped[Role] = mapped_column(StrEnumType(Role))
    added_by: Mapped[str]
    added_at: Mapped[datetime | None]


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_actor_id", "actor", "id"),
                      Index("ix_audit_log_user_id_id", "user_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str]
    role: Mapped[str]
    action: Mapped[str]
    result: Mapped[AuditResult] = mapped_column(StrEnumType(AuditResult))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    subject: Mapped[str]
    detail: Mapped[str]


OPEN = text("status = 'open'")


class ConversationRow(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        # One open conversation per student.
        Index("ix_conversations_open_user_id", "user_id", unique=True,
              sqlite_where=OPEN, postgresql_where=OPEN),
        Index("ix_conversations_status_updated_at", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"))
    status: Mapped[ConversationStatus] = mapped_column(StrEnumType(ConversationStatus))
    opened_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    last_student_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str]


class ConversationMessageRow(Base):
    __tablename__ = "conversation_messages"
    __table_args__ = (Index("ix_conversation_messages_conversation_id_id", "conversation_id",
                            "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    at: Mapped[datetime]
    author: Mapped[str]
    text: Mapped[str]
class StaffDigestRow(Base):
    __tablename__ = "staff_digests"
    __table_args__ = (UniqueConstraint("messenger", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    messenger: Mapped[str]
    external_id: Mapped[str]
    hour: Mapped[int]
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    updated_at: Mapped[datetime | None]


class PromoCodeRow(Base):
    """Promo codes made by staff in the chat (``core.promo_codes``)."""

    __tablename__ = "promo_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(unique=True)
    percent: Mapped[int | None]
    amount: Mapped[int | None]
    currency: Mapped[str | None]
    offers: Mapped[list[str]] = mapped_column(JSON)
    max_uses: Mapped[int | None]
    valid_until: Mapped[datetime | None]
    created_by: Mapped[str]
    created_at: Mapped[datetime | None]
    disabled_by: Mapped[str | None]
    disabled_at: Mapped[datetime | None]


class ContactRow(Base):
    """A student's email addresses and phone numbers (``core.contacts``)."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[ContactKind] = mapped_column(StrEnumType(ContactKind))
    value: Mapped[str]
    source: Mapped[str]
    added_at: Mapped[datetime | None]


class StaffMenuRow(Base):
    __tablename__ = "staff_menus"
    __table_args__ = (UniqueConstraint("messenger", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    messenger: Mapped[str]
    external_id: Mapped[str]
    role: Mapped[Role] = mapped_column(StrEnumType(Role))
    shown_at: Mapped[datetime | None]


class StaffNoteRow(Base):
    __tablename__ = "staff_notes"
    __table_args__ = (Index("ix_staff_notes_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author: Mapped[str]
    text: Mapped[str]
    created_at: Mapped[datetime | None]


OPEN_RUN = text("status IN ('active', 'waiting')")


class AutomationRunRow(Base):
    __tablename__ = "automation_runs"
    __table_args__ = (
        UniqueConstraint("automation", "user_id", "repeat_key"),
        Index("ix_automation_runs_wait_until_live", "wait_until", sqlite_where=OPEN_RUN,
              postgresql_where=OPEN_RUN),
        Index("ix_automation_runs_automation_status", "automation", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    automation: Mapped[str]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[RunStatus] = mapped_column(StrEnumType(RunStatus))
    position: Mapped[str]
    wait_until: Mapped[datetime | None]
    waiting_for: Mapped[Waiting] = mapped_column(StrEnumType(Waiting))
    data: Mapped[dict[str, Any]]
    started_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    repeat_key: Mapped[str]
    paused_from: Mapped[RunStatus | None] = mapped_column(StrEnumType(RunStatus))
    error: Mapped[str | None]


class AutomationEventRow(Base):
    __tablename__ = "automation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    subject: Mapped[str]
    subjects: Mapped[list[str]] = mapped_column(JSON)
    key: Mapped[str]
    detail: Mapped[dict[str, Any]]
    created_at: Mapped[datetime | None]


class AutomationStateRow(Base):
    __tablename__ = "automation_states"

    code: Mapped[str] = mapped_column(primary_key=True)
    paused: Mapped[bool]
    changed_by: Mapped[str]
    changed_at: Mapped[datetime | None]
    cursor: Mapped[int | None]


class StudentFieldRow(Base):
    __tablename__ = "student_fields"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str]
    value: Mapped[str]
    updated_at: Mapped[datetime | None]


class WebhookCallRow(Base):
    __tablename__ = "webhook_calls"
    __table_args__ = (Index("ix_webhook_calls_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("automation_runs.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    automation: Mapped[str]
    url: Mapped[str]
    body: Mapped[dict[str, Any]]
    dedupe_key: Mapped[str] = mapped_column(unique=True)
    status: Mapped[CallStatus] = mapped_column(StrEnumType(CallStatus))
    attempts: Mapped[int]
    due_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None]
    created_at: Mapped[datetime | None]


class BroadcastRow(Base):
    __tablename__ = "broadcasts"
    __table_args__ = (Index("ix_broadcasts_status_start_at", "status", "start_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    author: Mapped[str]
    author_messenger: Mapped[str]
    author_chat_id: Mapped[str]
    text: Mapped[str]
    picture_url: Mapped[str | None]
    buttons: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    segment: Mapped[str]
    marketing: Mapped[bool]
    status: Mapped[BroadcastStatus] = mapped_column(StrEnumType(BroadcastStatus))
    created_at: Mapped[datetime | None]
    start_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    total: Mapped[int]
    progress_message_id: Mapped[str | None]


class BroadcastRecipientRow(Base):
    __tablename__ = "broadcast_recipients"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "user_id"),
        Index("ix_broadcast_recipients_broadcast_id_status_id", "broadcast_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    identity_id: Mapped[int]
    messenger: Mapped[str]
    status: Mapped[RecipientStatus] = mapped_column(StrEnumType(RecipientStatus))
    attempts: Mapped[int]
    claimed_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    error: Mapped[str | None]


class ButtonPressRow(Base):
    __tablename__ = "broadcast_presses"
    __table_args__ = (UniqueConstraint("broadcast_id", "button", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id"))
    button: Mapped[int]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    pressed_at: Mapped[datetime | None]


metadata = Base.metadata
