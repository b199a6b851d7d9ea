"""Money the school took outside any gateway (a bank transfer, cash), confirmed by an admin.
It goes through the one payment path like a gateway's notice, so it grants exactly what a
gateway payment would, and money that grants nothing is flagged the same way."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from core import errors
from core.money import Money
from core.ports import PaymentNotice, UnitOfWork
from core.school import School
from core.services import payments

GATEWAY = "manual"
MAX_NOTE = 200

log = logging.getLogger(__name__)


def payment_id(order_id: int, amount: Money, note: str) -> str:
    """The same confirmation (order, amount, note) always gets the same id, so repeating it
    records nothing twice; a second transfer of the same amount needs another note."""
    digest = hashlib.sha256(note.encode()).hexdigest()[:12]
    return f"{order_id}:{amount.amount}{amount.currency}:{digest}"


async def confirm(
    uow: UnitOfWork,
    school: School,
    order_id: int,
    amount: Money,
    note: str,
    confirmed_by: str,
    now: datetime,
) -> payments.Confirmation:
    """Record ``amount`` as paid for ``order_id`` by hand, by the admin ``confirmed_by``
    (``messenger:id``). NotFound if there is no such order; ValueError for an amount that is
    not positive or a note that is too long (nothing is changed)."""
    if amount.amount <= 0:
        raise ValueError("the amount must be above zero")
    note = " ".join(note.split())
    if len(note) > MAX_NOTE:
        raise ValueError(f"the note is longer than {MAX_NOTE} characters")
    order = await uow.orders.get(order_id)
    if order is None:
        raise errors.NotFound(order=order_id)
    notice = PaymentNotice(
        gateway=GATEWAY,
        gateway_payment_id=payment_id(order.id, amount, note),
        order_token=order.token,
        amount=amount.amount,
        currency=amount.currency,
        details={"confirmed_by": confirmed_by, "note": note},
    )
    result = await payments.confirm(uow, school, notice, now)
    log.info("order %s: %s confirmed paid by hand by %s (note %r): %s", order.id, amount,
             confirmed_by, note, result.outcome.value)
    return result
