"""SQL implementations of the repositories in ``core.ports``.

They speak Core SQL through the unit of work's ``AsyncSession`` and hand out plain
``core.models`` dataclasses; ORM objects never leave this module. They never commit.

Plain create, read by id and update are written once (``Adds``, ``Reads``, ``Updates`` over a
repository's ``table`` and ``entity``); each repository keeps only its real queries.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from functools import cache
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import (
    CursorResult,
    Row,
    String,
    Table,
    and_,
    bindparam,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.automations.records import OPEN as RUNS_NOT_OVER
from core.automations.records import RunStatus
from core.broadcasts import RecipientStatus
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
    OutboxStatus,
    Payment,
    PaymentStatus,
    Purchase,
    PurchaseStatus,
    Renewal,
    RenewalStatus,
    SubscriptionLink,
    Tag,
    User,
)
from core.promo_codes import RuntimePromo
from core.staff import AuditEntry, StaffMember, StaffMenu, StaffNote
from storage.engine import UNICODE_LOWER
from storage.tables import (
    OPEN,
    AuditRow,
    AutomationEventRow,
    AutomationRunRow,
    BroadcastRecipientRow,
    BroadcastRow,
    ButtonPressRow,
    ChatStateRow,
    ContactRow,
    ConversationMessageRow,
    ConversationRow,
    CounterRow,
    IdentityRow,
    InviteLinkRow,
    LessonDeliveryRow,
    LinkCodeRow,
    MembershipRow,
    OrderRow,
    OutboxRow,
    PaymentRow,
    PromoCodeRow,
    PurchaseRow,
    RenewalRow,
    StaffMemberRow,
    StaffMenuRow,
    StaffNoteRow,
    StudentFieldRow,
    SubscriptionLinkRow,
    TagRow,
    UserRow,
    WebhookCallRow,
)

E = TypeVar("E")

users = UserRow.__table__
identities = IdentityRow.__table__
orders = OrderRow.__table__
payments = PaymentRow.__table__
purchases = PurchaseRow.__table__
counters = CounterRow.__table__
deliveries = LessonDeliveryRow.__table__
outbox = OutboxRow.__table__
chat_states = ChatStateRow.__table__
memberships = MembershipRow.__table__
invite_links = InviteLinkRow.__table__
subscription_links = SubscriptionLinkRow.__table__
renewals = RenewalRow.__table__
link_codes = LinkCodeRow.__table__
staff_members = StaffMemberRow.__table__
staff_menus = StaffMenuRow.__table__
tags = TagRow.__table__
audit_log = AuditRow.__table__
staff_notes = StaffNoteRow.__table__
conversations = ConversationRow.__table__
conversation_messages = ConversationMessageRow.__table__
promo_codes = PromoCodeRow.__table__
contacts = ContactRow.__table__
automation_runs = AutomationRunRow.__table__
automation_events = AutomationEventRow.__table__
student_fields = StudentFieldRow.__table__
webhook_calls = WebhookCallRow.__table__
broadcasts = BroadcastRow.__table__
broadcast_recipients = BroadcastRecipientRow.__table__
broadcast_presses = ButtonPressRow.__table__
# Tables whose rows belong to a student: they follow the student when accounts are linked.
OWNED_BY_USER = (identities, orders, purchases, outbox, invite_links, link_codes, audit_log,
                 conversations, contacts, staff_notes, automation_runs, automation_events,
                 webhook_calls)
# Rows a student has at most one of per key: on linking, the survivor's row wins (but see
# ``_merge_broadcasts``).
UNIQUE_PER_USER = ((tags, ("tag",)), (student_fields, ("key",)),
                   (broadcast_recipients, ("broadcast_id",)),
                   (broadcast_presses, ("broadcast_id", "button")))


@cache
def _tuple_fields(cls: type) -> frozenset[str]:
    """Fields holding a tuple: stored as JSON lists, handed out as tuples again."""
    return frozenset(f.name for f in fields(cls) if isinstance(f.default, tuple))


def _values(entity: Any, table: Table) -> dict[str, Any]:
    values = {}
    for f in fields(entity):
        if f.name not in table.c:
            raise RuntimeError(f"{table.name} has no column {f.name}: update storage/tables.py")
        values[f.name] = getattr(entity, f.name)
    values.pop("id", None)
    for name in _tuple_fields(type(entity)):
        values[name] = list(values[name])
    return values


def _entity(cls: type[E], row: Row[Any] | None) -> E | None:
    if row is None:
        return None
    entity = cls(**row._mapping)
    for name in _tuple_fields(cls):
        setattr(entity, name, tuple(getattr(entity, name)))
    return entity


class _SqlRepo(Generic[E]):
    """A repository over ``table``, whose rows it hands out as ``entity``."""

    table: ClassVar[Table]
    entity: ClassVar[type]

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @property
    def _postgres(self) -> bool:
        return self._session.get_bind().dialect.name == "postgresql"

    def _insert(self, table: Table | None = None) -> Any:
        """``INSERT`` of the session's dialect, which knows ``ON CONFLICT``."""
        return (postgresql.insert if self._postgres else sqlite.insert)(
            self.table if table is None else table)

    def _select(self, *where: Any) -> Any:
        return select(self.table).where(*where)

    def _claim(self, query: Any) -> Any:
        """Rows a sweep takes: on PostgreSQL locked, skipping those another process holds."""
        return query.with_for_update(skip_locked=True) if self._postgres else query

    async def _one(self, query: Any, cls: type | None = None) -> Any:
        return _entity(cls or self.entity, (await self._session.execute(query)).first())

    async def _all(self, query: Any, cls: type | None = None) -> list[Any]:
        cls = cls or self.entity
        return [_entity(cls, row) for row in await self._session.execute(query)]

    async def _add(self, entity: Any, table: Table | None = None) -> Any:
        table = self.table if table is None else table
        query = table.insert().values(_values(entity, table)).returning(table.c.id)
        entity.id = (await self._session.execute(query)).scalar_one()
        return entity

    async def _add_unless_exists(self, entity: Any, *key: str) -> bool:
        """Insert unless a row with the same ``key`` exists; fills in ``id`` if it inserted."""
        query = (
            self._insert().values(_values(entity, self.table))
            .on_conflict_do_nothing(index_elements=list(key))
            .returning(self.table.c.id)
        )
        new_id = (await self._session.execute(query)).scalar_one_or_none()
        if new_id is None:
            return False
        entity.id = new_id
        return True

    async def _by_id(self, row_id: int, table: Table | None = None,
                     cls: type | None = None) -> Any:
        table = self.table if table is None else table
        return await self._one(select(table).where(table.c.id == row_id), cls)

    async def _count(self, query: Any) -> int:
        """Run an UPDATE; how many rows it changed."""
        result: CursorResult[Any] = await self._session.execute(query)  # type: ignore[assignment]
        return result.rowcount

    async def _update(self, row_id: int, values: dict[str, Any], table: Table | None = None,
                      ) -> None:
        table = self.table if table is None else table
        query = update(table).where(table.c.id == row_id).values(values)
        if await self._count(query) != 1:
            raise LookupError(f"no row {row_id} in {table.name}")


class Adds(_SqlRepo[E]):
    async def add(self, entity: E) -> E:
        return await self._add(entity)


class Reads(_SqlRepo[E]):
    async def get(self, row_id: int) -> E | None:
        return await self._by_id(row_id)


class ReadsForUpdate(Reads[E]):
    async def get_for_update(self, row_id: int) -> E | None:
        """The row, locked until the transaction ends (SQLite: its writes are serialized)."""
        return await self._one(self._select(self.table.c.id == row_id).with_for_update())


class Updates(_SqlRepo[E]):
    async def update(self, entity: E) -> None:
        await self._update(entity.id, _values(entity, self.table))  # type: ignore[attr-defined]


class Crud(Adds[E], Reads[E], Updates[E]):
    """Plain create, read by id and update."""


class SqlUsers(Crud[User]):
    table, entity = users, User

    async def by_referral_code(self, code: str) -> User | None:
        if not code:
            return None
        return await self._one(self._select(users.c.referral_code == code))

    async def add_identity(self, identity: Identity) -> Identity:
        return await self._add(identity, identities)

    async def identity(self, messenger: str, external_id: str) -> Identity | None:
        c = identities.c
        query = select(identities).where(c.messenger == messenger, c.external_id == external_id)
        return await self._one(query, Identity)

    async def identity_by_id(self, identity_id: int) -> Identity | None:
        return await self._by_id(identity_id, identities, Identity)

    async def update_identity(self, identity: Identity) -> None:
        await self._update(identity.id, _values(identity, identities), identities)

    async def seen(self, identity: Identity, at: datetime) -> None:
        await self.record_seen(identity.messenger, identity.external_id, at)

    async def record_seen(self, messenger: str, external_id: str, at: datetime) -> Identity | None:
        """``last_seen_at = max(last_seen_at, at)``: the identity if this moved it forward."""
        c = identities.c
        query = (
            update(identities)
            .where(c.messenger == messenger, c.external_id == external_id,
                   or_(c.last_seen_at.is_(None), c.last_seen_at < at))
            .values(last_seen_at=at)
            .returning(*identities.c)
        )
        return _entity(Identity, (await self._session.execute(query)).first())

    async def record_seen_many(
        self, seen: dict[tuple[str, str], datetime]
    ) -> list[Identity]:
        """``record_seen`` for many accounts in one statement (a few ms of the writer's lock
        however many there are), then the identities as they now stand."""
        if not seen:
            return []
        c = identities.c
        query = (
            update(identities)
            .where(c.messenger == bindparam("m"), c.external_id == bindparam("e"),
                   or_(c.last_seen_at.is_(None), c.last_seen_at < bindparam("at")))
            .values(last_seen_at=bindparam("at"))
        )
        rows = [{"m": m, "e": e, "at": at} for (m, e), at in seen.items()]
        await self._session.execute(query, rows)
        keys = list(seen)
        found: list[Identity] = []
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            found += await self._all(select(identities).where(
                tuple_(c.messenger, c.external_id).in_(chunk)), Identity)
        return found

    async def identities(self, user_id: int) -> list[Identity]:
        c = identities.c
        query = (
            select(identities).where(c.user_id == user_id)
            .order_by(c.last_seen_at.desc().nulls_last(), c.id.desc())
        )
        return await self._all(query, Identity)

    async def merge(self, source_id: int, into_id: int) -> None:
        d = deliveries.c
        # A lesson both accounts received is kept once.
        taken = select(d.course, d.lesson).where(d.user_id == into_id)
        await self._session.execute(delete(deliveries).where(
            d.user_id == source_id, tuple_(d.course, d.lesson).in_(taken)))
        await self._session.execute(
            update(deliveries).where(d.user_id == source_id).values(user_id=into_id))
        await self._merge_broadcasts(source_id, into_id)
        for table, key in UNIQUE_PER_USER:
            columns = [table.c[name] for name in key]
            kept = select(*columns).where(table.c.user_id == into_id)
            await self._session.execute(delete(table).where(
                table.c.user_id == source_id, tuple_(*columns).in_(kept)))
            await self._session.execute(
                update(table).where(table.c.user_id == source_id).values(user_id=into_id))
        await SqlConversations(self._session).close_second_open(source_id, into_id)
        await self._merge_runs(source_id, into_id)
        for table in OWNED_BY_USER:
            await self._session.execute(
                update(table).where(table.c.user_id == source_id).values(user_id=into_id))
        await self._session.execute(
            update(users).where(users.c.id == source_id).values(merged_into=into_id))

    async def _merge_broadcasts(self, source_id: int, into_id: int) -> None:
        """A broadcast that goes to both accounts keeps one row (so its total drops by one):
        the joining account's if it went out already and the survivor's still waits (the
        student must not get it twice), else the survivor's."""
        r, b = broadcast_recipients.c, broadcasts.c
        both = select(r.broadcast_id).where(r.user_id == source_id).intersect(
            select(r.broadcast_id).where(r.user_id == into_id))
        await self._session.execute(
            update(broadcasts).where(b.id.in_(both)).values(total=b.total - 1))
        went_out = select(r.broadcast_id).where(
            r.user_id == source_id, r.status.in_([RecipientStatus.SENT, RecipientStatus.CLAIMED]))
        await self._session.execute(delete(broadcast_recipients).where(
            r.user_id == into_id, r.status == RecipientStatus.PENDING,
            r.broadcast_id.in_(went_out)))

    async def _merge_runs(self, source_id: int, into_id: int) -> None:
        """Runs move to the survivor with everything else; where the survivor has its own run
        of the same automation (and repeat key), the merged student's one ends, cancelled,
        and keeps a key of its own (``merged:<id>``) beside it."""
        r = automation_runs.c
        theirs = select(r.automation, r.repeat_key).where(r.user_id == into_id)
        clash = and_(r.user_id == source_id, tuple_(r.automation, r.repeat_key).in_(theirs))
        await self._session.execute(
            update(automation_runs).where(clash, r.status.in_(list(RUNS_NOT_OVER))).values(
                status=RunStatus.CANCELLED, wait_until=None, paused_from=None,
                error="merged into a student who has a run of it already"))
        await self._session.execute(
            update(automation_runs).where(clash).values(
                repeat_key=literal("merged:", String) + cast(r.id, String)))


class SqlLinkCodes(Adds[LinkCode]):
    table, entity = link_codes, LinkCode

    async def by_code(self, code: str) -> LinkCode | None:
        return await self._one(self._select(link_codes.c.code == code))

    async def use(self, code_id: int, now: datetime) -> bool:
        c = link_codes.c
        return await self._count(
            update(link_codes).where(c.id == code_id, c.used_at.is_(None)).values(used_at=now)
        ) == 1


class SqlOrders(Adds[Order], ReadsForUpdate[Order]):
    table, entity = orders, Order

    async def by_token(self, token: str) -> Order | None:
        return await self._one(self._select(orders.c.token == token))

    async def transition(
        self,
        order_id: int,
        expected: frozenset[OrderStatus],
        new: OrderStatus,
        at: datetime,
        reason: str | None = None,
    ) -> bool:
        values: dict[str, Any] = {"status": new}
        if new == OrderStatus.PAID:
            values["paid_at"] = at
        elif new in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
            values |= {"closed_at": at, "close_reason": reason}
        query = (
            update(orders)
            .where(orders.c.id == order_id, orders.c.status.in_(list(expected)))
            .values(values)
        )
        return await self._count(query) == 1

    async def expired_unpaid(self, now: datetime, limit: int) -> list[Order]:
        c = orders.c
        query = self._select(c.status == OrderStatus.NEW, c.expires_at <= now)
        return await self._all(query.order_by(c.id).limit(limit))

    async def for_user(self, user_id: int) -> list[Order]:
        return await self._all(self._select(orders.c.user_id == user_id).order_by(orders.c.id))


class SqlPayments(Updates[Payment]):
    table, entity = payments, Payment

    async def add(self, payment: Payment) -> bool:
        return await self._add_unless_exists(payment, "gateway", "gateway_payment_id")

    async def get(self, gateway: str, gateway_payment_id: str) -> Payment | None:
        c = payments.c
        return await self._one(
            self._select(c.gateway == gateway, c.gateway_payment_id == gateway_payment_id))

    async def for_order(self, order_id: int) -> list[Payment]:
        c = payments.c
        return await self._all(self._select(c.order_id == order_id).order_by(c.id))

    async def to_refund(self, limit: int) -> list[Payment]:
        c = payments.c
        query = self._select(c.refund_reason.is_not(None), c.status == PaymentStatus.SUCCEEDED)
        return await self._all(query.order_by(c.created_at, c.id).limit(limit))


class SqlPurchases(Adds[Purchase], ReadsForUpdate[Purchase], Updates[Purchase]):
    table, entity = purchases, Purchase

    async def for_user(self, user_id: int) -> list[Purchase]:
        c = purchases.c
        return await self._all(self._select(c.user_id == user_id).order_by(c.id.desc()))

    async def for_order(self, order_id: int) -> list[Purchase]:
        c = purchases.c
        return await self._all(self._select(c.order_id == order_id).order_by(c.id))

    async def due_lessons(self, now: datetime, limit: int) -> list[Purchase]:
        return await self._due(purchases.c.next_lesson_at, now, limit)

    async def due_expiry(self, now: datetime, limit: int) -> list[Purchase]:
        return await self._due(purchases.c.ends_at, now, limit, purchases.c.renewal.is_(None))

    async def due_renewal(self, renewal: str, before: datetime, limit: int) -> list[Purchase]:
        return await self._due(purchases.c.ends_at, before, limit,
                               purchases.c.renewal == renewal)

    async def _due(self, column: Any, now: datetime, limit: int, *also: Any) -> list[Purchase]:
        query = (
            self._select(purchases.c.status == PurchaseStatus.ACTIVE, column <= now, *also)
            .order_by(column, purchases.c.id)
            .limit(limit)
        )
        return await self._all(self._claim(query))

    async def due_reminders(self, now: datetime, limit: int) -> list[Purchase]:
        c = purchases.c
        query = self._select(c.remind_at <= now).order_by(c.remind_at, c.id).limit(limit)
        return await self._all(self._claim(query))

    async def active_ids(self, after_id: int, limit: int) -> list[int]:
        c = purchases.c
        query = (
            select(c.id).where(c.status == PurchaseStatus.ACTIVE, c.id > after_id)
            .order_by(c.id).limit(limit)
        )
        return list((await self._session.scalars(query)).all())


class SqlCounters(_SqlRepo[None]):
    table = counters

    async def take(self, key: str, limit: int | None) -> bool:
        await self._session.execute(
            self._insert().values(key=key, used=0).on_conflict_do_nothing(index_elements=["key"])
        )
        condition = [counters.c.key == key]
        if limit is not None:
            condition.append(counters.c.used < limit)
        query = update(counters).where(*condition).values(used=counters.c.used + 1)
        return await self._count(query) == 1

    async def release(self, key: str) -> None:
        await self._session.execute(
            update(counters)
            .where(counters.c.key == key, counters.c.used > 0)
            .values(used=counters.c.used - 1)
        )

    async def force_take(self, key: str) -> None:
        await self._session.execute(
            self._insert()
            .values(key=key, used=1)
            .on_conflict_do_update(index_elements=["key"], set_={"used": counters.c.used + 1})
        )

    async def used(self, key: str) -> int:
        query = select(counters.c.used).where(counters.c.key == key)
        return (await self._session.scalar(query)) or 0


class SqlDeliveries(_SqlRepo[None]):
    table = deliveries

    async def add_if_absent(
        self, user_id: int, course: str, lesson: str, purchase_id: int, at: datetime
    ) -> bool:
        query = (
            self._insert()
            .values(user_id=user_id, course=course, lesson=lesson, purchase_id=purchase_id,
                    delivered_at=at)
            .on_conflict_do_nothing(index_elements=["user_id", "course", "lesson"])
            .returning(deliveries.c.id)
        )
        return (await self._session.execute(query)).scalar_one_or_none() is not None

    async def delivered(self, user_id: int, course: str) -> set[str]:
        c = deliveries.c
        query = select(c.lesson).where(c.user_id == user_id, c.course == course)
        return set((await self._session.scalars(query)).all())


class SqlOutbox(Reads[OutboxMessage]):
    table, entity = outbox, OutboxMessage

    async def add(self, message: OutboxMessage) -> bool:
        if message.due_at is None:
            message.due_at = message.created_at
        return await self._add_unless_exists(message, "dedupe_key")

    async def claim(self, now: datetime, stale_before: datetime, limit: int) -> list[OutboxMessage]:
        c = outbox.c
        claimable = or_(
            and_(c.status == OutboxStatus.PENDING, or_(c.due_at.is_(None), c.due_at <= now)),
            and_(c.status == OutboxStatus.SENDING, c.claimed_at < stale_before),
        )
        query = select(c.id).where(claimable).order_by(c.id).limit(limit)
        ids = list((await self._session.scalars(self._claim(query))).all())
        if not ids:
            return []
        await self._session.execute(
            update(outbox)
            .where(c.id.in_(ids))
            .values(status=OutboxStatus.SENDING, attempts=c.attempts + 1, claimed_at=now)
        )
        return await self._all(self._select(c.id.in_(ids)).order_by(c.id))

    async def mark_sent(self, message_id: int, identity_id: int | None, at: datetime,
                        external_message_id: str | None = None) -> None:
        values = {"status": OutboxStatus.SENT, "identity_id": identity_id, "sent_at": at,
                  "external_message_id": external_message_id}
        await self._update(message_id, values)

    async def sent_as(self, identity_id: int, external_message_id: str) -> OutboxMessage | None:
        c = outbox.c
        return await self._one(self._select(
            c.identity_id == identity_id, c.external_message_id == external_message_id,
            c.status == OutboxStatus.SENT).order_by(c.id.desc()).limit(1))

    async def mark_retry(self, message_id: int, due_at: datetime, error: str) -> None:
        values = {"status": OutboxStatus.PENDING, "due_at": due_at, "error": error}
        await self._update(message_id, values)

    async def mark_failed(self, message_id: int, error: str) -> None:
        await self._update(message_id, {"status": OutboxStatus.FAILED, "error": error})

    async def for_user(self, user_id: int) -> list[OutboxMessage]:
        return await self._all(self._select(outbox.c.user_id == user_id).order_by(outbox.c.id))

    async def backlog(self, now: datetime) -> int:
        c = outbox.c
        due = and_(c.status == OutboxStatus.PENDING, or_(c.due_at.is_(None), c.due_at <= now))
        return (await self._session.execute(select(func.count()).where(due))).scalar_one()


class SqlChatStates(_SqlRepo[ChatState]):
    table, entity = chat_states, ChatState

    async def get(self, messenger: str, chat_id: str) -> ChatState | None:
        c = chat_states.c
        return await self._one(self._select(c.messenger == messenger, c.chat_id == chat_id))

    async def put(self, state: ChatState) -> None:
        insert = self._insert().values(_values(state, chat_states))
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=["messenger", "chat_id"],
                set_={name: insert.excluded[name] for name in ("step", "data", "updated_at")},
            )
        )


class SqlMemberships(_SqlRepo[Membership]):
    table, entity = memberships, Membership

    async def get(self, chat_id: int, external_id: str) -> Membership | None:
        c = memberships.c
        return await self._one(self._select(c.chat_id == chat_id, c.external_id == external_id))

    async def put(self, membership: Membership) -> Membership:
        values = _values(membership, memberships)
        values.pop("id", None)
        insert = self._insert().values(values)
        query = insert.on_conflict_do_update(
            index_elements=["chat_id", "external_id"],
            set_={name: insert.excluded[name] for name in values
                  if name not in ("chat_id", "external_id")},
        ).returning(memberships.c.id)
        membership.id = (await self._session.execute(query)).scalar_one()
        return membership

    async def of_chat(self, chat_id: int) -> list[Membership]:
        c = memberships.c
        return await self._all(self._select(c.chat_id == chat_id).order_by(c.id))

    async def of_accounts(self, external_ids: list[str]) -> list[Membership]:
        if not external_ids:
            return []
        c = memberships.c
        return await self._all(self._select(c.external_id.in_(external_ids)).order_by(c.id))

    async def due(self, now: datetime, limit: int) -> list[Membership]:
        c = memberships.c
        query = self._select(c.check_at <= now).order_by(c.check_at, c.id).limit(limit)
        return await self._all(self._claim(query))


class SqlInviteLinks(Adds[InviteLink], Updates[InviteLink]):
    table, entity = invite_links, InviteLink

    async def by_url(self, url: str) -> InviteLink | None:
        return await self._one(self._select(invite_links.c.url == url))

    async def open_for(self, purchase_id: int, group: str) -> list[InviteLink]:
        c = invite_links.c
        query = self._select(c.purchase_id == purchase_id, c.group == group,
                             c.used_at.is_(None), c.revoked_at.is_(None))
        return await self._all(query.order_by(c.id))


class SqlSubscriptionLinks(Adds[SubscriptionLink], Updates[SubscriptionLink]):
    table, entity = subscription_links, SubscriptionLink

    async def current(self, group: str, offer_code: str) -> SubscriptionLink | None:
        c = subscription_links.c
        query = self._select(c.group == group, c.offer_code == offer_code, c.revoked_at.is_(None))
        return await self._one(query.order_by(c.id.desc()).limit(1))

    async def by_url(self, url: str) -> SubscriptionLink | None:
        return await self._one(self._select(subscription_links.c.url == url))


class SqlRenewals(Crud[Renewal]):
    table, entity = renewals, Renewal

    async def for_period(self, purchase_id: int, period_end: datetime) -> Renewal | None:
        c = renewals.c
        return await self._one(self._select(c.purchase_id == purchase_id,
                                            c.period_end == period_end))

    async def for_purchase(self, purchase_id: int) -> list[Renewal]:
        c = renewals.c
        return await self._all(self._select(c.purchase_id == purchase_id).order_by(c.id))

    async def for_order(self, order_id: int) -> Renewal | None:
        return await self._one(self._select(renewals.c.order_id == order_id))

    async def due(self, now: datetime, limit: int) -> list[Renewal]:
        c = renewals.c
        query = (
            self._select(c.status == RenewalStatus.PENDING, c.due_at <= now)
            .order_by(c.due_at, c.id).limit(limit)
        )
        return await self._all(self._claim(query))


class SqlStaff(Adds[StaffMember], Updates[StaffMember]):
    table, entity = staff_members, StaffMember

    async def get(self, messenger: str, external_id: str) -> StaffMember | None:
        c = staff_members.c
        return await self._one(self._select(c.messenger == messenger,
                                            c.external_id == external_id))

    async def remove(self, member_id: int) -> None:
        await self._session.execute(delete(staff_members).where(staff_members.c.id == member_id))

    async def all(self) -> list[StaffMember]:
        return await self._all(self._select().order_by(staff_members.c.id))


class SqlAudit(Adds[AuditEntry]):
    table, entity = audit_log, AuditEntry

    async def latest(self, limit: int, user_id: int | None = None,
                     actor: str | None = None, before: int | None = None) -> list[AuditEntry]:
        """Newest first; only the student's (``user_id``) or the staff member's (``actor``);
        only lines older than the line ``before``."""
        c = audit_log.c
        where = [c.user_id == user_id] if user_id is not None else []
        where += [c.actor == actor] if actor is not None else []
        where += [c.id < before] if before is not None else []
        return await self._all(self._select(*where).order_by(c.id.desc()).limit(limit))


class SqlTags(_SqlRepo[Tag]):
    table, entity = tags, Tag

    async def add(self, tag: Tag) -> bool:
        """False when the student has the tag already."""
        return await self._add_unless_exists(tag, "user_id", "tag")

    async def remove(self, user_id: int, tag: str) -> bool:
        result = await self._session.execute(
            delete(tags).where(tags.c.user_id == user_id, tags.c.tag == tag))
        return bool(result.rowcount)

    async def of_user(self, user_id: int) -> list[Tag]:
        return await self._all(self._select(tags.c.user_id == user_id).order_by(tags.c.tag))

    async def users_with(self, tag: str, after_id: int, limit: int) -> list[int]:
        """Students with ``tag``, by id after ``after_id`` (pages through a large segment)."""
        c = tags.c
        query = select(c.user_id).where(c.tag == tag, c.user_id > after_id)
        return list((await self._session.scalars(query.order_by(c.user_id).limit(limit))).all())


class SqlConversations(Reads[Conversation], Updates[Conversation]):
    table, entity = conversations, Conversation

    async def open_for(self, user_id: int, identity_id: int, now: datetime) -> Conversation:
        c = conversations.c
        opened = Conversation(user_id=user_id, identity_id=identity_id, opened_at=now,
                              updated_at=now)
        await self._session.execute(
            self._insert().values(_values(opened, conversations))
            .on_conflict_do_nothing(index_elements=["user_id"], index_where=OPEN))
        found = await self._one(self._select(
            c.user_id == user_id, c.status == ConversationStatus.OPEN).with_for_update())
        assert found is not None, "an open conversation was just made or found"
        return found

    async def close(self, conversation_id: int, by: str, at: datetime) -> bool:
        c = conversations.c
        return await self._count(
            update(conversations)
            .where(c.id == conversation_id, c.status == ConversationStatus.OPEN)
            .values(status=ConversationStatus.CLOSED, closed_by=by, closed_at=at)) == 1

    async def close_second_open(self, source_id: int, into_id: int) -> None:
        """Accounts are being linked: the joining student's open conversation is closed if
        the other one has one too (a student has one open conversation)."""
        c = conversations.c
        into_open = select(c.id).where(c.user_id == into_id, c.status == ConversationStatus.OPEN)
        await self._session.execute(
            update(conversations)
            .where(c.user_id == source_id, c.status == ConversationStatus.OPEN,
                   into_open.exists())
            # Closed as of its last message: linking has no clock of its own.
            .values(status=ConversationStatus.CLOSED, closed_by="linked", closed_at=c.updated_at))

    async def latest(self, status: ConversationStatus, limit: int) -> list[Conversation]:
        c = conversations.c
        newest = c.updated_at if status is ConversationStatus.OPEN else c.closed_at
        return await self._all(self._select(c.status == status)
                               .order_by(newest.desc(), c.id.desc()).limit(limit))

    async def add_message(self, message: ConversationMessage) -> ConversationMessage:
        return await self._add(message, conversation_messages)

    async def message(self, message_id: int) -> ConversationMessage | None:
        return await self._by_id(message_id, conversation_messages, ConversationMessage)

    async def messages(self, conversation_id: int, limit: int) -> list[ConversationMessage]:
        m = conversation_messages.c
        newest = await self._all(
            select(conversation_messages).where(m.conversation_id == conversation_id)
            .order_by(m.id.desc()).limit(limit), ConversationMessage)
        return newest[::-1]


class SqlPromoCodes(_SqlRepo[RuntimePromo]):
    table, entity = promo_codes, RuntimePromo

    async def all(self) -> list[RuntimePromo]:
        return await self._all(self._select().order_by(promo_codes.c.id))

    async def add(self, promo: RuntimePromo) -> bool:
        return await self._add_unless_exists(promo, "code")

    async def disable(self, code: str, by: str, at: datetime) -> bool:
        c = promo_codes.c
        return await self._count(
            update(promo_codes).where(c.code == code, c.disabled_at.is_(None))
            .values(disabled_by=by, disabled_at=at)
        ) == 1


class SqlContacts(_SqlRepo[Contact]):
    table, entity = contacts, Contact

    async def add(self, contact: Contact) -> bool:
        return await self._add_unless_exists(contact, "kind", "value")

    async def find(self, kind: ContactKind, value: str) -> Contact | None:
        c = contacts.c
        return await self._one(self._select(c.kind == kind, c.value == value))

    async def of_user(self, user_id: int) -> list[Contact]:
        c = contacts.c
        return await self._all(self._select(c.user_id == user_id).order_by(c.id))


class SqlStaffMenus(_SqlRepo[StaffMenu]):
    table, entity = staff_menus, StaffMenu

    async def all(self) -> list[StaffMenu]:
        return await self._all(self._select().order_by(staff_menus.c.id))

    async def put(self, menu: StaffMenu) -> None:
        values = _values(menu, staff_menus)
        query = self._insert().values(values).on_conflict_do_update(
            index_elements=["messenger", "external_id"],
            set_={"role": values["role"], "shown_at": values["shown_at"]})
        await self._session.execute(query)

    async def remove(self, messenger: str, external_id: str) -> None:
        c = staff_menus.c
        await self._session.execute(delete(staff_menus).where(
            c.messenger == messenger, c.external_id == external_id))


class SqlStaffNotes(Adds[StaffNote]):
    table, entity = staff_notes, StaffNote

    async def for_user(self, user_id: int, limit: int) -> list[StaffNote]:
        c = staff_notes.c
        return await self._all(self._select(c.user_id == user_id).order_by(c.id.desc())
                               .limit(limit))

    async def count(self, user_id: int) -> int:
        c = staff_notes.c
        query = select(func.count()).select_from(staff_notes).where(c.user_id == user_id)
        return (await self._session.execute(query)).scalar_one()


CONTACT_COLUMN = "receipt_contact"  # a student's email or phone, where a schema keeps one


def _like_pattern(text: str) -> str:
    """``%text%`` for LIKE ... ESCAPE '\\', with the wildcards of ``text`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SqlStudents(_SqlRepo[User]):
    table, entity = users, User

    def _lower(self, column: Any) -> Any:
        return func.lower(column) if self._postgres else getattr(func, UNICODE_LOWER)(column)

    async def with_external_id(self, external_id: str) -> list[Identity]:
        c = identities.c
        query = select(identities).where(c.external_id == external_id).order_by(c.id)
        return await self._all(query, Identity)

    async def with_username(self, username: str) -> list[Identity]:
        c = identities.c
        query = select(identities).where(c.username.is_not(None),
                                         self._lower(c.username) == username.lower())
        return await self._all(query.order_by(c.id), Identity)

    async def with_contact(self, contact: str) -> list[User] | None:
        column = users.c.get(CONTACT_COLUMN)
        if column is None:
            return None  # this schema keeps no contacts
        query = self._select(column == contact, users.c.merged_into.is_(None))
        return await self._all(query.order_by(users.c.id))

    async def named(self, text: str, limit: int) -> tuple[list[User], int]:
        u, i = users.c, identities.c
        pattern = _like_pattern(text.lower())
        by_identity = select(i.user_id).where(self._lower(i.name).like(pattern, escape="\\"))
        where = and_(u.merged_into.is_(None),
                     or_(self._lower(u.name).like(pattern, escape="\\"), u.id.in_(by_identity)))
        total = (await self._session.execute(
            select(func.count()).select_from(users).where(where))).scalar_one()
        found = await self._all(self._select(where).order_by(u.id).limit(limit))
        return found, total
