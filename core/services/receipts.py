"""Fiscal receipts (Russia's 54-FZ): the email or phone a student's receipts go to, asked once
and kept with the student, and the receipt each payment carries while the school sends them
(``School.receipts``)."""

from __future__ import annotations

import re

from core import errors
from core.models import Order, User
from core.ports import Receipt, UnitOfWork
from core.school import ReceiptRules, School, pick

ITEM_LENGTH = 128  # YooKassa's limit on an item's description
_EMAIL = re.compile(r"[^\s@]{1,64}@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,24}")
_PHONE_CHARACTERS = re.compile(r"\+?[\d\s().-]{7,24}")


def normalize_contact(typed: str, email_only: bool = False) -> str:
    """An email in lower case, or a phone in E.164: ``8 (900) 123-45-67`` and ``9001234567``
    are ``+79001234567``; a number of another country needs its ``+``. Raises
    ReceiptContactInvalid otherwise, or for a phone where receipts go by email only."""
    text = typed.strip()
    shown = text[:64]
    if "@" in text:
        email = text.lower()
        if len(email) <= 254 and _EMAIL.fullmatch(email):
            return email
        raise errors.ReceiptContactInvalid(text=shown, email_only=email_only)
    phone = _phone(text) if not email_only else None
    if phone is None:
        raise errors.ReceiptContactInvalid(text=shown, email_only=email_only)
    return phone


def _phone(text: str) -> str | None:
    if not _PHONE_CHARACTERS.fullmatch(text):
        return None
    digits = re.sub(r"\D", "", text)
    international = text.startswith("+")
    if len(digits) == 11 and (digits[0] == "7" or (digits[0] == "8" and not international)):
        return "+7" + digits[1:]
    if len(digits) == 10 and digits[0] == "9" and not international:
        return "+7" + digits
    if international and 8 <= len(digits) <= 15 and digits[0] not in "078":
        return "+" + digits
    return None


def usable(rules: ReceiptRules, contact: str | None) -> bool:
    return bool(contact) and (not rules.email_only or "@" in (contact or ""))


def needs_contact(school: School, user: User) -> bool:
    """The school sends receipts and has nowhere to send this student's yet."""
    return school.receipts is not None and not usable(school.receipts, user.receipt_contact)


async def save_contact(uow: UnitOfWork, school: School, user: User, typed: str) -> str:
    """Keep where this student's receipts go (and on ``user``); returns it normalized.
    Raises ReceiptContactInvalid, changing nothing."""
    rules = school.receipts
    contact = normalize_contact(typed, rules is not None and rules.email_only)
    stored = await uow.users.get(user.id)
    if stored is None:
        raise errors.NotFound(user=user.id)
    stored.receipt_contact = user.receipt_contact = contact
    await uow.users.update(stored)
    return contact


def receipt_for(school: School, order: Order, contact: str | None) -> Receipt | None:
    """The receipt a payment of ``order`` carries; None when the school sends none or the
    student has given no usable contact yet. The item is the offer's title in the school's
    language (a fiscal document is in the school's language, whoever buys)."""
    rules = school.receipts
    if rules is None or not usable(rules, contact):
        return None
    assert contact is not None
    offer = school.offer(order.offer_code)
    title = pick(offer.title, school.default_language, school.default_language) \
        if offer is not None else ""
    return Receipt(contact=contact, item=(title or order.offer_code)[:ITEM_LENGTH],
                   amount=order.amount, currency=order.currency,
                   vat_code=rules.vat_of(offer), tax_system_code=rules.tax_system_code)
