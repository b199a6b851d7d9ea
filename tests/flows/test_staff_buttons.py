"""Staff buttons: checked and audited on every press like the commands, and a refused press
changes no message (it may be a staff screen others read). The audit log's Older button."""

from __future__ import annotations

import dataclasses

import pytest

from core.services import staff
from core.staff import AuditResult, Role, StaffRef


@pytest.fixture
def school(school):
    return dataclasses.replace(school, staff=(
        StaffRef("console", "owner", Role.OWNER),
        StaffRef("console", "help", Role.SUPPORT),
    ))


async def _log(harness, lines: int) -> None:
    async with harness.uow_factory() as uow:
        for n in range(lines):
            await staff.audit(uow, harness.clock.now(), "console:owner", "/refund",
                              AuditResult.NOTHING, role=Role.OWNER, subject=str(n),
                              detail=f"no order #{n}")
        await uow.commit()


async def _audit(harness, **only):
    async with harness.uow_factory() as uow:
        return await uow.audit.latest(100, **only)


async def test_the_owner_pages_back_through_the_audit_log(harness):
    await _log(harness, 45)
    owner = harness.chat("owner", "Olga")

    await owner.send("/audit")
    first = owner.last
    assert first.text.splitlines()[0] == "Audit log, latest 20:"
    assert "/refund 44 — no order #44" in first.text and first.labels == ["Older ›"]
    await owner.click("Older")
    second = owner.last
    assert second is not first and "/refund 24 — no order #24" in second.text
    await owner.click("Older")
    third = owner.last
    assert third.text.splitlines()[0] == "Audit log, latest 5:"
    assert "/refund 0 — no order #0" in third.text and third.labels == []  # the oldest page
    assert [m.text for m in owner.messages] == [first.text, second.text, third.text]
    reads = [e.detail for e in await _audit(harness, actor="console:owner")
             if e.action != "/refund"]
    assert reads[0] == "read 5 lines before #6" and reads[-1] == "read 20 lines"


async def test_a_filtered_log_pages_with_its_filter(harness):
    await _log(harness, 22)
    owner = harness.chat("owner", "Olga")
    await harness.chat("777", "Mallory").send("/refunds")

    await owner.send("/audit console:owner")
    assert owner.last.text.splitlines()[0] == "Audit log, latest 20:"
    await owner.click("Older")
    assert owner.last.text.splitlines()[0] == "Audit log, latest 2:"
    assert "console:777" not in owner.last.text


async def test_presses_of_someone_not_allowed_change_nothing_and_are_audited(harness):
    await _log(harness, 25)
    owner, support, stranger = (harness.chat("owner", "Olga"), harness.chat("help", "Sam"),
                                harness.chat("666", "Mallory"))
    await owner.send("/audit")
    action = owner.last.screen.buttons[0].action
    await support.send("/start")
    await stranger.send("/start")
    before = (list(support.messages), list(stranger.messages))

    await support.press(action)  # forged: the support's own chat has no such button
    await stranger.press(action)

    assert (support.messages, stranger.messages) == before
    assert support.toasts[-1] == ("Your role (support) does not allow audit.older. Ask the "
                                  "school's owner.")
    assert stranger.toasts[-1] == "This button is not for you."
    refused = [(e.actor, e.action, e.subject, e.detail) for e in await _audit(harness)
               if e.result is AuditResult.REFUSED]
    assert refused == [
        ("console:666", "audit.older", action.partition(":")[2], "not staff"),
        ("console:help", "audit.older", action.partition(":")[2],
         "role support lacks the right audit.older")]


async def test_a_tampered_page_button_is_stale_and_audited(harness):
    owner = harness.chat("owner", "Olga")
    await owner.send("/start")

    await owner.press("au:-1")

    assert owner.toasts[-1] == "This button is out of date. Here is the menu."
    [line] = await _audit(harness)
    assert (line.action, line.result) == ("audit.older", AuditResult.NOTHING)
    assert line.detail == "Stale: stale or tampered button -1"
