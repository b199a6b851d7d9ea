"""Channels sold as Telegram Stars subscriptions: each period Telegram charged is recorded
once, the purchase ends when the subscription does, on every storage backend."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from factories import NEWS_CHAT, START, make_school, with_stars_channel

from core import errors
from core.models import RENEWAL_TELEGRAM_CHANNEL, PurchaseStatus
from core.services import checkout, groups, star_channels, users
from core.services.star_channels import Sync

DAYS_30 = timedelta(days=30)


@pytest.fixture
def school():
    return with_stars_channel(make_school())


async def _join(uow_factory, school, now, until, external_id="42", price=250):
    news = school.groups["news"]
    async with uow_factory() as uow:
        purchase = await star_channels.paid_until(
            uow, school, news, external_id, "Anna", until, price, now, "news-stars")
        outcome = await groups.joined(uow, school, news, external_id, "Anna", "member",
                                      "https://t.me/+sub", False, now)
        await uow.commit()
    return purchase, outcome


async def test_joining_records_one_paid_period_ending_with_the_subscription(
        db_uow_factory, school):
    until = START + DAYS_30
    purchase, outcome = await _join(db_uow_factory, school, START, until)
    assert outcome.remove is False
    assert purchase.ends_at == until and purchase.renewal == RENEWAL_TELEGRAM_CHANNEL
    again, _ = await _join(db_uow_factory, school, START, until)  # the same update twice
    assert again is None
    async with db_uow_factory() as uow:
        [order] = await uow.orders.for_user(purchase.user_id)
        assert (order.amount, order.currency, order.status.value) == (250, "XTR", "paid")
        [payment] = await uow.payments.for_order(order.id)
        assert payment.gateway == star_channels.GATEWAY
        kinds = [m.kind for m in await uow.outbox.for_user(purchase.user_id)]
        assert kinds.count("order_paid") == 1
        # The expiry sweep leaves it to the comparison with Telegram.
        assert await uow.purchases.due_expiry(until + timedelta(days=5), 10) == []
        assert [p.id for p in await star_channels.due(uow, until)] == [purchase.id]


async def test_a_renewal_extends_to_telegrams_new_end_and_counts_once(db_uow_factory, school):
    until = START + DAYS_30
    purchase, _ = await _join(db_uow_factory, school, START, until)
    later = until + timedelta(minutes=5)
    async with db_uow_factory() as uow:
        assert await star_channels.synced(uow, school, purchase.id, "42", True, until + DAYS_30,
                                          later) is Sync.RENEWED
        await uow.commit()
    async with db_uow_factory() as uow:  # Telegram's own update about it comes late
        assert await star_channels.renewed(uow, school, school.groups["news"], "42",
                                           until + DAYS_30, later) is None
        current = await uow.purchases.get(purchase.id)
        assert current.ends_at == until + DAYS_30 and current.status is PurchaseStatus.ACTIVE
        orders = await uow.orders.for_user(purchase.user_id)
        assert sorted(o.amount for o in orders) == [250, 250]
        assert await star_channels.due(uow, later) == []


async def test_a_subscription_not_renewed_waits_out_the_grace_then_ends(db_uow_factory, school):
    until = START + DAYS_30
    purchase, _ = await _join(db_uow_factory, school, START, until)
    async with db_uow_factory() as uow:
        assert await star_channels.synced(uow, school, purchase.id, "42", True, until,
                                          until + timedelta(hours=1)) is Sync.WAITING
        await uow.commit()
    late = until + star_channels.LAPSE_GRACE
    async with db_uow_factory() as uow:
        assert await star_channels.synced(uow, school, purchase.id, "42", True, until,
                                          late) is Sync.ENDED
        await uow.commit()
    async with db_uow_factory() as uow:
        assert (await uow.purchases.get(purchase.id)).status is PurchaseStatus.EXPIRED
        [member] = await groups.due_removals(uow, school, late)  # still in: taken out
        assert member.chat_id == NEWS_CHAT


async def test_a_member_who_left_ends_at_once_when_the_end_comes(db_uow_factory, school):
    until = START + DAYS_30
    purchase, _ = await _join(db_uow_factory, school, START, until)
    async with db_uow_factory() as uow:
        assert await star_channels.synced(uow, school, purchase.id, "42", False, None,
                                          until) is Sync.ENDED
        await uow.commit()
    async with db_uow_factory() as uow:
        assert (await uow.purchases.get(purchase.id)).end_reason == "expired"


async def test_the_subscription_offer_cannot_be_ordered_through_the_checkout(
        db_uow_factory, school):
    async with db_uow_factory() as uow:
        user, _ = await users.resolve(uow, START, "telegram", "42", "Anna")
        with pytest.raises(errors.OfferUnavailable):
            await checkout.place_order(uow, school, START, user, "news-stars", stars=True)
        assert await uow.orders.for_user(user.id) == []


async def test_a_price_change_asks_for_a_new_link_and_retires_the_old(db_uow_factory, school):
    news, offer = school.groups["news"], school.offers["news-stars"]
    async with db_uow_factory() as uow:
        assert await star_channels.links_to_make(uow, school) == [(news, offer)]
        assert await star_channels.record_link(uow, news, offer, "https://t.me/+a", START) is None
        await uow.commit()
    async with db_uow_factory() as uow:
        assert await star_channels.links_to_make(uow, school) == []
        assert await star_channels.link_url(uow, school, offer) == "https://t.me/+a"
    dearer = dataclasses.replace(offer, price=dataclasses.replace(offer.price, amount=300))
    school = dataclasses.replace(school, offers={**school.offers, "news-stars": dearer})
    async with db_uow_factory() as uow:
        assert await star_channels.link_url(uow, school, dearer) is None  # not at that price
        assert await star_channels.links_to_make(uow, school) == [(news, dearer)]
        old = await star_channels.record_link(uow, news, dearer, "https://t.me/+b", START)
        await uow.commit()
    assert old.url == "https://t.me/+a" and old.revoked_at == START
    async with db_uow_factory() as uow:
        assert await star_channels.link_url(uow, school, dearer) == "https://t.me/+b"
