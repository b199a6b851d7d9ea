"""The console messenger behaves like a messenger: sends, edits, acks, blocks."""

from __future__ import annotations

import pytest

from bots.console import ConsoleMessenger
from flows.channel import UserBlocked
from flows.ui import Button, MessageRef, Peer, Screen, screen


async def test_send_edit_and_unknown_edit_falls_back_to_send():
    console = ConsoleMessenger()
    peer = Peer("console", "7")
    ref = await console.send(peer, screen("one", Button("A", action="a")))
    await console.edit(ref, Screen("two"))
    chat = console.chat("7")
    assert [m.text for m in chat.messages] == ["two"] and chat.last.edits == 1
    await console.edit(MessageRef(peer, "404"), Screen("three"))
    assert [m.text for m in chat.messages] == ["two", "three"]


async def test_blocked_student_raises_until_they_write_again():
    console = ConsoleMessenger()
    received = []

    async def on_incoming(incoming):
        received.append(incoming)

    await console.run(on_incoming)
    console.blocked.add("7")
    with pytest.raises(UserBlocked):
        await console.send(Peer("console", "7"), Screen("hi"))
    await console.chat("7").send("hello")
    await console.send(Peer("console", "7"), Screen("hi"))
    assert received[0].text == "hello"


async def test_clicking_a_link_button_returns_its_url_without_telling_the_bot():
    console = ConsoleMessenger()
    received = []

    async def on_incoming(incoming):
        received.append(incoming)

    await console.run(on_incoming)
    await console.send(Peer("console", "7"), screen("pay", Button("Pay", url="https://x/pay")))
    assert await console.chat("7").click("pay") == "https://x/pay"
    assert received == []
    with pytest.raises(AssertionError, match="no button like"):
        await console.chat("7").click("Refund")


def test_button_payloads_are_checked():
    with pytest.raises(ValueError):
        Button("too long", action="x" * 65)
    with pytest.raises(ValueError):
        Button("both", action="a", url="https://x")
    with pytest.raises(ValueError):
        Button("Кнопка", action="я" * 33)  # 66 bytes: Cyrillic is two bytes a letter
