"""What the core needs from the outside. ``storage.repositories`` implements the
repositories; a contract test suite runs it on SQLite and PostgreSQL.

Rules every implementation keeps:
- repositories never commit; only ``UnitOfWork.commit`` does;
- a method that returns an entity returns a copy: changing it changes nothing until
  the matching ``update``/``save`` call;
- ``add`` fills in ``id`` on the object passed and returns it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from core.automations.records import (
    AutomationEvent,
    AutomationState,
    Run,
    RunStatus,
    StudentField,
    WebhookCall,
)
from core.broadcasts import (
    Broadcast,
    BroadcastStatus,
    ButtonPress,
    Claimed,
    Outcome,
    Recipient,
    RecipientStatus,
    Segment,
)
from core.contacts import Contact, ContactKind
from core.inbox import Conversation, ConversationMessage, ConversationStatus
from core.models import (
    ChatState,
    Identity,
    InviteLink,
    LinkCode,
    Membership,
    Order,
    OrderStatus,
    OutboxMessage,
    Payment,
    Purchase,
    Renewal,
    SubscriptionLink,
    Tag,
    User,
)
from core.promo_codes import RuntimePromo
from core.staff import AuditEntry, StaffMember, StaffMenu, StaffNote
from core.stats import StaffDigest, Takings


class Clock(Protocol):
    def now(self) -> datetime: ...


class UserRepository(Protocol):
    async def add(self, user: User) -> User: ...
    async def get(self, user_id: int) -> User | None: ...
    async def update(self, user: User) -> None: ...
    async def by_referral_code(self, code: str) -> User | None: ...

    async def add_identity(self, identity: Identity) -> Identity: ...
    async def identity(self, messenger: str, external_id: str) -> Identity | None: ...
    async def identity_by_id(self, identity_id: int) -> Identity | None: ...
    async def update_identity(self, identity: Identity) -> None: ...

    async def seen(self, identity: Identity, at: datetime) -> None:
        """The student used this identity at ``at``. May be stored a few seconds later and
        outside this transaction (a rollback may keep it, a crash may lose it); last seen
        only moves forward."""
        ...

    async def identities(self, user_id: int) -> list[Identity]:
        """The user's identities, most recently seen first."""
        ...

    async def merge(self, source_id: int, into_id: int) -> None:
        """Move everything of user ``source_id`` (identities, orders, purchases, lessons,
        messages, links) to ``into_id`` and mark ``source_id`` merged into it."""
        ...


class LinkCodeRepository(Protocol):
    async def add(self, code: LinkCode) -> LinkCode: ...
    async def by_code(self, code: str) -> LinkCode | None: ...

    async def use(self, code_id: int, now: datetime) -> bool:
        """Mark the code used, unless it already was (compare-and-set). True if this call
        used it."""
        ...


class OrderRepository(Protocol):
    async def add(self, order: Order) -> Order: ...
    async def get(self, order_id: int) -> Order | None: ...

    async def get_for_update(self, order_id: int) -> Order | None:
        """Like ``get``, and lock the row until the transaction ends (PostgreSQL)."""
        ...

    async def by_token(self, token: str) -> Order | None: ...

    async def transition(
        self,
        order_id: int,
        expected: frozenset[OrderStatus],
        new: OrderStatus,
        at: datetime,
        reason: str | None = None,
    ) -> bool:
        """Compare-and-set: move to ``new`` only if the status is in ``expected``.
        Sets ``paid_at`` when ``new`` is PAID, ``closed_at``/``close_reason`` when it is
        CANCELLED or REFUNDED. Returns whether this call made the change."""
        ...

    async def expired_unpaid(self, now: datetime, limit: int) -> list[Order]:
        """NEW orders whose ``expires_at`` <= now, oldest first."""
        ...

    async def for_user(self, user_id: int) -> list[Order]: ...


class PaymentRepository(Protocol):
    async def add(self, payment: Payment) -> bool:
        """Insert unless ``(gateway, gateway_payment_id)`` exists. True if inserted."""
        ...

    async def get(self, gateway: str, gateway_payment_id: str) -> Payment | None: ...
    async def for_order(self, order_id: int) -> list[Payment]: ...
    async def update(self, payment: Payment) -> None: ...

    async def to_refund(self, limit: int) -> list[Payment]:
        """SUCCEEDED payments marked with a ``refund_reason``, oldest first."""
        ...


class PurchaseRepository(Protocol):
    async def add(self, purchase: Purchase) -> Purchase: ...
    async def get(self, purchase_id: int) -> Purchase | None: ...

    async def get_for_update(self, purchase_id: int) -> Purchase | None:
        """Like ``get``, and lock the row until the transaction ends (PostgreSQL): whoever
        changes a purchase reads it this way, so no change is written over a stale copy."""
        ...

    async def update(self, purchase: Purchase) -> None: ...

    async def for_user(self, user_id: int) -> list[Purchase]:
        """All the user's purchases, newest first."""
        ...

    async def for_order(self, order_id: int) -> list[Purchase]: ...

    async def due_lessons(self, now: datetime, limit: int) -> list[Purchase]:
        """ACTIVE purchases with ``next_lesson_at`` <= now, earliest first, locked for this
        transaction; rows another transaction holds are skipped (``FOR UPDATE SKIP LOCKED``)."""
        ...

    async def due_expiry(self, now: datetime, limit: int) -> list[Purchase]:
        """ACTIVE purchases with ``ends_at`` <= now that nobody renews (``renewal`` is None),
        earliest first, locked like ``due_lessons``."""
        ...

    async def due_renewal(self, renewal: str, before: datetime, limit: int) -> list[Purchase]:
        """ACTIVE purchases renewed by ``renewal`` with ``ends_at`` <= before, earliest first,
        locked like ``due_lessons``."""
        ...

    async def due_reminders(self, now: datetime, limit: int) -> list[Purchase]:
        """Purchases (any status) with ``remind_at`` <= now, earliest first, locked like
        ``due_lessons``."""
        ...

    async def active_ids(self, after_id: int, limit: int) -> list[int]:
        """Ids of ACTIVE purchases above ``after_id``, ascending (for paging over all)."""
        ...


class CounterRepository(Protocol):
    """Named counters with a ceiling: seats (``seats:<offer>``), promo uses (``promo:<CODE>``)."""

    async def take(self, key: str, limit: int | None) -> bool:
        """Add one unless that would pass ``limit`` (None: no limit). Atomic. True if taken."""
        ...

    async def release(self, key: str) -> None:
        """Give one back (never below zero)."""
        ...

    async def force_take(self, key: str) -> None:
        """Add one whatever the limit (a late payment must still be honoured)."""
        ...

    async def used(self, key: str) -> int: ...


class LessonDeliveryRepository(Protocol):
    async def add_if_absent(
        self, user_id: int, course: str, lesson: str, purchase_id: int, at: datetime
    ) -> bool:
        """Record that the student got this lesson. False if it was recorded already."""
        ...

    async def delivered(self, user_id: int, course: str) -> set[str]:
        """Lesson ids of ``course`` this student has received."""
        ...


class OutboxRepository(Protocol):
    async def add(self, message: OutboxMessage) -> bool:
        """Record a message to send. False (and nothing stored) if ``dedupe_key`` exists."""
        ...

    async def claim(self, now: datetime, stale_before: datetime, limit: int) -> list[OutboxMessage]:
        """Mark as SENDING and return messages that are PENDING and due (``due_at`` <= now),
        or SENDING but claimed before ``stale_before`` (their sender died). Oldest first.
        Increments ``attempts`` and sets ``claimed_at=now``. Skips rows other transactions
        have locked (PostgreSQL ``FOR UPDATE SKIP LOCKED``)."""
        ...

    async def get(self, message_id: int) -> OutboxMessage | None: ...

    async def mark_sent(self, message_id: int, identity_id: int | None, at: datetime,
                        external_message_id: str | None = None) -> None:
        """Sent to ``identity_id`` as the messenger's message ``external_message_id``."""
        ...

    async def sent_as(self, identity_id: int, external_message_id: str) -> OutboxMessage | None:
        """The message sent to that account as the messenger's message of that id (what a
        reply to it answers)."""
        ...

    async def mark_retry(self, message_id: int, due_at: datetime, error: str) -> None:
        """Back to PENDING, due again at ``due_at``."""
        ...

    async def mark_failed(self, message_id: int, error: str) -> None: ...

    async def for_user(self, user_id: int) -> list[OutboxMessage]:
        """All messages to a user, oldest first (for tests, admin views and the sandbox)."""
        ...

    async def backlog(self, now: datetime) -> int:
        """How many messages are PENDING and due (the dispatcher's queue, for /metrics)."""
        ...


class ChatStateRepository(Protocol):
    async def get(self, messenger: str, chat_id: str) -> ChatState | None: ...
    async def put(self, state: ChatState) -> None: ...


class MembershipRepository(Protocol):
    async def get(self, chat_id: int, external_id: str) -> Membership | None: ...

    async def put(self, membership: Membership) -> Membership:
        """Insert, or update the row of the same (chat_id, external_id); fills in ``id``."""
        ...

    async def of_chat(self, chat_id: int) -> list[Membership]: ...
    async def of_accounts(self, external_ids: list[str]) -> list[Membership]: ...

    async def due(self, now: datetime, limit: int) -> list[Membership]:
        """Members whose ``check_at`` has come, oldest first, locked (SKIP LOCKED)."""
        ...


class InviteLinkRepository(Protocol):
    async def add(self, link: InviteLink) -> InviteLink: ...
    async def by_url(self, url: str) -> InviteLink | None: ...

    async def open_for(self, purchase_id: int, group: str) -> list[InviteLink]:
        """Links of a purchase into a group that are neither used nor revoked."""
        ...

    async def update(self, link: InviteLink) -> None: ...


class SubscriptionLinkRepository(Protocol):
    async def add(self, link: SubscriptionLink) -> SubscriptionLink: ...

    async def current(self, group: str, offer_code: str) -> SubscriptionLink | None:
        """The newest link of the offer into the group that is not revoked."""
        ...

    async def by_url(self, url: str) -> SubscriptionLink | None: ...
    async def update(self, link: SubscriptionLink) -> None: ...


class RenewalRepository(Protocol):
    async def add(self, renewal: Renewal) -> Renewal: ...
    async def get(self, renewal_id: int) -> Renewal | None: ...

    async def for_period(self, purchase_id: int, period_end: datetime) -> Renewal | None:
        """The renewal of ``purchase_id`` for the period ending at ``period_end``."""
        ...

    async def for_purchase(self, purchase_id: int) -> list[Renewal]: ...

    async def for_order(self, order_id: int) -> Renewal | None:
        """The renewal whose order is ``order_id``, if it is a renewal's order."""
        ...

    async def update(self, renewal: Renewal) -> None: ...

    async def due(self, now: datetime, limit: int) -> list[Renewal]:
        """PENDING renewals with ``due_at`` <= now, earliest first, locked (SKIP LOCKED)."""
        ...


class TransactionConflict(Exception):
    """Rows this unit of work had already read changed before it could go on; nothing was
    written. Run the whole transaction again. Only units of work that read before they lock
    raise it (a conversation turn on SQLite, see ``storage.cache``)."""


class StaffRepository(Protocol):
    """Staff added at runtime (those of the school file are in ``School.staff``)."""

    async def add(self, member: StaffMember) -> StaffMember: ...
    async def update(self, member: StaffMember) -> None: ...
    async def get(self, messenger: str, external_id: str) -> StaffMember | None: ...
    async def remove(self, member_id: int) -> None: ...
    async def all(self) -> list[StaffMember]: ...


class AuditRepository(Protocol):
    async def add(self, entry: AuditEntry) -> AuditEntry: ...

    async def latest(self, limit: int, user_id: int | None = None,
                     actor: str | None = None, before: int | None = None) -> list[AuditEntry]:
        """Newest first; only the student's (``user_id``) or the staff member's (``actor``);
        only lines older than the line ``before`` (an id), for the next page."""
        ...


        ...


class TagRepository(Protocol):
    async def add(self, tag: Tag) -> bool:
        """False when the student has the tag already."""
        ...

    async def remove(self, user_id: int, tag: str) -> bool: ...
    async def of_user(self, user_id: int) -> list[Tag]: ...

    async def users_with(self, tag: str, after_id: int, limit: int) -> list[int]:
        """Students with ``tag``, by id after ``after_id``."""
        ...


class ConversationRepository(Protocol):
    """The support inbox (``core.inbox``)."""

    async def get(self, conversation_id: int) -> Conversation | None: ...
    async def update(self, conversation: Conversation) -> None: ...

    async def open_for(self, user_id: int, identity_id: int, now: datetime) -> Conversation:
        """The student's open conversation, opened now if they have none; locked until the
        transaction ends (two messages at once land in one conversation)."""
        ...

    async def close(self, conversation_id: int, by: str, at: datetime) -> bool:
        """Close it if it is open; False if it was closed already."""
        ...

    async def latest(self, status: ConversationStatus, limit: int) -> list[Conversation]:
        """Open ones by their last message, closed ones by when they closed; newest first."""
        ...

    async def add_message(self, message: ConversationMessage) -> ConversationMessage: ...
    async def message(self, message_id: int) -> ConversationMessage | None: ...

    async def messages(self, conversation_id: int, limit: int) -> list[ConversationMessage]:
        """The conversation's last ``limit`` messages, oldest first."""
class StatsRepository(Protocol):
    """Aggregates for the staff's figures (``core.services.stats``): each one query, never
    the rows themselves. Windows are ``[start, end)``; ``start`` None: since the beginning."""

    async def takings(self, start: datetime | None, end: datetime) -> dict[str, Takings]:
        """Per currency: payments received in the window (SUCCEEDED, or REFUNDED since),
        and payments given back in it (by ``refunded_at``)."""
        ...

    async def orders(self, start: datetime | None, end: datetime) -> tuple[int, int]:
        """Orders placed in the window that are not an automatic renewal's own nor access
        granted by staff, and how many of them were paid (PAID or REFUNDED since)."""
        ...

    async def new_users(self, start: datetime | None, end: datetime) -> int:
        """Students who first wrote in the window (linked accounts count once)."""
        ...

    async def renewals(self, start: datetime | None, end: datetime) -> int:
        """Orders paid in the window that extended an earlier purchase (no purchase of
        their own, or an ``extends`` offer), by hand or automatically; not staff grants."""
        ...

    async def churned(self, start: datetime | None, end: datetime) -> int:
        """Purchases that ended in the window without being revoked (EXPIRED)."""
        ...

    async def active_products(self, now: datetime) -> dict[tuple[str, ...], int]:
        """Running purchases now, counted per set of products they give."""
        ...

    async def renewable(self, now: datetime) -> tuple[int, int]:
        """Running purchases with an end, and how many of them renew by themselves."""
        ...

    async def first_user_at(self) -> datetime | None: ...

    async def revenue_series(self, edges: Sequence[datetime]) -> dict[str, list[int]]:
        """Net revenue per currency in each period between consecutive ``edges``."""
        ...

    async def active_series(self, edges: Sequence[datetime]) -> list[int]:
        """Students with access at some time in each period between consecutive
        ``edges``."""
        ...


class ExportRepository(Protocol):
    """Pages of rows for the CSV exports, by ascending id after ``after_id``."""

    async def users(self, after_id: int, limit: int) -> list[User]:
        """Students (not those merged into another)."""
        ...

    async def identities_of(self, user_ids: Sequence[int]) -> list[Identity]: ...
    async def purchases(self, after_id: int, limit: int) -> list[Purchase]: ...
    async def orders(self, after_id: int, limit: int) -> list[Order]: ...

    async def payments(self, after_id: int, limit: int) -> list[tuple[Payment, int]]:
        """Payments, each with the id of the student whose order it paid."""
        ...


class DigestRepository(Protocol):
    async def get(self, messenger: str, external_id: str) -> StaffDigest | None: ...

    async def put(self, digest: StaffDigest) -> StaffDigest:
        """Insert, or update the row of the same account; fills in ``id``."""
        ...

    async def due(self, now: datetime, limit: int) -> list[StaffDigest]:
        """Digests whose ``due_at`` has come, earliest first, locked (SKIP LOCKED)."""
        ...


class PromoCodeRepository(Protocol):
    """Promo codes made in the chat (those of the school file are in ``School.promo_codes``)."""

    async def all(self) -> list[RuntimePromo]:
        """Every one, disabled ones too, oldest first."""
        ...

    async def add(self, promo: RuntimePromo) -> bool:
        """Insert unless a code of that name exists (disabled or not). True if inserted."""
        ...

    async def disable(self, code: str, by: str, at: datetime) -> bool:
        """Disable the code unless it is disabled already (compare-and-set). True if this
        call disabled it."""
        ...


class ContactRepository(Protocol):
    """Students' email addresses and phone numbers; each belongs to one student."""

    async def add(self, contact: Contact) -> bool:
        """Insert unless that address or number is known (for anyone). True if inserted."""
        ...

    async def find(self, kind: ContactKind, value: str) -> Contact | None: ...
    async def of_user(self, user_id: int) -> list[Contact]: ...


class StaffMenuRepository(Protocol):
    """The chats shown a staff member's own command menu (where the messenger has them)."""

    async def all(self) -> list[StaffMenu]: ...

    async def put(self, menu: StaffMenu) -> None:
        """Record the menu, replacing the one recorded for the same account."""
        ...

    async def remove(self, messenger: str, external_id: str) -> None: ...


class StaffNoteRepository(Protocol):
    async def add(self, note: StaffNote) -> StaffNote: ...

    async def for_user(self, user_id: int, limit: int) -> list[StaffNote]:
        """The student's notes, newest first."""
        ...

    async def count(self, user_id: int) -> int: ...


@dataclass(frozen=True)
class Audience:
    """The students a broadcast's segment holds at ``now`` (``core.services.segments`` makes
    it from a checked segment)."""

    segment: Segment
    now: datetime
    marketing: bool = True  # only students who allow marketing messages
    # LANGUAGE: the stored languages that show the segment's language ("" for the school's
    # default where the segment names it)
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reach:
    """How many recipients an audience has on one messenger, and how many of them have not
    written since a moment (a messenger charging outside a session charges for those)."""

    recipients: int
    idle: int


class SegmentRepository(Protocol):
    """Which students an audience holds: never merged ones, never ones with no reachable
    account; each with the account to write to (the preferred messenger's, else the most
    recently seen; a MESSENGER segment's on that messenger)."""

    async def recipients(self, audience: Audience, after_user_id: int,
                         limit: int) -> list[Recipient]:
        """At most ``limit`` recipients with user ids above ``after_user_id``, by user id."""
        ...

    async def reach(self, audience: Audience, idle_before: datetime) -> dict[str, Reach]:
        """Per messenger: the recipients, and those last seen before ``idle_before``."""
        ...

    async def tags(self, limit: int) -> list[tuple[str, int]]:
        """The tags students carry with how many carry each (merged students left out), the
        most common first."""
        ...


class StudentRepository(Protocol):
    """Looking students up for the staff (``/find``). Students merged into another (linked
    accounts) are never returned: their identities and rows moved to the one they joined."""

    async def with_external_id(self, external_id: str) -> list[Identity]:
        """Identities of any messenger with exactly this external id."""
        ...

    async def with_username(self, username: str) -> list[Identity]:
        """Identities whose username is ``username`` (without "@"), ignoring case."""
        ...

    async def with_contact(self, contact: str) -> list[User] | None:
        """Students whose recorded contact (where their receipts go) is ``contact``: an email
        in lower case or a phone as ``+`` and digits. None where no contacts are recorded."""
        ...

    async def named(self, text: str, limit: int) -> tuple[list[User], int]:
        """Students whose name, or the name of one of their identities, contains ``text``
        ignoring case (also beyond ASCII): the first ``limit`` by number, and how many in
        all."""
        ...


class AutomationRunRepository(Protocol):
    """Runs of automations (``core.automations``)."""

    async def add(self, run: Run) -> bool:
        """Insert unless the student has a run of the automation with the same
        ``repeat_key`` (one per student for a run-once automation). True if inserted."""
        ...

    async def get(self, run_id: int) -> Run | None: ...

    async def get_for_update(self, run_id: int) -> Run | None:
        """Like ``get``, and lock the row until the transaction ends (PostgreSQL)."""
        ...

    async def update(self, run: Run) -> None: ...

    async def due_ids(self, now: datetime, limit: int) -> list[int]:
        """ACTIVE and WAITING runs whose ``wait_until`` <= now, earliest first."""
        ...

    async def claim(self, run_id: int, now: datetime) -> Run | None:
        """The run if it is still due, locked for this transaction; None if it is not due
        any more or another transaction holds it (PostgreSQL ``FOR UPDATE SKIP LOCKED``)."""
        ...

    async def waiting_for_text(self, user_id: int) -> list[Run]:
        """The student's open runs at a question answered by typing, latest first."""
        ...

    async def for_user(self, user_id: int) -> list[Run]:
        """All the student's runs, newest first."""
        ...

    async def of_automation(self, automation: str, user_ids: list[int]) -> list[Run]:
        """The runs of ``automation`` of these students."""
        ...

    async def counts(self, automation: str) -> dict[RunStatus, int]: ...

    async def positions(self, automation: str
                        ) -> dict[tuple[RunStatus, str], tuple[int, datetime | None]]:
        """How many open runs (active, waiting, paused) are at each step, and the earliest
        ``wait_until`` among them (None: none of them waits for a time)."""
        ...

    async def pause(self, automation: str, now: datetime) -> int:
        """Every open run of ``automation`` becomes PAUSED (remembering its status)."""
        ...

    async def resume(self, automation: str, now: datetime) -> int:
        """Every PAUSED run of ``automation`` goes back to the status it had."""
        ...


class AutomationEventRepository(Protocol):
    async def add(self, event: AutomationEvent) -> AutomationEvent: ...

    async def claim(self, limit: int) -> list[AutomationEvent]:
        """The oldest events, locked for this transaction (SKIP LOCKED)."""
        ...

    async def remove(self, event_ids: list[int]) -> None: ...


class AutomationStateRepository(Protocol):
    async def get(self, code: str) -> AutomationState | None: ...
    async def put(self, state: AutomationState) -> None: ...
    async def paused(self) -> set[str]: ...


class StudentFieldRepository(Protocol):
    async def of_user(self, user_id: int) -> dict[str, str]: ...
    async def put(self, field: StudentField) -> None:
        """Insert, or replace the value of the student's field of the same key."""
        ...


class TriggerScanRepository(Protocol):
    """What the time-based triggers look for (``order_unpaid``, ``access_ending``)."""

    async def last_order_before(self, moment: datetime) -> int:
        """The highest order id placed at or before ``moment`` (0: none)."""
        ...

    async def orders_after(self, after_id: int, placed_before: datetime,
                           limit: int) -> list[Order]:
        """Orders with id > ``after_id`` placed at or before ``placed_before``, by id."""
        ...

    async def ending(self, start: datetime, end: datetime, after_id: int,
                     limit: int) -> list[Purchase]:
        """ACTIVE purchases nothing renews by itself (``renewal`` None) ending in
        (start, end], by id after ``after_id``."""
        ...


class WebhookCallRepository(Protocol):
    async def add(self, call: WebhookCall) -> bool:
        """False (nothing stored) when ``dedupe_key`` exists."""
        ...

    async def claim(self, now: datetime, stale_before: datetime,
                    limit: int) -> list[WebhookCall]:
        """Mark SENDING and return calls PENDING and due, or SENDING but claimed before
        ``stale_before`` (their sender died); counts an attempt. SKIP LOCKED."""
        ...

    async def mark_sent(self, call_id: int, at: datetime) -> None: ...
    async def mark_retry(self, call_id: int, due_at: datetime, error: str) -> None: ...
    async def mark_failed(self, call_id: int, error: str) -> None: ...
    async def for_run(self, run_id: int) -> list[WebhookCall]: ...


class BroadcastRepository(Protocol):
    """Broadcasts, their recipient rows and the presses on their buttons
    (``core.broadcasts``)."""

    async def add(self, broadcast: Broadcast) -> Broadcast: ...
    async def get(self, broadcast_id: int) -> Broadcast | None: ...

    async def add_recipients(self, broadcast_id: int, recipients: Sequence[Recipient]) -> int:
        """One PENDING row per recipient (distinct students), inserted in chunks. Returns
        how many rows were inserted."""
        ...

    async def transition(self, broadcast_id: int, expected: frozenset[BroadcastStatus],
                         new: BroadcastStatus, at: datetime) -> bool:
        """Compare-and-set of the status; sets ``finished_at`` when ``new`` is CANCELLED or
        DONE. True if this call made the change."""
        ...

    async def set_progress_message(self, broadcast_id: int, message_id: str | None) -> None: ...

    async def due(self, now: datetime, limit: int) -> list[Broadcast]:
        """SCHEDULED broadcasts whose ``start_at`` <= now, earliest first, locked (SKIP
        LOCKED)."""
        ...

    async def with_status(self, status: BroadcastStatus) -> list[Broadcast]:
        """Broadcasts in ``status``, oldest first."""
        ...

    async def statuses(self, broadcast_ids: Sequence[int]) -> dict[int, BroadcastStatus]: ...

    async def claim(self, broadcast_id: int, messenger: str, now: datetime,
                    stale_before: datetime, limit: int) -> list[Claimed]:
        """Mark CLAIMED (``claimed_at=now``, one more attempt) and return the broadcast's
        rows to ``messenger`` that are PENDING, or CLAIMED before ``stale_before`` (their
        sender died), by id. Skips rows another transaction holds (SKIP LOCKED)."""
        ...

    async def record(self, outcomes: Sequence[Outcome], now: datetime) -> None:
        """Write what became of claimed rows, all in one go; only rows still CLAIMED
        change (a cancel in between keeps them SKIPPED)."""
        ...

    async def release(self, recipient_ids: Sequence[int]) -> None:
        """CLAIMED rows back to PENDING, their attempt given back (a sender stopping)."""
        ...

    async def skip_pending(self, broadcast_id: int, reason: str, now: datetime) -> int:
        """Every PENDING row of the broadcast becomes SKIPPED. Returns how many."""
        ...

    async def counts(self, broadcast_id: int) -> dict[RecipientStatus, int]: ...

    async def counts_by_messenger(self, broadcast_id: int, status: RecipientStatus,
                                  ) -> dict[str, int]: ...

    async def add_press(self, press: ButtonPress) -> bool:
        """False (nothing stored) when the student pressed that button already."""
        ...

    async def presses(self, broadcast_id: int) -> dict[int, int]:
        """Presses per button index."""
        ...


class UnitOfWork(Protocol):
    """One transaction. ``async with factory() as uow``: leaving without ``commit`` rolls back."""

    users: UserRepository
    orders: OrderRepository
    payments: PaymentRepository
    purchases: PurchaseRepository
    counters: CounterRepository
    deliveries: LessonDeliveryRepository
    outbox: OutboxRepository
    chat_states: ChatStateRepository
    memberships: MembershipRepository
    invite_links: InviteLinkRepository
    subscription_links: SubscriptionLinkRepository
    renewals: RenewalRepository
    link_codes: LinkCodeRepository
    staff: StaffRepository
    audit: AuditRepository
    tags: TagRepository
    conversations: ConversationRepository
    stats: StatsRepository
    exports: ExportRepository
    digests: DigestRepository
    promo_codes: PromoCodeRepository
    contacts: ContactRepository
    staff_menus: StaffMenuRepository
    notes: StaffNoteRepository
    students: StudentRepository
    segments: SegmentRepository
    automation_runs: AutomationRunRepository
    automation_events: AutomationEventRepository
    automation_states: AutomationStateRepository
    student_fields: StudentFieldRepository
    trigger_scans: TriggerScanRepository
    webhook_calls: WebhookCallRepository
    broadcasts: BroadcastRepository

    async def __aenter__(self) -> UnitOfWork: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


# --- payment gateways ---------------------------------------------------------------------
# A gateway is a module of ``payments`` behind ``PaymentGateway``; what it can do beyond
# taking payments is told by the optional protocols it also follows (``Refunder``,
# ``Charger``). Its web routes (checkout pages, webhooks) speak the neutral ``WebRequest`` /
# ``WebResponse`` below, and it reaches the platform only through the ``PaymentDesk``.


@dataclass(frozen=True)
class PaymentNotice:
    """A gateway's word that money moved (or did not), already authenticated by the gateway."""

    gateway: str
    gateway_payment_id: str
    order_token: str
    amount: int
    currency: str
    succeeded: bool = True
    # ``saved_method``: a method the gateway can charge again (``Charger``); anything else
    # the gateway wants kept with the payment (a refund may need it).
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentReturned:
    """A gateway's word that it gave a payment back (a refund made in its own dashboard, or
    the school's own), in full or in part."""

    gateway: str
    gateway_payment_id: str
    # How much of the payment the gateway has given back by now, in all (minor units); None:
    # all of it. A total, not this refund's amount, so a repeated or late report adds nothing.
    refunded: int | None = None


class InvalidNotification(Exception):
    """A webhook that is forged, tampered with or malformed: answer 4xx and change nothing."""


class UnknownOrder(Exception):
    """A notice names an order this platform never made."""


@dataclass(frozen=True)
class WebRequest:
    method: str
    path: str
    params: Mapping[str, str]  # the route's ``{placeholders}``
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes  # raw, as signed; at most ``MAX_BODY`` bytes (larger ones never get here)
    remote: str | None  # the peer's address (a gateway that checks its sender's networks)


MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class WebResponse:
    status: int = 200
    text: str = ""
    content_type: str = "text/plain"
    location: str | None = None  # with a 3xx status: where to go (may be relative)


@dataclass(frozen=True)
class WebRoute:
    method: str  # GET or POST
    path: str  # ``/pay/{token}``: placeholders arrive in ``WebRequest.params``
    handler: Callable[[WebRequest], Awaitable[WebResponse]]


@dataclass(frozen=True)
class Receipt:
    """The fiscal receipt (54-FZ) a payment carries: one item, the whole amount."""

    contact: str  # where it goes: an email, or a phone in E.164 ("+79001234567")
    item: str  # what was sold (the offer's title), at most 128 characters
    amount: int  # minor units, the payment's
    currency: str
    vat_code: int  # YooKassa's codes
    tax_system_code: int | None = None

    @property
    def email(self) -> str | None:
        return self.contact if "@" in self.contact else None


@dataclass(frozen=True)
class CheckoutView:
    """An order as a checkout page shows it, in the student's language."""

    order: Order
    school: str
    title: str  # the offer's
    price: str  # formatted for ``language``
    language: str
    receipts: bool = False  # the school sends a receipt with each payment
    receipt: Receipt | None = None  # None while the student has given no contact for it


class PaymentDesk(Protocol):
    """What a gateway's web routes may ask of the platform."""

    default_language: str  # the school's, for pages with no order behind them

    async def checkout(self, token: str) -> CheckoutView | None:
        """The order behind ``token`` as its checkout page shows it; None if there is none."""
        ...

    async def settle(self, notification: PaymentNotice | PaymentReturned) -> str:
        """Record what the gateway reported, once, through the core's one payment path, and
        return the outcome (``core.services.payments.Outcome`` / ``Returned`` value). Raises
        UnknownOrder for a notice naming no order here."""
        ...

    def refused(self, gateway: str, reason: str, request: WebRequest) -> None:
        """A notification was refused (forged, malformed): logged and counted."""
        ...


class PaymentGateway(Protocol):
    """A way to take money. ``checkout_url`` is what the student is given to pay: a page of
    the gateway, or None when the gateway is paid inside the chat (``in_chat``: the
    messenger shows an invoice and reports the payment as an update). ``routes`` are its
    web routes (checkout pages, webhooks), collected by the web app."""

    name: str  # stored with each payment: ``(gateway, gateway_payment_id)`` is unique
    in_chat: bool
    # What the pay button calls this way where a student has several: "card" for a plain
    # card page (worded in the student's language), else the provider's own name, shown as is.
    label: str

    def accepts(self, currency: str) -> bool:
        """Can an order in ``currency`` be paid through this gateway (ISO code, ``XTR``)?"""
        ...

    def checkout_url(self, order: Order) -> str | None: ...

    def routes(self, desk: PaymentDesk) -> Sequence[WebRoute]: ...


@runtime_checkable
class Refunder(Protocol):
    """A gateway that gives a payment back when staff ask (``/refund``)."""

    name: str

    def refundable(self, payment: Payment, amount: int | None = None) -> bool:
        """Can this payment be given back through the gateway (Telegram: only Stars), and
        ``amount`` of it alone (None: all that is left; Telegram: only in full)?"""
        ...

    async def refund(self, payment: Payment, amount: int | None = None) -> int | None:
        """Give back ``amount`` of ``payment`` (None: all that is left of it). Returns how
        much of the payment the gateway has given back by now in all, if it says. A refund
        already made counts as done (a repeat after a crash must not fail, nor move money
        again); raises on any other failure, nothing recorded."""
        ...


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    payment_id: str  # the gateway's id of this charge (the same for a repeated key)
    reason: str = ""  # why it failed, in words a student can act on


@runtime_checkable
class Charger(Protocol):
    """A gateway that charges a saved payment method again, without the student."""

    name: str

    async def charge(self, method: str, amount: int, currency: str, key: str,
                     receipt: Receipt | None = None,
                     sent_at: datetime | None = None) -> ChargeResult:
        """Charge ``method`` once per ``key``: a repeated key returns the first charge's
        result and moves no money. ``receipt``: the school's fiscal receipt, for a gateway that
        issues them (``ReceiptIssuer``). ``sent_at``: when this key was first sent, its outcome
        unknown since (None: never sent); a gateway whose keys expire looks that charge up
        before charging again. Raises on a transport error (nothing known)."""
        ...


@runtime_checkable
class ReceiptIssuer(Protocol):
    """A gateway that sends the school's fiscal receipt (``School.receipts``) with each
    payment: it needs the student's email or phone before the student can pay through it."""

    name: str
    issues_receipts: bool


class InChatPaymentsApi(Protocol):
    """The messenger that takes payments in the chat (Telegram), as its gateway reaches it."""

    async def refund(self, payment: Payment) -> None:
        """Give back a payment made in the chat (Stars); one already given back is done."""
        ...

    async def set_star_subscription(self, user_id: str, charge_id: str, on: bool) -> None:
        """Stop (``on`` False) or restart the messenger's charging of a subscription."""
        ...


@dataclass(frozen=True)
class Download:
    """A file served by a signed link: its name, and its bytes as they are made."""

    filename: str
    content_type: str
    chunks: AsyncIterator[bytes]


class DownloadDesk(Protocol):
    """What the web's download route asks of the platform (the CSV exports)."""

    async def open(self, token: str, remote: str | None) -> Download | None:
        """The file a signed link names, if its signature holds, it has not expired and its
        maker may still have it (audited); None otherwise (nothing is said why)."""
        ...


class WebhookPoster(Protocol):
    """Posts a signed JSON body to a school's own system (``core.automations.webhooks``)."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """The HTTP status of the answer; raises on a transport error or a timeout."""
        ...


class Notifier(Protocol):
    """Told after a commit that recorded outbox messages, so they go out at once."""

    def wake(self) -> None: ...
