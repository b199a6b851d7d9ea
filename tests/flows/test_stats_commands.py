"""``/stats`` on the console messenger: the figures with their chart for owners and admins,
refused (and audited) for the other roles, the period buttons, the text alone where a
messenger shows no pictures, and the daily digest switched on, sent once a day."""

from __future__ import annotations

import dataclasses
import struct
import zlib
from datetime import timedelta

import pytest
from factories import START
from harness import Harness
from stats_scene import seed

from core.staff import AuditResult, Role, StaffRef
from flows.chart import HEIGHT, WIDTH
from flows.ui import Incoming, IncomingKind, MessageRef

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def school(school):
    return dataclasses.replace(school, staff=(
        StaffRef("console", "owner", Role.OWNER),
        StaffRef("console", "admin", Role.ADMIN),
        StaffRef("console", "boss", Role.MANAGER),
        StaffRef("console", "help", Role.SUPPORT),
    ))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The chunks of a PNG, each checked against its CRC."""
    assert data[:8] == PNG_SIGNATURE
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length:at + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append((kind, body))
        at += 12 + length
    return chunks


def png_size(data: bytes) -> tuple[int, int]:
    chunks = png_chunks(data)
    kind, header = chunks[0]
    assert kind == b"IHDR" and chunks[-1][0] == b"IEND"
    assert any(k == b"IDAT" for k, _ in chunks)
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6)  # truecolour (with alpha)
    return width, height


async def _audit(harness, **only):
    async with harness.uow_factory() as uow:
        return await uow.audit.latest(50, **only)


async def test_the_owner_gets_the_figures_with_a_chart(harness, school, clock):
    await seed(harness.uow_factory, school, clock)
    owner = harness.chat("owner", "Olga")

    await owner.send("/stats 7")

    message = owner.last
    assert message.text.splitlines()[:7] == [
        "📊 Last 7 days, Feb 24, 2026 – Mar 2, 2026",
        "Revenue: 8 EUR · 250 ⭐",
        "(refunds deducted: 49 EUR)",
        "Orders: 4, paid 3 (conversion 75%)",
        "New students: 3",
        "Renewals: 1; ran out without renewal: 1 (churn 50%)",
        "Automatic renewal: 1 of 1 running purchases that end (100%)",
    ]
    assert "• Club: 1" in message.text and "• Python: 1" in message.text
    assert message.labels == ["Today", "· 7 days", "30 days", "All time"]
    picture = message.attachment
    assert picture is not None and (picture.kind, picture.filename) == ("photo", "stats-7d.png")
    assert png_size(picture.data) == (WIDTH, HEIGHT)
    [line] = await _audit(harness, actor="console:owner")
    assert (line.action, line.result, line.detail) == ("/stats", AuditResult.NOTHING,
                                                       "read the figures: 7d")


async def test_a_period_button_shows_another_period(harness, school, clock):
    await seed(harness.uow_factory, school, clock)
    admin = harness.chat("admin", "Ada")
    await admin.send("/stats")
    assert admin.last.text.startswith("📊 Today, Mar 2, 2026")
    assert "Revenue: -49 EUR · 250 ⭐" in admin.last.text

    await admin.click("All time")

    assert admin.last.text.startswith("📊 All time, to Mar 2, 2026")
    assert "Revenue: 36.90 EUR · 250 ⭐" in admin.last.text
    assert admin.last.attachment.filename == "stats-all.png"
    assert admin.toasts == [None]  # the press was answered once


@pytest.mark.parametrize(("account", "role"), [("boss", "manager"), ("help", "support")])
async def test_managers_and_support_are_refused_and_audited(harness, account, role):
    chat = harness.chat(account, "Sam")

    await chat.send("/stats")
    assert chat.last.text == (f"Your role ({role}) does not allow /stats. "
                              "Ask the school's owner.")
    await chat.press("st:all")  # a button forged, or pressed under someone else's figures
    assert "does not allow stats.period" in chat.last.text
    await chat.send("/stats digest on 8")

    lines = await _audit(harness, actor=f"console:{account}")
    assert [(e.action, e.result) for e in reversed(lines)] == [
        ("/stats", AuditResult.REFUSED), ("stats.period", AuditResult.REFUSED),
        ("/stats", AuditResult.REFUSED)]
    assert all(e.role == role for e in lines)
    async with harness.uow_factory() as uow:
        assert await uow.digests.get("console", account) is None
    assert all(m.attachment is None for m in chat.messages)


async def test_a_stranger_sees_nothing_to_find(harness):
    stranger = harness.chat("666", "Mallory")

    await stranger.send("/stats")

    assert "didn't get that" in stranger.last.text
    [line] = await _audit(harness, actor="console:666")
    assert (line.action, line.result, line.detail) == ("/stats", AuditResult.REFUSED,
                                                       "not staff")


async def test_a_tampered_period_button_changes_nothing(harness):
    owner = harness.chat("owner", "Olga")
    await owner.send("/stats")

    await owner.press("st:9999d")

    assert owner.last.text.startswith("This button is out of date")
    [line, _] = await _audit(harness, actor="console:owner")
    assert (line.action, line.result) == ("stats.period", AuditResult.NOTHING)


async def test_without_pictures_the_figures_come_alone_and_are_edited(uow_factory, school,
                                                                      clock):
    async with Harness(uow_factory, school, clock) as harness:
        harness.console.capabilities = dataclasses.replace(harness.console.capabilities,
                                                           attachments=frozenset())
        owner = harness.chat("owner", "Olga")
        await owner.send("/stats 30")
        first = owner.last
        assert first.attachment is None and first.text.startswith("📊 Last 30 days")

        await owner.click("Today")

        assert owner.last is first and first.edits == 1
        assert first.text.startswith("📊 Today")


async def test_bad_stats_arguments_show_the_usage(harness):
    owner = harness.chat("owner", "Olga")
    for command in ("/stats yesterday", "/stats digest", "/stats digest on 24",
                    "/stats digest off 9", "/stats 7 30"):
        await owner.send(command)
        assert owner.last.text.startswith("Use: /stats"), command
    async with harness.uow_factory() as uow:
        assert await uow.digests.get("console", "owner") is None
    assert {e.result for e in await _audit(harness)} == {AuditResult.NOTHING}


async def test_the_daily_digest_comes_once_a_day_at_the_hour(uow_factory, school, clock):
    clock.set(START)  # 10:00 in Berlin
    async with Harness(uow_factory, school, clock) as harness:
        await seed(harness.uow_factory, school, clock)
        owner = harness.chat("owner", "Olga")
        await owner.send("/stats digest on 8")
        assert owner.last.text == (
            "✅ Daily digest on: every day at 8:00 (Europe/Berlin) you get the day before's "
            "figures. The first comes Mar 3, 2026 08:00.")
        [line] = await _audit(harness, actor="console:owner")
        assert (line.result, line.detail) == (
            AuditResult.DONE, "daily digest: off -> on at 8:00 Europe/Berlin")

        clock.set(START + timedelta(hours=21, minutes=59))  # 7:59 the next morning
        await harness.sweep()
        assert not owner.last.text.startswith("📬")
        clock.advance(timedelta(minutes=1))
        await harness.sweep()
        digest = owner.last
        assert digest.text.splitlines()[:2] == ["📬 Daily digest: Mar 2, 2026",
                                                "Revenue: -49 EUR · 250 ⭐"]
        clock.advance(timedelta(hours=3))
        await harness.sweep()
        assert owner.last is digest

    # The platform restarts on the same database: still one digest that day.
    async with Harness(uow_factory, school, clock) as again:
        await again.sweep()
        clock.advance(timedelta(hours=2))
        await again.sweep()
        assert again.chat("owner").messages == []
    async with uow_factory() as uow:
        identity = await uow.users.identity("console", "owner")
        sent = [m for m in await uow.outbox.for_user(identity.user_id)
                if m.kind == "daily_digest"]
    assert [(m.data["day"], m.status.value) for m in sent] == [("2026-03-02", "sent")]


async def test_the_digest_switched_off(harness, clock):
    owner = harness.chat("owner", "Olga")
    await owner.send("/stats digest on")
    assert "every day at 9:00" in owner.last.text

    await owner.send("/stats digest off")

    assert owner.last.text == "✅ Daily digest off."
    clock.advance(timedelta(days=2))
    await harness.sweep()
    assert owner.last.text == "✅ Daily digest off."
    details = [e.detail for e in reversed(await _audit(harness, actor="console:owner"))]
    assert details == ["daily digest: off -> on at 9:00 Europe/Berlin",
                       "daily digest: on at 9:00 -> off"]


async def test_an_impersonal_sender_gets_no_figures(harness):
    owner = harness.chat("owner", "Olga")
    await owner.messenger.deliver(Incoming(
        owner.peer, dataclasses.replace(owner.sender, impersonal=True), IncomingKind.ACTION,
        action="st:all", message=MessageRef(owner.peer, "1"), event_id="ev-x"))

    assert all(m.attachment is None for m in owner.messages)
    [line] = await _audit(harness)
    assert line.result is AuditResult.REFUSED and "impersonal" in line.detail
