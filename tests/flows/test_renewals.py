"""The access lifecycle as a student lives it, with a fake clock: reminders at the right
local times and once, renewing by hand from the current end, and automatic renewal that
charges once, never after a renewal by hand, and retries a declined card until the grace
ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.models import PurchaseStatus

END = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)  # club-month bought at START (Mar 2, 09:00)
# Reminders go out at 10:00 school time (Berlin, UTC+2 from Mar 29).
THREE_DAYS_BEFORE = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
ONE_DAY_BEFORE = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
TWO_DAYS_AFTER = datetime(2026, 4, 4, 8, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


async def _buy(harness, chat, offer: str, outcome: str = "pay") -> None:
    await chat.start(offer)
    await chat.click("Buy")
    await harness.pay(await chat.click("Pay"), outcome)
    await harness.deliver()


async def _club(harness):
    async with harness.uow_factory() as uow:
        [purchase] = [p for p in await uow.purchases.for_user(1) if p.offer_code == "club-month"]
        return purchase


def _texts(chat) -> list[str]:
    return [m.text for m in chat.messages]


async def _at(harness, moment: datetime) -> None:
    harness.clock.set(moment)
    await harness.sweep()


async def test_reminders_come_at_the_right_times_once_and_not_after_a_renewal(harness):
    chat = harness.chat()
    await _buy(harness, chat, "club-month")
    await _at(harness, THREE_DAYS_BEFORE - MINUTE)
    assert not any("ends on" in text for text in _texts(chat))
    await _at(harness, THREE_DAYS_BEFORE + MINUTE)
    assert "Your access to “Club monthly” ends on Apr 2, 2026" in chat.last.text
    await harness.sweep()
    await harness.sweep()
    assert sum("ends on" in text for text in _texts(chat)) == 1

    # One tap on the reminder renews for the same period, from the current end.
    await chat.click("🔄 Renew: Club monthly · 9 EUR")
    await harness.pay(await chat.click("Pay"))
    await harness.deliver()
    assert (await _club(harness)).ends_at == datetime(2026, 5, 2, 9, 0, tzinfo=UTC)
    before = len(chat.messages)
    await _at(harness, ONE_DAY_BEFORE + MINUTE)  # the old period's reminders are gone
    await _at(harness, END + MINUTE)
    assert len(chat.messages) == before
    await _at(harness, datetime(2026, 4, 29, 8, 1, tzinfo=UTC))  # the new period's
    assert "ends on May 2, 2026" in chat.last.text


async def test_a_win_back_after_the_end_offers_the_renewal(harness):
    chat = harness.chat()
    await _buy(harness, chat, "club-month")
    await _at(harness, END + MINUTE)
    assert "has ended" in chat.last.text
    await _at(harness, TWO_DAYS_AFTER + MINUTE)
    assert "We miss you" in chat.last.text
    await chat.click("🔄 Renew: Club monthly · 9 EUR")
    await harness.pay(await chat.click("Pay"))
    await harness.deliver()
    renewed = [p for p in await _purchases(harness) if p.status is PurchaseStatus.ACTIVE]
    # Lapsed access restarts from the payment.
    assert [p.ends_at for p in renewed] == [datetime(2026, 5, 4, 8, 1, tzinfo=UTC)]


async def _purchases(harness):
    async with harness.uow_factory() as uow:
        return await uow.purchases.for_user(1)


async def test_automatic_renewal_gives_notice_then_charges_once(harness):
    chat = harness.chat()
    await _buy(harness, chat, "club-month", "pay_save")
    gateway = harness.platform.gateways["test"]
    purchase = await _club(harness)
    assert purchase.renewal == "test" and purchase.renewal_method.startswith("test:card_")
    await _at(harness, THREE_DAYS_BEFORE + MINUTE)
    assert "we will renew “Club monthly” automatically and charge 9 EUR" in chat.last.text
    assert "⏹ Turn off automatic renewal" in chat.last.labels
    await _at(harness, END + MINUTE)
    await harness.sweep()
    assert len(gateway.charges) == 1
    purchase = await _club(harness)
    assert purchase.ends_at == datetime(2026, 5, 2, 9, 0, tzinfo=UTC)
    assert purchase.status is PurchaseStatus.ACTIVE
    assert "Your access lasts until May 2, 2026." in chat.last.text
    await _at(harness, datetime(2026, 5, 2, 9, 1, tzinfo=UTC))  # and the next period too
    assert len(gateway.charges) == 2


async def test_a_student_who_renewed_by_hand_is_not_charged(harness):
    chat = harness.chat()
    await _buy(harness, chat, "club-month", "pay_save")
    await _buy(harness, chat, "club-month")  # bought again by hand before the end
    assert (await _club(harness)).ends_at == datetime(2026, 5, 2, 9, 0, tzinfo=UTC)
    await _at(harness, END + MINUTE)
    assert harness.platform.gateways["test"].charges == []


async def test_switching_automatic_renewal_off_takes_effect_at_once(harness):
    chat = harness.chat()
    await _buy(harness, chat, "club-month", "pay_save")
    await chat.send("/my")
    await chat.click("Club monthly — until Apr 2, 2026")
    assert "Renews automatically on Apr 2, 2026" in chat.last.text
    await chat.click("⏹ Turn off automatic renewal")
    assert chat.toasts[-1].startswith("Automatic renewal is off: access lasts to the end")
    assert "🔁 Turn on automatic renewal" in chat.last.labels
    await _at(harness, END + MINUTE)
    assert harness.platform.gateways["test"].charges == []
    assert (await _club(harness)).status is PurchaseStatus.EXPIRED


async def test_a_declined_card_is_retried_on_schedule_then_access_ends(harness):
    chat = harness.chat()
    await _buy(harness, chat, "club-month", "pay_save_failing")
    await _at(harness, END + MINUTE)
    assert "could not renew “Club monthly”: the card was declined" in chat.last.text
    assert "try again on Apr 2, 2026 17:01" in chat.last.text
    assert (await _club(harness)).status is PurchaseStatus.ACTIVE  # kept meanwhile
    for hours in (6, 12):
        await _at(harness, END + MINUTE + timedelta(hours=hours, minutes=1))
        assert (await _club(harness)).status is PurchaseStatus.ACTIVE
    await _at(harness, END + MINUTE + timedelta(hours=18, minutes=2))
    club = await _club(harness)
    assert club.status is PurchaseStatus.EXPIRED and club.end_reason == "renewal_failed"
    assert sum("could not renew" in text for text in _texts(chat)) == 4
    assert "Your access has ended" in chat.last.text or "has ended" in chat.last.text


async def test_forged_renewal_buttons_change_nothing(harness):
    anna, boris = harness.chat("1001", "Anna"), harness.chat("1002", "Boris")
    await _buy(harness, anna, "club-month", "pay_save")
    purchase = await _club(harness)
    await boris.start()
    for action in (f"ar:{purchase.id}:off", f"rn:{purchase.id}:club-month",  # not Boris's
                   f"ar:{purchase.id}:maybe", "ar:999:off", "rn:abc:club-month"):
        await boris.press(action)
        assert "out of date" in boris.last.text, action
    for action in (f"rn:{purchase.id}:python-life", f"rn:{purchase.id}:secret"):  # no renewals
        await anna.press(action)
        assert "out of date" in anna.last.text, action
    after = await _club(harness)
    assert after.renewal == "test" and after.ends_at == purchase.ends_at
    async with harness.uow_factory() as uow:
        assert len(await uow.orders.for_user(1)) == 2  # the first and the renewal's own
