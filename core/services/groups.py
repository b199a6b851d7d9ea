"""Paid groups and channels: who may be in them. Membership follows access exactly: in while
a purchase that grants the group is active, out when it ends, nobody else in. School admins,
the chat's own administrators and the group's allow-list are never removed.

The core only decides and records; the Telegram calls (approve, decline, remove, links) are
made by ``flows.groups`` outside any transaction, and a removal is recorded only once
Telegram confirmed it, so a failed call is tried again and never counts as "no access"."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import notices
from core.automations import events
from core.models import InviteLink, Membership, MemberStatus, Purchase, PurchaseStatus
from core.ports import UnitOfWork
from core.school import Group, ProductKind, School
from core.services.outbox import enqueue

MESSENGER = "telegram"  # where the paid groups are: their members are accounts there
INSIDE = frozenset({"member", "restricted", "administrator", "creator"})
OUTSIDE = frozenset({"left", "kicked", ""})
SEEN = "seen"  # not a status the chat reports: someone wrote in the group
STAFF_STATUSES = frozenset({"creator", "administrator"})
# A member who wrote in the group while the bot could not let in nor remove anyone: likely
# one who got in meanwhile, looked at as soon as the rights are back (``rights_back``).
SEEN_WITHOUT_RIGHTS = "seen_without_rights"
LINK_LIFETIME = timedelta(days=7)
MAX_RETRY = timedelta(hours=1)


def lacks_rights(bot_status: str, missing: tuple[str, ...]) -> bool:
    """The bot lets in and removes members only as an administrator with every right it
    needs; else it records who it sees, and acts once the rights are back."""
    return bot_status != "administrator" or bool(missing)


class Change(enum.StrEnum):
    """What a member's new status in a paid group means."""

    JOINED = "joined"
    LEFT = "left"
    RENEWED = "renewed"  # still in, their Stars subscription's end moved
    SEEN = "seen"  # wrote in the group: in, whether or not the platform knew
    NONE = "none"


def change(old_status: str, status: str, until: datetime | None) -> Change:
    """Classify a member's status update in a paid group (``until``: the end of their Stars
    subscription, when they pay one)."""
    if status == SEEN:
        return Change.SEEN
    if status in INSIDE and old_status in OUTSIDE:
        return Change.JOINED
    if status == "member" and until is not None:
        return Change.RENEWED
    if status in OUTSIDE:
        return Change.LEFT
    return Change.NONE


def must_go(status: str) -> bool:
    """A member found without access, as the chat sees them now: still in, and not one of
    the chat's own administrators (gone already, or staff: see ``spared``)."""
    return status not in OUTSIDE and status not in STAFF_STATUSES


async def spared(
    uow: UnitOfWork, group: Group, member: Membership, status: str, now: datetime
) -> None:
    """A member without access who need not be removed after all: gone already, or an
    administrator of the chat (who may stay)."""
    if status in OUTSIDE:
        await left(uow, group, member.external_id, now)
        return
    current = await uow.memberships.get(member.chat_id, member.external_id)
    if current is not None:
        await may_stay(uow, current, now)


def groups_of(school: School, products: tuple[str, ...]) -> set[str]:
    """The group codes ``products`` give."""
    found = set()
    for code in products:
        product = school.products.get(code)
        if product is not None and product.kind is ProductKind.GROUP and product.group:
            found.add(product.group)
    return found


def running(purchase: Purchase, now: datetime) -> bool:
    """Access lasts while the purchase is active and its time is not up, or someone (a
    gateway's retries, Telegram) is still renewing it: the renewal decides when it ends."""
    return purchase.status is PurchaseStatus.ACTIVE and (
        purchase.ends_at is None or purchase.ends_at > now or purchase.renewal is not None
    )


def granting(
    school: School, purchases: list[Purchase], group: str, now: datetime
) -> list[Purchase]:
    """The running purchases among ``purchases`` that give ``group``."""
    return [p for p in purchases if running(p, now) and group in groups_of(school, p.products)]


def group_by_chat(school: School, chat_id: int) -> Group | None:
    return next((g for g in school.groups.values() if g.chat_id == chat_id), None)


def offers_for(school: School, group: str) -> list[str]:
    """Public offers on sale that would let a student into ``group``, in catalog order."""
    return [
        offer.code for offer in school.offers.values()
        if offer.public and not offer.extends and group in groups_of(school, offer.products)
    ]


def exempt(school: School, group: Group, external_id: str, status: str = "") -> bool:
    """Staff and guests: never removed, whatever they bought."""
    return (
        status in STAFF_STATUSES
        or school.is_admin(MESSENGER, external_id)
        or external_id in group.allow
    )


async def has_access(
    uow: UnitOfWork, school: School, group: str, external_id: str, now: datetime
) -> bool:
    identity = await uow.users.identity(MESSENGER, external_id)
    if identity is None:
        return False
    return bool(granting(school, await uow.purchases.for_user(identity.user_id), group, now))


@dataclass(frozen=True)
class JoinOutcome:
    remove: bool  # joined without access: out at once, and the admins are told
    revoke: str | None = None  # the personal link they came through: used up now


async def joined(
    uow: UnitOfWork, school: School, group: Group, external_id: str, name: str, status: str,
    link_url: str | None, via_request: bool, now: datetime,
) -> JoinOutcome:
    """Someone is now in ``group`` (a ``chat_member`` update)."""
    link = await uow.invite_links.by_url(link_url) if link_url else None
    revoke = None
    if link is not None and link.used_at is None:
        link.used_at = now
        await uow.invite_links.update(link)
        revoke = link.url
    allowed = exempt(school, group, external_id, status) or await has_access(
        uow, school, group.code, external_id, now)
    source = "join_request" if via_request else "invite_link" if link_url else "unknown"
    member = await uow.memberships.get(group.chat_id, external_id) or Membership(
        group=group.code, chat_id=group.chat_id, external_id=external_id)
    member.name = name or member.name
    member.status = MemberStatus.MEMBER
    member.enforced = True
    member.source = source
    member.joined_at = now
    member.check_at = None if allowed else now
    member.attempts = 0
    member.updated_at = now
    await uow.memberships.put(member)
    if allowed:
        await events.group_changed(uow, external_id, MESSENGER, group.code, True, now)
    return JoinOutcome(remove=not allowed, revoke=revoke)


async def left(uow: UnitOfWork, group: Group, external_id: str, now: datetime) -> None:
    member = await uow.memberships.get(group.chat_id, external_id)
    if member is not None and member.status is MemberStatus.MEMBER:
        member.status = MemberStatus.LEFT
        member.check_at = None
        member.updated_at = now
        await uow.memberships.put(member)
        await events.group_changed(uow, external_id, MESSENGER, group.code, False, now)


async def may_join(
    uow: UnitOfWork, school: School, group: Group, external_id: str, now: datetime
) -> bool:
    """A join request: approved for students with access (and staff), declined otherwise."""
    return exempt(school, group, external_id) or await has_access(
        uow, school, group.code, external_id, now)


async def inside(uow: UnitOfWork, user_id: int, group: str) -> bool:
    """Is one of the student's Telegram accounts a member of ``group`` now?"""
    accounts = [i.external_id for i in await uow.users.identities(user_id)
                if i.messenger == MESSENGER]
    return any(m.group == group and m.status is MemberStatus.MEMBER
               for m in await uow.memberships.of_accounts(accounts))


async def access_ended(uow: UnitOfWork, user_id: int, now: datetime) -> None:
    """Look at once at every group the student is in (called when a purchase ends)."""
    accounts = [i.external_id for i in await uow.users.identities(user_id)
                if i.messenger == MESSENGER]
    for member in await uow.memberships.of_accounts(accounts):
        if member.status is MemberStatus.MEMBER and member.enforced:
            member.check_at = now
            member.updated_at = now
            await uow.memberships.put(member)


async def due_removals(
    uow: UnitOfWork, school: School, now: datetime, limit: int = 100
) -> list[Membership]:
    """Members due a look who must go. Those who may stay are cleared on the way."""
    out = []
    for member in await uow.memberships.due(now, limit):
        group = school.groups.get(member.group)
        if group is None or group.chat_id != member.chat_id:  # no longer a paid group
            member.check_at = None
        elif member.status is not MemberStatus.MEMBER or not member.enforced or exempt(
                school, group, member.external_id) or await has_access(
                uow, school, group.code, member.external_id, now):
            member.check_at = None
        else:
            out.append(member)
            continue
        member.updated_at = now
        await uow.memberships.put(member)
    return out


async def removed(
    uow: UnitOfWork, member: Membership, now: datetime, notify: bool = False
) -> None:
    """Telegram confirmed the removal. With ``notify``, the student is told (when the account
    is one of the platform's students), with the offers that would let them back in."""
    was_member = member.status is MemberStatus.MEMBER
    member.status = MemberStatus.REMOVED
    member.check_at = None
    member.attempts = 0
    member.updated_at = now
    await uow.memberships.put(member)
    if was_member:
        await events.group_changed(uow, member.external_id, MESSENGER, member.group, False,
                                   now)
    identity = await uow.users.identity(MESSENGER, member.external_id) if notify else None
    if identity is not None:
        await enqueue(uow, now, identity.user_id, notices.GroupRemoved(group=member.group),
                      dedupe_key=f"group_removed:{member.id}:{now.isoformat()}")


async def removal_failed(uow: UnitOfWork, member: Membership, now: datetime) -> None:
    """Telegram could not be reached or refused: the member stays and is looked at again."""
    member.attempts += 1
    member.check_at = now + min(timedelta(minutes=2 ** member.attempts), MAX_RETRY)
    member.updated_at = now
    await uow.memberships.put(member)


async def import_members(
    uow: UnitOfWork, group: Group, external_ids: list[str], now: datetime,
    source: str = "imported",
) -> int:
    """Record members who were there before the bot, not enforced yet. Returns how many
    were new to the platform."""
    added = 0
    for external_id in dict.fromkeys(external_ids):
        if await uow.memberships.get(group.chat_id, external_id) is not None:
            continue
        await uow.memberships.put(Membership(
            group=group.code, chat_id=group.chat_id, external_id=external_id,
            status=MemberStatus.MEMBER, enforced=False, source=source, joined_at=now,
            updated_at=now))
        added += 1
    return added


async def seen_without_rights(
    uow: UnitOfWork, group: Group, external_id: str, name: str, now: datetime
) -> bool:
    """Someone wrote in ``group`` while the bot lacked its rights there. Recorded as in (also
    one who had left or was removed before: they came back meanwhile), not enforced until
    the rights are back. False if they were known to be in already."""
    member = await uow.memberships.get(group.chat_id, external_id)
    if member is not None and member.status is MemberStatus.MEMBER:
        return False
    member = member or Membership(group=group.code, chat_id=group.chat_id,
                                  external_id=external_id)
    member.name = name or member.name
    member.status = MemberStatus.MEMBER
    member.enforced = False
    member.source = SEEN_WITHOUT_RIGHTS
    member.joined_at = now
    member.check_at = None
    member.attempts = 0
    member.updated_at = now
    await uow.memberships.put(member)
    return True


async def rights_back(
    uow: UnitOfWork, school: School, group: Group, now: datetime
) -> tuple[list[Membership], list[Membership]]:
    """The bot can let in and remove again in ``group``: the members it saw while it could
    not are enforced from now on (as ``enforce`` does for imported ones). Returns them, and
    those of them to remove: without access, and neither school admins nor on the group's
    allow-list (the caller still spares the chat's own administrators). Should the caller
    not get to remove them, the sweep does, after ``MAX_RETRY``. Removals that failed
    meanwhile are due again at once."""
    members = await uow.memberships.of_chat(group.chat_id)
    for member in members:
        if member.status is MemberStatus.MEMBER and member.enforced and member.attempts:
            member.check_at = now
            member.updated_at = now
            await uow.memberships.put(member)
    seen = [m for m in members if m.status is MemberStatus.MEMBER and not m.enforced
            and m.source == SEEN_WITHOUT_RIGHTS]
    strangers = []
    for member in seen:
        member.enforced = True
        if not exempt(school, group, member.external_id) and not await has_access(
                uow, school, group.code, member.external_id, now):
            member.check_at = now + MAX_RETRY
            strangers.append(member)
        member.updated_at = now
        await uow.memberships.put(member)
    return seen, strangers


async def may_stay(uow: UnitOfWork, member: Membership, now: datetime) -> None:
    """The caller found ``member`` may stay after all (an administrator of the chat)."""
    member.check_at = None
    member.updated_at = now
    await uow.memberships.put(member)


async def without_access(
    uow: UnitOfWork, school: School, group: Group, now: datetime
) -> list[Membership]:
    """The dry run: members who would be removed once enforcement is on."""
    return [
        m for m in await uow.memberships.of_chat(group.chat_id)
        if m.status is MemberStatus.MEMBER and not exempt(school, group, m.external_id)
        and not await has_access(uow, school, group.code, m.external_id, now)
    ]


async def enforce(uow: UnitOfWork, group: Group, now: datetime) -> int:
    """Switch enforcement on for the members who were there before: each is looked at now."""
    count = 0
    for member in await uow.memberships.of_chat(group.chat_id):
        if member.status is MemberStatus.MEMBER and not member.enforced:
            member.enforced = True
            member.check_at = now
            member.updated_at = now
            await uow.memberships.put(member)
            count += 1
    return count


async def link_for(
    uow: UnitOfWork, school: School, user_id: int, group: str, now: datetime
) -> Purchase | None:
    """The running purchase that entitles ``user_id`` to a personal link into ``group``."""
    found = granting(school, await uow.purchases.for_user(user_id), group, now)
    return max(found, key=lambda p: (p.ends_at is None, p.ends_at or now), default=None)


def link_expiry(purchase: Purchase, now: datetime) -> datetime:
    """A personal link lasts a week, and never beyond the access it is for."""
    end = now + LINK_LIFETIME
    return min(end, purchase.ends_at) if purchase.ends_at else end


async def record_link(
    uow: UnitOfWork, purchase: Purchase, group: str, url: str, expires_at: datetime,
    now: datetime,
) -> list[InviteLink]:
    """Keep a new personal link; returns the older open ones of the same purchase and group,
    now marked revoked (the caller revokes them in Telegram)."""
    older = await uow.invite_links.open_for(purchase.id, group)
    for link in older:
        link.revoked_at = now
        await uow.invite_links.update(link)
    await uow.invite_links.add(InviteLink(
        purchase_id=purchase.id, user_id=purchase.user_id, group=group, url=url,
        created_at=now, expires_at=expires_at))
    return older
