"""The school on VK: the real vk_api client against the fake VK API on 127.0.0.1, the whole
platform around it (run.build_platform), the checkout page served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from vk_harness import CONFIRMATION, VkHarness

from bots.vk import VkMessenger, render
from core.models import OrderStatus, OutboxStatus, PurchaseStatus
from core.services.delivery import STALE_AFTER
from flows.channel import MessengerError, RetryAfter, UserBlocked
from flows.ui import Button, Peer, Screen, screen


@pytest.fixture
async def vk(fake_vk, uow_factory, school, clock):
    async with VkHarness(fake_vk, uow_factory, school, clock) as harness:
        yield harness
    assert fake_vk.violations == []


@pytest.fixture
async def vk_hook(fake_vk, uow_factory, school, clock):
    async with VkHarness(fake_vk, uow_factory, school, clock, webhook=True) as harness:
        yield harness
    assert fake_vk.violations == []


async def _snapshot(uow_factory):
    async with uow_factory() as uow:
        return (await uow.orders.for_user(1), await uow.purchases.for_user(1),
                await uow.outbox.for_user(1))


async def _buy(vk, user) -> str:
    """The student opens the offer through a vk.me link, orders it; returns the pay link."""
    await vk.starts(user, ref="python-life")
    await vk.presses(user, "Buy for 49 EUR")
    return vk.link(user["id"], "Pay 49 EUR")


# ---------------------------------------------------------------- (1) a student's whole way


async def test_a_student_browses_buys_pays_on_the_page_and_gets_lessons(vk, clock):
    anna = vk.fake.user(501, "Anna", "Smith", "en")
    await vk.starts(anna)
    welcome = vk.fake.last_message(501)
    assert welcome["text"].startswith("Welcome to Test School")
    assert vk.action(501, "Courses") == "cat"

    await vk.presses(anna, "Courses")
    catalog = vk.fake.last_message(501)
    assert catalog["conversation_message_id"] == welcome["conversation_message_id"]  # edited
    assert "Choose what you'd like to learn" in catalog["text"]
    assert "Python forever · 49 EUR" in vk.labels(501)
    await vk.presses(anna, "Python forever")
    assert "All lessons, forever." in vk.fake.last_message(501)["text"]
    await vk.presses(anna, "Buy for 49 EUR")
    assert "Order #1" in vk.fake.last_message(501)["text"]
    # VK takes no money in the chat: the pay button opens the checkout page.
    link = vk.link(501, "Pay 49 EUR")
    assert link.startswith("http") and "/pay/" in link
    # Every press was answered (the spinner stops), none with a note.
    assert len(vk.fake.event_answers) == 3
    assert len(vk.fake.calls_to("messages.edit")) == 3 and len(vk.fake.messages(501)) == 1
    assert all(a["user_id"] == a["peer_id"] == 501 for a in vk.fake.event_answers)

    status, html = await vk.pay(link)
    assert status == 200 and 'data-status="paid"' in html
    assert await vk.outbox() == 1
    confirmation = vk.fake.last_message(501)
    assert "Payment received! Order #1: Python forever." in confirmation["text"]
    intro = vk.find(501, "Intro")[1]["action"]
    assert intro == {"type": "open_link", "link": "https://school.example/intro",
                     "label": "▶️ Intro"}
    async with vk.uow_factory() as uow:
        assert (await uow.orders.get(1)).status is OrderStatus.PAID
        [purchase] = await uow.purchases.for_user(1)
        assert purchase.status is PurchaseStatus.ACTIVE
        user = await uow.users.get(1)
        assert (user.name, user.language) == ("Anna Smith", "en")
        [identity] = await uow.users.identities(1)
        assert (identity.messenger, identity.external_id) == ("vk", "501")

    sent = len(vk.fake.messages(501))
    clock.advance(timedelta(days=1))
    await vk.sweep()
    assert len(vk.fake.messages(501)) == sent + 1
    assert "A new lesson of “Python” is open: Variables" in vk.fake.last_message(501)["text"]
    assert vk.link(501, "Variables") == "https://school.example/vars"
    assert len(vk.fake.calls_to("users.get")) == 1  # the name is remembered


async def test_a_vk_me_link_with_ref_opens_the_offer(vk):
    assert vk.bot.deep_link("o-python-life__src-vk") == (
        f"https://vk.me/club{vk.fake.group_id}?ref=o-python-life__src-vk")
    dima = vk.fake.user(502, "Дима", "Иванов", "ru")
    await vk.starts(dima, ref="o-python-life__src-vk")
    assert vk.fake.last_message(502)["text"].startswith("Питон навсегда")
    async with vk.uow_factory() as uow:
        user = await uow.users.get(1)
        assert (user.utm_source, user.language) == ("vk", "ru")


async def test_typed_text_is_answered_with_the_menu(vk):
    anna = vk.fake.user(503, "Anna", lang="en")
    await vk.says(anna, "hello?")
    assert "didn't get that" in vk.fake.last_message(503)["text"]
    assert "📚 Courses" in vk.labels(503)


# ---------------------------------------------------------------- (2) a retry is shown once


async def test_an_outbound_message_sent_again_after_a_crash_is_shown_once(vk, clock,
                                                                         monkeypatch):
    """Sent, then the process died before marking it sent: the dispatcher sends it again
    with the same random_id, and VK drops the repeat."""
    anna = vk.fake.user(504, "Anna", lang="en")
    await vk.pay(await _buy(vk, anna))
    dispatcher = vk.platform.dispatcher

    class Crash(BaseException):
        """The process died (not SystemExit: asyncio raises that out of the event loop
        from the task that sends)."""

    async def die(*args, **kwargs):
        raise Crash

    monkeypatch.setattr(dispatcher, "_record", die)
    with pytest.raises(BaseExceptionGroup) as died:
        await dispatcher.dispatch_once()
    assert died.group_contains(Crash)
    monkeypatch.undo()
    clock.advance(STALE_AFTER + timedelta(seconds=1))
    assert await vk.outbox() == 1
    sends = [c for c in vk.fake.calls_to("messages.send") if "Payment received" in
             c.params["message"]]
    assert len(sends) == 2 and sends[0].params["random_id"] == sends[1].params["random_id"]
    shown = [m for m in vk.fake.messages(504) if "Payment received" in m["text"]]
    assert len(shown) == 1
    async with vk.uow_factory() as uow:
        [message] = await uow.outbox.for_user(1)
        assert message.status is OutboxStatus.SENT


async def test_random_id_comes_from_the_key(vk):
    vk.fake.user(505, allowed=True)
    peer, hello = Peer("vk", "505"), Screen("Hello")
    first = await vk.bot.send(peer, hello, key="outbox:7")
    again = await vk.bot.send(peer, hello, key="outbox:7")
    assert first == again and len(vk.fake.messages(505)) == 1
    assert vk.fake.last_message(505)["random_id"] == render.random_id("outbox:7")
    await vk.bot.send(peer, hello)
    await vk.bot.send(peer, hello)
    assert len(vk.fake.messages(505)) == 3  # no key: every send is a new message
    assert 0 < render.random_id("outbox:7") < 2**31 and render.random_id(None) > 0


# ---------------------------------------------------------------- (3) errors


async def test_error_901_marks_the_student_unreachable_and_the_message_waits(vk, clock):
    anna = vk.fake.user(506, "Anna", lang="en")
    link = await _buy(vk, anna)
    vk.fake.deny(506)  # she turned messages from the community off (no event this time)
    await vk.pay(link)
    await vk.outbox()
    [call] = [c for c in vk.fake.calls_to("messages.send") if c.error_code == 901 or
              "Payment received" in c.params["message"]]
    assert call.ok and call.response[0]["error"]["code"] == 901
    async with vk.uow_factory() as uow:
        [identity] = await uow.users.identities(1)
        assert identity.reachable is False
        [message] = await uow.outbox.for_user(1)
        assert message.status is OutboxStatus.PENDING  # kept for when she comes back
    assert not any("Payment received" in m["text"] for m in vk.fake.messages(506))

    await vk.says(anna, "hi again")  # writing lets the community write to her again
    clock.advance(timedelta(hours=1))
    await vk.outbox()
    assert any("Payment received" in m["text"] for m in vk.fake.messages(506))


async def test_message_deny_marks_the_student_unreachable(vk):
    anna = vk.fake.user(507, "Anna", lang="en")
    await vk.starts(anna)
    await vk.deliver(vk.fake.deny(anna))
    async with vk.uow_factory() as uow:
        [identity] = await uow.users.identities(1)
        assert identity.reachable is False


async def test_vk_errors_become_the_platforms(vk):
    vk.fake.user(508, allowed=True)
    peer = Peer("vk", "508")
    vk.fake.block(508)
    with pytest.raises(UserBlocked):
        await vk.bot.send(peer, Screen("hi"))
    vk.fake.unblock(508)
    for code in (6, 9, 29):  # vk_api would sleep and retry 6 forever: it surfaces at once
        vk.fake.fail("messages.send", code)
        started = time.monotonic()
        with pytest.raises(RetryAfter):
            await vk.bot.send(peer, Screen("hi"))
        assert time.monotonic() - started < 0.4
    vk.fake.fail("messages.send", 10)
    with pytest.raises(MessengerError) as caught:
        await vk.bot.send(peer, Screen("hi"))
    assert not isinstance(caught.value, UserBlocked | RetryAfter)
    ref = await vk.bot.send(peer, Screen("hi"))
    vk.fake.fail("messages.edit", 909)  # too old to edit: the engine sends anew
    with pytest.raises(MessengerError):
        await vk.bot.edit(ref, Screen("changed"))
    assert vk.fake.messages(508)[-1]["text"] == "hi"


# ---------------------------------------------------------------- (4) the Callback API


async def test_callback_api_confirms_checks_the_secret_and_drops_repeats(vk_hook):
    fake = vk_hook.fake
    assert fake.long_polls == [] and fake.calls_to("groups.getLongPollServer") == []
    assert await fake.post_callback(vk_hook.callback_url, fake.confirmation_request()) == (
        200, CONFIRMATION)
    status, _ = await fake.post_callback(vk_hook.callback_url,
                                         fake.confirmation_request(group_id=1))
    assert status == 403

    anna = fake.user(510, "Anna", lang="en")
    update = fake.text_update(anna, "/start")
    for secret in ("wrong-secret", None):
        assert (await vk_hook.deliver(update, secret=secret))[0] == 403
    other_group = {**update, "group_id": fake.group_id + 1}
    assert (await vk_hook.deliver(other_group))[0] == 403
    assert fake.calls_to("messages.send") == [] and fake.calls_to("users.get") == []
    async with vk_hook.uow_factory() as uow:
        assert await uow.users.get(1) is None

    assert await vk_hook.deliver(update) == (200, "ok")
    assert await vk_hook.deliver(update, retry=1) == (200, "ok")  # VK's retry
    assert len(fake.calls_to("messages.send")) == 1
    assert fake.last_message(510)["text"].startswith("Welcome to Test School")

    await vk_hook.deliver(fake.press(anna, fake.last_message(510), {"a": "cat"}))
    assert "Choose what you'd like to learn" in fake.last_message(510)["text"]
    assert len(fake.event_answers) == 1
    assert (await fake.post_callback(vk_hook.callback_url, {"type": "x"}, secret="s"))[0] == 403


async def test_callback_api_refuses_a_body_that_is_not_an_event(vk_hook):
    async with vk_hook.http.post(vk_hook.callback_url, data=b"{not json") as response:
        assert response.status == 400
    async with vk_hook.http.post(vk_hook.callback_url, json=[1, 2]) as response:
        assert response.status == 400


def test_the_callback_api_needs_its_secret_and_code():
    with pytest.raises(ValueError):
        VkMessenger("token", 1, webhook=True, confirmation_code="abc")
    with pytest.raises(ValueError):
        VkMessenger("token", 1, webhook=True, callback_secret="abc")


# ---------------------------------------------------------------- (5) longer lists page


async def test_a_screen_with_more_than_ten_buttons_is_split_over_messages(vk):
    vk.fake.user(511, allowed=True)
    peer = Peer("vk", "511")
    many = screen("Pick one", *[Button(f"Choice {n}", action=f"o:c{n}") for n in range(12)],
                  Button("Website", url="https://school.example/"))
    ref = await vk.bot.send(peer, many, key="reply:abc")
    first, second = vk.fake.messages(511)
    assert ref.message_id == str(first["conversation_message_id"])
    assert first["text"] == "Pick one" and second["text"] == render.CONTINUED
    assert [b["action"]["label"] for b in vk.fake.buttons(511, first)] == [
        f"Choice {n}" for n in range(10)]
    assert [b["action"]["label"] for b in vk.fake.buttons(511, second)] == [
        "Choice 10", "Choice 11", "Website"]
    assert len(first["keyboard"]["buttons"]) <= 6
    assert (first["random_id"], second["random_id"]) == (
        render.random_id("reply:abc"), render.random_id("reply:abc", 2))
    await vk.bot.send(peer, many, key="reply:abc")  # a retry: both parts dropped by VK
    assert len(vk.fake.messages(511)) == 2
    with pytest.raises(MessengerError):  # the engine then sends it anew
        await vk.bot.edit(ref, many)


async def test_a_long_catalog_pages_and_its_second_page_works(vk, school):
    import dataclasses

    from core.money import Money
    from core.school import Offer

    extra = {f"extra-{n}": Offer(f"extra-{n}", {"en": f"Extra {n}"},
                                 Money.from_major(10 + n, "EUR"), ("drawing-course",))
             for n in range(10)}
    vk.platform.school.school = dataclasses.replace(school, offers={**school.offers, **extra})
    anna = vk.fake.user(512, "Anna", lang="en")
    await vk.starts(anna)
    await vk.presses(anna, "Courses")  # too many for one message: sent anew, in two
    catalog = vk.fake.messages(512)[1:]
    assert len(catalog) == 2 and "Choose what you'd like to learn" in catalog[0]["text"]
    assert sum(len(vk.fake.buttons(512, m)) for m in catalog) > 10
    await vk.presses(anna, "Extra 9")  # a button of the second message
    assert vk.fake.last_message(512)["text"].startswith("Extra 9")
    assert vk.fake.violations == []


# ---------------------------------------------------------------- (6) forged buttons


async def test_a_forged_button_gets_a_polite_answer_and_changes_nothing(vk):
    anna = vk.fake.user(513, "Anna", lang="en")
    await vk.starts(anna)
    message = vk.fake.last_message(513)
    before = await _snapshot(vk.uow_factory)
    for action in ("zz:gone", "b:secret", "b:no-such-offer", "x:99999999999", "p:1"):
        await vk.deliver(vk.fake.press(anna, message, {"a": action}, check=False))
        answer = vk.fake.event_answers[-1]
        assert "out of date" in answer["event_data"]["text"], action
        assert "out of date" in vk.fake.last_message(513)["text"]
        assert "🏠 Menu" in vk.labels(513)
    assert await _snapshot(vk.uow_factory) == before


async def test_a_payload_not_from_the_bot_is_acknowledged_and_dropped(vk):
    anna = vk.fake.user(514, "Anna", lang="en")
    await vk.starts(anna)
    message = vk.fake.last_message(514)
    sends, edits = len(vk.fake.calls_to("messages.send")), len(vk.fake.calls_to("messages.edit"))
    for payload in ({"cmd": "buy"}, {"a": 5}, {"a": ""}, "not json", [1], None):
        await vk.deliver(vk.fake.press(anna, message, payload, check=False))
        assert vk.fake.event_answers[-1]["event_data"] is None
    assert len(vk.fake.event_answers) == 6
    assert len(vk.fake.calls_to("messages.send")) == sends
    assert len(vk.fake.calls_to("messages.edit")) == edits
    await vk.deliver({"group_id": vk.fake.group_id, "type": "wall_post_new",
                      "event_id": "e-unknown", "v": "5.199", "object": {"id": 1}})
    await vk.deliver(vk.fake.text_update(anna, "in a chat", peer_id=2_000_000_001))
    assert len(vk.fake.calls_to("messages.send")) == sends


# ---------------------------------------------------------------- the long poll thread


async def test_the_poller_survives_failures_and_a_crashing_handler(vk, caplog):
    anna = vk.fake.user(515, "Anna", lang="en")
    handle = vk.bot._on_incoming
    crashes = []

    async def crash_once(incoming):
        if not crashes:
            crashes.append(incoming)
            raise RuntimeError("boom")
        await handle(incoming)

    vk.bot._on_incoming = crash_once
    await vk.says(anna, "first")
    assert crashes and vk.fake.calls_to("messages.send") == []
    assert "boom" in caplog.text

    vk.fake.long_poll_fail(2)  # key expired: a new one, and getLongPollServer fails once
    vk.fake.fail("groups.getLongPollServer", 10)
    await vk.says(anna, "second")
    vk.fake.long_poll_fail(3)  # information lost: new key and ts, polling goes on
    for _ in range(200):
        if any(p["answer"] == {"failed": 3} for p in vk.fake.long_polls[:-1]):
            break
        await asyncio.sleep(0.01)
    await vk.says(anna, "third")
    assert len(vk.fake.calls_to("messages.send")) == 2
    assert "didn't get that" in vk.fake.last_message(515)["text"]


async def test_stop_is_prompt_while_a_long_poll_waits(uow_factory, school, clock):
    """stop() cuts off a long poll in flight; what arrives meanwhile is fetched by the next
    run() of the same messenger (the poll goes on from where it was)."""
    from fake_vk_api import FakeVK

    async with FakeVK(long_poll_wait_cap=20) as fake:
        harness = VkHarness(fake, uow_factory, school, clock)
        async with harness:
            await asyncio.sleep(0.1)  # the poller waits in a long poll now
            started = time.monotonic()
            await harness.bot.stop()
            assert time.monotonic() - started < 0.5
            assert harness.bot._thread is None  # it ended
            fake.push(fake.text_update(fake.user(516, lang="en"), "while stopped"))
            await asyncio.sleep(0.2)
            assert fake.calls_to("messages.send") == []
            await harness.bot.run(harness.platform.flows.handle)
            await harness.settle()
            assert "didn't get that" in fake.last_message(516)["text"]
        assert fake.violations == []


def test_a_picture_goes_as_its_link_under_the_text():
    from bots.vk import render
    from flows.ui import Screen

    [(text, keyboard)] = render.messages(Screen("Open day", picture="https://s.example/p.jpg"))
    assert text == "Open day\n\nhttps://s.example/p.jpg" and keyboard is None
