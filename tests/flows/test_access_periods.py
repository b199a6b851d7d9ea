"""End dates a student sees: lifetime, a period, a renewal; and the end of access."""

from __future__ import annotations

from datetime import timedelta

from core.models import PurchaseStatus


async def _buy(harness, chat, offer: str) -> None:
    await chat.start(offer)
    await chat.click("Buy")
    await harness.pay(await chat.click("Pay"))
    await harness.deliver()


async def _purchases(harness, user_id=1):
    async with harness.uow_factory() as uow:
        return await uow.purchases.for_user(user_id)


async def test_lifetime_period_and_renewal_end_dates(harness, clock):
    chat = harness.chat()
    start = clock.now()
    await _buy(harness, chat, "python-life")
    await _buy(harness, chat, "python-30")
    by_offer = {p.offer_code: p for p in await _purchases(harness)}
    assert by_offer["python-life"].ends_at is None
    assert by_offer["python-30"].ends_at == start + timedelta(days=30)

    clock.advance(timedelta(days=10))
    await _buy(harness, chat, "club-extend")
    by_offer = {p.offer_code: p for p in await _purchases(harness)}
    # The club continues from the bundle's current end (not from now); the course does not.
    assert by_offer["club-extend"].ends_at == start + timedelta(days=60)
    assert by_offer["club-extend"].products == ("club",)
    assert by_offer["python-30"].ends_at == start + timedelta(days=30)
    assert "Your access lasts until Apr 1, 2026." not in chat.last.text
    assert "Your access lasts until May 1, 2026." in chat.last.text

    await chat.send("/my")
    assert "Python 30 days — until Apr 1, 2026" in chat.last.labels
    assert "Club +30 days — until May 1, 2026" in chat.last.labels
    assert "Python forever" in chat.last.labels


async def test_renewal_after_lapse_restarts_from_the_payment(harness, clock):
    chat = harness.chat()
    await _buy(harness, chat, "club-month")
    clock.advance(timedelta(days=40))
    await harness.sweep()
    assert "Your access to “Club monthly” has ended" in chat.last.text
    [purchase] = await _purchases(harness)
    assert purchase.status is PurchaseStatus.EXPIRED

    await chat.send("/my")
    assert "Club monthly — ended Apr 11, 2026" in chat.last.text
    await _buy(harness, chat, "club-extend")
    [purchase] = await _purchases(harness)
    assert purchase.status is PurchaseStatus.ACTIVE
    assert purchase.ends_at == clock.now() + timedelta(days=30)


async def test_buying_the_same_period_offer_again_extends_it(harness, clock):
    chat = harness.chat()
    start = clock.now()
    await _buy(harness, chat, "python-30")
    clock.advance(timedelta(days=5))
    await _buy(harness, chat, "python-30")
    [purchase] = await _purchases(harness)
    assert purchase.ends_at == start + timedelta(days=60)


async def test_lessons_stop_after_access_ends(harness, clock):
    chat = harness.chat()
    await _buy(harness, chat, "python-30")
    clock.advance(timedelta(days=31))
    await harness.sweep()
    lessons_sent = [m for m in chat.messages if "A new lesson" in m.text]
    # Variables (day 1), Loops (day 3) and the live session (day 10) opened before the end.
    assert len(lessons_sent) == 3
    clock.advance(timedelta(days=30))
    await harness.sweep()
    assert len([m for m in chat.messages if "A new lesson" in m.text]) == 3


async def test_my_courses_shows_open_lessons_and_the_next_one(harness, clock):
    chat = harness.chat()
    await _buy(harness, chat, "python-life")
    await chat.send("/my")
    await chat.click("Python forever")
    assert "▶️ Intro" in chat.last.labels
    assert "Read chapter 2" in chat.last.text
    assert "Next lesson: “Variables” on Mar 3, 2026 10:00." in chat.last.text
