"""``/promo`` on the console: staff make, list and disable promo codes at runtime, each role
as its rights say, every attempt audited; students use the codes made in the chat."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from core.services.catalog import promo_key
from core.staff import AuditResult, Role, StaffRef


@pytest.fixture
def school(school):
    return dataclasses.replace(school, staff=(
        StaffRef("console", "owner", Role.OWNER),
        StaffRef("console", "mgr", Role.MANAGER),
        StaffRef("console", "help", Role.SUPPORT),
    ))


async def _audit(harness, **only):
    async with harness.uow_factory() as uow:
        return list(reversed(await uow.audit.latest(50, **only)))


async def _made(harness):
    async with harness.uow_factory() as uow:
        return await uow.promo_codes.all()


async def test_a_manager_makes_a_code_a_student_uses_it_and_the_list_shows_the_use(harness):
    manager, student = harness.chat("mgr", "Max"), harness.chat("1001", "Anna")

    await manager.send("/promo add summer 20% offers=python-life limit=2 until=2026-12-31")

    assert manager.last.text == ("✅ Code SUMMER made: 20% · python-life · used 0 of 2 · "
                                 "until Dec 31, 2026.")
    [made] = await _made(harness)
    assert (made.code, made.percent, made.amount, made.offers, made.max_uses) == (
        "SUMMER", 20, None, ("python-life",), 2)
    # To the end of that day, school time (Berlin, UTC+1 in winter).
    assert made.valid_until == datetime(2026, 12, 31, 22, 59, 59, tzinfo=UTC)
    assert (made.created_by, made.disabled_at) == ("console:mgr", None)

    await student.start("python-life")
    await student.click("promo code")
    await student.send("summer")
    assert "Code SUMMER applied." in student.last.text
    assert "Price: 39.20 EUR instead of 49 EUR (code SUMMER)" in student.last.text
    await student.click("Buy for 39.20 EUR")
    assert "To pay: 39.20 EUR" in student.last.text
    async with harness.uow_factory() as uow:
        order = await uow.orders.get(1)
        assert (order.amount, order.list_amount, order.promo_code) == (3920, 4900, "SUMMER")
        assert await uow.counters.used(promo_key("SUMMER")) == 1

    await manager.send("/promo")
    lines = manager.last.text.splitlines()
    assert lines[0] == "Promo codes (6):"
    assert "• TEN — 10% · every offer · used 0 · no end date · active (school file)" in lines
    assert "• FREE — 100% · every offer · used 0 of 1 · no end date · active (school file)" \
        in lines
    assert "• OLD — 50% · every offer · used 0 · until Mar 1, 2026 · expired (school file)" \
        in lines
    assert ("• SUMMER — 20% · python-life · used 1 of 2 · until Dec 31, 2026 · active, made by "
            "console:mgr") in lines
    assert manager.last.labels == ["⛔ Disable SUMMER"]  # file codes have no such button

    lines = [(e.actor, e.role, e.action, e.result, e.detail) for e in await _audit(harness)]
    assert lines == [
        ("console:mgr", "manager", "/promo", AuditResult.DONE,
         "made SUMMER: 20 % · offers python-life · limit 2 · until 2026-12-31 22:59 UTC"),
        ("console:mgr", "manager", "/promo", AuditResult.NOTHING, "listed 6 codes"),
    ]


async def test_the_codes_limit_is_respected_across_students(harness):
    manager = harness.chat("mgr", "Max")
    await manager.send("/promo add ONCE 50% limit=1")
    first, second = harness.chat("1", "A"), harness.chat("2", "B")
    for chat in (first, second):
        await chat.start("python-life")
        await chat.click("promo code")
        await chat.send("ONCE")
        assert "Code ONCE applied." in chat.last.text

    await first.click("Buy for 24.50 EUR")
    await second.click("Buy for 24.50 EUR")

    assert "To pay: 24.50 EUR" in first.last.text
    assert "Code ONCE has been used up." in second.last.text
    async with harness.uow_factory() as uow:
        second_student = await uow.users.identity("console", "2")
        assert await uow.orders.for_user(second_student.user_id) == []
        assert await uow.counters.used(promo_key("ONCE")) == 1
    await manager.send("/promo")
    assert "• ONCE — 50% · every offer · used 1 of 1 · no end date · used up, made by " \
           "console:mgr" in manager.last.text


async def test_a_fixed_amount_code_takes_that_amount_off(harness):
    manager, student = harness.chat("mgr", "Max"), harness.chat("1001", "Anna")

    await manager.send("/promo add five 5 EUR")

    assert manager.last.text == "✅ Code FIVE made: 5 EUR · every offer · used 0 · no end date."
    await student.start("python-life")
    await student.click("promo code")
    await student.send("five")
    assert "Price: 44 EUR instead of 49 EUR (code FIVE)" in student.last.text


async def test_a_disabled_code_no_longer_works_and_is_listed_as_disabled(harness, clock):
    manager, student = harness.chat("mgr", "Max"), harness.chat("1001", "Anna")
    await manager.send("/promo add LATE 10%")
    await student.start("python-life")
    await student.click("promo code")
    await student.send("late")
    assert "Price: 44.10 EUR" in student.last.text

    await manager.send("/promo off late")

    assert manager.last.text.startswith("✅ Code LATE disabled: students can no longer use it "
                                        "(uses: 0).")
    [made] = await _made(harness)
    assert (made.disabled_by, made.disabled_at) == ("console:mgr", clock.now())
    await student.click("Back")
    await student.click("Python forever")  # the code kept in the chat no longer applies
    assert "Price: 49 EUR" in student.last.text and "44.10" not in student.last.text
    await student.click("promo code")
    await student.send("late")
    assert "Code LATE doesn't work for this offer." in student.last.text

    await manager.send("/promo off LATE")
    assert manager.last.text == "LATE is disabled already: nothing changed."
    await manager.send("/promo add late 20%")
    assert manager.last.text.startswith("LATE was made before and is disabled")
    await manager.send("/promo")
    assert "• LATE — 10% · every offer · used 0 · no end date · disabled Mar 2, 2026 by " \
           "console:mgr" in manager.last.text
    assert manager.last.labels == []
    results = [(e.result, e.detail) for e in await _audit(harness, actor="console:mgr")]
    assert results[1:] == [
        (AuditResult.DONE, "disabled LATE: 0 used, was active"),
        (AuditResult.NOTHING, "refused: already_off (code=LATE)"),
        (AuditResult.NOTHING, "refused: was_disabled (code=LATE)"),
        (AuditResult.NOTHING, "listed 6 codes"),
    ]


async def test_a_school_file_code_cannot_be_disabled_nor_made_again(harness):
    admin = harness.chat("owner", "Olga")

    await admin.send("/promo off ten")
    assert admin.last.text.startswith("TEN is a code of the school file and can't be disabled "
                                      "from the chat")
    await admin.send("/promo add TEN 5%")
    assert admin.last.text == "TEN is a code of the school file: choose another name."

    assert await _made(harness) == []
    assert [(e.result, e.detail) for e in await _audit(harness)] == [
        (AuditResult.NOTHING, "refused: file_code_off (code=TEN)"),
        (AuditResult.NOTHING, "refused: in_file (code=TEN)"),
    ]


@pytest.mark.parametrize(("command", "answer"), [
    ("/promo add BIG 120%", "120% is not a discount: use a whole number from 1 to 100."),
    ("/promo add HALF 12.5%", "12.5% is not a discount: use a whole number from 1 to 100."),
    ("/promo add ZERO 0EUR", "0EUR is not a discount: give an amount above 0"),
    ("/promo add TINY 0.001EUR", "0.001EUR is not a discount"),
    ("/promo add ODD ten", "ten is not a discount: write a percentage such as 10%"),
    ("/promo add AB 10%", "AB can't be a promo code: use 3 to 32 latin letters"),
    ("/promo add ÉTÉ 10%", "ÉTÉ can't be a promo code"),
    ("/promo add X10 10% offers=pyhton",
     "There is no offer pyhton. Offers: python-life, python-30, club-month"),
    ("/promo add X10 10% offers=", "offers= needs offer codes"),
    ("/promo add USD5 5USD", "No offer is priced in USD"),
    ("/promo add ZZZ 5XYZ", "XYZ is not a currency the platform knows."),
    ("/promo add X10 10% until=2026-03-01", "The end date Mar 1, 2026 23:59 has passed"),
    ("/promo add X10 10% until=31.12.2026", "until=31.12.2026 is not a date"),
    ("/promo add X10 10% until=2026-02-30", "until=2026-02-30 is not a date"),
    ("/promo add X10 10% limit=0", "limit=0 is not a limit: use a whole number from 1 to "
                                   "1000000."),
    ("/promo add X10 10% limit=ten", "limit=ten is not a limit"),
    ("/promo add X10 10% max=3", "max=3 is not an option"),
    ("/promo add X10 10% limit=2 limit=3", "limit= is given twice."),
    ("/promo add X10", "Use: /promo"),
    ("/promo remove X10", "Use: /promo"),
    ("/promo off NOPE", "There is no code NOPE made in the chat: nothing changed."),
])
async def test_bad_requests_are_answered_and_change_nothing(harness, command, answer):
    manager = harness.chat("mgr", "Max")

    await manager.send(command)

    assert manager.last.text.startswith(answer), manager.last.text
    assert await _made(harness) == []
    [line] = await _audit(harness)
    assert (line.action, line.result) == ("/promo", AuditResult.NOTHING)


async def test_a_duplicate_runtime_code_is_refused(harness):
    manager, owner = harness.chat("mgr", "Max"), harness.chat("owner", "Olga")
    await manager.send("/promo add SPRING 10%")

    await owner.send("/promo add spring 15%")

    assert owner.last.text == "SPRING exists already: choose another name (/promo lists them)."
    [made] = await _made(harness)
    assert made.percent == 10


async def test_a_fixed_amount_for_an_offer_in_another_currency_is_refused(harness):
    manager = harness.chat("mgr", "Max")
    await manager.send("/promo add STARS 50XTR offers=python-life")
    assert manager.last.text == ("Offer python-life is priced in EUR, but the discount is "
                                 "50 ⭐.")
    assert await _made(harness) == []


async def test_support_and_strangers_are_refused_and_audited(harness):
    support, stranger = harness.chat("help", "Sam"), harness.chat("666", "Mallory")

    await support.send("/promo add SUPPORT10 10%")
    await support.send("/promo")
    await stranger.send("/promo add MINE 100%")

    assert support.last.text == ("Your role (support) does not allow /promo. "
                                 "Ask the school's owner.")
    assert "didn't get that" in stranger.last.text
    assert await _made(harness) == []
    lines = [(e.actor, e.result, e.detail) for e in await _audit(harness)]
    assert lines == [
        ("console:help", AuditResult.REFUSED, "role support lacks the right /promo"),
        ("console:help", AuditResult.REFUSED, "role support lacks the right /promo"),
        ("console:666", AuditResult.REFUSED, "not staff"),
    ]


async def test_disabling_by_button_asks_first_and_a_forged_press_is_refused(harness):
    manager, support = harness.chat("mgr", "Max"), harness.chat("help", "Sam")
    await manager.send("/promo add BTN 10%")
    await manager.send("/promo")

    stranger = harness.chat("666", "Mallory")
    for chat in (support, stranger):
        await chat.start()
        await chat.press("pcy:BTN")  # forging the manager's button
    assert support.toasts[-1].startswith("Your role (support) does not allow promo.off")
    assert stranger.toasts[-1] == "This button is not for you."

    await manager.click("Disable BTN")
    assert manager.last.text.startswith("Disable BTN? Students will no longer be able to use it")
    [made] = await _made(harness)
    assert made.disabled_at is None
    await manager.click("Yes, disable BTN")
    assert manager.last.text.startswith("✅ Code BTN disabled")
    await manager.click("Promo codes")
    assert "disabled Mar 2, 2026 by console:mgr" in manager.last.text

    await manager.press("pcy:btn;drop")  # tampered: refused as stale, audited
    [made] = await _made(harness)
    assert made.disabled_by == "console:mgr"
    lines = [(e.actor, e.action, e.result.value) for e in await _audit(harness)]
    assert lines == [
        ("console:mgr", "/promo", "done"),
        ("console:mgr", "/promo", "nothing"),
        ("console:help", "promo.off", "refused"),
        ("console:666", "promo.off", "refused"),
        ("console:mgr", "promo.confirm", "nothing"),
        ("console:mgr", "promo.off", "done"),
        ("console:mgr", "promo.list", "nothing"),
        ("console:mgr", "promo.off", "nothing"),
    ]


async def test_the_offer_card_asks_for_a_code_once_one_is_made_in_the_chat(harness, school):
    harness.platform.school.school = dataclasses.replace(school, promo_codes={})
    student, manager = harness.chat("1001", "Anna"), harness.chat("mgr", "Max")
    await student.start("python-life")
    assert not any("promo code" in label for label in student.last.labels)

    await manager.send("/promo add FIRST 10%")
    await student.start("python-life")
    await student.click("promo code")
    await student.send("first")
    assert "Price: 44.10 EUR instead of 49 EUR (code FIRST)" in student.last.text

    await manager.send("/promo off FIRST")
    await student.start("python-life")
    assert not any("promo code" in label for label in student.last.labels)


async def test_help_lists_promo_for_managers_only(harness):
    manager, support = harness.chat("mgr", "Max"), harness.chat("help", "Sam")
    await manager.send("/help")
    await support.send("/help")
    assert "/promo — promo codes" in manager.last.text
    assert "/promo" not in support.last.text
