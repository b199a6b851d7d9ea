"""The test checkout page and the payment webhook, over real HTTP on 127.0.0.1."""

from __future__ import annotations

from harness import checkout_forms

from core.models import OrderStatus


async def _order(harness, offer="python-life"):
    chat = harness.chat()
    await chat.start(offer)
    await chat.click("Buy")
    return chat, await chat.click("Pay")


async def _state(harness):
    async with harness.uow_factory() as uow:
        order = await uow.orders.get(1)
        return order.status, await uow.payments.for_order(1), await uow.purchases.for_user(1)


async def test_checkout_page_shows_the_order(harness):
    _, link = await _order(harness)
    status, html = await harness.open_checkout(link)
    assert status == 200
    assert "Python forever" in html and "49 EUR" in html and "Test School" in html
    assert "no money is taken" in html
    assert set(checkout_forms(html, harness.url(link))) == {"pay", "decline"}


async def test_forged_and_tampered_notifications_are_refused_and_change_nothing(harness):
    _, link = await _order(harness)
    form = (await harness.checkout_forms(link))["pay"]
    before = await _state(harness)
    for tamper in (
        {"amount": "1"},
        {"signature": "0" * 64},
        {"outcome": "decline"},
        {"payment_id": "test_1_pay_other"},
        {"currency": "XTR"},
    ):
        status, body = await harness.submit(form, **tamper)
        assert status == 403, tamper
        assert "not valid" in body
    async with harness.http.post(form["url"], data=b"\xff\xfe") as r:
        assert r.status == 403
    async with harness.http.post(form["url"], data={"order": form["fields"]["order"]}) as r:
        assert r.status == 403
    assert await _state(harness) == before
    assert before[0] is OrderStatus.NEW


async def test_replayed_payment_grants_once(harness):
    chat, link = await _order(harness)
    form = (await harness.checkout_forms(link))["pay"]
    for _ in range(3):
        status, body = await harness.submit(form)
        assert status == 200 and 'data-status="paid"' in body
    status, payments, purchases = await _state(harness)
    assert status is OrderStatus.PAID and len(payments) == 1 and len(purchases) == 1
    await harness.deliver()
    assert sum("Payment received" in m.text for m in chat.messages) == 1


async def test_decline_keeps_the_order_open_and_tells_the_student(harness):
    chat, link = await _order(harness)
    status, body = await harness.pay(link, "decline")
    assert status == 200 and 'data-status="declined"' in body
    await harness.deliver()
    assert "didn't go through" in chat.last.text
    assert any(label.startswith("💳 Pay") for label in chat.last.labels)
    status, _ = await harness.pay(link, "pay")
    assert (await _state(harness))[0] is OrderStatus.PAID


async def test_paid_order_page_shows_the_result_not_the_form(harness):
    _, link = await _order(harness)
    await harness.pay(link)
    status, html = await harness.open_checkout(link)
    assert status == 200 and 'data-status="paid"' in html and "<form" not in html


async def test_unknown_order_and_gateway(harness):
    status, html = await harness.open_checkout("http://x/pay/not-a-token")
    assert status == 404 and "no such order" in html
    async with harness.http.post(harness.server.make_url("/payments/stripe/webhook")) as r:
        assert r.status == 404


async def test_healthz_reports_the_school_and_the_database(harness):
    async with harness.http.get(harness.server.make_url("/healthz")) as response:
        assert response.status == 200
        body = await response.json()
    assert body["status"] == "ok" and body["school"] == "Test School"


async def test_the_root_page_tells_a_newcomer_what_to_do(harness):
    async with harness.http.get(harness.server.make_url("/")) as response:
        assert response.status == 200
        assert "python run.py chat" in await response.text()
