"""One student across messengers, driven like a student: a course bought in one messenger
shows in the other after entering the code; a code works once; two students who both bought
something are joined only when the one typing confirms; messages go where the student was
last, or where they chose."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bots.console import ConsoleMessenger
from core.models import PurchaseStatus


@pytest.fixture
async def two(harness):
    """The harness's console plus a second messenger, "viber" (also a console)."""
    viber = ConsoleMessenger(name="viber")
    harness.platform.channels["viber"] = viber
    await viber.run(harness.platform.flows.handle)
    return harness, viber


async def _buy(harness, chat, offer="python-life", price="49 EUR"):
    await chat.start(offer)
    await chat.click(f"Buy for {price}")
    link = await chat.click(f"Pay {price}")
    status, _ = await harness.pay(link)
    assert status == 200
    await harness.deliver()


async def _code(chat) -> str:
    await chat.send("/menu")
    await chat.click("Link another messenger")
    return re.search(r"\b([A-Z2-9]{8})\b", chat.last.text).group(1)


async def test_a_course_bought_in_one_messenger_follows_the_student(two, clock):
    harness, viber = two
    console = harness.chat("501", "Anna")
    await _buy(harness, console)
    code = await _code(console)
    assert "works once, for 15 minutes" in console.last.text

    phone = viber.chat("v-501", "Anna")
    await phone.start()
    await phone.send(f"/link {code.lower()}")  # case does not matter
    assert "now one account" in phone.last.text
    await phone.click("My courses")
    assert any("Python forever" in label for label in phone.last.labels)

    # The code worked once.
    eve = viber.chat("v-666", "Eve")
    await eve.send(f"/link {code}")
    assert "wrong, already used, or expired" in eve.last.text
    async with harness.uow_factory() as uow:  # the refused turn changed nothing at all
        assert await uow.users.identity("viber", "v-666") is None

    # Messages the platform starts go where the student was last: Viber now.
    async with harness.uow_factory() as uow:
        anna = (await uow.users.identity("console", "501")).user_id
        assert (await uow.users.identity("viber", "v-501")).user_id == anna
        [purchase] = await uow.purchases.for_user(anna)
    clock.advance(timedelta(days=1, hours=1))
    await harness.sweep()
    assert "Variables" in phone.last.text

    # ... unless the student chooses: the console chat, from either messenger.
    await phone.send("/menu")
    await phone.click("Link another messenger")
    await phone.click("Messages to Console")
    clock.advance(timedelta(days=2))
    await harness.sweep()
    assert "Loops" in console.last.text and "Loops" not in phone.last.text
    assert purchase.status is PurchaseStatus.ACTIVE


async def test_two_students_with_purchases_join_only_when_confirmed(two):
    harness, viber = two
    console = harness.chat("601", "Boris")
    await _buy(harness, console)
    phone = viber.chat("v-601", "Boris")
    await phone.start("drawing-seats")
    await phone.click("Buy for 30 EUR")
    status, _ = await harness.pay(await phone.click("Pay 30 EUR"))
    await harness.deliver()
    code = await _code(console)

    await phone.send(f"/link {code}")
    assert "Join them into one?" in phone.last.text
    async with harness.uow_factory() as uow:
        assert (await uow.users.identity("viber", "v-601")).user_id != \
            (await uow.users.identity("console", "601")).user_id
    await phone.click("Yes, join them")
    await phone.click("My courses")
    labels = " ".join(phone.last.labels)
    assert "Python forever" in labels and "Drawing workshop" in labels


async def test_a_code_expires_and_a_second_account_in_one_messenger_is_refused(two, clock):
    harness, viber = two
    console = harness.chat("701", "Vera")
    code = await _code(console)
    clock.advance(timedelta(minutes=16))
    phone = viber.chat("v-701", "Vera")
    await phone.send(f"/link {code}")
    assert "expired" in phone.last.text

    code = await _code(console)
    await phone.send("/link")
    await phone.click("I have a code")
    await phone.send(code)
    assert "now one account" in phone.last.text
    other = viber.chat("v-702", "Vera again")
    code = await _code(console)
    await other.send(f"/link {code}")
    assert "One account per messenger" in other.last.text
