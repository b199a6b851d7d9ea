"""In-memory implementation of ``core.ports``, for fast tests and the sandbox.

It behaves like the SQL one: transactions are serialized (like SQLite's BEGIN IMMEDIATE),
work on a private copy and are discarded unless committed; datetimes must be aware and come
back in UTC; JSON fields round-trip through JSON; unique keys and references are checked.
"""

from __future__ import annotations

import asyncio
import copy
import enum
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

from core.clock import ensure_utc
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

E = TypeVar("E")


class IntegrityError(Exception):
    """A unique key or a reference was violated (the SQL backend raises SQLAlchemy's)."""


@dataclass
class _Data:
    users: dict[int, User] = field(default_factory=dict)
    identities: dict[int, Identity] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    payments: dict[int, Payment] = field(default_factory=dict)
    purchases: dict[int, Purchase] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    deliveries: dict[tuple[int, str, str], int] = field(default_factory=dict)  # -> purchase id
    outbox: dict[int, OutboxMessage] = field(default_factory=dict)
    chat_states: dict[tuple[str, str], ChatState] = field(default_factory=dict)
    memberships: dict[int, Membership] = field(default_factory=dict)
    invite_links: dict[int, InviteLink] = field(default_factory=dict)
    subscription_links: dict[int, SubscriptionLink] = field(default_factory=dict)
    renewals: dict[int, Renewal] = field(default_factory=dict)
    link_codes: dict[int, LinkCode] = field(default_factory=dict)
    last_ids: dict[str, int] = field(default_factory=dict)  # a sequence per table

    def next_id(self, table: str) -> int:
        self.last_ids[table] = self.last_ids.get(table, 0) + 1
        return self.last_ids[table]


class MemoryStore:
    """All the data, shared by the units of work made from it."""

    def __init__(self) -> None:
        self.data = _Data()
        self.lock = asyncio.Lock()
        self.holder: asyncio.Task[Any] | None = None


def memory_uow_factory(store: MemoryStore) -> Callable[[], MemoryUnitOfWork]:
    return lambda: MemoryUnitOfWork(store)


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._data = _Data()

    async def __aenter__(self) -> MemoryUnitOfWork:
        task = asyncio.current_task()
        if self._store.holder is task:
            raise RuntimeError("a unit of work is already open in this task: it would deadlock")
        await self._store.lock.acquire()
        self._store.holder = task
        self._data = copy.deepcopy(self._store.data)
        self.users = MemoryUsers(self)
        self.orders = MemoryOrders(self)
        self.payments = MemoryPayments(self)
        self.purchases = MemoryPurchases(self)
        self.counters = MemoryCounters(self)
        self.deliveries = MemoryDeliveries(self)
        self.outbox = MemoryOutbox(self)
        self.chat_states = MemoryChatStates(self)
        self.memberships = MemoryMemberships(self)
        self.invite_links = MemoryInviteLinks(self)
        self.subscription_links = MemorySubscriptionLinks(self)
        self.renewals = MemoryRenewals(self)
        self.link_codes = MemoryLinkCodes(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._data = _Data()
        self._store.holder = None
        self._store.lock.release()

    async def commit(self) -> None:
        self._store.data = copy.deepcopy(self._data)

    async def rollback(self) -> None:
        self._data = copy.deepcopy(self._store.data)


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _stored(entity: E) -> E:
    """A copy of ``entity`` as the database would give it back."""
    entity = copy.deepcopy(entity)
    for f in fields(entity):  # type: ignore[arg-type]
        value = getattr(entity, f.name)
        if isinstance(value, datetime):
            value = ensure_utc(value)
        elif isinstance(value, dict | list | tuple):
            value = tuple(_json(value)) if isinstance(value, tuple) else _json(value)
        elif isinstance(f.default, enum.Enum) and value is not None:
            value = type(f.default)(value)
        setattr(entity, f.name, value)
    return entity


def _out(entities: Iterable[E]) -> list[E]:
    return [copy.deepcopy(e) for e in entities]


class _Repo:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    @property
    def _d(self) -> _Data:
        return self._uow._data

    def _need(self, table: dict[int, Any], key: int, what: str) -> None:
        if key not in table:
            raise IntegrityError(f"no {what} {key}")

    def _insert(self, table: str, entity: Any) -> Any:
        row = _stored(entity)
        row.id = entity.id = self._d.next_id(table)
        getattr(self._d, table)[row.id] = row
        return entity

    def _replace(self, table: dict[int, Any], entity: Any) -> None:
        if entity.id not in table:
            raise LookupError(f"{type(entity).__name__} {entity.id} is not stored")
        table[entity.id] = _stored(entity)


class MemoryUsers(_Repo):
    async def add(self, user: User) -> User:
        self._check_code(user)
        return self._insert("users", user)

    async def get(self, user_id: int) -> User | None:
        return copy.deepcopy(self._d.users.get(user_id))

    async def update(self, user: User) -> None:
        self._check_code(user)
        self._replace(self._d.users, user)

    async def by_referral_code(self, code: str) -> User | None:
        if not code:
            return None
        return next(iter(_out(u for u in self._d.users.values() if u.referral_code == code)), None)

    def _check_code(self, user: User) -> None:
        if user.referral_code and any(
            u.referral_code == user.referral_code and u.id != user.id
            for u in self._d.users.values()
        ):
            raise IntegrityError(f"referral code {user.referral_code!r} is taken")

    async def add_identity(self, identity: Identity) -> Identity:
        self._check_identity(identity)
        return self._insert("identities", identity)

    async def identity(self, messenger: str, external_id: str) -> Identity | None:
        found = (
            i
            for i in self._d.identities.values()
            if i.messenger == messenger and i.external_id == external_id
        )
        return next(iter(_out(found)), None)

    async def identity_by_id(self, identity_id: int) -> Identity | None:
        return copy.deepcopy(self._d.identities.get(identity_id))

    async def update_identity(self, identity: Identity) -> None:
        self._check_identity(identity)
        self._replace(self._d.identities, identity)

    async def seen(self, identity: Identity, at: datetime) -> None:
        """Like the SQL stores, outside the transaction: a rollback keeps it."""
        key = (identity.messenger, identity.external_id)
        for data in (self._d, self._uow._store.data):
            for stored in data.identities.values():
                if (stored.messenger, stored.external_id) == key and (
                        stored.last_seen_at is None or stored.last_seen_at < at):
                    stored.last_seen_at = ensure_utc(at)

    async def identities(self, user_id: int) -> list[Identity]:
        mine = [i for i in self._d.identities.values() if i.user_id == user_id]
        mine.sort(key=lambda i: i.id, reverse=True)
        mine.sort(key=lambda i: (i.last_seen_at is None, _neg_time(i.last_seen_at)))
        return _out(mine)

    async def merge(self, source_id: int, into_id: int) -> None:
        d = self._d
        for table in (d.identities, d.orders, d.purchases, d.outbox, d.invite_links,
                      d.link_codes):
            for row in table.values():
                if row.user_id == source_id:
                    row.user_id = into_id
        for (user_id, course, lesson), purchase_id in list(d.deliveries.items()):
            if user_id == source_id:
                del d.deliveries[(user_id, course, lesson)]
                d.deliveries.setdefault((into_id, course, lesson), purchase_id)
        d.users[source_id].merged_into = into_id

    def _check_identity(self, identity: Identity) -> None:
        self._need(self._d.users, identity.user_id, "user")
        key = (identity.messenger, identity.external_id)
        if any(
            (i.messenger, i.external_id) == key and i.id != identity.id
            for i in self._d.identities.values()
        ):
            raise IntegrityError(f"identity {key} exists")


def _neg_time(moment: datetime | None) -> float:
    return -moment.timestamp() if moment else 0.0


class MemoryOrders(_Repo):
    async def add(self, order: Order) -> Order:
        self._need(self._d.users, order.user_id, "user")
        if any(o.token == order.token for o in self._d.orders.values()):
            raise IntegrityError(f"order token {order.token!r} exists")
        return self._insert("orders", order)

    async def get(self, order_id: int) -> Order | None:
        return copy.deepcopy(self._d.orders.get(order_id))

    async def get_for_update(self, order_id: int) -> Order | None:
        return await self.get(order_id)

    async def by_token(self, token: str) -> Order | None:
        return next(iter(_out(o for o in self._d.orders.values() if o.token == token)), None)

    async def transition(
        self,
        order_id: int,
        expected: frozenset[OrderStatus],
        new: OrderStatus,
        at: datetime,
        reason: str | None = None,
    ) -> bool:
        order = self._d.orders.get(order_id)
        if order is None or order.status not in expected:
            return False
        at = ensure_utc(at)
        order.status = OrderStatus(new)
        if new == OrderStatus.PAID:
            order.paid_at = at
        elif new in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
            order.closed_at, order.close_reason = at, reason
        return True

    async def expired_unpaid(self, now: datetime, limit: int) -> list[Order]:
        now = ensure_utc(now)
        due = [
            o
            for o in self._d.orders.values()
            if o.status == OrderStatus.NEW and o.expires_at is not None and o.expires_at <= now
        ]
        return _out(sorted(due, key=lambda o: o.id)[:limit])

    async def for_user(self, user_id: int) -> list[Order]:
        return _out(o for o in self._d.orders.values() if o.user_id == user_id)


class MemoryPayments(_Repo):
    async def add(self, payment: Payment) -> bool:
        self._need(self._d.orders, payment.order_id, "order")
        if await self.get(payment.gateway, payment.gateway_payment_id) is not None:
            return False
        self._insert("payments", payment)
        return True

    async def get(self, gateway: str, gateway_payment_id: str) -> Payment | None:
        found = (
            p
            for p in self._d.payments.values()
            if p.gateway == gateway and p.gateway_payment_id == gateway_payment_id
        )
        return next(iter(_out(found)), None)

    async def for_order(self, order_id: int) -> list[Payment]:
        return _out(p for p in self._d.payments.values() if p.order_id == order_id)

    async def update(self, payment: Payment) -> None:
        self._replace(self._d.payments, payment)

    async def to_refund(self, limit: int) -> list[Payment]:
        due = [p for p in self._d.payments.values()
               if p.refund_reason is not None and p.status is PaymentStatus.SUCCEEDED]
        return _out(sorted(due, key=lambda p: (p.created_at, p.id))[:limit])


class MemoryPurchases(_Repo):
    async def add(self, purchase: Purchase) -> Purchase:
        self._need(self._d.users, purchase.user_id, "user")
        self._need(self._d.orders, purchase.order_id, "order")
        return self._insert("purchases", purchase)

    async def get(self, purchase_id: int) -> Purchase | None:
        return copy.deepcopy(self._d.purchases.get(purchase_id))

    async def get_for_update(self, purchase_id: int) -> Purchase | None:
        return await self.get(purchase_id)  # transactions are serialized already

    async def update(self, purchase: Purchase) -> None:
        self._replace(self._d.purchases, purchase)

    async def for_user(self, user_id: int) -> list[Purchase]:
        mine = [p for p in self._d.purchases.values() if p.user_id == user_id]
        return _out(sorted(mine, key=lambda p: p.id, reverse=True))

    async def for_order(self, order_id: int) -> list[Purchase]:
        return _out(p for p in self._d.purchases.values() if p.order_id == order_id)

    async def due_lessons(self, now: datetime, limit: int) -> list[Purchase]:
        return self._due("next_lesson_at", ensure_utc(now), limit)

    async def due_expiry(self, now: datetime, limit: int) -> list[Purchase]:
        return self._due("ends_at", ensure_utc(now), limit, renewal=None)

    async def due_renewal(self, renewal: str, before: datetime, limit: int) -> list[Purchase]:
        return self._due("ends_at", ensure_utc(before), limit, renewal=renewal)

    def _due(self, column: str, now: datetime, limit: int, **equal: Any) -> list[Purchase]:
        due = [
            p
            for p in self._d.purchases.values()
            if p.status == PurchaseStatus.ACTIVE
            and all(getattr(p, name) == value for name, value in equal.items())
            and getattr(p, column) is not None
            and getattr(p, column) <= now
        ]
        return _out(sorted(due, key=lambda p: (getattr(p, column), p.id))[:limit])

    async def due_reminders(self, now: datetime, limit: int) -> list[Purchase]:
        now = ensure_utc(now)
        due = [p for p in self._d.purchases.values() if p.remind_at and p.remind_at <= now]
        return _out(sorted(due, key=lambda p: (p.remind_at, p.id))[:limit])

    async def active_ids(self, after_id: int, limit: int) -> list[int]:
        ids = sorted(
            p.id
            for p in self._d.purchases.values()
            if p.status == PurchaseStatus.ACTIVE and p.id > after_id
        )
        return ids[:limit]


class MemoryCounters(_Repo):
    async def take(self, key: str, limit: int | None) -> bool:
        used = self._d.counters.get(key, 0)
        if limit is not None and used >= limit:
            return False
        self._d.counters[key] = used + 1
        return True

    async def release(self, key: str) -> None:
        if self._d.counters.get(key, 0) > 0:
            self._d.counters[key] -= 1

    async def force_take(self, key: str) -> None:
        self._d.counters[key] = self._d.counters.get(key, 0) + 1

    async def used(self, key: str) -> int:
        return self._d.counters.get(key, 0)


class MemoryDeliveries(_Repo):
    async def add_if_absent(
        self, user_id: int, course: str, lesson: str, purchase_id: int, at: datetime
    ) -> bool:
        self._need(self._d.users, user_id, "user")
        self._need(self._d.purchases, purchase_id, "purchase")
        ensure_utc(at)
        if (user_id, course, lesson) in self._d.deliveries:
            return False
        self._d.deliveries[(user_id, course, lesson)] = purchase_id
        return True

    async def delivered(self, user_id: int, course: str) -> set[str]:
        return {lesson for (u, c, lesson) in self._d.deliveries if (u, c) == (user_id, course)}


class MemoryOutbox(_Repo):
    async def add(self, message: OutboxMessage) -> bool:
        self._need(self._d.users, message.user_id, "user")
        if message.dedupe_key is not None and any(
            m.dedupe_key == message.dedupe_key for m in self._d.outbox.values()
        ):
            return False
        if message.due_at is None:
            message.due_at = message.created_at
        self._insert("outbox", message)
        return True

    async def claim(self, now: datetime, stale_before: datetime, limit: int) -> list[OutboxMessage]:
        now, stale_before = ensure_utc(now), ensure_utc(stale_before)

        def claimable(m: OutboxMessage) -> bool:
            if m.status == OutboxStatus.PENDING:
                return m.due_at is None or m.due_at <= now
            return (
                m.status == OutboxStatus.SENDING
                and m.claimed_at is not None
                and m.claimed_at < stale_before
            )

        claimed = sorted((m for m in self._d.outbox.values() if claimable(m)), key=lambda m: m.id)
        for message in claimed[:limit]:
            message.status = OutboxStatus.SENDING
            message.attempts += 1
            message.claimed_at = now
        return _out(claimed[:limit])

    async def get(self, message_id: int) -> OutboxMessage | None:
        return copy.deepcopy(self._d.outbox.get(message_id))

    async def mark_sent(self, message_id: int, identity_id: int | None, at: datetime) -> None:
        if identity_id is not None:
            self._need(self._d.identities, identity_id, "identity")
        self._set(message_id, status=OutboxStatus.SENT, identity_id=identity_id, sent_at=at)

    async def mark_retry(self, message_id: int, due_at: datetime, error: str) -> None:
        self._set(message_id, status=OutboxStatus.PENDING, due_at=due_at, error=error)

    async def mark_failed(self, message_id: int, error: str) -> None:
        self._set(message_id, status=OutboxStatus.FAILED, error=error)

    def _set(self, message_id: int, **values: Any) -> None:
        message = self._d.outbox.get(message_id)
        if message is None:
            raise LookupError(f"OutboxMessage {message_id} is not stored")
        for name, value in values.items():
            setattr(message, name, ensure_utc(value) if isinstance(value, datetime) else value)

    async def for_user(self, user_id: int) -> list[OutboxMessage]:
        return _out(m for m in self._d.outbox.values() if m.user_id == user_id)

    async def backlog(self, now: datetime) -> int:
        now = ensure_utc(now)
        return sum(m.status == OutboxStatus.PENDING and (m.due_at is None or m.due_at <= now)
                   for m in self._d.outbox.values())


class MemoryChatStates(_Repo):
    async def get(self, messenger: str, chat_id: str) -> ChatState | None:
        return copy.deepcopy(self._d.chat_states.get((messenger, chat_id)))

    async def put(self, state: ChatState) -> None:
        self._d.chat_states[(state.messenger, state.chat_id)] = _stored(state)


class MemoryMemberships(_Repo):
    async def get(self, chat_id: int, external_id: str) -> Membership | None:
        found = next((m for m in self._d.memberships.values()
                      if m.chat_id == chat_id and m.external_id == external_id), None)
        return copy.deepcopy(found)

    async def put(self, membership: Membership) -> Membership:
        current = await self.get(membership.chat_id, membership.external_id)
        if current is None:
            return self._insert("memberships", membership)
        membership.id = current.id
        self._replace(self._d.memberships, membership)
        return membership

    async def of_chat(self, chat_id: int) -> list[Membership]:
        return _out(m for m in self._d.memberships.values() if m.chat_id == chat_id)

    async def of_accounts(self, external_ids: list[str]) -> list[Membership]:
        return _out(m for m in self._d.memberships.values() if m.external_id in external_ids)

    async def due(self, now: datetime, limit: int) -> list[Membership]:
        due = [m for m in self._d.memberships.values() if m.check_at and m.check_at <= now]
        return _out(sorted(due, key=lambda m: (m.check_at, m.id))[:limit])


class MemoryInviteLinks(_Repo):
    async def add(self, link: InviteLink) -> InviteLink:
        self._need(self._d.purchases, link.purchase_id, "purchase")
        if any(x.url == link.url for x in self._d.invite_links.values()):
            raise IntegrityError(f"invite link {link.url} exists")
        return self._insert("invite_links", link)

    async def by_url(self, url: str) -> InviteLink | None:
        return copy.deepcopy(next((x for x in self._d.invite_links.values() if x.url == url),
                                  None))

    async def open_for(self, purchase_id: int, group: str) -> list[InviteLink]:
        return _out(x for x in self._d.invite_links.values()
                    if x.purchase_id == purchase_id and x.group == group
                    and x.used_at is None and x.revoked_at is None)

    async def update(self, link: InviteLink) -> None:
        self._replace(self._d.invite_links, link)


class MemorySubscriptionLinks(_Repo):
    async def add(self, link: SubscriptionLink) -> SubscriptionLink:
        if any(x.url == link.url for x in self._d.subscription_links.values()):
            raise IntegrityError(f"subscription link {link.url} exists")
        return self._insert("subscription_links", link)

    async def current(self, group: str, offer_code: str) -> SubscriptionLink | None:
        found = [x for x in self._d.subscription_links.values()
                 if x.group == group and x.offer_code == offer_code and x.revoked_at is None]
        return copy.deepcopy(max(found, key=lambda x: x.id, default=None))

    async def by_url(self, url: str) -> SubscriptionLink | None:
        return copy.deepcopy(next(
            (x for x in self._d.subscription_links.values() if x.url == url), None))

    async def update(self, link: SubscriptionLink) -> None:
        self._replace(self._d.subscription_links, link)


class MemoryRenewals(_Repo):
    async def add(self, renewal: Renewal) -> Renewal:
        if any(r.purchase_id == renewal.purchase_id and r.period_end == renewal.period_end
               for r in self._d.renewals.values()):
            raise IntegrityError(f"purchase {renewal.purchase_id} has that renewal already")
        self._need(self._d.purchases, renewal.purchase_id, "purchase")
        self._need(self._d.orders, renewal.order_id, "order")
        return self._insert("renewals", renewal)

    async def get(self, renewal_id: int) -> Renewal | None:
        return copy.deepcopy(self._d.renewals.get(renewal_id))

    async def for_period(self, purchase_id: int, period_end: datetime) -> Renewal | None:
        return copy.deepcopy(next(
            (r for r in self._d.renewals.values()
             if r.purchase_id == purchase_id and r.period_end == period_end), None))

    async def for_purchase(self, purchase_id: int) -> list[Renewal]:
        return _out(r for r in self._d.renewals.values() if r.purchase_id == purchase_id)

    async def for_order(self, order_id: int) -> Renewal | None:
        return copy.deepcopy(next(
            (r for r in self._d.renewals.values() if r.order_id == order_id), None))

    async def update(self, renewal: Renewal) -> None:
        self._replace(self._d.renewals, renewal)

    async def due(self, now: datetime, limit: int) -> list[Renewal]:
        now = ensure_utc(now)
        due = [r for r in self._d.renewals.values()
               if r.status is RenewalStatus.PENDING and r.due_at and r.due_at <= now]
        return _out(sorted(due, key=lambda r: (r.due_at, r.id))[:limit])


class MemoryLinkCodes(_Repo):
    async def add(self, code: LinkCode) -> LinkCode:
        if any(x.code == code.code for x in self._d.link_codes.values()):
            raise IntegrityError(f"link code {code.code} exists")
        self._need(self._d.users, code.user_id, "user")
        return self._insert("link_codes", code)

    async def by_code(self, code: str) -> LinkCode | None:
        return next(iter(_out(x for x in self._d.link_codes.values() if x.code == code)), None)

    async def use(self, code_id: int, now: datetime) -> bool:
        row = self._d.link_codes.get(code_id)
        if row is None or row.used_at is not None:
            return False
        row.used_at = ensure_utc(now)
        return True
