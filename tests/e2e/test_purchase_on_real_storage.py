"""The whole purchase, end to end, on SQLite and PostgreSQL storage."""

from __future__ import annotations

from datetime import timedelta

from harness import Harness

from core.models import OrderStatus


async def test_buy_pay_receive_lessons_and_expire(db_uow_factory, school, clock):
    async with Harness(db_uow_factory, school, clock) as harness:
        chat = harness.chat(language="ru")
        await chat.start("o-python-30__src-telegram-ads")
        await chat.click("Купить")
        link = await chat.click("Оплатить")
        pay = (await harness.checkout_forms(link))["pay"]
        for _ in range(2):  # a second press of Pay changes nothing
            status, html = await harness.submit(pay)
            assert status == 200 and 'data-status="paid"' in html
        await harness.deliver()
        assert "Оплата получена! Заказ №1" in chat.last.text
        assert "Intro (ru)" in " ".join(chat.last.labels)

        clock.advance(timedelta(days=3))
        await harness.sweep()
        assert [m.text.split(":")[-1].strip() for m in chat.messages if "новый урок" in m.text] \
            == ["Variables (ru)", "Loops (ru)"]

        clock.advance(timedelta(days=30))
        await harness.sweep()
        assert "закончился" in chat.last.text
        async with db_uow_factory() as uow:
            assert (await uow.orders.get(1)).status is OrderStatus.PAID
            assert len(await uow.payments.for_order(1)) == 1
            [purchase] = await uow.purchases.for_user(1)
            assert purchase.status.value == "expired"
            assert (await uow.users.get(1)).utm_source == "telegram-ads"
