"""Bringing in a student base from another platform: students found by their messenger
accounts, email or phone, or made; each with the access they had (an offer or a product, from
``starts_at`` to ``ends_at``) as a purchase that grants what a purchase grants.

Imported access is no sale: its order is paid with nothing (amount 0, no payment) on the day
the access started, and no message goes out. Lessons already open when it is imported count
as received on the old platform (recorded, not sent); later ones arrive on their schedule,
and reminders before the end go out as for any purchase. A paid group lets the student in on
their next join, as it does any student with access.

The rows say how things should be, not what to do: a row already true changes nothing, so
importing a file again changes nothing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from core.contacts import Contact, ContactKind
from core.models import Identity, Order, OrderStatus, Purchase, PurchaseStatus, User
from core.ports import UnitOfWork
from core.school import AccessKind, School
from core.services import lessons, staff, upcoming, users
from core.staff import AuditResult


@dataclass(frozen=True)
class ImportRow:
    """One line of the file, already read and checked (``app.importing``)."""

    line: int
    name: str = ""
    language: str = ""
    accounts: tuple[tuple[str, str], ...] = ()  # (messenger, external id)
    contacts: tuple[tuple[ContactKind, str], ...] = ()  # normalized values
    item: str | None = None  # an offer's or a product's code; None: the student only
    starts_at: datetime | None = None  # None: when it is imported
    ends_at: datetime | None = None  # None: for life
    # How each identity was named in the file, for messages: {"telegram": "telegram_id"}.
    columns: tuple[tuple[str, str], ...] = ()


@dataclass
class ImportReport:
    """What an import did, or would do, over one or more transactions."""

    created_students: set[int] = field(default_factory=set)
    matched_students: set[int] = field(default_factory=set)
    created: int = 0  # purchases
    extended: int = 0
    unchanged: int = 0  # rows whose access was there already
    changes: list[str] = field(default_factory=list)  # "line 4: ..."
    problems: list[str] = field(default_factory=list)

    @property
    def new(self) -> int:
        return len(self.created_students)

    @property
    def matched(self) -> int:
        return len(self.matched_students - self.created_students)

    def summary(self) -> str:
        return (f"{self.new} new students, {self.matched} matched existing; "
                f"{self.created} purchases created, {self.extended} extended, "
                f"{self.unchanged} already there")


class RowProblem(Exception):
    """This row cannot be imported as it is; nothing of it is written."""


def _named(row: ImportRow, key: str) -> str:
    return dict(row.columns).get(key, key)


async def _owners(uow: UnitOfWork, row: ImportRow) -> dict[int, list[str]]:
    """The students the row's identities already belong to, with the identities."""
    owners: dict[int, list[str]] = {}
    for messenger, external_id in row.accounts:
        identity = await uow.users.identity(messenger, external_id)
        if identity is not None:
            owners.setdefault(identity.user_id, []).append(
                f"{_named(row, messenger)} {external_id}")
    for kind, value in row.contacts:
        contact = await uow.contacts.find(kind, value)
        if contact is not None:
            owners.setdefault(contact.user_id, []).append(f"{kind.value} {value}")
    return owners


async def _student(uow: UnitOfWork, row: ImportRow, source: str, now: datetime,
                   report: ImportReport) -> tuple[User, list[str]]:
    """The row's student, found or made, with every identity of the row; what changed."""
    owners = await _owners(uow, row)
    if len(owners) > 1:
        said = "; ".join(f"{', '.join(names)} belong to student #{user_id}"
                         for user_id, names in sorted(owners.items()))
        raise RowProblem(f"{said}: one row is one student (link their accounts in the chat "
                         f"first, or fix the row)")
    changed: list[str] = []
    if owners:
        [user_id] = owners
        user = await uow.users.get(user_id)
        assert user is not None
        report.matched_students.add(user.id)
        blanks = {"name": row.name, "language": row.language}
        filled = [key for key, value in blanks.items() if value and not getattr(user, key)]
        for key in filled:
            setattr(user, key, blanks[key])
        if filled:
            await uow.users.update(user)
            changed.append(f"{' and '.join(filled)} filled in")
    else:
        user = await users.add_student(uow, min(row.starts_at or now, now), row.name,
                                       row.language)
        report.created_students.add(user.id)
        changed.append(f"new student {row.name}".rstrip())
    for messenger, external_id in row.accounts:
        if await uow.users.identity(messenger, external_id) is None:
            await uow.users.add_identity(Identity(
                user_id=user.id, messenger=messenger, external_id=external_id, name=row.name))
            changed.append(f"+{messenger}:{external_id}")
    for kind, value in row.contacts:
        if await uow.contacts.find(kind, value) is None:
            await uow.contacts.add(Contact(user_id=user.id, kind=kind, value=value,
                                           source=source, added_at=now))
            changed.append(f"+{kind.value} {value}")
    return user, changed


@dataclass(frozen=True)
class _Access:
    offer_code: str  # the offer's code, or the product's when the row names a product
    products: tuple[str, ...]
    access: str
    currency: str


def _access_of(school: School, row: ImportRow) -> _Access:
    assert row.item is not None
    offer = school.offer(row.item)
    if offer is not None:
        kind = AccessKind.LIFETIME if row.ends_at is None else (
            AccessKind.PERIOD if offer.access is AccessKind.LIFETIME else offer.access)
        return _Access(offer.code, tuple(dict.fromkeys(offer.products + offer.extends)),
                       kind.value, offer.price.currency)
    if row.item in school.products:
        kind = AccessKind.LIFETIME if row.ends_at is None else AccessKind.PERIOD
        return _Access(row.item, (row.item,), kind.value, school.currency)
    raise RowProblem(f"no offer or product {row.item!r}")


def _until(ends_at: datetime | None, school: School) -> str:
    return "for life" if ends_at is None else f"until {_local(ends_at, school)}"


def _local(moment: datetime, school: School) -> str:
    return f"{moment.astimezone(school.timezone):%Y-%m-%d %H:%M} school time"


async def _purchase(uow: UnitOfWork, school: School, user: User, row: ImportRow,
                    now: datetime, report: ImportReport) -> str | None:
    """Give the row's access unless the student has it already; what changed, or None."""
    wanted = _access_of(school, row)
    end = row.ends_at
    same = [p for p in await uow.purchases.for_user(user.id)
            if p.offer_code == wanted.offer_code and p.status is not PurchaseStatus.REVOKED]
    running = [p for p in same if p.status is PurchaseStatus.ACTIVE]
    if end is None:
        covered = any(p.ends_at is None for p in running)
    elif end <= now:  # access that ended: history the student can renew from
        covered = any(p.ends_at is None or p.ends_at >= end for p in same)
    else:
        covered = any(p.ends_at is None or p.ends_at >= end for p in running)
    if covered:
        report.unchanged += 1
        return None
    shorter = [p for p in running if p.ends_at is not None]
    if end is not None and end > now and shorter:
        target = await uow.purchases.get_for_update(max(shorter, key=lambda p: p.ends_at).id)
        assert target is not None and target.ends_at is not None
        if target.renewal is not None:
            raise RowProblem(f"student #{user.id}'s purchase #{target.id} of "
                             f"{wanted.offer_code} renews automatically here: leave it out "
                             f"of the file")
        before = target.ends_at
        target.ends_at, target.updated_at = end, now
        await _open(uow, school, target, now)
        report.extended += 1
        return (f"purchase #{target.id} {wanted.offer_code} extended from "
                f"{_local(before, school)} {_until(end, school)}")
    start = min(row.starts_at or now, end) if end is not None else row.starts_at or now
    order = await uow.orders.add(Order(
        user_id=user.id, offer_code=wanted.offer_code, token=secrets.token_urlsafe(18),
        amount=0, list_amount=0, currency=wanted.currency, status=OrderStatus.PAID,
        created_at=min(start, now), expires_at=min(start, now), paid_at=min(start, now),
        products=wanted.products, access=wanted.access))
    ended = end is not None and end <= now
    purchase = await uow.purchases.add(Purchase(
        user_id=user.id, order_id=order.id, offer_code=wanted.offer_code,
        products=wanted.products, access=wanted.access, starts_at=start, ends_at=end,
        status=PurchaseStatus.EXPIRED if ended else PurchaseStatus.ACTIVE, updated_at=now,
        ended_at=end if ended else None, end_reason="expired" if ended else None))
    if not ended:
        await _open(uow, school, purchase, now)
    report.created += 1
    return (f"{wanted.offer_code} {_until(end, school)}{' (ended)' if ended else ''} granted "
            f"(no payment)")


async def _open(uow: UnitOfWork, school: School, purchase: Purchase, now: datetime) -> None:
    """Lessons open now count as received before; the next are due on schedule; reminders."""
    await lessons.deliver_open(uow, school, purchase, now, notify=False)
    await upcoming.plan_next(uow, school, purchase, now)
    await uow.purchases.update(purchase)


async def import_rows(uow: UnitOfWork, school: School, rows: list[ImportRow], source: str,
                      now: datetime, report: ImportReport) -> None:
    """Import ``rows`` in this unit of work (the caller commits, or rolls back for a dry
    run), adding to ``report``. A row that cannot be imported is a problem in the report;
    the caller must not commit a unit of work whose rows had problems (some of their
    changes may be written). ``source``: ``import:<file name>``, the audit log's actor."""
    for row in rows:
        try:
            user, changed = await _student(uow, row, source, now, report)
            if row.item is not None:
                bought = await _purchase(uow, school, user, row, now, report)
                if bought:
                    changed.append(bought)
        except RowProblem as problem:
            report.problems.append(f"line {row.line}: {problem}")
            continue
        if changed:
            detail = "; ".join(changed)
            report.changes.append(f"line {row.line}: {detail}")
            await staff.audit(uow, now, source, "import", AuditResult.DONE, user_id=user.id,
                              subject=f"line {row.line}", detail=detail)
