"""The queries behind the staff's figures and exports, and the staff's digest subscriptions.

Figures are aggregates computed by the database (one query each, the same SQL on SQLite and
PostgreSQL); exports read pages by ascending id, so a large school is read a page at a time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, case, cast, exists, func, literal, or_, select

from core.models import (
    Identity,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Purchase,
    PurchaseStatus,
    User,
)
from core.stats import StaffDigest, Takings
from storage.repositories import (
    _SqlRepo,
    _values,
    identities,
    orders,
    payments,
    purchases,
    renewals,
    users,
)
from storage.tables import StaffDigestRow

staff_digests = StaffDigestRow.__table__

RECEIVED = (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)
PAID = (OrderStatus.PAID, OrderStatus.REFUNDED)


def _within(column: Any, start: datetime | None, end: datetime) -> Any:
    return and_(column >= start, column < end) if start is not None else column < end


def _period(column: Any, edges: Sequence[datetime], first: int = 0,
            last: int | None = None, closed: bool = False) -> Any:
    """The index ``i`` of the period ``[edges[i], edges[i + 1])`` that ``column`` falls in
    (``(edges[i], edges[i + 1]]`` when ``closed``), for values between the first and last
    edge: a binary search written as nested CASEs, a few comparisons a row whatever the
    number of periods."""
    last = len(edges) - 1 if last is None else last
    if last - first == 1:
        return literal(first)
    middle = (first + last) // 2
    lower = column <= edges[middle] if closed else column < edges[middle]
    return case((lower, _period(column, edges, first, middle, closed)),
                else_=_period(column, edges, middle, last, closed))


def _given_back() -> Any:
    """What a payment gave back: all of it when refunded (rows refunded before partial refunds
    were recorded have no ``refunded_amount``), else its parts (partial refunds)."""
    c = payments.c
    return case((c.status == PaymentStatus.REFUNDED, c.amount), else_=c.refunded_amount)


def _access_end() -> Any:
    """When a purchase's access ended or ends: when it was ended, else its end (None: never)."""
    c = purchases.c
    return func.coalesce(c.ended_at, c.ends_at)


class SqlStats(_SqlRepo[None]):
    table = payments

    async def takings(self, start: datetime | None, end: datetime) -> dict[str, Takings]:
        c = payments.c
        taken = await self._session.execute(
            select(c.currency, func.sum(c.amount))
            .where(c.status.in_(RECEIVED), _within(c.created_at, start, end))
            .group_by(c.currency))
        refunded = await self._session.execute(
            select(c.currency, func.sum(_given_back()))
            .where(c.status.in_(RECEIVED), _within(c.refunded_at, start, end))
            .group_by(c.currency))
        found: dict[str, Takings] = {}
        for currency, amount in taken:
            found[currency] = Takings(taken=int(amount))
        for currency, amount in refunded:
            found[currency] = Takings(found.get(currency, Takings()).taken, int(amount))
        return found

    async def orders(self, start: datetime | None, end: datetime) -> tuple[int, int]:
        c = orders.c
        renewal_order = exists().where(renewals.c.order_id == c.id)
        query = (
            select(func.count(), func.count(case((c.status.in_(PAID), c.id))))
            .where(_within(c.created_at, start, end), ~renewal_order,
                   c.granted_by.is_(None)))  # access staff gave is no sale
        placed, paid = (await self._session.execute(query)).one()
        return int(placed), int(paid)

    async def new_users(self, start: datetime | None, end: datetime) -> int:
        c = users.c
        query = select(func.count()).where(_within(c.created_at, start, end),
                                           c.merged_into.is_(None))
        return int((await self._session.execute(query)).scalar_one())

    async def renewals(self, start: datetime | None, end: datetime) -> int:
        c = orders.c
        made_own = exists().where(purchases.c.order_id == c.id)
        query = select(func.count()).where(
            c.status.in_(PAID), _within(c.paid_at, start, end), c.granted_by.is_(None),
            or_(~made_own, cast(c.extends, String) != "[]"))
        return int((await self._session.execute(query)).scalar_one())

    async def churned(self, start: datetime | None, end: datetime) -> int:
        c = purchases.c
        query = select(func.count()).where(c.status == PurchaseStatus.EXPIRED,
                                           _within(c.ended_at, start, end))
        return int((await self._session.execute(query)).scalar_one())

    async def active_products(self, now: datetime) -> dict[tuple[str, ...], int]:
        c = purchases.c
        products = cast(c.products, String)
        query = (
            select(products, func.count())
            .where(c.status == PurchaseStatus.ACTIVE, or_(c.ends_at.is_(None), c.ends_at > now))
            .group_by(products))
        return {tuple(json.loads(text)): int(count)
                for text, count in await self._session.execute(query)}

    async def renewable(self, now: datetime) -> tuple[int, int]:
        c = purchases.c
        query = select(func.count(), func.count(c.renewal)).where(
            c.status == PurchaseStatus.ACTIVE, c.ends_at > now)
        total, renewing = (await self._session.execute(query)).one()
        return int(total), int(renewing)

    async def first_user_at(self) -> datetime | None:
        return (await self._session.execute(select(func.min(users.c.created_at)))).scalar_one()

    async def revenue_series(self, edges: Sequence[datetime]) -> dict[str, list[int]]:
        c = payments.c
        periods = len(edges) - 1
        found: dict[str, list[int]] = {}
        for when, amount, sign in ((c.created_at, c.amount, 1),
                                   (c.refunded_at, _given_back(), -1)):
            rows = (
                select(_period(when, edges).label("period"), c.currency, amount.label("amount"))
                .where(c.status.in_(RECEIVED), when >= edges[0], when < edges[-1])
                .subquery())
            query = (select(rows.c.period, rows.c.currency, func.sum(rows.c.amount))
                     .group_by(rows.c.period, rows.c.currency))
            for period, currency, amount in await self._session.execute(query):
                found.setdefault(currency, [0] * periods)[period] += sign * int(amount)
        return found

    async def active_series(self, edges: Sequence[datetime]) -> list[int]:
        """Each purchase covers the periods from the one it starts in to the one its access
        ends in; a student's purchases are merged into islands of periods that do not
        overlap (gaps and islands, with window functions), so that counting, per period, the
        islands that cover it counts each student once. Returns one count per period."""
        c = purchases.c
        periods = len(edges) - 1
        ends = _access_end()
        first = case((c.starts_at < edges[0], literal(0)), else_=_period(c.starts_at, edges))
        last = case((or_(ends.is_(None), ends >= edges[-1]), literal(periods - 1)),
                    else_=_period(ends, edges, closed=True))
        spans = (select(c.user_id, first.label("first"), last.label("last"))
                 .where(c.starts_at < edges[-1], or_(ends.is_(None), ends > edges[0]))
                 .subquery())
        order = (spans.c.first, spans.c.last)
        reach = func.max(spans.c.last).over(partition_by=spans.c.user_id, order_by=order,
                                            rows=(None, -1))
        reached = select(spans, reach.label("reach")).subquery()
        starts_island = case((or_(reached.c.reach.is_(None),
                                  reached.c.first > reached.c.reach), 1), else_=0)
        island = func.sum(starts_island).over(
            partition_by=reached.c.user_id, order_by=(reached.c.first, reached.c.last),
            rows=(None, 0))
        numbered = select(reached.c.user_id, reached.c.first, reached.c.last,
                          island.label("island")).subquery()
        islands = (select(func.min(numbered.c.first).label("first"),
                          func.max(numbered.c.last).label("last"))
                   .group_by(numbered.c.user_id, numbered.c.island).subquery())
        query = (select(islands.c.first, islands.c.last, func.count())
                 .group_by(islands.c.first, islands.c.last))
        change = [0] * (periods + 1)
        for begins, ends_in, count in await self._session.execute(query):
            change[int(begins)] += int(count)
            change[int(ends_in) + 1] -= int(count)
        active, running = [], 0
        for delta in change[:periods]:
            running += delta
            active.append(running)
        return active


class SqlExports(_SqlRepo[None]):
    table = users

    async def users(self, after_id: int, limit: int) -> list[User]:
        c = users.c
        query = (select(users).where(c.id > after_id, c.merged_into.is_(None))
                 .order_by(c.id).limit(limit))
        return await self._all(query, User)

    async def identities_of(self, user_ids: Sequence[int]) -> list[Identity]:
        if not user_ids:
            return []
        c = identities.c
        query = select(identities).where(c.user_id.in_(list(user_ids))).order_by(c.id)
        return await self._all(query, Identity)

    async def purchases(self, after_id: int, limit: int) -> list[Purchase]:
        c = purchases.c
        return await self._all(
            select(purchases).where(c.id > after_id).order_by(c.id).limit(limit), Purchase)

    async def orders(self, after_id: int, limit: int) -> list[Order]:
        c = orders.c
        return await self._all(
            select(orders).where(c.id > after_id).order_by(c.id).limit(limit), Order)

    async def payments(self, after_id: int, limit: int) -> list[tuple[Payment, int]]:
        c = payments.c
        query = (select(payments, orders.c.user_id.label("order_user_id"))
                 .join(orders, orders.c.id == c.order_id)
                 .where(c.id > after_id).order_by(c.id).limit(limit))
        found = []
        for row in await self._session.execute(query):
            values = dict(row._mapping)
            user_id = values.pop("order_user_id")
            found.append((Payment(**values), int(user_id)))
        return found


class SqlDigests(_SqlRepo[StaffDigest]):
    table, entity = staff_digests, StaffDigest

    async def get(self, messenger: str, external_id: str) -> StaffDigest | None:
        c = staff_digests.c
        return await self._one(self._select(c.messenger == messenger,
                                            c.external_id == external_id))

    async def put(self, digest: StaffDigest) -> StaffDigest:
        values = _values(digest, staff_digests)
        insert = self._insert().values(values)
        query = insert.on_conflict_do_update(
            index_elements=["messenger", "external_id"],
            set_={name: insert.excluded[name] for name in ("hour", "due_at", "updated_at")},
        ).returning(staff_digests.c.id)
        digest.id = (await self._session.execute(query)).scalar_one()
        return digest

    async def due(self, now: datetime, limit: int) -> list[StaffDigest]:
        c = staff_digests.c
        query = self._select(c.due_at <= now).order_by(c.due_at, c.id).limit(limit)
        return await self._all(self._claim(query))

