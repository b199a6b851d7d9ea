"""manual_payments.confirm: money taken outside any gateway, confirmed by an admin, goes
through the one payment path and is recorded with who confirmed it."""

from __future__ import annotations

import pytest

from core import errors
from core.models import OrderStatus, PaymentStatus, PurchaseStatus
from core.money import Money
from core.services import manual_payments
from core.services.payments import Outcome


async def _confirm(shop, order_id, amount, note="bank transfer", by="telegram:42"):
    async with shop.uow_factory() as uow:
        result = await manual_payments.confirm(uow, shop.school, order_id, amount, note, by,
                                               shop.clock.now())
        await uow.commit()
    return result


async def test_a_confirmed_transfer_grants_like_a_gateway_and_names_who_confirmed(shop):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")

    result = await _confirm(shop, placed.order.id, Money(4900, "EUR"), "  transfer   3 May ")

    assert result.outcome is Outcome.GRANTED
    assert (await shop.get_order(placed.order.id)).status is OrderStatus.PAID
    [purchase] = await shop.purchases(anna.id)
    assert purchase.status is PurchaseStatus.ACTIVE
    [payment] = await shop.payments(placed.order.id)
    assert (payment.gateway, payment.amount, payment.currency, payment.status) == (
        "manual", 4900, "EUR", PaymentStatus.SUCCEEDED)
    assert payment.details == {"confirmed_by": "telegram:42", "note": "transfer 3 May"}
    assert [m.data["order"] for m in await shop.outbox(anna.id, "order_paid")] == [
        placed.order.id]


async def test_the_same_confirmation_again_changes_nothing(shop):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")
    await _confirm(shop, placed.order.id, Money(4900, "EUR"))

    again = await _confirm(shop, placed.order.id, Money(4900, "EUR"), by="telegram:43")

    assert again.outcome is Outcome.DUPLICATE
    assert len(await shop.payments(placed.order.id)) == 1
    assert len(await shop.purchases(anna.id)) == 1


async def test_two_instalments_with_their_own_notes_add_up(shop):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")

    first = await _confirm(shop, placed.order.id, Money(2450, "EUR"), "part 1")
    second = await _confirm(shop, placed.order.id, Money(2450, "EUR"), "part 2")

    assert (first.outcome, second.outcome) == (Outcome.PARTIAL, Outcome.GRANTED)
    assert [p.refund_reason for p in await shop.payments(placed.order.id)] == [None, None]
    assert (await shop.get_order(placed.order.id)).status is OrderStatus.PAID


async def test_a_wrong_currency_grants_nothing_and_is_flagged(shop):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")

    result = await _confirm(shop, placed.order.id, Money(4900, "USD"))

    assert result.outcome is Outcome.PARTIAL
    assert await shop.purchases(anna.id) == []
    [payment] = await shop.payments(placed.order.id)
    assert payment.refund_reason == "currency"


@pytest.mark.parametrize(
    ("amount", "note", "problem"),
    [(Money(0, "EUR"), "", "above zero"), (Money(-100, "EUR"), "", "above zero"),
     (Money(4900, "EUR"), "x" * 201, "longer than 200")],
)
async def test_bad_input_is_refused_and_changes_nothing(shop, amount, note, problem):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")

    with pytest.raises(ValueError, match=problem):
        await _confirm(shop, placed.order.id, amount, note)

    assert await shop.payments(placed.order.id) == []
    assert (await shop.get_order(placed.order.id)).status is OrderStatus.NEW


async def test_an_unknown_order_is_not_found(shop):
    with pytest.raises(errors.NotFound):
        await _confirm(shop, 999, Money(4900, "EUR"))


def test_the_payment_id_depends_on_order_amount_and_note_only():
    one = manual_payments.payment_id(7, Money(4900, "EUR"), "cash")
    assert one == manual_payments.payment_id(7, Money(4900, "EUR"), "cash")
    assert len({one, manual_payments.payment_id(8, Money(4900, "EUR"), "cash"),
                manual_payments.payment_id(7, Money(4900, "USD"), "cash"),
                manual_payments.payment_id(7, Money(4900, "EUR"), "card")}) == 4
