"""Renewing offers every way the offer can be paid in the student's messenger, as the offer
card does: in a chat that takes Stars, the reminder, "My courses" and the win-back carry the
Stars price beside the card price; a school with no checkout page renews in Stars alone."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from harness import Harness

from core.models import PurchaseStatus
from core.money import Money

THREE_DAYS_BEFORE = datetime(2026, 3, 30, 8, 1, tzinfo=UTC)  # club-month bought Mar 2
TWO_DAYS_AFTER = datetime(2026, 4, 4, 8, 1, tzinfo=UTC)
CARD, STARS = "🔄 Renew: Club monthly · 9 EUR", "🔄 Renew: Club monthly · 100 ⭐"
OWN = "🔄 Renew: Club monthly"


@pytest.fixture
def school(school):
    offers = dict(school.offers)
    offers["club-month"] = dataclasses.replace(offers["club-month"], stars=Money(100, "XTR"))
    return dataclasses.replace(school, offers=offers)


async def _bought_in_stars(h: Harness):
    chat = h.chat()
    await chat.start("club-month")
    await chat.click("Buy for 100 ⭐")
    await chat.pay_in_chat(chat.last.screen.invoice.payload, "XTR", 100, "charge-1")
    await h.deliver()
    return chat


async def _club(h: Harness):
    async with h.uow_factory() as uow:
        return [p for p in await uow.purchases.for_user(1) if p.offer_code == "club-month"]


async def _at(h: Harness, moment: datetime) -> None:
    h.clock.set(moment)
    await h.sweep()


async def test_the_reminder_and_my_courses_offer_stars_beside_the_card(
        uow_factory, school, clock):
    async with Harness(uow_factory, school, clock, invoices=frozenset({"XTR"})) as h:
        chat = await _bought_in_stars(h)
        await _at(h, THREE_DAYS_BEFORE)
        assert "ends on Apr 2, 2026" in chat.last.text
        assert "🔄 Renew: Club +30 days · 8 EUR" in chat.last.labels  # extensions too
        assert [CARD, STARS] == [x for x in chat.last.labels if x.startswith(OWN)]

        await chat.send("/my")
        await chat.click("Club monthly — until Apr 2, 2026")
        assert [CARD, STARS] == [x for x in chat.last.labels if x.startswith(OWN)]

        await chat.click(STARS)
        invoice = chat.last.screen.invoice
        assert (invoice.currency, invoice.amount) == ("XTR", 100)
        await chat.pay_in_chat(invoice.payload, "XTR", 100, "charge-2")
        [purchase] = await _club(h)
        assert purchase.ends_at == datetime(2026, 5, 2, 9, 0, tzinfo=UTC)


async def test_the_win_back_in_a_chat_without_stars_offers_only_the_card(harness):
    chat = harness.chat()
    await chat.start("club-month")
    await chat.click("Buy")
    await harness.pay(await chat.click("Pay"))
    await _at(harness, TWO_DAYS_AFTER)
    assert "We miss you" in chat.last.text
    assert [CARD] == [x for x in chat.last.labels if x.startswith(OWN)]


async def test_a_school_with_no_checkout_page_renews_in_stars(uow_factory, school, clock):
    async with Harness(uow_factory, school, clock, invoices=frozenset({"XTR"}),
                       test_payments=False) as h:
        chat = await _bought_in_stars(h)
        await _at(h, TWO_DAYS_AFTER)
        assert "We miss you" in chat.last.text
        assert [STARS] == [x for x in chat.last.labels if x.startswith(OWN)]
        await chat.click(STARS)
        invoice = chat.last.screen.invoice
        await chat.pay_in_chat(invoice.payload, "XTR", 100, "charge-2")
        [lapsed, renewed] = sorted(await _club(h), key=lambda p: p.id)
        assert lapsed.status is PurchaseStatus.EXPIRED
        assert renewed.status is PurchaseStatus.ACTIVE and renewed.ends_at > TWO_DAYS_AFTER
