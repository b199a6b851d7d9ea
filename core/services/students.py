"""Looking a student up for the staff (``/find``), and everything their card shows."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime

from core import errors
from core.automations import staff as automation_staff
from core.automations.records import OPEN
from core.automations.staff import RunView
from core.models import (
    Identity,
    Membership,
    Order,
    Payment,
    Purchase,
    PurchaseStatus,
    Renewal,
    RenewalStatus,
    User,
)
from core.ports import UnitOfWork
from core.school import School
from core.services import groups, receipts, reminders
from core.services.upcoming import renews_by_charge
from core.staff import MAX_NOTE, StaffNote

MAX_ID = 2**31 - 1
MAX_QUERY = 100  # characters of a name looked up


class Kind(enum.StrEnum):
    ACCOUNT = "account"  # ``telegram:123``: one messenger's account
    EXTERNAL_ID = "external_id"  # ``123``: that id in any messenger
    USERNAME = "username"  # ``@anna``
    STUDENT = "student"  # ``#42``: the student number
    ORDER = "order"  # ``order 42``, ``o42``
    CONTACT = "contact"  # an email or a ``+``phone, as a student gave it for receipts
    NAME = "name"  # a part of the name


@dataclass(frozen=True)
class Query:
    kind: Kind
    value: str
    messenger: str = ""  # for ACCOUNT


_STUDENT = re.compile(r"^#\s*(\d+)$")
_ORDER = re.compile(r"^(?:order|o|заказ|commande)\s*(?:#|№|no\.?)?\s*(\d+)$", re.IGNORECASE)
_ACCOUNT = re.compile(r"^([a-z][a-z0-9_]*):(\S+)$")
_USERNAME = re.compile(r"^@([A-Za-z0-9_]{1,64})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+[\d\s().-]{6,}$")


def parse(text: str) -> Query | None:
    """What a ``/find`` query asks for; None for an empty one."""
    text = " ".join(text.split())
    if not text:
        return None
    if match := _STUDENT.match(text):
        return Query(Kind.STUDENT, match.group(1))
    if match := _ORDER.match(text):
        return Query(Kind.ORDER, match.group(1))
    if match := _USERNAME.match(text):
        return Query(Kind.USERNAME, match.group(1))
    if _EMAIL.match(text) or _PHONE.match(text):
        try:  # as the student's contact is kept: an email in lower case, a phone in E.164
            return Query(Kind.CONTACT, receipts.normalize_contact(text))
        except errors.ReceiptContactInvalid:
            return Query(Kind.CONTACT, text.lower())
    if match := _ACCOUNT.match(text):
        return Query(Kind.ACCOUNT, match.group(2), messenger=match.group(1))
    if text.isascii() and text.isdigit():
        return Query(Kind.EXTERNAL_ID, text)
    return Query(Kind.NAME, text[:MAX_QUERY])


@dataclass(frozen=True)
class Found:
    query: Query
    users: list[User] = field(default_factory=list)  # by student number
    total: int = 0  # how many match in all (``users`` may show fewer)
    order: Order | None = None  # the order looked up by its number
    contacts_recorded: bool = True  # False: this platform keeps no emails or phones


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_ID else None


async def student(uow: UnitOfWork, user_id: int) -> User | None:
    """The student ``user_id`` names, following linked accounts to the one they joined."""
    user = await uow.users.get(user_id)
    for _ in range(10):  # a merged student points at the survivor (never a cycle)
        if user is None or user.merged_into is None:
            return user
        user = await uow.users.get(user.merged_into)
    return None


async def _owners(uow: UnitOfWork, query: Query, found: list[Identity], limit: int) -> Found:
    users = []
    for user_id in sorted({identity.user_id for identity in found}):
        user = await student(uow, user_id)
        if user is not None and user not in users:
            users.append(user)
    return Found(query, users[:limit], len(users))


async def find(uow: UnitOfWork, query: Query, limit: int) -> Found:
    """The students ``query`` matches: the first ``limit`` by number, and how many in all."""
    if query.kind is Kind.STUDENT:
        number = _number(query.value)
        user = await student(uow, number) if number else None
        return Found(query, [user] if user else [], 1 if user else 0)
    if query.kind is Kind.ORDER:
        number = _number(query.value)
        order = await uow.orders.get(number) if number else None
        user = await student(uow, order.user_id) if order else None
        return Found(query, [user] if user else [], 1 if user else 0, order)
    if query.kind is Kind.ACCOUNT:
        identity = await uow.users.identity(query.messenger, query.value)
        return await _owners(uow, query, [identity] if identity else [], limit)
    if query.kind is Kind.EXTERNAL_ID:
        return await _owners(uow, query, await uow.students.with_external_id(query.value), limit)
    if query.kind is Kind.USERNAME:
        return await _owners(uow, query, await uow.students.with_username(query.value), limit)
    if query.kind is Kind.CONTACT:
        found = await uow.students.with_contact(query.value)
        if found is None:
            return Found(query, contacts_recorded=False)
        return Found(query, found[:limit], len(found))
    users, total = await uow.students.named(query.value, limit)
    return Found(query, users, total)


@dataclass
class Card:
    """A student as the staff see them."""

    user: User
    identities: list[Identity]
    purchases: list[Purchase]  # newest first
    orders: list[Order]  # newest first
    payments: dict[int, list[Payment]]  # of the latest orders, by order id
    memberships: list[Membership]  # in paid groups, of the student's Telegram accounts
    notes: list[StaffNote]  # newest first
    notes_total: int
    # The next reminder of each purchase that has one due: (when, kind, days from the end).
    reminders: dict[int, reminders.Planned]
    charges: dict[int, Renewal]  # the pending automatic charge of each purchase renewed so
    # The student's automation runs: the open ones first, then the latest that are over.
    runs: list[RunView] = field(default_factory=list)
    runs_total: int = 0


async def card(uow: UnitOfWork, school: School, user_id: int, orders: int = 5,
               notes: int = 3, runs: int = 5) -> Card | None:
    """The card of student ``user_id`` (followed to the account they joined, if linked), with
    the payments of the latest ``orders`` orders, the latest ``notes`` notes and ``runs``
    automation runs (open ones first)."""
    user = await student(uow, user_id)
    if user is None:
        return None
    identities = await uow.users.identities(user.id)
    purchases = await uow.purchases.for_user(user.id)
    placed = list(reversed(await uow.orders.for_user(user.id)))
    payments = {order.id: await uow.payments.for_order(order.id) for order in placed[:orders]}
    accounts = [i.external_id for i in identities if i.messenger == groups.MESSENGER]
    zone = await reminders.zone_of(uow, school, user.id)
    due: dict[int, reminders.Planned] = {}
    charges: dict[int, Renewal] = {}
    for purchase in purchases:
        planned = next((item for item in reminders.plan(school, purchase, zone)
                        if item[0] == purchase.remind_at), None)
        if planned is not None:
            due[purchase.id] = planned
        if renews_by_charge(purchase) and purchase.status is PurchaseStatus.ACTIVE \
                and purchase.ends_at is not None:
            renewal = await uow.renewals.for_period(purchase.id, purchase.ends_at)
            if renewal is not None and renewal.status is RenewalStatus.PENDING:
                charges[purchase.id] = renewal
    views = await automation_staff.runs_of(uow, school, user.id)  # newest first
    views.sort(key=lambda view: view.run.status not in OPEN)
    return Card(
        user=user, identities=identities, purchases=purchases, orders=placed,
        payments=payments, memberships=await uow.memberships.of_accounts(accounts),
        notes=await uow.notes.for_user(user.id, notes), notes_total=await uow.notes.count(user.id),
        reminders=due, charges=charges, runs=views[:runs], runs_total=len(views),
    )


async def add_note(uow: UnitOfWork, user_id: int, author: str, text: str,
                   now: datetime) -> StaffNote:
    """A note on the student's card; ValueError for an empty or too long one."""
    text = text.strip()
    if not text or len(text) > MAX_NOTE:
        raise ValueError(f"a note has 1 to {MAX_NOTE} characters")
    return await uow.notes.add(StaffNote(user_id=user_id, author=author, text=text,
                                         created_at=now))
