"""Tampered, stale and unknown input gets a polite answer and changes nothing."""

from __future__ import annotations


async def _snapshot(harness):
    async with harness.uow_factory() as uow:
        user = await uow.users.get(1)
        return (
            await uow.orders.for_user(1),
            await uow.purchases.for_user(1),
            await uow.counters.used("promo:FREE"),
            user,
        )


async def test_unknown_button_gets_a_polite_answer(harness):
    chat = harness.chat()
    await chat.start()
    await chat.press("zz:whatever")
    assert "out of date" in chat.last.text
    assert chat.toasts[-1] and "out of date" in chat.toasts[-1]
    assert "🏠 Menu" in chat.last.labels


async def test_tampered_offer_id_changes_nothing(harness):
    chat = harness.chat()
    await chat.start()
    before = await _snapshot(harness)
    for action in ("b:no-such-offer", "o:../../etc", "b:secret", "o:secret", "pr:secret",
                   "x:999", "x:abc", "x:²", "x:99999999999999999999", "p:1", "p:-1",
                   "p:²", "p:0", "b:"):
        await chat.press(action)
        assert "out of date" in chat.last.text, action
    assert await _snapshot(harness) == before


async def test_someone_elses_order_cannot_be_cancelled(harness):
    anna, boris = harness.chat("1", "Anna"), harness.chat("2", "Boris")
    await anna.start("python-life")
    await anna.click("Buy")
    await boris.start()
    await boris.press("x:1")
    assert "out of date" in boris.last.text
    async with harness.uow_factory() as uow:
        assert (await uow.orders.get(1)).status.value == "new"


async def test_someone_elses_purchase_is_not_shown(harness):
    anna, boris = harness.chat("1", "Anna"), harness.chat("2", "Boris")
    await anna.start("python-life")
    await anna.click("Buy")
    await harness.pay(await anna.click("Pay"))
    await boris.start()
    await boris.press("p:1")
    assert "out of date" in boris.last.text


async def test_unknown_text_and_command_show_the_menu(harness):
    chat = harness.chat()
    await chat.send("hello?")
    assert "didn't get that" in chat.last.text
    assert "📚 Courses" in chat.last.labels
    await chat.send("/nonsense")
    assert "didn't get that" in chat.last.text


async def test_a_crash_inside_a_step_is_answered_and_rolled_back(harness, monkeypatch):
    from flows import catalog

    async def broken(ctx, arg):
        await ctx.uow.counters.take("promo:FREE", None)  # a write that must not survive
        raise RuntimeError("boom")

    harness.platform.flows.router.actions["cat"] = broken
    chat = harness.chat()
    await chat.start()
    await chat.click("Courses")
    assert "went wrong on our side" in chat.last.text
    async with harness.uow_factory() as uow:
        assert await uow.counters.used("promo:FREE") == 0
    harness.platform.flows.router.actions["cat"] = catalog.show_catalog


async def test_stale_offer_button_after_the_school_removed_the_offer(harness, school):
    chat = harness.chat()
    await chat.start()
    await chat.click("Courses")
    offers = {k: v for k, v in school.offers.items() if k != "python-life"}
    harness.platform.school.school = type(school)(**{**school.__dict__, "offers": offers})
    await chat.click("Python forever")
    assert "out of date" in chat.last.text
