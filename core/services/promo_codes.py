"""Promo codes at runtime: staff make, list and disable them in the chat. The school file's
codes are listed beside them but stay the file's to change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.money import Money
from core.ports import UnitOfWork
from core.promo_codes import CODE, PromoState, RuntimePromo, state_of
from core.school import PromoCode, School
from core.services.catalog import promo_key

MAX_USES = 1_000_000


class PromoRefused(Exception):
    """Why a code cannot be made or disabled: ``reason`` names the text the staff member
    reads (``promo_refused_<reason>``), ``params`` fill it in."""

    def __init__(self, reason: str, **params: object) -> None:
        super().__init__(reason, params)
        self.reason = reason
        self.params = params

    def __str__(self) -> str:
        shown = ", ".join(f"{key}={value}" for key, value in self.params.items())
        return f"{self.reason} ({shown})" if shown else self.reason


@dataclass(frozen=True)
class PromoDraft:
    """A code as staff asked for it, before it is checked against the school."""

    code: str
    percent: int | None = None
    amount: Money | None = None
    offers: tuple[str, ...] = ()  # empty: every offer
    max_uses: int | None = None
    valid_until: datetime | None = None


@dataclass(frozen=True)
class PromoLine:
    """A code as ``/promo`` lists it."""

    promo: PromoCode
    used: int
    state: PromoState
    made: RuntimePromo | None = None  # None: the school file's


def _check(school: School, draft: PromoDraft, now: datetime) -> None:
    if (draft.percent is None) == (draft.amount is None):
        raise PromoRefused("no_discount")
    if draft.percent is not None and not 1 <= draft.percent <= 100:
        raise PromoRefused("bad_percent", percent=draft.percent)
    if draft.amount is not None and draft.amount.amount <= 0:
        raise PromoRefused("bad_amount", amount=draft.amount)
    for code in draft.offers:
        offer = school.offer(code)
        if offer is None:
            raise PromoRefused("unknown_offer", offer=code, known=", ".join(school.offers))
        if draft.amount is not None and offer.price.currency != draft.amount.currency:
            raise PromoRefused("offer_currency", offer=code, currency=offer.price.currency,
                               amount=draft.amount)
    if draft.amount is not None and not draft.offers and not any(
            offer.price.currency == draft.amount.currency for offer in school.offers.values()):
        raise PromoRefused("no_offer_in_currency", currency=draft.amount.currency)
    if draft.max_uses is not None and not 1 <= draft.max_uses <= MAX_USES:
        raise PromoRefused("bad_limit", limit=draft.max_uses, most=MAX_USES)
    if draft.valid_until is not None and draft.valid_until <= now:
        raise PromoRefused("past", until=draft.valid_until)


async def create(uow: UnitOfWork, school: School, draft: PromoDraft, by: str,
                 now: datetime) -> RuntimePromo:
    """Make the code, or raise PromoRefused changing nothing. A name is never given twice:
    not a school file's code, not one made before (even disabled: its uses count under it)."""
    code = draft.code.strip().upper()
    if not CODE.fullmatch(code):
        raise PromoRefused("bad_code", code=draft.code)
    if school.promo(code) is not None:
        raise PromoRefused("in_file", code=code)
    _check(school, draft, now)
    if await uow.counters.used(promo_key(code)) > 0:  # a file's code once: its uses count
        raise PromoRefused("was_used", code=code)
    made = RuntimePromo(
        code=code, percent=draft.percent,
        amount=draft.amount.amount if draft.amount else None,
        currency=draft.amount.currency if draft.amount else None,
        offers=tuple(dict.fromkeys(draft.offers)), max_uses=draft.max_uses,
        valid_until=draft.valid_until, created_by=by, created_at=now)
    if not await uow.promo_codes.add(made):
        existing = next((p for p in await uow.promo_codes.all() if p.code == code), None)
        if existing is not None and existing.disabled_at is not None:
            raise PromoRefused("was_disabled", code=code)
        raise PromoRefused("exists", code=code)
    return made


async def disable(uow: UnitOfWork, school: School, code: str, by: str,
                  now: datetime) -> PromoLine:
    """Switch a code made in the chat off: students can no longer use it; orders placed
    with it keep their price. Returns it as it was."""
    code = code.strip().upper()
    if school.promo(code) is not None:
        raise PromoRefused("file_code_off", code=code)
    made = next((p for p in await uow.promo_codes.all() if p.code == code), None)
    if made is None:
        raise PromoRefused("unknown", code=code)
    if made.disabled_at is not None or not await uow.promo_codes.disable(code, by, now):
        raise PromoRefused("already_off", code=code)
    used = await uow.counters.used(promo_key(code))
    return PromoLine(made.promo(), used, state_of(made.promo(), used, now), made)


async def listing(uow: UnitOfWork, school: School, now: datetime) -> list[PromoLine]:
    """Every code: the school file's, then those made in the chat, oldest first."""
    lines = []
    for promo in school.promo_codes.values():
        used = await uow.counters.used(promo_key(promo.code))
        lines.append(PromoLine(promo, used, state_of(promo, used, now)))
    for made in await uow.promo_codes.all():
        if school.promo(made.code) is not None:
            continue  # the file took the name since: the file's code is the one that works
        promo = made.promo()
        used = await uow.counters.used(promo_key(made.code))
        lines.append(PromoLine(promo, used,
                               state_of(promo, used, now, made.disabled_at is not None), made))
    return lines


def describe(promo: PromoCode) -> str:
    """One line for the audit log: ``20 % · offers a, b · limit 10 · until 2027-01-31T22:59Z``."""
    parts = [f"{promo.percent} %" if promo.percent is not None else str(promo.amount)]
    parts.append(f"offers {', '.join(promo.offers)}" if promo.offers else "every offer")
    if promo.max_uses is not None:
        parts.append(f"limit {promo.max_uses}")
    if promo.valid_until is not None:
        parts.append(f"until {promo.valid_until:%Y-%m-%d %H:%M} UTC")
    return " · ".join(parts)
