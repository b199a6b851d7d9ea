"""The student card on Telegram, against the fake Bot API: an admin finds a student by the
@username Telegram reported and grants them the paid club from the card (the student gets
their personal link); a student's account trying the same is refused and sees nothing."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from factories import START, make_school
from telegram_harness import TelegramHarness

from core.models import OrderStatus, PurchaseStatus
from core.school import Group
from core.staff import AuditResult, Role, StaffRef

CLUB = -100123
ADMIN = 900


@pytest.fixture
def school():
    return dataclasses.replace(
        make_school(),
        groups={"club": Group("club", CLUB, {"en": "Club"})},
        staff=(StaffRef("telegram", str(ADMIN), Role.ADMIN),),
    )


@pytest.fixture(autouse=True)
def same_time(fake_telegram, clock):
    fake_telegram.time = lambda: clock.now().timestamp()


@pytest.fixture
async def tg(fake_telegram, uow_factory, school, clock):
    async with TelegramHarness(fake_telegram, uow_factory, school, clock) as harness:
        yield harness


async def _audit(tg, **only):
    async with tg.uow_factory() as uow:
        return list(reversed(await uow.audit.latest(50, **only)))


async def test_an_admin_finds_a_student_by_username_and_grants_the_club(tg):
    anna = tg.fake.user(501, "Anna", username="anna_k")
    admin = tg.fake.user(ADMIN, "Olga")
    await tg.says(anna, "/start")
    await tg.settle()

    await tg.says(admin, "/find @ANNA_K")

    card = tg.fake.last_message(ADMIN)["text"]
    assert card.startswith("👤 Anna — student #1\n")
    assert "• telegram 501 @anna_k “Anna” — reachable" in card
    assert tg.button_data(ADMIN, "Grant") == "sg:1"
    await tg.presses(admin, "sg:1")
    await tg.presses(admin, "sgp:1:club")
    assert tg.fake.last_message(ADMIN)["text"] == "Grant the product “Club” for how long?"
    await tg.presses(admin, "sgy:1:30")

    answer = tg.fake.last_message(ADMIN)["text"]
    assert answer.startswith("✅ “Club” granted without payment (order #1): until Apr 1, 2026."
                             "\n\n👤 Anna — student #1")
    assert "• Club — has access, not joined" in answer
    async with tg.uow_factory() as uow:
        order = await uow.orders.get(1)
        assert (order.status, order.amount, order.granted_by) == (
            OrderStatus.PAID, 0, f"telegram:{ADMIN}")
        [purchase] = await uow.purchases.for_user(1)
    assert (purchase.products, purchase.status, purchase.ends_at) == (
        ("club",), PurchaseStatus.ACTIVE, START + timedelta(days=30))

    await tg.settle()  # the student is told, with a personal link into the club
    [link] = tg.fake.calls_to("createChatInviteLink")
    assert link.params["chat_id"] == CLUB and link.params.get("member_limit") == 1
    texts = [m["text"] for m in tg.fake.sent_messages(501)]
    assert any("Access activated without payment. Order #1: Club." in t for t in texts)
    assert texts[-1].startswith("🔑 Your personal link to “Club”.")

    done = [(e.actor, e.action, e.detail) for e in await _audit(tg)
            if e.result is AuditResult.DONE]
    assert done == [(f"telegram:{ADMIN}", "card.grant",
                     f"granted product club without payment (order #1): new purchase "
                     f"#{purchase.id} until {purchase.ends_at.isoformat()}")]


async def test_a_students_account_is_refused_the_command_and_a_forged_card_button(tg):
    anna, boris = tg.fake.user(501, "Anna", username="anna_k"), tg.fake.user(502, "Boris")
    await tg.says(anna, "/start")
    await tg.says(boris, "/start")

    await tg.says(boris, "/find @anna_k")
    assert tg.fake.last_message(502)["text"] == "I didn't get that. Please use the buttons below."
    before = len(tg.fake.calls_to("sendMessage"))
    answers = len(tg.fake.calls_to("answerCallbackQuery"))
    tg.fake.push(tg.fake.callback_update(boris, tg.fake.last_message(502), "sc:1", check=False))
    answer = await tg.fake.wait_for_call("answerCallbackQuery", count=answers + 1)
    await tg.settle()

    assert answer.params["text"] == "This button is not for you."  # a note only: no message
    assert len(tg.fake.calls_to("sendMessage")) == before
    assert not any("anna" in m["text"].lower() for m in tg.fake.sent_messages(502))
    lines = [(e.action, e.result, e.detail) for e in await _audit(tg, actor="telegram:502")]
    assert lines == [("/find", AuditResult.REFUSED, "not staff"),
                     ("card.open", AuditResult.REFUSED, "not staff")]
