"""A student's email addresses and phone numbers, as the school knows them (brought in by an
import), so staff and imports can find the student by them. Stored normalized: an email in
lower case, a phone as ``+`` and digits."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_NOISE = re.compile(r"[\s().\-]")


class ContactKind(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"


@dataclass
class Contact:
    id: int = 0
    user_id: int = 0
    kind: ContactKind = ContactKind.EMAIL
    value: str = ""  # normalized (``normal``)
    source: str = ""  # where it came from: ``import:students.csv``
    added_at: datetime | None = None


def normal_email(text: str) -> str | None:
    """``Anna@Example.COM `` -> ``anna@example.com``; None for what is not an address."""
    value = text.strip().lower()
    return value if len(value) <= 254 and _EMAIL.match(value) else None


def normal_phone(text: str) -> str | None:
    """``+7 (912) 345-67-89`` -> ``+79123456789``: international numbers only (7 to 15
    digits after ``+``, or written with ``00``); None otherwise."""
    value = _PHONE_NOISE.sub("", text.strip())
    if value.startswith("00"):
        value = "+" + value[2:]
    if not value.startswith("+") or not value[1:].isdigit() or not 7 <= len(value) - 1 <= 15:
        return None
    return value


def normal(kind: ContactKind, text: str) -> str | None:
    return normal_email(text) if kind is ContactKind.EMAIL else normal_phone(text)
