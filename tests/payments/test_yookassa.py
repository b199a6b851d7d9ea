"""YooKassa through its official SDK against a fake YooKassa API on 127.0.0.1: a student buys
on the console, pays on YooKassa's page, and the notification (checked with the API first)
grants once; forged notifications grant nothing; a refund from /refund withdraws access; a
subscription saves the card and is renewed by charging it once."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from fake_yookassa import FakeYooKassa
from harness import Harness
from yookassa_steps import buy, gateway_for, notify, open_pay_link, yookassa_shop

from app.settings import Settings
from core.models import OrderStatus, PaymentStatus, PurchaseStatus

END = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)  # club-month bought at START (Mar 2, 09:00)


@pytest.fixture
async def fake():
    server = await FakeYooKassa().start()
    yield server
    await server.close()


@pytest.fixture
async def shop(uow_factory, school, clock):
    async with yookassa_shop(uow_factory, school, clock) as shop:
        yield shop


async def test_a_student_buys_and_pays_on_yookassa_once(shop):
    chat = shop.chat()
    payment = await buy(shop, chat, "python-life")
    method, path, request = shop.fake.requests[0]
    assert (method, path) == ("POST", "/v3/payments")
    assert request["amount"] == {"value": "49.00", "currency": "EUR"}
    assert request["confirmation"]["type"] == "redirect"
    assert request["confirmation"]["return_url"].startswith(
        "http://school.example/payments/yookassa/back/")
    assert "save_payment_method" not in request  # a lifetime offer saves no card
    # Opening the link again is the same payment (one Idempotence-Key per order).
    again = await open_pay_link(shop, chat.last.screen.buttons[0].url)
    assert shop.fake.payment_for(again)["id"] == payment["id"]
    assert len(shop.fake.payments) == 1

    notification = shop.fake.pay(payment["id"])
    for _ in range(3):  # YooKassa repeats a notification until it gets 200
        assert await notify(shop, notification) == 200
    await shop.deliver()

    assert "Payment received! Order #1: Python forever." in chat.last.text
    async with shop.uow_factory() as uow:
        order = await uow.orders.get(1)
        assert order.status is OrderStatus.PAID
        assert len(await uow.purchases.for_user(order.user_id)) == 1
        [paid] = await uow.payments.for_order(1)
        assert (paid.gateway, paid.gateway_payment_id, paid.amount, paid.currency) == (
            "yookassa", payment["id"], 4900, "EUR")
    # Every notification was checked with the API before anything was granted.
    assert [r[:2] for r in shop.fake.requests].count(
        ("GET", f"/v3/payments/{payment['id']}")) == 3
    async with shop.http.get(shop.url(request["confirmation"]["return_url"])) as back:
        assert back.status == 200 and "Go back to the chat" in await back.text()


async def test_200_concurrent_copies_of_one_notification_grant_once(shop):
    chat = shop.chat()
    payment = await buy(shop, chat, "python-life")
    body = json.dumps(shop.fake.pay(payment["id"])).encode()
    url = shop.server.make_url("/payments/yookassa/webhook")

    async def post() -> tuple[int, str]:
        async with http.post(url, data=body,
                             headers={"Content-Type": "application/json"}) as response:
            return response.status, (await response.json())["outcome"]

    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as http:
        answers = await asyncio.gather(*(post() for _ in range(200)))
    assert {status for status, _ in answers} == {200}
    outcomes = [outcome for _, outcome in answers]
    assert (outcomes.count("granted"), outcomes.count("duplicate")) == (1, 199)
    async with shop.uow_factory() as uow:
        assert (await uow.orders.get(1)).status is OrderStatus.PAID
        assert len(await uow.purchases.for_user(1)) == 1
        assert len(await uow.payments.for_order(1)) == 1
    await shop.deliver()
    assert sum("Payment received!" in m.text for m in chat.messages) == 1
    # Copies that came together were checked with YooKassa together, not 200 times over.
    fetched = [r[:2] for r in shop.fake.requests].count(("GET", f"/v3/payments/{payment['id']}"))
    assert 1 <= fetched < 200


async def test_forged_notifications_grant_nothing(shop):
    chat = shop.chat()
    payment = await buy(shop, chat, "python-life")
    succeeded = FakeYooKassa.notification("payment.succeeded", payment["id"])
    assert await notify(shop, succeeded) == 403  # YooKassa says it is still pending
    unknown = FakeYooKassa.notification("payment.succeeded", "2f000000-000f-5000-9000-forged")
    assert await notify(shop, unknown) == 403
    assert await notify(shop, b"not json") == 403
    await shop.deliver()
    async with shop.uow_factory() as uow:
        assert (await uow.orders.get(1)).status is OrderStatus.NEW
        assert await uow.payments.for_order(1) == []
        assert await uow.purchases.for_user(1) == []
    assert "Payment received" not in chat.last.text


async def test_notifications_from_outside_the_allowed_networks_are_refused(
        uow_factory, school, clock, fake):
    gateway = gateway_for(fake, clock, yookassa_allowed_ips="yookassa")
    async with Harness(uow_factory, school, clock, test_payments=False,
                       gateways={"yookassa": gateway}) as shop:
        shop.fake = fake
        payment = await buy(shop, shop.chat(), "python-life")
        assert await notify(shop, fake.pay(payment["id"])) == 403  # 127.0.0.1 is not YooKassa
        async with uow_factory() as uow:
            assert (await uow.orders.get(1)).status is OrderStatus.NEW
    with pytest.raises(ValueError, match="YOOKASSA_ALLOWED_IPS"):
        Settings(_env_file=None, yookassa_allowed_ips="10.0.0.0/33")
    with pytest.raises(ValueError, match="both YOOKASSA_SHOP_ID and YOOKASSA_SECRET_KEY"):
        Settings(_env_file=None, yookassa_shop_id="123456")


async def test_a_refund_from_the_staff_command_withdraws_access(shop):
    admin = shop.chat("admin", "Olga")
    await admin.send("/start")
    chat = shop.chat()
    payment = await buy(shop, chat, "python-life")
    assert await notify(shop, shop.fake.pay(payment["id"])) == 200
    await shop.deliver()

    await admin.send("/refund 1")
    assert admin.last.text.startswith("Order #1: 49 EUR returned")
    assert shop.fake.payments[payment["id"]]["refunded_amount"]["value"] == "49.00"
    # YooKassa's own word of the refund comes after: recorded already, nothing more.
    assert await notify(shop, shop.fake.notifications[-1]) == 200
    async with shop.uow_factory() as uow:
        assert (await uow.orders.get(1)).status is OrderStatus.REFUNDED
        [purchase] = await uow.purchases.for_user(2)
        assert purchase.status is PurchaseStatus.REVOKED
        [paid] = await uow.payments.for_order(1)
        assert paid.status is PaymentStatus.REFUNDED
    assert len(shop.fake.refunds) == 1
    # A repeated refund (a crash after YooKassa's answer) moves no more money.
    await shop.gateway.refund(paid)
    assert len(shop.fake.refunds) == 1


async def test_a_subscription_saves_the_card_and_renews_by_charging_it_once(shop):
    chat = shop.chat()
    payment = await buy(shop, chat, "club-month")
    assert shop.fake.requests[0][2]["save_payment_method"] is True
    assert await notify(shop, shop.fake.pay(payment["id"])) == 200
    await shop.deliver()
    async with shop.uow_factory() as uow:
        [purchase] = await uow.purchases.for_user(1)
        method = shop.fake.payments[payment["id"]]["payment_method"]["id"]
        assert purchase.renewal_method == f"yookassa:{method}"

    shop.clock.set(END)
    await shop.sweep()
    charges = [r for r in shop.fake.requests if r[2] and r[2].get("payment_method_id")]
    assert [c[2]["payment_method_id"] for c in charges] == [method]
    assert charges[0][2]["amount"] == {"value": "9.00", "currency": "EUR"}
    await shop.sweep()
    assert len([r for r in shop.fake.requests if r[2] and r[2].get("payment_method_id")]) == 1
    async with shop.uow_factory() as uow:
        [purchase] = await uow.purchases.for_user(1)
        assert purchase.ends_at == datetime(2026, 5, 2, 9, 0, tzinfo=UTC)
    # YooKassa's notification of the renewal's charge names no order: nothing more happens.
    [charged] = [p for p in shop.fake.payments.values() if p["id"] != payment["id"]]
    assert await notify(shop, FakeYooKassa.notification("payment.succeeded",
                                                        charged["id"])) == 200


async def test_a_renewal_whose_charge_times_out_is_charged_once_later(shop):
    chat = shop.chat()
    payment = await buy(shop, chat, "club-month")
    assert await notify(shop, shop.fake.pay(payment["id"])) == 200
    await shop.deliver()

    shop.fake.hold = asyncio.Event()  # YooKassa takes longer than the gateway's timeout
    shop.clock.set(END)
    await shop.sweep()
    shop.clock.set(END + timedelta(minutes=6))  # the lease ran out: the same key again,
    await shop.sweep()  # while YooKassa still works on the first: "processing", nothing known
    async with shop.uow_factory() as uow:
        [purchase] = await uow.purchases.for_user(1)
        assert purchase.ends_at == END
    shop.fake.hold.set()
    await shop.fake.idle()
    shop.clock.set(END + timedelta(minutes=12))
    await shop.sweep()  # the same key: YooKassa answers its first charge again
    charged = [p for p in shop.fake.payments.values() if p["id"] != payment["id"]]
    assert len(charged) == 1 and charged[0]["status"] == "succeeded"
    assert sum(1 for r in shop.fake.requests if r[2] and r[2].get("payment_method_id")) == 3
    async with shop.uow_factory() as uow:
        [purchase] = await uow.purchases.for_user(1)
        assert purchase.ends_at == datetime(2026, 5, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("down", [timedelta(days=10), timedelta(days=70)],
                         ids=["past-the-grace", "past-two-periods"])
async def test_a_renewal_that_fell_in_a_long_outage_is_charged_once_from_now(shop, down):
    chat = shop.chat()
    payment = await buy(shop, chat, "club-month")
    assert await notify(shop, shop.fake.pay(payment["id"])) == 200
    back = END + down

    for moment in (back, back + timedelta(minutes=10)):
        shop.clock.set(moment)
        await shop.sweep()

    charges = [r for r in shop.fake.requests if r[2] and r[2].get("payment_method_id")]
    assert len(charges) == 1 and charges[0][2]["amount"]["value"] == "9.00"
    async with shop.uow_factory() as uow:
        [purchase] = await uow.purchases.for_user(1)
    assert purchase.status is PurchaseStatus.ACTIVE
    assert purchase.ends_at == back.replace(month=back.month + 1)  # a month from the charge
    assert "Your access lasts until" in chat.last.text


async def test_a_declined_renewal_tells_the_student(shop):
    chat = shop.chat()
    payment = await buy(shop, chat, "club-month")
    assert await notify(shop, shop.fake.pay(payment["id"])) == 200
    await shop.deliver()
    shop.fake.declined.add(shop.fake.payments[payment["id"]]["payment_method"]["id"])
    shop.clock.set(END)
    await shop.sweep()
    async with shop.uow_factory() as uow:
        [purchase] = await uow.purchases.for_user(1)
        assert purchase.ends_at == END
        [renewal] = await uow.renewals.for_purchase(purchase.id)
        assert renewal.last_error == "insufficient_funds"



async def test_a_payment_of_another_amount_grants_nothing_and_alerts_the_admins(shop):
    admin = shop.chat("admin", "Olga")
    await admin.send("/start")
    chat = shop.chat()
    payment = await buy(shop, chat, "python-life")
    notification = shop.fake.pay(payment["id"])
    shop.fake.payments[payment["id"]]["amount"]["value"] = "10.00"  # not the order's price
    assert await notify(shop, notification) == 200
    await shop.deliver()
    async with shop.uow_factory() as uow:
        assert (await uow.orders.get(1)).status is OrderStatus.PARTIALLY_PAID
        assert await uow.purchases.for_user(2) == []
        [paid] = await uow.payments.for_order(1)
        assert (paid.amount, paid.refund_reason) == (1000, "underpaid")
    assert admin.last.text.startswith("⚠️ Money to return: 10 EUR (yookassa)")
