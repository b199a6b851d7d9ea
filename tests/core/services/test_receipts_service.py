"""Receipts (54-FZ): what a student may give as the receipt's contact and how it is kept, on
every storage backend; the receipt a payment carries; a renewal charge with nowhere to send
its receipt is not attempted through a gateway that issues receipts."""

from __future__ import annotations

import dataclasses

import pytest
from factories import START, make_school

from core import errors, jobs
from core.models import Order, RenewalStatus
from core.ports import ChargeResult, Receipt
from core.school import ReceiptRules
from core.services import linking, receipts, renewals, users

RULES = ReceiptRules(vat_code=1, tax_system_code=2)


def school_with(rules: ReceiptRules | None = RULES, **offer_changes):
    school = make_school(receipts=rules)
    if offer_changes:
        offers = dict(school.offers)
        offers["python-life"] = dataclasses.replace(offers["python-life"], **offer_changes)
        school = dataclasses.replace(school, offers=offers)
    return school


@pytest.mark.parametrize(("typed", "kept"), [
    ("Anna@Example.COM", "anna@example.com"),
    ("  anna.k+school@mail.ru ", "anna.k+school@mail.ru"),
    ("анна@почта.рф", "анна@почта.рф"),
    ("+7 (900) 123-45-67", "+79001234567"),
    ("8 900 123 45 67", "+79001234567"),
    ("79001234567", "+79001234567"),
    ("9001234567", "+79001234567"),
    ("+375 29 123-45-67", "+375291234567"),
])
def test_emails_are_kept_in_lower_case_and_phones_in_e164(typed, kept):
    assert receipts.normalize_contact(typed) == kept


@pytest.mark.parametrize("typed", [
    "", "anna", "anna@", "@mail.ru", "anna@mail", "anna@mail.r", "anna @mail.ru",
    "anna@mail.ru.", "a@b@c.ru", "123", "12345", "1234567890", "+8 900 123 45 67",
    "+7 900 123 45 6", "+0 123 456 789", "phone: 89001234567", "x" * 300 + "@mail.ru",
])
def test_anything_else_is_refused(typed):
    with pytest.raises(errors.ReceiptContactInvalid):
        receipts.normalize_contact(typed)


def test_a_school_whose_receipts_go_by_email_refuses_phones():
    with pytest.raises(errors.ReceiptContactInvalid) as refused:
        receipts.normalize_contact("+79001234567", email_only=True)
    assert refused.value.params == {"text": "+79001234567", "email_only": True}
    assert receipts.normalize_contact("ANNA@mail.ru", email_only=True) == "anna@mail.ru"


async def _student(uow_factory, external_id="1", messenger="telegram"):
    async with uow_factory() as uow:
        user, _ = await users.resolve(uow, START, messenger, external_id, "Anna", "ru")
        await uow.commit()
    return user


async def test_the_contact_is_kept_once_and_a_bad_one_changes_nothing(db_uow_factory):
    school = school_with()
    user = await _student(db_uow_factory)
    assert receipts.needs_contact(school, user)
    assert not receipts.needs_contact(school_with(None), user)  # receipts off: never asked
    async with db_uow_factory() as uow:
        with pytest.raises(errors.ReceiptContactInvalid):
            await receipts.save_contact(uow, school, user, "anna@mail")
        await uow.commit()
    async with db_uow_factory() as uow:
        assert (await uow.users.get(user.id)).receipt_contact is None
        assert await receipts.save_contact(uow, school, user, "8 900 123-45-67") \
            == "+79001234567"
        await uow.commit()
    async with db_uow_factory() as uow:
        stored = await uow.users.get(user.id)
    assert stored.receipt_contact == "+79001234567"
    assert not receipts.needs_contact(school, stored)
    # A school that sends receipts by email only asks again a student who gave a phone.
    assert receipts.needs_contact(school_with(dataclasses.replace(RULES, email_only=True)),
                                  stored)


async def test_linked_accounts_keep_the_contact_of_either(db_uow_factory):
    school = school_with()
    anna = await _student(db_uow_factory, "1")
    other = await _student(db_uow_factory, "v1", "viber")
    async with db_uow_factory() as uow:
        await receipts.save_contact(uow, school, other, "anna@mail.ru")
        code = await linking.issue(uow, anna.id, START)
        await uow.commit()
    async with db_uow_factory() as uow:
        await linking.redeem(uow, code.code, other.id, START)
        await uow.commit()
    async with db_uow_factory() as uow:
        assert (await uow.users.get(anna.id)).receipt_contact == "anna@mail.ru"


def _order(offer="python-life", amount=4900):
    return Order(id=7, user_id=1, offer_code=offer, token="t", amount=amount,
                 list_amount=amount, currency="RUB", created_at=START)


def test_the_receipt_names_the_offer_in_the_school_language_with_its_vat_code():
    school = school_with(title={"en": "Python forever", "ru": "Питон навсегда"}, vat_code=11)
    school = dataclasses.replace(school, default_language="ru")
    assert receipts.receipt_for(school, _order(), "anna@mail.ru") == Receipt(
        "anna@mail.ru", "Питон навсегда", 4900, "RUB", vat_code=11, tax_system_code=2)
    # Another offer takes the school's VAT code.
    assert receipts.receipt_for(school, _order("python-30", 1990), "+79001234567") == Receipt(
        "+79001234567", "Python 30 days", 1990, "RUB", vat_code=1, tax_system_code=2)
    long = school_with(title={"en": "P" * 200})
    assert receipts.receipt_for(long, _order(), "a@b.ru").item == "P" * 128
    assert receipts.receipt_for(school, _order(), None) is None
    assert receipts.receipt_for(school_with(None), _order(), "a@b.ru") is None


class Issuer:
    """A gateway that issues receipts: records each charge and the receipt it carried."""

    name = "test"
    issues_receipts = True

    def __init__(self) -> None:
        self.charged: list[Receipt | None] = []

    async def charge(self, method, amount, currency, key, receipt=None, sent_at=None):
        self.charged.append(receipt)
        return ChargeResult(True, f"charge-{len(self.charged)}")


async def _subscriber(uow_factory, school, contact=None):
    from core.services import checkout, payments
    from core.services.payments import PaymentNotice

    user = await _student(uow_factory)
    async with uow_factory() as uow:
        if contact:
            await receipts.save_contact(uow, school, user, contact)
        order = (await checkout.place_order(uow, school, START, user, "club-month")).order
        await payments.confirm(uow, school, PaymentNotice(
            "test", "first", order.token, order.amount, order.currency,
            details={"saved_method": "card_saved"}), START)
        [purchase] = await uow.purchases.for_user(user.id)
        await uow.commit()
    return purchase


async def test_a_renewal_carries_its_receipt(db_uow_factory):
    school = school_with()
    purchase = await _subscriber(db_uow_factory, school, "anna@mail.ru")
    issuer = Issuer()
    assert await jobs.charge_renewals(db_uow_factory, school, {"test": issuer},
                                      purchase.ends_at) == 1
    assert issuer.charged == [Receipt("anna@mail.ru", "Club monthly", 900, "EUR", 1, 2)]


async def test_a_renewal_with_nowhere_to_send_its_receipt_is_not_charged(db_uow_factory):
    school = make_school()  # sold before the school turned receipts on
    purchase = await _subscriber(db_uow_factory, school)
    school = school_with()
    issuer = Issuer()
    await jobs.charge_renewals(db_uow_factory, school, {"test": issuer}, purchase.ends_at)
    assert issuer.charged == []
    async with db_uow_factory() as uow:
        [renewal] = await uow.renewals.for_purchase(purchase.id)
        [told] = [m for m in await uow.outbox.for_user(purchase.user_id)
                  if m.kind == "renewal_failed"]
    assert renewal.status is RenewalStatus.PENDING and renewal.attempts == 1
    assert renewal.last_error == renewals.NO_RECEIPT_CONTACT
    assert told.data["reason"] == renewals.NO_RECEIPT_CONTACT
