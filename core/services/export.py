"""CSV exports of students, purchases, orders and payments, and the signed links they are
downloaded through where the messenger cannot send a file.

A file is made a page of rows at a time, each page read in a short transaction of its own,
so a large school is never held in memory nor keeps the database busy. The CSV is UTF-8
with a byte order mark (Excel then reads names in any alphabet right; Python reads it with
``encoding="utf-8-sig"``), comma-separated, quoted where needed, one header row; times are
the school's local time with their UTC offset (ISO 8601), amounts are in major units
(``49.90``) beside their currency. A cell a spreadsheet would take for a formula (starting
with ``= + - @``, a tab or a carriage return) gets a leading ``'``.

A link names the table, its maker and when it expires, signed with HMAC-SHA256 under a key
derived from the platform's secret; it works for an hour, only while its maker may still
export, and every download (and every refused one with a valid signature) is audited."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from core.models import Identity, Order, Payment, Purchase, User
from core.money import CURRENCIES, Money
from core.ports import Clock, Download, UnitOfWork, UnitOfWorkFactory
from core.school import School
from core.services import staff
from core.staff import AuditResult, Right, may

log = logging.getLogger(__name__)

PAGE = 500
BOM = "\ufeff"
LINK_TTL = timedelta(hours=1)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_DOCUMENT = 50 * 1024 * 1024  # Telegram's limit for a file a bot sends


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    # A page of rows after the given id: (the rows' cells, the last id read; 0 when done).
    page: Callable[[UnitOfWork, School, int, int], Any]


def _time(value: datetime | None, school: School) -> str:
    return value.astimezone(school.timezone).isoformat(timespec="seconds") if value else ""


def _amount(amount: int, currency: str) -> Decimal | int:
    return Money(amount, currency).major if currency in CURRENCIES else amount


async def _students(uow: UnitOfWork, school: School, after: int,
                    limit: int) -> tuple[list[list[Any]], int]:
    found: list[User] = await uow.exports.users(after, limit)
    accounts: dict[int, list[Identity]] = {}
    for identity in await uow.exports.identities_of([u.id for u in found]):
        accounts.setdefault(identity.user_id, []).append(identity)
    rows = []
    for user in found:
        mine = accounts.get(user.id, [])
        seen = max((i.last_seen_at for i in mine if i.last_seen_at), default=None)
        rows.append([
            user.id, user.name, user.language, user.timezone or "",
            "; ".join(f"{i.messenger}:{i.external_id}" for i in mine),
            _time(user.created_at, school), _time(seen, school), user.referral_code,
            user.referred_by or "", user.utm_source or "", user.utm_medium or "",
            user.utm_campaign or "", user.start_offer or "",
        ])
    return rows, found[-1].id if found else 0


async def _purchases(uow: UnitOfWork, school: School, after: int,
                     limit: int) -> tuple[list[list[Any]], int]:
    found: list[Purchase] = await uow.exports.purchases(after, limit)
    rows = [[
        p.id, p.user_id, p.order_id, p.offer_code, "; ".join(p.products), p.access,
        p.status.value, _time(p.starts_at, school), _time(p.ends_at, school),
        _time(p.ended_at, school), p.end_reason or "", p.renewal or "",
    ] for p in found]
    return rows, found[-1].id if found else 0


async def _orders(uow: UnitOfWork, school: School, after: int,
                  limit: int) -> tuple[list[list[Any]], int]:
    found: list[Order] = await uow.exports.orders(after, limit)
    rows = [[
        o.id, o.user_id, o.offer_code, o.status.value, _amount(o.amount, o.currency),
        _amount(o.list_amount, o.currency), o.currency, o.promo_code or "",
        _time(o.created_at, school), _time(o.paid_at, school), _time(o.closed_at, school),
        o.close_reason or "", o.messenger or "",
    ] for o in found]
    return rows, found[-1].id if found else 0


async def _payments(uow: UnitOfWork, school: School, after: int,
                    limit: int) -> tuple[list[list[Any]], int]:
    found: list[tuple[Payment, int]] = await uow.exports.payments(after, limit)
    rows = [[
        p.id, p.order_id, user_id, p.gateway, p.gateway_payment_id,
        _amount(p.amount, p.currency), p.currency, p.status.value,
        _time(p.created_at, school), _time(p.refunded_at, school), p.refund_reason or "",
    ] for p, user_id in found]
    return rows, found[-1][0].id if found else 0


TABLES: dict[str, Table] = {t.name: t for t in (
    Table("students", ("id", "name", "language", "timezone", "messengers", "created_at",
                       "last_seen_at", "referral_code", "referred_by", "utm_source",
                       "utm_medium", "utm_campaign", "start_offer"), _students),
    Table("purchases", ("id", "student_id", "order_id", "offer", "products", "access",
                        "status", "starts_at", "ends_at", "ended_at", "end_reason",
                        "auto_renewal"), _purchases),
    Table("orders", ("id", "student_id", "offer", "status", "amount", "list_amount",
                     "currency", "promo_code", "created_at", "paid_at", "closed_at",
                     "close_reason", "messenger"), _orders),
    Table("payments", ("id", "order_id", "student_id", "gateway", "gateway_payment_id",
                       "amount", "currency", "status", "created_at", "refunded_at",
                       "refund_reason"), _payments),
)}


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _lines(rows: Sequence[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return out.getvalue().encode()


class CsvExport:
    """One table as CSV, made page by page; ``rows`` counts the rows made so far."""

    def __init__(self, uow_factory: UnitOfWorkFactory, school: School, table: str,
                 page: int = PAGE) -> None:
        self.uow_factory = uow_factory
        self.school = school
        self.table = TABLES[table]
        self.page = page
        self.rows = 0

    def filename(self, now: datetime) -> str:
        return f"{self.table.name}-{now.astimezone(self.school.timezone):%Y-%m-%d}.csv"

    async def chunks(self) -> AsyncIterator[bytes]:
        yield (BOM.encode() + _lines([self.table.columns]))
        after = 0
        while True:
            async with self.uow_factory() as uow:
                rows, last = await self.table.page(uow, self.school, after, self.page)
            if rows:
                self.rows += len(rows)
                yield _lines(rows)
            if len(rows) < self.page:
                return
            after = last

    async def collect(self, limit: int = MAX_DOCUMENT) -> bytes | None:
        """The whole file, or None if it is larger than ``limit`` bytes."""
        parts, size = [], 0
        async for chunk in self.chunks():
            size += len(chunk)
            if size > limit:
                return None
            parts.append(chunk)
        return b"".join(parts)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ExportDesk:
    """Makes and opens the signed download links of the exports (``DownloadDesk``)."""

    PATH = "/exports/"

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock,
                 school: Callable[[], School], secret: bytes, base_url: str,
                 ttl: timedelta = LINK_TTL) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.school = school
        # A key of its own: a checkout form's signature never opens an export, nor back.
        self._key = hmac.new(secret, b"export-links", hashlib.sha256).digest()
        self.base_url = base_url.rstrip("/")
        self.ttl = ttl

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def link(self, table: str, account: str, now: datetime) -> tuple[str, datetime]:
        """A link to ``table`` for the staff account ``account``, and when it expires."""
        if table not in TABLES:
            raise ValueError(f"unknown export {table!r}")
        expires = now + self.ttl
        body = f"{table}.{int(expires.timestamp())}.{_b64(account.encode())}"
        return f"{self.base_url}{self.PATH}{body}.{self._sign(body)}", expires

    async def open(self, token: str, remote: str | None) -> Download | None:
        parts = token.split(".")
        if len(parts) != 4:
            log.warning("export link refused from %s: malformed", remote)
            return None
        table, expires, account_b64, signature = parts
        body = f"{table}.{expires}.{account_b64}"
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            log.warning("export link refused from %s: bad signature", remote)
            return None
        account = _unb64(account_b64).decode()
        messenger, _, external_id = account.partition(":")
        now = self.clock.now()
        school = self.school()
        async with self.uow_factory() as uow:
            role = await staff.role_of(uow, school, messenger, external_id)
            why = None
            if int(expires) <= now.timestamp():
                why = "the link expired"
            elif not may(role, Right.EXPORT):
                why = "its maker may no longer export"
            await staff.audit(uow, now, account, "export.download",
                              AuditResult.REFUSED if why else AuditResult.DONE, role=role,
                              subject=f"{table}.csv",
                              detail=f"download from {remote or '?'}"
                                     + (f" refused: {why}" if why else ""))
            await uow.commit()
        if why is not None:
            return None
        export = CsvExport(self.uow_factory, school, table)
        return Download(export.filename(now), "text/csv; charset=utf-8", export.chunks())
