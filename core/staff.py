"""Who runs the school from the chat: staff roles and the rights each role has.

A staff member is named by messenger account (``telegram:123456789``), never by a username
that can change hands. The school file names the first staff; an owner adds and removes
more at runtime (stored). Every staff action, and every refused attempt, is audited."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Role(enum.StrEnum):
    OWNER = "owner"  # everything, and manages the staff
    ADMIN = "admin"  # everything but the staff
    MANAGER = "manager"  # students, access, orders, promo codes, broadcasts
    SUPPORT = "support"  # reads student cards, answers the inbox


class Right(enum.StrEnum):
    STAFF = "staff"  # add and remove staff
    AUDIT = "audit"  # read the audit log
    REFUND = "refund"  # give money back through a gateway
    STATS = "stats"  # revenue and numbers, the daily digest
    EXPORT = "export"  # CSV of students, purchases, orders, payments
    ORDERS = "orders"  # confirm a payment taken by hand (/paid)
    ACCESS = "access"  # grant, extend, revoke; resend links; paid groups
    PROMO = "promo"  # promo codes at runtime
    BROADCAST = "broadcast"  # messages to many students
    AUTOMATIONS = "automations"  # pause, resume, start automations
    NOTES = "notes"  # write notes on a student's card
    STUDENTS = "students"  # look students up and read their card
    INBOX = "inbox"  # read and answer students' questions


_MANAGER = frozenset({Right.ORDERS, Right.ACCESS, Right.PROMO, Right.BROADCAST,
                      Right.AUTOMATIONS, Right.NOTES, Right.STUDENTS, Right.INBOX})
_ADMIN = _MANAGER | {Right.AUDIT, Right.REFUND, Right.STATS, Right.EXPORT}
RIGHTS: dict[Role, frozenset[Right]] = {
    Role.OWNER: _ADMIN | {Right.STAFF},
    Role.ADMIN: _ADMIN,
    Role.MANAGER: _MANAGER,
    Role.SUPPORT: frozenset({Right.STUDENTS, Right.INBOX}),
}


def may(role: Role | None, right: Right) -> bool:
    return role is not None and right in RIGHTS[role]


@dataclass(frozen=True)
class StaffRef:
    """A staff member named in the school file."""

    messenger: str
    external_id: str
    role: Role

    @property
    def account(self) -> str:
        return f"{self.messenger}:{self.external_id}"


@dataclass
class StaffMember:
    """A staff member added at runtime by an owner (stored)."""

    messenger: str = ""
    external_id: str = ""
    role: Role = Role.SUPPORT
    added_by: str = ""  # the owner's account, ``telegram:123``
    added_at: datetime | None = None
    id: int = 0

    @property
    def account(self) -> str:
        return f"{self.messenger}:{self.external_id}"


@dataclass
class StaffMenu:
    """A chat shown a staff member's own command menu (Telegram's per-chat commands), kept so
    the menu is taken back once the account leaves the staff, even across restarts."""

    messenger: str = ""
    external_id: str = ""
    role: Role = Role.SUPPORT  # the role the menu was made for
    shown_at: datetime | None = None
    id: int = 0


class AuditResult(enum.StrEnum):
    DONE = "done"  # the action changed what it says
    NOTHING = "nothing"  # allowed, but nothing changed (already so, not found, bad input)
    REFUSED = "refused"  # the actor may not do this (not staff, role, impostor)
    FAILED = "failed"  # allowed, but it failed (a gateway refused)


@dataclass
class AuditEntry:
    at: datetime
    actor: str  # ``telegram:123``
    action: str  # the command or button: ``/refund``, ``card.extend``
    result: AuditResult
    role: str = ""  # the actor's role then, "" for a stranger
    user_id: int | None = None  # the student concerned
    subject: str = ""  # what it was about, as given: ``#42 5.00``
    detail: str = ""  # what changed, or why it was refused
    id: int = 0


MAX_NOTE = 1000  # characters of one note on a student's card


@dataclass
class StaffNote:
    """A staff member's note on a student's card (only staff ever see it)."""

    user_id: int = 0
    author: str = ""  # the staff account, ``telegram:123``
    text: str = ""
    created_at: datetime | None = None
    id: int = 0
