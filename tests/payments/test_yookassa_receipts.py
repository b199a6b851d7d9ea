"""Receipts (54-FZ) through the official YooKassa SDK against the fake YooKassa API, whose shop
sends receipts and so refuses a payment without one: the student is asked once in the chat
for an email or phone, a bad one is refused, and each payment and each renewal carries the
receipt with the offer's VAT code; with receipts off nothing is asked and nothing is sent."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from factories import START, make_school
from fake_yookassa import FakeYooKassa
from harness import Harness
from test_yookassa import END, gateway_for, notify, open_pay_link

from core.models import OrderStatus
from core.school import ReceiptRules
from core.services import checkout, users

RULES = ReceiptRules(vat_code=1, tax_system_code=2)
PROMPT = "For the receipt (54-FZ), send me your email or phone number"


def school_with(rules: ReceiptRules | None = RULES):
    """The test school; "Python forever" has VAT code 4 of its own (the others the school's)."""
    school = make_school(receipts=rules)
    offers = dict(school.offers)
    offers["python-life"] = dataclasses.replace(offers["python-life"], vat_code=4)
    return dataclasses.replace(school, offers=offers)


@pytest.fixture
async def fake():
    server = await FakeYooKassa(receipts=True).start()
    yield server
    await server.close()


async def shop_for(uow_factory, school, clock, fake, invoices=frozenset()):
    gateway = gateway_for(fake, clock, yookassa_timeout=2)
    harness = Harness(uow_factory, school, clock, test_payments=False, invoices=invoices,
                      gateways={"yookassa": gateway})
    harness.fake, harness.gateway = fake, gateway
    return harness


@pytest.fixture
async def shop(uow_factory, clock, fake):
    async with await shop_for(uow_factory, school_with(), clock, fake) as h:
        yield h


def created(fake: FakeYooKassa) -> list[dict]:
    """The bodies of the payments the gateway asked YooKassa to create, in order."""
    return [body for method, path, body in fake.requests
            if (method, path) == ("POST", "/v3/payments")]


def receipt(contact: dict, description: str, value: str, vat_code: int) -> dict:
    return {"customer": contact,
            "items": [{"description": description, "quantity": "1.0",
                       "amount": {"value": value, "currency": "EUR"}, "vat_code": vat_code,
                       "payment_subject": "service", "payment_mode": "full_payment"}],
            "tax_system_code": 2}


async def pay_link(shop, chat) -> dict:
    """Open the order's pay button; YooKassa's payment it leads to."""
    return shop.fake.payment_for(await open_pay_link(shop, await chat.click("Pay")))


async def orders_of(shop, external_id="1001"):
    async with shop.uow_factory() as uow:
        identity = await uow.users.identity("console", external_id)
        return await uow.orders.for_user(identity.user_id) if identity else []


async def test_the_student_is_asked_once_and_each_payment_carries_the_receipt(shop):
    chat = shop.chat()
    await chat.start("python-life")
    await chat.click("Buy")
    assert chat.last.text.startswith(PROMPT)
    assert chat.last.labels == ["⬅️ Back"]
    assert await orders_of(shop) == []  # no order, no seat held, until the contact is known

    await chat.send("anna@mail")
    assert chat.last.text.startswith("“anna@mail” is neither an email nor a phone number.")
    assert PROMPT in chat.last.text
    async with shop.uow_factory() as uow:
        assert (await uow.users.get(1)).receipt_contact is None
    await chat.send("Anna@Mail.RU")
    assert chat.last.text.startswith("🧾 Receipts will go to anna@mail.ru.\n\nOrder #1")
    payment = await pay_link(shop, chat)
    [body] = created(shop.fake)
    assert body["receipt"] == receipt({"email": "anna@mail.ru"}, "Python forever", "49.00", 4)
    assert await notify(shop, shop.fake.pay(payment["id"])) == 200
    await shop.deliver()
    assert shop.fake.payments[payment["id"]]["receipt_registration"] == "succeeded"
    assert (await orders_of(shop))[0].status is OrderStatus.PAID

    # The next purchase goes straight to the pay button, with the school's VAT code.
    await chat.start("python-30")
    await chat.click("Buy")
    assert chat.last.text.startswith("Order #2")
    await pay_link(shop, chat)
    assert created(shop.fake)[-1]["receipt"] == receipt(
        {"email": "anna@mail.ru"}, "Python 30 days", "19.90", 1)
    async with shop.uow_factory() as uow:
        assert (await uow.users.get(1)).receipt_contact == "anna@mail.ru"


async def test_a_phone_goes_to_yookassa_in_its_e164_digits(shop):
    chat = shop.chat()
    await chat.start("python-30")
    await chat.click("Buy")
    await chat.send("8 (900) 123-45-67")
    assert chat.last.text.startswith("🧾 Receipts will go to +79001234567.")
    await pay_link(shop, chat)
    assert created(shop.fake)[0]["receipt"]["customer"] == {"phone": "79001234567"}


async def test_back_leaves_the_question_and_asks_it_again_at_the_next_buy(shop):
    chat = shop.chat()
    await chat.start("python-life")
    await chat.click("Buy")
    await chat.click("Back")
    assert chat.last.text.startswith("Python forever")
    await chat.send("anna@mail.ru")  # no longer an answer to anything
    async with shop.uow_factory() as uow:
        assert (await uow.users.get(1)).receipt_contact is None
    await chat.start("python-life")
    await chat.click("Buy")
    assert chat.last.text.startswith(PROMPT)


async def test_a_school_sending_receipts_by_email_only_refuses_a_phone(uow_factory, clock, fake):
    school = school_with(dataclasses.replace(RULES, email_only=True))
    async with await shop_for(uow_factory, school, clock, fake) as shop:
        chat = shop.chat()
        await chat.start("python-30")
        await chat.click("Buy")
        assert chat.last.text.startswith("For the receipt (54-FZ), send me your email")
        await chat.send("+7 900 123-45-67")
        assert chat.last.text.startswith("“+7 900 123-45-67” is not an email address.")
        await chat.send("anna@mail.ru")
        assert "Order #1" in chat.last.text


async def test_nothing_is_asked_where_no_receipt_can_be_due(uow_factory, clock, fake):
    """Stars go through Telegram, a free order through no gateway at all."""
    async with await shop_for(uow_factory, school_with(), clock, fake,
                              invoices=frozenset({"XTR"})) as shop:
        chat = shop.chat()
        await chat.start("python-life")
        await chat.press("bs:python-life")
        assert chat.last.text.startswith("Order #1")
        await chat.start("python-30")
        await chat.click("promo code")
        await chat.send("FREE")
        await chat.click("Get it free")
        assert chat.last.text.startswith("✅ Order #2 is complete, no payment needed.")
    assert created(fake) == []


async def test_a_renewal_charge_carries_the_receipt(shop):
    chat = shop.chat()
    await chat.start("club-month")
    await chat.click("Buy")
    await chat.send("anna@mail.ru")
    payment = await pay_link(shop, chat)
    assert await notify(shop, shop.fake.pay(payment["id"])) == 200
    await shop.deliver()

    shop.clock.set(END)
    await shop.sweep()
    [first, renewal] = created(shop.fake)
    assert first["receipt"] == receipt({"email": "anna@mail.ru"}, "Club monthly", "9.00", 1)
    assert renewal["payment_method_id"] == payment["payment_method"]["id"]
    assert renewal["receipt"] == first["receipt"]
    async with shop.uow_factory() as uow:
        [purchase] = await uow.purchases.for_user(1)
    assert purchase.ends_at == datetime(2026, 5, 2, 9, 0, tzinfo=UTC)


async def test_an_order_from_before_receipts_is_not_sent_to_yookassa_without_one(shop):
    async with shop.uow_factory() as uow:  # ordered while the school sent no receipts
        user, _ = await users.resolve(uow, START, "console", "1001", "Anna", "ru")
        placed = await checkout.place_order(uow, make_school(), START, user, "python-30")
        await uow.commit()
    link = shop.gateway.checkout_url(placed.order)
    async with shop.http.get(shop.url(link), allow_redirects=False) as response:
        assert response.status == 409
        assert "Для чека нужен ваш email или телефон" in await response.text()
    assert created(shop.fake) == []


async def test_receipts_off_ask_nothing_and_send_none(uow_factory, clock):
    fake = await FakeYooKassa().start()  # a shop that sends no receipts
    try:
        async with await shop_for(uow_factory, school_with(None), clock, fake) as shop:
            chat = shop.chat()
            await chat.start("python-life")
            await chat.click("Buy")
            assert chat.last.text.startswith("Order #1")
            await pay_link(shop, chat)
        [body] = created(fake)
        assert "receipt" not in body
    finally:
        await fake.close()


async def test_the_fake_refuses_what_yookassa_refuses(shop):
    """YooKassa's answers, through the SDK, to payments without a receipt or with a bad one."""
    from yookassa import Payment as SdkPayment
    from yookassa.domain.exceptions import BadRequestError

    good = receipt({"email": "anna@mail.ru"}, "Python forever", "49.00", 4)
    base = {"amount": {"value": "49.00", "currency": "EUR"}, "capture": True,
            "confirmation": {"type": "redirect", "return_url": "http://school.example/back"}}

    async def refusal(request: dict, key: str) -> dict:
        with pytest.raises(BadRequestError) as refused:
            await shop.gateway._call(lambda: SdkPayment.create(request, key))
        return refused.value.content

    missing = await refusal(base, "k1")
    assert (missing["type"], missing["code"], missing["parameter"], missing["description"]) \
        == ("error", "invalid_request", "receipt", "Receipt is missing or illegal")
    bad_sum = dict(good, items=[dict(good["items"][0], amount={"value": "40.00",
                                                                "currency": "EUR"})])
    assert "is not the payment amount" in (
        await refusal({**base, "receipt": bad_sum}, "k2"))["description"]
    bad_vat = dict(good, items=[dict(good["items"][0], vat_code=13)])
    assert "vat_code must be 1 to 12" in (
        await refusal({**base, "receipt": bad_vat}, "k3"))["description"]
    bad_phone = dict(good, customer={"phone": "+7 900 123"})
    assert (await refusal({**base, "receipt": bad_phone}, "k4"))["parameter"] == "receipt"
    long_item = dict(good, items=[dict(good["items"][0], description="x" * 129)])
    assert "128" in (await refusal({**base, "receipt": long_item}, "k5"))["description"]
    accepted = await shop.gateway._call(lambda: SdkPayment.create({**base, "receipt": good},
                                                                   "k6"))
    assert accepted.status == "pending" and accepted.receipt_registration == "pending"
    assert len(shop.fake.payments) == 1


async def test_a_subscriber_from_before_receipts_is_asked_before_the_next_charge(
        uow_factory, clock, fake):
    fake.receipts = False  # the shop before it sent receipts
    async with await shop_for(uow_factory, school_with(None), clock, fake) as shop:
        chat = shop.chat()
        await chat.start("club-month")
        await chat.click("Buy")
        payment = await pay_link(shop, chat)
        assert await notify(shop, shop.fake.pay(payment["id"])) == 200
        await shop.deliver()
        shop.platform.school.school = school_with()  # the school turns receipts on
        fake.receipts = True

        shop.clock.set(END)
        await shop.sweep()
        assert len(created(fake)) == 1  # no charge YooKassa would refuse
        assert chat.last.text.startswith(
            "⚠️ We could not renew “Club monthly”: the receipt needs your email or phone; "
            "renew by hand once and I will ask for it.")
        await chat.click("Renew: Club monthly")
        assert chat.last.text.startswith(PROMPT)
        await chat.send("anna@mail.ru")
        await pay_link(shop, chat)
        assert created(fake)[-1]["receipt"]["customer"] == {"email": "anna@mail.ru"}
