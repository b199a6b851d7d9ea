"""A channel sold as a Telegram Stars subscription, against the fake Bot API: the platform
makes the subscription link, records each period Telegram charges, keeps the purchase's end
equal to the member's ``until_date``, and lets access go when the subscription lapses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import NEWS_CHAT, make_school, with_stars_channel
from telegram_harness import TelegramHarness

from core.models import PurchaseStatus
from core.services import star_channels

DAY = timedelta(days=1)


@pytest.fixture
def school():
    return with_stars_channel(make_school())


@pytest.fixture(autouse=True)
def same_time(fake_telegram, clock):
    fake_telegram.time = lambda: clock.now().timestamp()


@pytest.fixture
async def tg(fake_telegram, uow_factory, school, clock):
    fake_telegram.group(NEWS_CHAT, "News", type="channel")
    async with TelegramHarness(fake_telegram, uow_factory, school, clock) as harness:
        yield harness


async def _purchase(tg, user_id: int):
    async with tg.platform.uow_factory() as uow:
        identity = await uow.users.identity("telegram", str(user_id))
        return [p for p in await uow.purchases.for_user(identity.user_id)
                if p.offer_code == "news-stars"]


async def _subscribe(tg, user) -> str:
    """The student opens the offer and follows its link; Telegram charges and lets them in."""
    await tg.says(user, "/start news-stars")
    shown = tg.fake.last_message(user["id"])
    [url] = [b["url"] for row in shown["reply_markup"]["inline_keyboard"] for b in row
             if "url" in b]
    assert "every 30 days" in shown["text"]
    tg.fake.push(tg.fake.chat_member_update(NEWS_CHAT, user, new_status="member",
                                            invite_link=url))
    await tg.settle()
    await tg.platform.dispatcher.drain()
    return url


async def test_the_subscription_link_is_made_once_at_the_offers_price(tg):
    [made] = tg.fake.calls_to("createChatSubscriptionInviteLink")
    assert made.params["subscription_price"] == 250
    assert made.params["subscription_period"] == 30 * 86400
    assert made.params["name"] == "news-stars"
    await tg.platform.groups.start()  # a restart: the stored link is still good
    assert len(tg.fake.calls_to("createChatSubscriptionInviteLink")) == 1


async def test_a_subscriber_is_recorded_renewed_and_let_go_with_telegram(tg):
    anna = tg.fake.user(601, "Anna")
    await _subscribe(tg, anna)
    assert tg.fake.member_status(NEWS_CHAT, 601) == "member"
    assert tg.fake.calls_to("banChatMember") == []  # a paying member stays
    assert tg.fake.calls_to("createChatInviteLink") == []  # already in: no personal link
    [purchase] = await _purchase(tg, 601)
    first_end = tg.clock.now() + timedelta(days=30)
    assert purchase.ends_at == first_end
    assert "News channel" in tg.fake.last_message(601)["text"]  # the paid confirmation
    await tg.presses(anna, "my")
    await tg.presses(anna, f"p:{purchase.id}")
    assert "renews this subscription every 30 days" in tg.fake.last_message(601)["text"]

    # Telegram renews at the end; the platform asks once the end has come.
    tg.clock.advance(timedelta(days=30))
    tg.fake.renew_subscription(NEWS_CHAT, 601)  # its chat_member update is not delivered
    await tg.platform.run_sweeps()
    [purchase] = await _purchase(tg, 601)
    assert purchase.ends_at == first_end + timedelta(days=30)
    assert purchase.status is PurchaseStatus.ACTIVE

    # The next renewal comes as an update: recorded at once, and only once.
    tg.clock.advance(timedelta(days=30))
    update = tg.fake.renew_subscription(NEWS_CHAT, 601)
    for _ in range(2):
        tg.fake.push(update)
        await tg.settle()
    [purchase] = await _purchase(tg, 601)
    assert purchase.ends_at == first_end + timedelta(days=60)
    async with tg.platform.uow_factory() as uow:
        orders = await uow.orders.for_user(purchase.user_id)
    assert [o.amount for o in orders] == [250, 250, 250]
    assert len(tg.fake.subscription_charges) == 3

    # The student cancels in Telegram: at the end Telegram takes them out; access follows.
    tg.clock.advance(timedelta(days=30))
    tg.fake.push(tg.fake.chat_member_update(NEWS_CHAT, anna, new_status="left"))
    await tg.settle()
    await tg.platform.run_sweeps()
    await tg.platform.dispatcher.drain()
    [purchase] = await _purchase(tg, 601)
    assert purchase.status is PurchaseStatus.EXPIRED
    assert tg.fake.calls_to("banChatMember") == []  # already out: nothing to do


async def test_telegram_unreachable_never_ends_a_subscription(tg):
    await _subscribe(tg, tg.fake.user(602, "Boris"))
    tg.clock.advance(timedelta(days=30, minutes=1))
    tg.fake.fail("getChatMember", 500, "Internal Server Error", times=50)
    await tg.platform.run_sweeps()
    [purchase] = await _purchase(tg, 602)
    assert purchase.status is PurchaseStatus.ACTIVE
    assert tg.fake.calls_to("banChatMember") == []


async def test_a_subscriber_still_in_after_the_grace_is_taken_out(tg):
    await _subscribe(tg, tg.fake.user(603, "Carl"))
    tg.clock.advance(timedelta(days=30, hours=1))
    await tg.platform.run_sweeps()  # not renewed yet, but Telegram may still
    [purchase] = await _purchase(tg, 603)
    assert purchase.status is PurchaseStatus.ACTIVE
    tg.clock.advance(star_channels.LAPSE_GRACE)
    await tg.platform.run_sweeps()
    await tg.platform.dispatcher.drain()
    [purchase] = await _purchase(tg, 603)
    assert purchase.status is PurchaseStatus.EXPIRED
    assert tg.fake.member_status(NEWS_CHAT, 603) == "left"  # ban, then unban


async def test_a_forged_buy_button_sells_no_invoice(tg):
    dana = tg.fake.user(604, "Dana")
    await tg.says(dana, "/start news-stars")
    shown = tg.fake.last_message(604)
    for forged in ("bs:news-stars", "b:news-stars"):
        tg.fake.push(tg.fake.callback_update(dana, shown, forged, check=False))
        await tg.settle()
    assert tg.fake.calls_to("sendInvoice") == []
    # The stale press is answered on the message that holds the button (and in its toast).
    edits = [c.params for c in tg.fake.calls_to("editMessageText") if c.chat_id == 604]
    assert any("out of date" in e["text"] and e["message_id"] == shown["message_id"]
               for e in edits)
    assert any("out of date" in (c.params.get("text") or "")
               for c in tg.fake.calls_to("answerCallbackQuery"))
    async with tg.platform.uow_factory() as uow:
        identity = await uow.users.identity("telegram", "604")
        assert await uow.orders.for_user(identity.user_id) == []
