"""One student across messengers. A student asks for a one-time code in one messenger and
types it (or follows its deep link) in another: the account typing it joins the student who
asked, with everything it had (orders, purchases, lessons, messages, renewals).

A code works once (compare-and-set on ``used_at``) and for CODE_LIFE. Two students who both
have purchases are merged only once the one typing the code confirms. A student has one
account per messenger: linking a second Telegram account is refused."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime, timedelta

from core import errors
from core.models import Identity, LinkCode, User
from core.ports import UnitOfWork

CODE_LIFE = timedelta(minutes=15)
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed on a phone
LENGTH = 8
DEEP_LINK_PREFIX = "link-"


class Linked(enum.StrEnum):
    LINKED = "linked"
    ALREADY = "already"  # both accounts were the same student already
    CONFIRM = "confirm"  # both students have purchases: the one typing must confirm


def normalize(text: str) -> str:
    """What a student typed, as a code: case, spaces and dashes do not matter."""
    return "".join(ch for ch in text.upper() if ch not in " -\t")[:32]


async def issue(uow: UnitOfWork, user_id: int, now: datetime) -> LinkCode:
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if await uow.link_codes.by_code(code) is None:
            return await uow.link_codes.add(LinkCode(
                code=code, user_id=user_id, created_at=now, expires_at=now + CODE_LIFE))


async def _student(uow: UnitOfWork, user_id: int) -> User:
    """The student ``user_id`` is now (it may have been merged into another since)."""
    user = await uow.users.get(user_id)
    seen = set()
    while user is not None and user.merged_into is not None and user.id not in seen:
        seen.add(user.id)
        user = await uow.users.get(user.merged_into)
    if user is None:
        raise errors.LinkCodeInvalid()
    return user


async def redeem(
    uow: UnitOfWork, typed: str, user_id: int, now: datetime, confirmed: bool = False
) -> Linked:
    """Join student ``user_id`` (whose account typed the code) to the student who asked for
    it. Raises LinkCodeInvalid or LinkSameMessenger, changing nothing."""
    code = await uow.link_codes.by_code(normalize(typed))
    if code is None or code.used_at is not None or (
            code.expires_at is not None and code.expires_at <= now):
        raise errors.LinkCodeInvalid()
    into = await _student(uow, code.user_id)
    if into.id == user_id:
        await uow.link_codes.use(code.id, now)
        return Linked.ALREADY
    mine, theirs = await uow.users.identities(user_id), await uow.users.identities(into.id)
    if common := _messengers(mine) & _messengers(theirs):
        raise errors.LinkSameMessenger(messenger=", ".join(sorted(common)).capitalize())
    if not confirmed and await uow.purchases.for_user(user_id) \
            and await uow.purchases.for_user(into.id):
        return Linked.CONFIRM
    if not await uow.link_codes.use(code.id, now):
        raise errors.LinkCodeInvalid()
    source = await uow.users.get(user_id)
    await uow.users.merge(user_id, into.id)
    if source is not None:
        await _fill_in(uow, into, source)
    return Linked.LINKED


def _messengers(identities: list[Identity]) -> set[str]:
    return {identity.messenger for identity in identities}


async def _fill_in(uow: UnitOfWork, into: User, source: User) -> None:
    """What the surviving student did not know yet, taken from the merged one."""
    current = await uow.users.get(into.id)
    assert current is not None
    changed = False
    for name in ("name", "language", "timezone", "utm_source", "utm_medium", "utm_campaign",
                 "start_offer", "referred_by", "receipt_contact"):
        if not getattr(current, name) and getattr(source, name):
            setattr(current, name, getattr(source, name))
            changed = True
    if changed:
        await uow.users.update(current)


async def prefer(uow: UnitOfWork, user_id: int, messenger: str | None) -> None:
    """Send the messages the platform starts to ``messenger`` (None: where the student was
    last). Only a messenger the student has an account in."""
    if messenger is not None and messenger not in _messengers(
            await uow.users.identities(user_id)):
        raise errors.NotFound(messenger=messenger)
    user = await uow.users.get(user_id)
    assert user is not None
    user.preferred_messenger = messenger
    await uow.users.update(user)
