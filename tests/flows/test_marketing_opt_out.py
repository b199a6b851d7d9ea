"""A student turns promotions off and on in one tap, from a broadcast and from the menu; a
broadcast's buttons do what they say and count each student's press once; tampered presses
change nothing."""

from __future__ import annotations

import dataclasses

import pytest

from core.services import broadcasts
from core.staff import Role, StaffRef


@pytest.fixture
def school(school):
    return dataclasses.replace(school, staff=(StaffRef("console", "mgr", Role.MANAGER),))


async def _marketing(harness, chat_id: str) -> bool:
    async with harness.uow_factory() as uow:
        identity = await uow.users.identity("console", chat_id)
        return (await uow.users.get(identity.user_id)).marketing


async def _sent_broadcast(harness, *buttons: str) -> int:
    """A manager's broadcast to everyone with ``buttons`` (labels of the "add" buttons and
    the offer chosen), sent now; its id."""
    manager = harness.chat("mgr", "Max")
    await manager.send("/broadcast")
    await manager.send("New courses are out!")
    for label in buttons:
        await manager.click(label)
    await manager.click("Estimate and send")
    await manager.click("Send now")
    await harness.platform.broadcasts.drain()  # the sender, as the serving process runs it
    return 1


async def _presses(harness, broadcast_id: int) -> list[int]:
    async with harness.uow_factory() as uow:
        return await broadcasts.presses(uow, broadcast_id)


async def test_promotions_off_from_a_broadcast_then_undone(harness):
    anna = harness.chat("1001", "Anna")
    await anna.start()
    await _sent_broadcast(harness)
    assert anna.last.text == "New courses are out!"
    assert anna.last.labels == ["🔕 Stop promotions"]
    await anna.click("Stop promotions")  # the last button of every promotion
    assert anna.last.text.startswith("🔕 Done: no more promotions.")
    assert anna.last.labels == ["↩️ Undo: keep getting them", "🏠 Menu"]
    assert await _marketing(harness, "1001") is False

    await anna.click("Undo")
    assert anna.last.text == "🔔 Done: you'll get our promotions again."
    assert await _marketing(harness, "1001") is True


async def test_promotions_off_and_on_from_the_menu(harness):
    anna = harness.chat("1001", "Anna")
    await anna.start()
    assert anna.last.labels[-1] == "🔕 Stop promotions"
    await anna.click("Stop promotions")
    assert await _marketing(harness, "1001") is False
    await anna.send("/menu")
    assert anna.last.labels[-1] == "🔔 Get promotions"
    await anna.click("Get promotions")
    assert await _marketing(harness, "1001") is True
    await anna.send("/menu")
    assert anna.last.labels[-1] == "🔕 Stop promotions"


async def test_a_second_tap_and_a_tampered_one_change_nothing(harness):
    anna = harness.chat("1001", "Anna")
    await anna.start()
    await anna.press("mk:off")
    await anna.press("mk:off")
    assert anna.last.text.startswith("🔕 Done: no more promotions.")
    assert await _marketing(harness, "1001") is False
    await anna.press("mk:maybe")
    assert anna.last.text == "This button is out of date. Here is the menu."
    assert await _marketing(harness, "1001") is False


async def test_opted_out_students_are_left_out_of_the_next_promotion(harness):
    anna, boris = harness.chat("1001", "Anna"), harness.chat("1002", "Boris")
    await anna.start()
    await boris.start()
    await anna.click("Stop promotions")
    await _sent_broadcast(harness)
    async with harness.uow_factory() as uow:
        made = await broadcasts.get(uow, 1)
    assert made.total == 2  # Boris and the manager


async def test_a_broadcasts_buttons_open_what_they_say_and_count_each_student_once(harness):
    anna, boris = harness.chat("1001", "Anna"), harness.chat("1002", "Boris")
    await anna.start()
    await boris.start()
    broadcast_id = await _sent_broadcast(harness, "➕ Offer", "Secret drawing", "➕ My courses")
    message = anna.last
    assert message.labels == ["Secret drawing", "🎓 My courses", "🔕 Stop promotions"]

    await anna.click("Secret drawing")
    assert anna.last.text.startswith("Secret drawing")  # hidden, opened by the broadcast
    assert message.text == "New courses are out!"  # the broadcast stays in the chat
    await anna.press(message.screen.buttons[0].action, message)
    await anna.press(message.screen.buttons[1].action, message)
    assert anna.last.text == "You have no courses yet."  # "My courses"
    await boris.click("Secret drawing")
    assert await _presses(harness, broadcast_id) == [2, 1]
    assert message.screen.buttons[0].action == f"bb:{broadcast_id}:0"

    for tampered in (f"bb:{broadcast_id}:2", f"bb:{broadcast_id}:9", "bb:99:0", "bb:1:x",
                     "bb:1", "bb:-1:0", f"bb:{broadcast_id}:0000"):
        await boris.press(tampered)
        assert boris.last.text == "This button is out of date. Here is the menu."
    assert await _presses(harness, broadcast_id) == [2, 1]


async def test_a_link_button_is_never_counted_through_the_bot(harness):
    anna = harness.chat("1001", "Anna")
    await anna.start()
    manager = harness.chat("mgr", "Max")
    await manager.send("/broadcast")
    await manager.send("Webinar tonight")
    await manager.click("➕ Link")
    await manager.send("https://example.com/webinar Join")
    await manager.click("Estimate and send")
    await manager.click("Send now")
    await anna.press("bb:1:0")  # a forged press of the link
    assert anna.last.text == "This button is out of date. Here is the menu."
    assert await _presses(harness, 1) == [0]


async def test_the_authors_preview_buttons_work_and_are_not_counted(harness):
    manager = harness.chat("mgr", "Max")
    await manager.send("/broadcast")
    await manager.send("Look at this")
    await manager.click("➕ Offer")
    await manager.click("Python forever")
    await manager.press("bb:0:0")  # the preview's offer button
    assert manager.last.text.startswith("Python forever")
    await manager.press("bb:0:5")
    assert manager.last.text == "This button is out of date. Here is the menu."
    async with harness.uow_factory() as uow:
        assert await broadcasts.get(uow, 1) is None
