"""Promo codes made by staff in the chat, beside those of the school file.

A runtime code is stored; it is never deleted, only disabled, and its name is never given
to another code (its uses are counted under its name, ``promo:<CODE>``, like a file code's).
A code of the school file always wins: the chat cannot make one of the same name."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from core.money import Money
from core.school import PromoCode

# As in the school file: what a student can type, and a button can carry.
CODE = re.compile(r"[A-Za-z0-9_-]{3,32}")


class PromoState(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"  # past its ``valid_until``
    USED_UP = "used_up"  # every use of its limit taken
    DISABLED = "disabled"  # switched off by staff


@dataclass
class RuntimePromo:
    """A code staff made at runtime. A fixed discount is ``amount`` minor units of
    ``currency``; otherwise ``percent``."""

    id: int = 0
    code: str = ""  # upper-case
    percent: int | None = None
    amount: int | None = None
    currency: str | None = None
    offers: tuple[str, ...] = ()  # empty: every offer (priced in ``currency`` if fixed)
    max_uses: int | None = None
    valid_until: datetime | None = None
    created_by: str = ""  # the staff account, ``telegram:123``
    created_at: datetime | None = None
    disabled_by: str | None = None
    disabled_at: datetime | None = None

    def promo(self) -> PromoCode:
        """The code as the catalog prices with it."""
        amount = Money(self.amount, self.currency) \
            if self.amount is not None and self.currency else None
        return PromoCode(code=self.code, percent=self.percent, amount=amount,
                         offers=self.offers, max_uses=self.max_uses,
                         valid_until=self.valid_until)


def state_of(promo: PromoCode, used: int, now: datetime, disabled: bool = False) -> PromoState:
    if disabled:
        return PromoState.DISABLED
    if promo.valid_until is not None and now >= promo.valid_until:
        return PromoState.EXPIRED
    if promo.max_uses is not None and used >= promo.max_uses:
        return PromoState.USED_UP
    return PromoState.ACTIVE
