"""Which students a broadcast's segment holds, as SQL the same on SQLite and PostgreSQL.

Students are read a page of user ids at a time (a segment of 100,000 is never loaded at
once); the counts per messenger are one aggregate. A student's account to write to is
chosen the same way in both: the preferred messenger's, then one seen, the most recently
seen, the newest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, case, cast, exists, false, func, or_, select, true

from core.broadcasts import Recipient, SegmentKind
from core.models import OrderStatus, PurchaseStatus
from core.ports import Audience, Reach
from storage.repositories import _SqlRepo, identities, orders, purchases, tags, users

NEVER = datetime.min.replace(tzinfo=UTC)
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


def _rank(account: Any) -> tuple[bool, bool, datetime, int]:
    """``_choice_order`` in Python (the highest first), for a row ``(id, user_id, messenger,
    last_seen_at, preferred_messenger)`` of a page of students."""
    account_id, _, messenger, seen, preferred = account
    return messenger == preferred, seen is not None, seen or NEVER, account_id


class SqlSegments(_SqlRepo[None]):
    table = users

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self._conditions: dict[Audience, list[Any]] = {}  # built once, read page by page

    async def recipients(self, audience: Audience, after_user_id: int,
                         limit: int) -> list[Recipient]:
        u, i = users.c, identities.c
        page = (select(u.id, u.preferred_messenger)
                .where(u.id > after_user_id, *await self._holds(audience),
                       self._reachable(audience, after_user_id))
                .order_by(u.id).limit(limit).subquery())
        query = (select(i.id, i.user_id, i.messenger, i.last_seen_at,
                        page.c.preferred_messenger)
                 .join(page, page.c.id == i.user_id)
                 # the bound again, so that the planner reads only the page's accounts
                 .where(i.user_id > after_user_id, *self._writable(audience))
                 .order_by(i.user_id))
        chosen: dict[int, Any] = {}
        for account in await self._session.execute(query):
            best = chosen.get(account[1])
            if best is None or _rank(account) > _rank(best):
                chosen[account[1]] = account
        return [Recipient(user_id, a[0], a[2]) for user_id, a in chosen.items()]

    async def reach(self, audience: Audience, idle_before: datetime) -> dict[str, Reach]:
        u, i = users.c, identities.c
        rank = func.row_number().over(partition_by=i.user_id,
                                      order_by=_choice_order(i, u.preferred_messenger))
        ranked = (select(i.messenger, i.last_seen_at, rank.label("rank"))
                  .join(users, u.id == i.user_id)
                  .where(*self._writable(audience), *await self._holds(audience))
                  .subquery())  # joined to a writable account: reachable by that
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

    def _reachable(self, audience: Audience, after_user_id: int) -> Any:
        """The student has an account to write to (of those with ids above the bound)."""
        u, other = users.c, identities.alias("other")
        return exists().where(other.c.user_id == u.id, other.c.user_id > after_user_id,
                              *self._writable(audience, other))

    async def _holds(self, audience: Audience) -> list[Any]:
        """The conditions on ``users`` of a student the audience holds, but for having an
        account to write to (``_reachable``)."""
        if audience not in self._conditions:
            self._conditions[audience] = await self._build(audience)
        return self._conditions[audience]

    async def _build(self, audience: Audience) -> list[Any]:
        u = users.c
        found = [u.merged_into.is_(None)]
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
