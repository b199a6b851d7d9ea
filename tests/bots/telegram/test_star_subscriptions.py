"""An offer sold as a Telegram Stars subscription to the bot, against the fake Bot API: the
invoice is a subscription link, each payment Telegram makes extends the purchase once, the
student switches renewal off and on in Telegram through the bot, and a subscription Telegram
stops renewing lets access go a day after its end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import make_school, with_stars_subscription
from telegram_harness import TelegramHarness

from core import jobs
from core.models import OrderStatus, PaymentStatus, PurchaseStatus

DAY = timedelta(days=1)
PERIOD = 30 * 86400


@pytest.fixture
def school():
    return with_stars_subscription(make_school())


@pytest.fixture(autouse=True)
def same_time(fake_telegram, clock):
    fake_telegram.time = lambda: clock.now().timestamp()


@pytest.fixture
async def tg(fake_telegram, uow_factory, school, clock):
    async with TelegramHarness(fake_telegram, uow_factory, school, clock) as harness:
        yield harness
    assert fake_telegram.violations == []


async def _purchases(tg, user_id: int):
    async with tg.uow_factory() as uow:
        identity = await uow.users.identity("telegram", str(user_id))
        return await uow.purchases.for_user(identity.user_id)


async def _subscribe(tg, user, charge_id: str) -> str:
    """The student buys the offer, opens Telegram's subscription link and pays."""
    await tg.says(user, "/start python-stars")
    buy = next(b["callback_data"] for b in tg.keyboard(user["id"]) if "300" in b["text"])
    await tg.presses(user, buy, wait_for="sendMessage")
    shown = tg.fake.last_message(user["id"])
    link = shown["reply_markup"]["inline_keyboard"][0][0]["url"]
    check, paid = tg.fake.pay_invoice_link(user, link, charge_id)
    tg.fake.push(check)
    answer = await tg.fake.wait_for_call("answerPreCheckoutQuery")
    assert answer.params["ok"] is True
    tg.fake.push(paid)
    await tg.settle()
    return link


async def test_the_invoice_is_a_subscription_link_and_each_renewal_counts_once(tg, clock):
    anna = tg.fake.user(701, "Anna")
    link = await _subscribe(tg, anna, "sub-1")
    [made] = tg.fake.calls_to("createInvoiceLink")
    assert made.params["subscription_period"] == PERIOD
    assert (made.params["currency"], made.params["prices"][0]["amount"]) == ("XTR", 300)
    assert tg.fake.calls_to("sendInvoice") == []  # Telegram has no subscription invoices
    order_message = tg.fake.sent_messages(701)[-2]
    assert "every 30 days" in order_message["text"]
    assert link.startswith("https://t.me/$")
    assert "Payment received" in tg.fake.last_message(701)["text"]
    [purchase] = await _purchases(tg, 701)
    first_end = clock.now() + timedelta(seconds=PERIOD)
    assert (purchase.renewal, purchase.renewal_method) == ("telegram_stars",
                                                           "telegram_stars:701:sub-1")
    assert purchase.ends_at == first_end

    # Three days ahead: the notice says Telegram will charge, with the off switch.
    clock.set(first_end - 3 * DAY)
    await jobs.send_reminders(tg.uow_factory, tg.platform.school(), clock.now())
    await tg.platform.dispatcher.drain()
    notice = tg.fake.last_message(701)
    assert "Telegram will renew" in notice["text"] and "300" in notice["text"]
    assert any(b.get("callback_data") == f"ar:{purchase.id}:off" for b in tg.keyboard(701))

    # Telegram renews at the end; the same update twice is one payment, one period.
    clock.set(first_end)
    renewal = tg.fake.renew_star_subscription("sub-1", "sub-2")
    tg.fake.push(renewal, renewal)
    await tg.settle()
    [purchase] = await _purchases(tg, 701)
    assert purchase.ends_at == first_end + timedelta(seconds=PERIOD)
    assert purchase.status is PurchaseStatus.ACTIVE
    assert purchase.renewal_method == "telegram_stars:701:sub-1"
    async with tg.uow_factory() as uow:
        orders = [await uow.orders.get(i) for i in (1, 2, 3)]
        assert [o.status for o in orders if o] == [OrderStatus.PAID, OrderStatus.PAID]
        paid = await uow.payments.get("telegram", "sub-2")
        assert (paid.amount, paid.status, paid.order_id) == (300, PaymentStatus.SUCCEEDED, 2)
    texts = [m.get("text", "") for m in tg.fake.sent_messages(701)]
    assert not any("will be returned" in t for t in texts)  # not taken for extra money
    assert sum("Payment received" in t for t in texts) == 2

    # Half a day past the end with no word from Telegram yet: access stays.
    clock.set(purchase.ends_at + DAY / 2)
    assert await jobs.expire_purchases(tg.uow_factory, clock.now()) == 0


async def test_renewal_switched_off_and_on_in_telegram_then_the_access_ends(tg, clock):
    boris = tg.fake.user(702, "Boris")
    await _subscribe(tg, boris, "sub-b")
    [purchase] = await _purchases(tg, 702)
    await tg.presses(boris, "my")
    await tg.presses(boris, f"p:{purchase.id}")
    assert "Renews automatically" in tg.fake.last_message(702)["text"]
    await tg.presses(boris, f"ar:{purchase.id}:off", wait_for="sendMessage")
    [cancel] = tg.fake.calls_to("editUserStarSubscription")
    assert cancel.params == {"user_id": 702, "telegram_payment_charge_id": "sub-b",
                             "is_canceled": True}
    assert "off" in tg.fake.last_message(702)["text"]
    [purchase] = await _purchases(tg, 702)
    assert purchase.renewal is None and purchase.status is PurchaseStatus.ACTIVE
    with pytest.raises(ValueError):
        tg.fake.renew_star_subscription("sub-b", "sub-b2")

    # Back on while it runs: Telegram charges again.
    await tg.presses(boris, f"p:{purchase.id}")
    await tg.presses(boris, f"ar:{purchase.id}:on", wait_for="sendMessage")
    assert tg.fake.calls_to("editUserStarSubscription")[-1].params["is_canceled"] is False
    [purchase] = await _purchases(tg, 702)
    assert purchase.renewal == "telegram_stars"

    # Off for good: access lasts to the end of the paid period, not a day more.
    await tg.presses(boris, f"p:{purchase.id}")
    await tg.presses(boris, f"ar:{purchase.id}:off", wait_for="sendMessage")
    clock.set(purchase.ends_at - timedelta(minutes=1))
    assert await jobs.expire_purchases(tg.uow_factory, clock.now()) == 0
    clock.set(purchase.ends_at)
    assert await jobs.expire_purchases(tg.uow_factory, clock.now()) == 1


async def test_a_switch_telegram_refuses_changes_nothing(tg):
    vera = tg.fake.user(703, "Vera")
    await _subscribe(tg, vera, "sub-v")
    [purchase] = await _purchases(tg, 703)
    await tg.presses(vera, "my")
    await tg.presses(vera, f"p:{purchase.id}")
    tg.fake.fail("editUserStarSubscription", code=400, retry_after=None,
                 description="Bad Request: SUBSCRIPTION_ID_INVALID")
    await tg.presses(vera, f"ar:{purchase.id}:off", wait_for="sendMessage")
    assert "did not accept" in tg.fake.last_message(703)["text"]
    [after] = await _purchases(tg, 703)
    assert after.renewal == "telegram_stars"
    assert tg.fake.star_subscriptions["sub-v"]["canceled"] is False


async def test_a_subscription_telegram_did_not_renew_ends_a_day_after_its_end(tg, clock):
    gleb = tg.fake.user(704, "Gleb")
    await _subscribe(tg, gleb, "sub-g")
    [purchase] = await _purchases(tg, 704)
    clock.set(purchase.ends_at + DAY - timedelta(minutes=1))
    assert await jobs.expire_purchases(tg.uow_factory, clock.now()) == 0
    clock.set(purchase.ends_at + DAY)
    assert await jobs.expire_purchases(tg.uow_factory, clock.now()) == 1
    [ended] = await _purchases(tg, 704)
    assert ended.status is PurchaseStatus.EXPIRED

    # Telegram's charge arrives after all, late: the money is honoured, access restarts.
    tg.fake.push(tg.fake.renew_star_subscription("sub-g", "sub-g2"))
    await tg.settle()
    running = [p for p in await _purchases(tg, 704) if p.status is PurchaseStatus.ACTIVE]
    assert len(running) == 1 and running[0].renewal == "telegram_stars"
    assert running[0].ends_at >= clock.now() + timedelta(days=29)


async def test_a_recurring_payment_for_an_unknown_invoice_grants_nothing(tg):
    dana = tg.fake.user(705, "Dana")
    await tg.says(dana, "/start")
    tg.fake.push(tg.fake.successful_payment_update(
        dana, "no-such-order", "XTR", 300, "forged-1", is_recurring=True,
        subscription_expiration_date=int(tg.clock.now().timestamp()) + PERIOD))
    await tg.settle()
    async with tg.uow_factory() as uow:
        assert await uow.payments.get("telegram", "forged-1") is None
    assert await _purchases(tg, 705) == []
