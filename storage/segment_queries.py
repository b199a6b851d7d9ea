"""Which students a broadcast's segment holds, as SQL the same on SQLite and PostgreSQL.

Students are read a page of user ids at a time (a segment of 100,000 is never loaded at
once); the counts per messenger are one aggregate. A student's account to write to is
chosen the same way in both: the preferred messenger's, then one seen, the most recently
seen, the newest."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, case, cast, exists, false, func, or_, select, true

from core.broadcasts import Recipient, SegmentKind
from core.models import Identity, OrderStatus, PurchaseStatus
from core.ports import Audience, Reach
from storage.repositories import _SqlRepo, identities, orders, purchases, tags, users

# Money arrived for the order (refunded later still counts as bought).
PAID = (OrderStatus.PAID, OrderStatus.PARTIALLY_PAID, OrderStatus.REFUNDED)


def _access_now(c: Any, now: datetime) -> Any:
    return and_(c.status == PurchaseStatus.ACTIVE, or_(c.ends_at.is_(None), c.ends_at > now))


def _holds_product(c: Any, code: str) -> Any:
    """The purchase's products (a JSON list) name ``code``."""
    quoted = json.dumps(code).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return cast(c.products, String).like(f"%{quoted}%", escape="\\")


def _choice_order(i: Any, preferred: Any) -> tuple[Any, ...]:
    """The account a student is written to first: preferred messenger, seen, latest, newest."""
    return (case((i.messenger == preferred, 0), else_=1),
            case((i.last_seen_at.is_(None), 1), else_=0), i.last_seen_at.desc(), i.id.desc())


def _choose(accounts: Sequence[Identity], preferred: str | None) -> Identity:
    """``_choice_order`` in Python, for a page of students."""
    return min(accounts, key=lambda a: (a.messenger != preferred, a.last_seen_at is None,
                                        -(a.last_seen_at.timestamp() if a.last_seen_at else 0),
                                        -a.id))


class SqlSegments(_SqlRepo[None]):
    table = users

    async def recipients(self, audience: Audience, after_user_id: int,
                         limit: int) -> list[Recipient]:
        u, i = users.c, identities.c
        page = (select(u.id, u.preferred_messenger)
                .where(u.id > after_user_id, *await self._holds(audience))
                .order_by(u.id).limit(limit).subquery())
        query = (select(identities, page.c.preferred_messenger)
                 .join(page, page.c.id == i.user_id)
                 .where(*self._writable(audience)).order_by(i.user_id))
        by_user: dict[int, tuple[str | None, list[Identity]]] = {}
        for row in await self._session.execute(query):
            values = dict(row._mapping)
            preferred = values.pop("preferred_messenger")
            by_user.setdefault(values["user_id"], (preferred, []))[1].append(Identity(**values))
        chosen = (_choose(accounts, preferred) for preferred, accounts in by_user.values())
        return [Recipient(a.user_id, a.id, a.messenger) for a in chosen]

    async def reach(self, audience: Audience, idle_before: datetime) -> dict[str, Reach]:
        u, i = users.c, identities.c
        rank = func.row_number().over(partition_by=i.user_id,
                                      order_by=_choice_order(i, u.preferred_messenger))
        ranked = (select(i.messenger, i.last_seen_at, rank.label("rank"))
                  .join(users, u.id == i.user_id)
                  .where(*self._writable(audience), *await self._holds(audience))
                  .subquery())
        r = ranked.c
        idle = or_(r.last_seen_at.is_(None), r.last_seen_at < idle_before)
        query = (select(r.messenger, func.count(), func.count(case((idle, 1))))
                 .where(r.rank == 1).group_by(r.messenger))
        return {messenger: Reach(int(count), int(idle_count))
                for messenger, count, idle_count in await self._session.execute(query)}

    async def tags(self, limit: int) -> list[tuple[str, int]]:
        c, u = tags.c, users.c
        carriers = func.count()
        query = (select(c.tag, carriers).join(users, u.id == c.user_id)
                 .where(u.merged_into.is_(None)).group_by(c.tag)
                 .order_by(carriers.desc(), c.tag).limit(limit))
        return [(tag, int(count)) for tag, count in await self._session.execute(query)]

    # --- the conditions ------------------------------------------------------------------------

    def _writable(self, audience: Audience, accounts: Any = identities) -> list[Any]:
        """The accounts a student of the audience may be written to."""
        i = accounts.c
        found = [i.reachable.is_(True)]
        if audience.segment.kind is SegmentKind.MESSENGER:
            found.append(i.messenger == audience.segment.value)
        return found

    async def _holds(self, audience: Audience) -> list[Any]:
        """The conditions on ``users`` of a student the audience holds."""
        u, other = users.c, identities.alias("other")
        found = [u.merged_into.is_(None),
                 exists().where(other.c.user_id == u.id, *self._writable(audience, other))]
        if audience.marketing:
            found.append(u.marketing.is_(True))
        found.append(await self._segment(audience))
        return found

    async def _segment(self, audience: Audience) -> Any:
        u, p, o = users.c, purchases.c, orders.c
        kind, value, now = audience.segment.kind, audience.segment.value, audience.now
        mine = p.user_id == u.id
        if kind is SegmentKind.HOLDERS:
            what, _, code = value.partition(":")
            held = _holds_product(p, code) if what == "product" else p.offer_code == code
            return exists().where(mine, _access_now(p, now), held)
        if kind is SegmentKind.ENDED:
            return await self._ended(now - timedelta(days=int(value)), now)
        paid = exists().where(o.user_id == u.id, o.status.in_(PAID))
        if kind is SegmentKind.NEVER_BOUGHT:
            return and_(~paid, ~exists().where(mine))
        if kind is SegmentKind.UNPAID:
            placed = exists().where(o.user_id == u.id, o.granted_by.is_(None))
            return and_(placed, ~paid)
        if kind is SegmentKind.LANGUAGE:
            return u.language.in_(audience.languages or (value,))
        if kind is SegmentKind.TAG:
            return exists().where(tags.c.user_id == u.id, tags.c.tag == value)
        return true()  # EVERYONE; MESSENGER chooses among accounts (``_writable``)

    async def _ended(self, since: datetime, now: datetime) -> Any:
        """Access to a product ended after ``since`` and none to that product now."""
        u, p = users.c, purchases.c
        end = func.coalesce(p.ended_at, p.ends_at)
        ended = and_(p.user_id == u.id, end > since, end <= now, ~_access_now(p, now))
        lists = await self._session.scalars(
            select(cast(p.products, String)).distinct()
            .where(end > since, end <= now, ~_access_now(p, now)))
        products = sorted({code for text in lists for code in json.loads(text)})
        if not products:
            return false()
        later = purchases.alias("later")
        held = [and_(exists().where(ended, _holds_product(p, code)),
                     ~exists().where(later.c.user_id == u.id, _access_now(later.c, now),
                                     _holds_product(later.c, code)))
                for code in products]
        return or_(*held)
