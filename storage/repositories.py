"""SQL implementations of the repositories in ``core.ports``.

They speak Core SQL through the unit of work's ``AsyncSession`` and hand out plain
``core.models`` dataclasses; ORM objects never leave this module. They never commit.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import (
    CursorResult,
    Row,
    Table,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

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
    User,
)
from storage.tables import (
    ChatStateRow,
    CounterRow,
    IdentityRow,
    InviteLinkRow,
    LessonDeliveryRow,
    LinkCodeRow,
    MembershipRow,
    OrderRow,
    OutboxRow,
    PaymentRow,
    PurchaseRow,
    RenewalRow,
    SubscriptionLinkRow,
    UserRow,
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
# Tables whose rows belong to a student: they follow the student when accounts are linked.
OWNED_BY_USER = (identities, orders, purchases, outbox, invite_links, link_codes)


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


def _entities(cls: type[E], rows: Any) -> list[E]:
    return [_entity(cls, row) for row in rows]  # type: ignore[misc]


class _SqlRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @property
    def _postgres(self) -> bool:
        return self._session.get_bind().dialect.name == "postgresql"

    def _insert(self, table: Table) -> Any:
        """``INSERT`` of the session's dialect, which knows ``ON CONFLICT``."""
        return (postgresql.insert if self._postgres else sqlite.insert)(table)

    async def _one(self, cls: type[E], query: Any) -> E | None:
        return _entity(cls, (await self._session.execute(query)).first())

    async def _all(self, cls: type[E], query: Any) -> list[E]:
        return _entities(cls, await self._session.execute(query))

    async def _add(self, table: Table, entity: Any) -> Any:
        query = table.insert().values(_values(entity, table)).returning(table.c.id)
        entity.id = (await self._session.execute(query)).scalar_one()
        return entity

    async def _count(self, query: Any) -> int:
        """Run an UPDATE; how many rows it changed."""
        result: CursorResult[Any] = await self._session.execute(query)  # type: ignore[assignment]
        return result.rowcount

    async def _update(self, table: Table, row_id: int, values: dict[str, Any]) -> None:
        query = update(table).where(table.c.id == row_id).values(values)
        if await self._count(query) != 1:
            raise LookupError(f"no row {row_id} in {table.name}")


class SqlUsers(_SqlRepo):
    async def add(self, user: User) -> User:
        return await self._add(users, user)

    async def get(self, user_id: int) -> User | None:
        return await self._one(User, select(users).where(users.c.id == user_id))

    async def update(self, user: User) -> None:
        await self._update(users, user.id, _values(user, users))

    async def by_referral_code(self, code: str) -> User | None:
        if not code:
            return None
        return await self._one(User, select(users).where(users.c.referral_code == code))

    async def add_identity(self, identity: Identity) -> Identity:
        return await self._add(identities, identity)

    async def identity(self, messenger: str, external_id: str) -> Identity | None:
        query = select(identities).where(
            identities.c.messenger == messenger, identities.c.external_id == external_id
        )
        return await self._one(Identity, query)

    async def identity_by_id(self, identity_id: int) -> Identity | None:
        return await self._one(Identity, select(identities).where(identities.c.id == identity_id))

    async def update_identity(self, identity: Identity) -> None:
        await self._update(identities, identity.id, _values(identity, identities))

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
            found += await self._all(Identity, select(identities).where(
                tuple_(c.messenger, c.external_id).in_(chunk)))
        return found

    async def identities(self, user_id: int) -> list[Identity]:
        query = (
            select(identities)
            .where(identities.c.user_id == user_id)
            .order_by(identities.c.last_seen_at.desc().nulls_last(), identities.c.id.desc())
        )
        return await self._all(Identity, query)

    async def merge(self, source_id: int, into_id: int) -> None:
        d = deliveries.c
        # A lesson both accounts received is kept once.
        taken = select(d.course, d.lesson).where(d.user_id == into_id)
        await self._session.execute(delete(deliveries).where(
            d.user_id == source_id, tuple_(d.course, d.lesson).in_(taken)))
        await self._session.execute(
            update(deliveries).where(d.user_id == source_id).values(user_id=into_id))
        for table in OWNED_BY_USER:
            await self._session.execute(
                update(table).where(table.c.user_id == source_id).values(user_id=into_id))
        await self._session.execute(
            update(users).where(users.c.id == source_id).values(merged_into=into_id))


class SqlLinkCodes(_SqlRepo):
    async def add(self, code: LinkCode) -> LinkCode:
        return await self._add(link_codes, code)

    async def by_code(self, code: str) -> LinkCode | None:
        return await self._one(LinkCode, select(link_codes).where(link_codes.c.code == code))

    async def use(self, code_id: int, now: datetime) -> bool:
        c = link_codes.c
        return await self._count(
            update(link_codes).where(c.id == code_id, c.used_at.is_(None)).values(used_at=now)
        ) == 1


class SqlOrders(_SqlRepo):
    async def add(self, order: Order) -> Order:
        return await self._add(orders, order)

    async def get(self, order_id: int) -> Order | None:
        return await self._one(Order, select(orders).where(orders.c.id == order_id))

    async def get_for_update(self, order_id: int) -> Order | None:
        query = select(orders).where(orders.c.id == order_id).with_for_update()
        return await self._one(Order, query)

    async def by_token(self, token: str) -> Order | None:
        return await self._one(Order, select(orders).where(orders.c.token == token))

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
        query = (
            select(orders)
            .where(orders.c.status == OrderStatus.NEW, orders.c.expires_at <= now)
            .order_by(orders.c.id)
            .limit(limit)
        )
        return await self._all(Order, query)

    async def for_user(self, user_id: int) -> list[Order]:
        query = select(orders).where(orders.c.user_id == user_id).order_by(orders.c.id)
        return await self._all(Order, query)


class SqlPayments(_SqlRepo):
    async def add(self, payment: Payment) -> bool:
        query = (
            self._insert(payments)
            .values(_values(payment, payments))
            .on_conflict_do_nothing(index_elements=["gateway", "gateway_payment_id"])
            .returning(payments.c.id)
        )
        new_id = (await self._session.execute(query)).scalar_one_or_none()
        if new_id is None:
            return False
        payment.id = new_id
        return True

    async def get(self, gateway: str, gateway_payment_id: str) -> Payment | None:
        query = select(payments).where(
            payments.c.gateway == gateway, payments.c.gateway_payment_id == gateway_payment_id
        )
        return await self._one(Payment, query)

    async def for_order(self, order_id: int) -> list[Payment]:
        query = select(payments).where(payments.c.order_id == order_id).order_by(payments.c.id)
        return await self._all(Payment, query)

    async def update(self, payment: Payment) -> None:
        await self._update(payments, payment.id, _values(payment, payments))

    async def to_refund(self, limit: int) -> list[Payment]:
        c = payments.c
        query = (
            select(payments)
            .where(c.refund_reason.is_not(None), c.status == PaymentStatus.SUCCEEDED)
            .order_by(c.created_at, c.id).limit(limit)
        )
        return await self._all(Payment, query)


class SqlPurchases(_SqlRepo):
    async def add(self, purchase: Purchase) -> Purchase:
        return await self._add(purchases, purchase)

    async def get(self, purchase_id: int) -> Purchase | None:
        return await self._one(Purchase, select(purchases).where(purchases.c.id == purchase_id))

    async def get_for_update(self, purchase_id: int) -> Purchase | None:
        query = select(purchases).where(purchases.c.id == purchase_id).with_for_update()
        return await self._one(Purchase, query)

    async def update(self, purchase: Purchase) -> None:
        await self._update(purchases, purchase.id, _values(purchase, purchases))

    async def for_user(self, user_id: int) -> list[Purchase]:
        query = (
            select(purchases).where(purchases.c.user_id == user_id).order_by(purchases.c.id.desc())
        )
        return await self._all(Purchase, query)

    async def for_order(self, order_id: int) -> list[Purchase]:
        query = select(purchases).where(purchases.c.order_id == order_id).order_by(purchases.c.id)
        return await self._all(Purchase, query)

    async def due_lessons(self, now: datetime, limit: int) -> list[Purchase]:
        return await self._due(purchases.c.next_lesson_at, now, limit)

    async def due_expiry(self, now: datetime, limit: int) -> list[Purchase]:
        return await self._due(purchases.c.ends_at, now, limit, purchases.c.renewal.is_(None))

    async def due_renewal(self, renewal: str, before: datetime, limit: int) -> list[Purchase]:
        return await self._due(purchases.c.ends_at, before, limit,
                               purchases.c.renewal == renewal)

    async def _due(self, column: Any, now: datetime, limit: int, *also: Any) -> list[Purchase]:
        query = (
            select(purchases)
            .where(purchases.c.status == PurchaseStatus.ACTIVE, column <= now, *also)
            .order_by(column, purchases.c.id)
            .limit(limit)
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        return await self._all(Purchase, query)

    async def due_reminders(self, now: datetime, limit: int) -> list[Purchase]:
        query = (
            select(purchases).where(purchases.c.remind_at <= now)
            .order_by(purchases.c.remind_at, purchases.c.id).limit(limit)
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        return await self._all(Purchase, query)

    async def active_ids(self, after_id: int, limit: int) -> list[int]:
        query = (
            select(purchases.c.id)
            .where(purchases.c.status == PurchaseStatus.ACTIVE, purchases.c.id > after_id)
            .order_by(purchases.c.id)
            .limit(limit)
        )
        return list((await self._session.scalars(query)).all())


class SqlCounters(_SqlRepo):
    async def take(self, key: str, limit: int | None) -> bool:
        await self._session.execute(
            self._insert(counters)
            .values(key=key, used=0)
            .on_conflict_do_nothing(index_elements=["key"])
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
            self._insert(counters)
            .values(key=key, used=1)
            .on_conflict_do_update(index_elements=["key"], set_={"used": counters.c.used + 1})
        )

    async def used(self, key: str) -> int:
        query = select(counters.c.used).where(counters.c.key == key)
        return (await self._session.scalar(query)) or 0


class SqlDeliveries(_SqlRepo):
    async def add_if_absent(
        self, user_id: int, course: str, lesson: str, purchase_id: int, at: datetime
    ) -> bool:
        query = (
            self._insert(deliveries)
            .values(
                user_id=user_id,
                course=course,
                lesson=lesson,
                purchase_id=purchase_id,
                delivered_at=at,
            )
            .on_conflict_do_nothing(index_elements=["user_id", "course", "lesson"])
            .returning(deliveries.c.id)
        )
        return (await self._session.execute(query)).scalar_one_or_none() is not None

    async def delivered(self, user_id: int, course: str) -> set[str]:
        query = select(deliveries.c.lesson).where(
            deliveries.c.user_id == user_id, deliveries.c.course == course
        )
        return set((await self._session.scalars(query)).all())


class SqlOutbox(_SqlRepo):
    async def add(self, message: OutboxMessage) -> bool:
        if message.due_at is None:
            message.due_at = message.created_at
        query = (
            self._insert(outbox)
            .values(_values(message, outbox))
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(outbox.c.id)
        )
        new_id = (await self._session.execute(query)).scalar_one_or_none()
        if new_id is None:
            return False
        message.id = new_id
        return True

    async def claim(self, now: datetime, stale_before: datetime, limit: int) -> list[OutboxMessage]:
        c = outbox.c
        claimable = or_(
            and_(c.status == OutboxStatus.PENDING, or_(c.due_at.is_(None), c.due_at <= now)),
            and_(c.status == OutboxStatus.SENDING, c.claimed_at < stale_before),
        )
        query = select(c.id).where(claimable).order_by(c.id).limit(limit)
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        ids = list((await self._session.scalars(query)).all())
        if not ids:
            return []
        await self._session.execute(
            update(outbox)
            .where(c.id.in_(ids))
            .values(status=OutboxStatus.SENDING, attempts=c.attempts + 1, claimed_at=now)
        )
        return await self._all(OutboxMessage, select(outbox).where(c.id.in_(ids)).order_by(c.id))

    async def get(self, message_id: int) -> OutboxMessage | None:
        return await self._one(OutboxMessage, select(outbox).where(outbox.c.id == message_id))

    async def mark_sent(self, message_id: int, identity_id: int | None, at: datetime) -> None:
        values = {"status": OutboxStatus.SENT, "identity_id": identity_id, "sent_at": at}
        await self._update(outbox, message_id, values)

    async def mark_retry(self, message_id: int, due_at: datetime, error: str) -> None:
        values = {"status": OutboxStatus.PENDING, "due_at": due_at, "error": error}
        await self._update(outbox, message_id, values)

    async def mark_failed(self, message_id: int, error: str) -> None:
        await self._update(outbox, message_id, {"status": OutboxStatus.FAILED, "error": error})

    async def for_user(self, user_id: int) -> list[OutboxMessage]:
        query = select(outbox).where(outbox.c.user_id == user_id).order_by(outbox.c.id)
        return await self._all(OutboxMessage, query)

    async def backlog(self, now: datetime) -> int:
        c = outbox.c
        due = and_(c.status == OutboxStatus.PENDING, or_(c.due_at.is_(None), c.due_at <= now))
        return (await self._session.execute(select(func.count()).where(due))).scalar_one()


class SqlChatStates(_SqlRepo):
    async def get(self, messenger: str, chat_id: str) -> ChatState | None:
        query = select(chat_states).where(
            chat_states.c.messenger == messenger, chat_states.c.chat_id == chat_id
        )
        return await self._one(ChatState, query)

    async def put(self, state: ChatState) -> None:
        insert = self._insert(chat_states).values(_values(state, chat_states))
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=["messenger", "chat_id"],
                set_={name: insert.excluded[name] for name in ("step", "data", "updated_at")},
            )
        )


class SqlMemberships(_SqlRepo):
    async def get(self, chat_id: int, external_id: str) -> Membership | None:
        query = select(memberships).where(
            memberships.c.chat_id == chat_id, memberships.c.external_id == external_id)
        return await self._one(Membership, query)

    async def put(self, membership: Membership) -> Membership:
        values = _values(membership, memberships)
        values.pop("id", None)
        insert = self._insert(memberships).values(values)
        query = insert.on_conflict_do_update(
            index_elements=["chat_id", "external_id"],
            set_={name: insert.excluded[name] for name in values
                  if name not in ("chat_id", "external_id")},
        ).returning(memberships.c.id)
        membership.id = (await self._session.execute(query)).scalar_one()
        return membership

    async def of_chat(self, chat_id: int) -> list[Membership]:
        query = select(memberships).where(memberships.c.chat_id == chat_id).order_by(
            memberships.c.id)
        return await self._all(Membership, query)

    async def of_accounts(self, external_ids: list[str]) -> list[Membership]:
        if not external_ids:
            return []
        query = select(memberships).where(memberships.c.external_id.in_(external_ids))
        return await self._all(Membership, query.order_by(memberships.c.id))

    async def due(self, now: datetime, limit: int) -> list[Membership]:
        query = (
            select(memberships)
            .where(memberships.c.check_at <= now)
            .order_by(memberships.c.check_at, memberships.c.id)
            .limit(limit)
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        return await self._all(Membership, query)


class SqlInviteLinks(_SqlRepo):
    async def add(self, link: InviteLink) -> InviteLink:
        return await self._add(invite_links, link)

    async def by_url(self, url: str) -> InviteLink | None:
        return await self._one(InviteLink, select(invite_links).where(invite_links.c.url == url))

    async def open_for(self, purchase_id: int, group: str) -> list[InviteLink]:
        query = select(invite_links).where(
            invite_links.c.purchase_id == purchase_id, invite_links.c.group == group,
            invite_links.c.used_at.is_(None), invite_links.c.revoked_at.is_(None),
        ).order_by(invite_links.c.id)
        return await self._all(InviteLink, query)

    async def update(self, link: InviteLink) -> None:
        await self._update(invite_links, link.id, _values(link, invite_links))


class SqlSubscriptionLinks(_SqlRepo):
    async def add(self, link: SubscriptionLink) -> SubscriptionLink:
        return await self._add(subscription_links, link)

    async def current(self, group: str, offer_code: str) -> SubscriptionLink | None:
        c = subscription_links.c
        return await self._one(SubscriptionLink, select(subscription_links).where(
            c.group == group, c.offer_code == offer_code, c.revoked_at.is_(None),
        ).order_by(c.id.desc()).limit(1))

    async def by_url(self, url: str) -> SubscriptionLink | None:
        return await self._one(SubscriptionLink, select(subscription_links).where(
            subscription_links.c.url == url))

    async def update(self, link: SubscriptionLink) -> None:
        await self._update(subscription_links, link.id, _values(link, subscription_links))


class SqlRenewals(_SqlRepo):
    async def add(self, renewal: Renewal) -> Renewal:
        return await self._add(renewals, renewal)

    async def get(self, renewal_id: int) -> Renewal | None:
        return await self._one(Renewal, select(renewals).where(renewals.c.id == renewal_id))

    async def for_period(self, purchase_id: int, period_end: datetime) -> Renewal | None:
        return await self._one(Renewal, select(renewals).where(
            renewals.c.purchase_id == purchase_id, renewals.c.period_end == period_end))

    async def for_purchase(self, purchase_id: int) -> list[Renewal]:
        return await self._all(Renewal, select(renewals).where(
            renewals.c.purchase_id == purchase_id).order_by(renewals.c.id))

    async def for_order(self, order_id: int) -> Renewal | None:
        return await self._one(Renewal, select(renewals).where(renewals.c.order_id == order_id))

    async def update(self, renewal: Renewal) -> None:
        await self._update(renewals, renewal.id, _values(renewal, renewals))

    async def due(self, now: datetime, limit: int) -> list[Renewal]:
        c = renewals.c
        query = (
            select(renewals).where(c.status == RenewalStatus.PENDING, c.due_at <= now)
            .order_by(c.due_at, c.id).limit(limit)
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        return await self._all(Renewal, query)
