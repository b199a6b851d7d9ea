"""A school with Stripe and YooKassa (and no test payments) as its students see it: each order
offers every page that takes its currency, named when there are several; an offer that no
way here can take says so instead of showing a dead button; Telegram adds its Stars."""

from __future__ import annotations

import dataclasses

import pytest
from harness import Harness

from core.models import OutboxMessage
from core.money import Money
from core.notices import PaymentFailed
from core.school import Offer
from core.services import payments
from core.services.payments import PaymentNotice
from flows.notifications import render
from flows.texts import Texts
from payments.stripe import StripeGateway
from payments.yookassa import YooKassaGateway

SITE = "https://school.example"  # the pay pages' base: nothing is fetched from it here


def _school(school):
    """The test school plus the Python course in roubles, in pounds, and in Stars only."""
    extra = [
        Offer("python-rub", {"en": "Python in roubles"}, Money.from_major(4900, "RUB"),
              ("python-course",)),
        Offer("python-gbp", {"en": "Python in pounds"}, Money.from_major(40, "GBP"),
              ("python-course",)),
        Offer("python-xtr", {"en": "Python in Stars"}, Money(300, "XTR"), ("python-course",)),
    ]
    return dataclasses.replace(school, offers={**school.offers, **{o.code: o for o in extra}})


@pytest.fixture
async def gateways(clock):
    stripe = StripeGateway("sk_test_x", "whsec_x", SITE, clock)
    yield {"stripe": stripe,
           "yookassa": YooKassaGateway("123", "test_secret", SITE)}
    await stripe.close()


@pytest.fixture
async def vk(uow_factory, school, clock, gateways):
    """A messenger with no payments of its own, like VK and Viber."""
    async with Harness(uow_factory, _school(school), clock, test_payments=False,
                       gateways=gateways) as h:
        yield h


@pytest.fixture
async def telegram(uow_factory, school, clock, gateways):
    """A chat that takes Stars, like Telegram."""
    async with Harness(uow_factory, _school(school), clock, invoices=frozenset({"XTR"}),
                       test_payments=False, gateways=gateways) as h:
        yield h


async def _order(harness, chat, offer: str):
    await chat.start(offer)
    await chat.click("Buy")
    async with harness.uow_factory() as uow:
        return (await uow.orders.for_user(1))[-1]


def _links(chat) -> list[tuple[str, str | None]]:
    return [(b.text, b.url) for b in chat.last.screen.buttons if b.url]


async def test_a_rouble_order_offers_both_pages_each_named(vk):
    chat = vk.chat()
    await chat.start("python-rub")
    assert [label for label in chat.last.labels if "Buy" in label] == ["💳 Buy for 4900 RUB"]
    order = await _order(vk, chat, "python-rub")
    assert _links(chat) == [
        ("💳 Pay 4900 RUB by card", f"{SITE}/payments/stripe/pay/{order.token}"),
        ("💳 Pay 4900 RUB (YooKassa)", f"{SITE}/payments/yookassa/pay/{order.token}"),
    ]


async def test_a_euro_order_offers_the_pages_that_take_euros_a_pound_order_only_stripe(vk):
    chat = vk.chat()
    order = await _order(vk, chat, "python-life")
    assert [url for _, url in _links(chat)] == [
        f"{SITE}/payments/stripe/pay/{order.token}",
        f"{SITE}/payments/yookassa/pay/{order.token}"]
    other = vk.chat("2002")
    await other.start("python-gbp")
    await other.click("Buy")
    [(label, url)] = _links(other)
    assert label == "💳 Pay 40 GBP"  # the only way: nothing to tell apart
    assert "/payments/stripe/pay/" in url


@pytest.mark.parametrize(("language", "card", "named"), [
    ("ru", "💳 Оплатить 4900 RUB картой", "💳 Оплатить 4900 RUB (YooKassa)"),
    ("fr", "💳 Payer 4900 RUB par carte", "💳 Payer 4900 RUB (YooKassa)"),
])
async def test_the_ways_are_named_in_the_students_language(vk, language, card, named):
    chat = vk.chat(language=language)
    await chat.start("python-rub")
    await chat.press("b:python-rub")
    assert [label for label, _ in _links(chat)] == [card, named]


async def test_an_offer_in_stars_cannot_be_paid_where_there_are_no_stars(vk):
    chat = vk.chat()
    await chat.start("python-xtr")
    assert "This offer can't be paid in this messenger." in chat.last.text
    assert not any("Buy" in label or "promo" in label for label in chat.last.labels)
    await chat.press("b:python-xtr")  # a button it never showed
    assert "out of date" in chat.last.text
    async with vk.uow_factory() as uow:
        assert await uow.orders.for_user(1) == []
    assert vk.platform.unpayable_offers() == ["python-xtr (XTR)"]


async def test_telegram_shows_the_card_pages_and_stars(telegram):
    chat = telegram.chat()
    await chat.start("python-life")
    assert chat.last.labels[:2] == ["💳 Buy for 49 EUR", "💳 Buy for 250 ⭐"]
    await chat.click("Buy for 49 EUR")
    assert [label for label, _ in _links(chat)] == ["💳 Pay 49 EUR by card",
                                                    "💳 Pay 49 EUR (YooKassa)"]
    assert chat.last.screen.invoice is None  # no card invoices in this chat: only Stars
    await chat.start("python-life")
    await chat.click("Buy for 250 ⭐")
    assert chat.last.screen.invoice.currency == "XTR" and _links(chat) == []
    await chat.start("python-xtr")
    assert "can't be paid" not in chat.last.text
    assert "💳 Buy for 300 ⭐" in chat.last.labels
    assert telegram.platform.unpayable_offers() == []


async def test_a_renewal_offers_one_button_per_price_and_its_order_every_page(vk):
    chat = vk.chat()
    order = await _order(vk, chat, "club-month")
    async with vk.uow_factory() as uow:
        await payments.confirm(uow, vk.platform.school(), PaymentNotice(
            "stripe", "pi_1", order.token, order.amount, order.currency), vk.clock.now())
        await uow.commit()
    await vk.deliver()
    await chat.click("My courses")
    await chat.click("Club monthly")
    assert [label for label in chat.last.labels if "Renew" in label] == [
        "🔄 Renew: Club monthly · 9 EUR", "🔄 Renew: Club +30 days · 8 EUR"]
    await chat.click("Renew: Club monthly")
    assert [label for label, _ in _links(chat)] == ["💳 Pay 9 EUR by card",
                                                    "💳 Pay 9 EUR (YooKassa)"]


async def test_a_failed_payment_links_every_page_that_takes_its_currency(vk):
    chat = vk.chat()
    rub = await _order(vk, chat, "python-rub")
    gbp = await _order(vk, chat, "python-gbp")
    school = vk.platform.school()
    shown = {}
    async with vk.uow_factory() as uow:
        for order in (rub, gbp):
            message = OutboxMessage(id=1, user_id=1, kind=PaymentFailed.KIND,
                                    data=PaymentFailed(order=order.id).data(),
                                    created_at=vk.clock.now())
            screen = await render(uow, school, Texts(school, "en"), message,
                                  vk.platform.flows.checkout)
            shown[order.currency] = [b.url.split("/")[4] for b in screen.buttons if b.url]
    assert shown == {"RUB": ["stripe", "yookassa"], "GBP": ["stripe"]}
