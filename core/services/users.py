"""Students and their messenger identities; deep-link payloads recorded at /start."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.models import Identity, User
from core.ports import UnitOfWork

# "Last seen" is kept to the minute, and written behind (``UserRepository.seen``): a student
# pressing buttons is not a write per press.
SEEN_PRECISION = timedelta(minutes=1)
_REFERRAL_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_SEGMENT = re.compile(r"^(o|src|med|cmp|ref)-(.+)$")
_VALUE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_PAYLOAD = 64  # Telegram's limit for a /start payload


@dataclass(frozen=True)
class DeepLink:
    """What a ``/start`` payload carries.

    Format: segments joined by ``__``; each is ``o-<offer>``, ``src-<utm_source>``,
    ``med-<utm_medium>``, ``cmp-<utm_campaign>`` or ``ref-<referral code>``. A segment
    with no known prefix is an offer code, so ``t.me/bot?start=python-lifetime`` works.
    Telegram allows ``A-Z a-z 0-9 _ -`` and 64 characters in a payload.
    """

    offer: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    referrer: str | None = None

    @classmethod
    def parse(cls, payload: str | None) -> DeepLink:
        if not payload:
            return cls()
        values: dict[str, str] = {}
        for segment in payload.strip()[:256].split("__"):
            if not segment:
                continue
            match = _SEGMENT.match(segment)
            key, value = (match.group(1), match.group(2)) if match else ("o", segment)
            if _VALUE.match(value):
                values.setdefault(key, value)
        return cls(
            offer=values.get("o"),
            utm_source=values.get("src"),
            utm_medium=values.get("med"),
            utm_campaign=values.get("cmp"),
            referrer=values.get("ref"),
        )

    def payload(self) -> str:
        """The payload for a link; ValueError if a value cannot travel in one."""
        parts = []
        for key, value in (
            ("o", self.offer),
            ("src", self.utm_source),
            ("med", self.utm_medium),
            ("cmp", self.utm_campaign),
            ("ref", self.referrer),
        ):
            if value:
                if not _VALUE.match(value) or "__" in value:
                    raise ValueError(f"{value!r}: use letters, digits, '-' and single '_'")
                parts.append(f"{key}-{value}")
        payload = "__".join(parts)
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"the payload is {len(payload)} characters; the limit is 64")
        return payload


async def _new_referral_code(uow: UnitOfWork) -> str:
    while True:
        code = "".join(secrets.choice(_REFERRAL_ALPHABET) for _ in range(8))
        if await uow.users.by_referral_code(code) is None:
            return code


async def add_student(uow: UnitOfWork, now: datetime, name: str = "",
                      language: str = "") -> User:
    """A student with no messenger account yet (brought in by an import)."""
    return await uow.users.add(User(created_at=now, name=name, language=language,
                                    referral_code=await _new_referral_code(uow)))


async def resolve(
    uow: UnitOfWork,
    now: datetime,
    messenger: str,
    external_id: str,
    name: str = "",
    language: str | None = None,
    username: str | None = None,
) -> tuple[User, Identity]:
    """The student behind a messenger account, created on first contact. Writing to the bot
    makes an identity reachable again. ``username``: the account's handle where the messenger
    tells it ("" for none), None where it does not."""
    identity = await uow.users.identity(messenger, external_id)
    if identity is None:
        user = await uow.users.add(
            User(
                created_at=now,
                name=name,
                language=language or "",
                referral_code=await _new_referral_code(uow),
            )
        )
        identity = await uow.users.add_identity(
            Identity(
                user_id=user.id,
                messenger=messenger,
                external_id=external_id,
                name=name,
                last_seen_at=now,
                username=username or None,
            )
        )
        return user, identity
    user = await uow.users.get(identity.user_id)
    assert user is not None, f"identity {identity.id} points at a missing user"
    stale = identity.last_seen_at is None or now - identity.last_seen_at >= SEEN_PRECISION
    renamed = username is not None and (username or None) != identity.username
    if not identity.reachable or (name and name != identity.name) or renamed:
        identity.last_seen_at = now
        identity.reachable = True
        identity.name = name or identity.name
        if username is not None:
            identity.username = username or None
        await uow.users.update_identity(identity)
    elif stale:  # only "last seen": written behind, not in this press's transaction
        identity.last_seen_at = now
        await uow.users.seen(identity, now)
    changed = False
    if language and language != user.language:
        user.language = language
        changed = True
    if name and not user.name:
        user.name = name
        changed = True
    if changed:
        await uow.users.update(user)
    return user, identity


async def record_deep_link(uow: UnitOfWork, user: User, link: DeepLink) -> User:
    """First touch wins for attribution: later links never overwrite UTM tags or the referrer."""
    changed = False
    if link.offer and not user.start_offer:
        user.start_offer, changed = link.offer, True
    if (link.utm_source or link.utm_medium or link.utm_campaign) and not (
        user.utm_source or user.utm_medium or user.utm_campaign
    ):
        user.utm_source = link.utm_source
        user.utm_medium = link.utm_medium
        user.utm_campaign = link.utm_campaign
        changed = True
    if link.referrer and not user.referred_by and link.referrer != user.referral_code:
        referrer = await uow.users.by_referral_code(link.referrer)
        if referrer is not None and referrer.id != user.id:
            user.referred_by, changed = link.referrer, True
    if changed:
        await uow.users.update(user)
    return user


async def mark_unreachable(uow: UnitOfWork, identity_id: int) -> None:
    identity = await uow.users.identity_by_id(identity_id)
    if identity is not None and identity.reachable:
        identity.reachable = False
        await uow.users.update_identity(identity)
