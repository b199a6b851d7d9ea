"""Staff roles: who may run which command, the team changed at runtime, and the audit line
every staff action and every refused attempt leaves."""

from __future__ import annotations

import dataclasses

import pytest

from core.models import OrderStatus
from core.staff import AuditResult, Role, StaffRef
from flows.ui import Incoming, IncomingKind, Sender


@pytest.fixture
def school(school):
    return dataclasses.replace(school, staff=(
        StaffRef("console", "owner", Role.OWNER),
        StaffRef("console", "admin", Role.ADMIN),
        StaffRef("console", "help", Role.SUPPORT),
    ))


async def _audit(harness, **only):
    async with harness.uow_factory() as uow:
        return await uow.audit.latest(50, **only)


async def _ordered(harness):
    chat = harness.chat("1001", "Anna")
    await chat.start("python-life")
    await chat.click("Buy")
    return chat


async def test_support_is_told_its_role_cannot_and_the_attempt_is_audited(harness):
    await _ordered(harness)
    support = harness.chat("help", "Sam")

    await support.send("/paid 1 49 cash")

    assert support.last.text == ("Your role (support) does not allow /paid. "
                                 "Ask the school's owner.")
    [line] = await _audit(harness)
    assert (line.actor, line.role, line.action, line.result, line.detail) == (
        "console:help", "support", "/paid", AuditResult.REFUSED, "role support lacks the "
        "right /paid")
    async with harness.uow_factory() as uow:
        assert (await uow.orders.get(1)).status is OrderStatus.NEW


async def test_a_stranger_sees_an_unknown_command_and_is_audited(harness):
    stranger = harness.chat("666", "Mallory")

    await stranger.send("/audit")

    assert "didn't get that" in stranger.last.text
    [line] = await _audit(harness, actor="console:666")
    assert (line.action, line.result, line.role, line.detail) == (
        "/audit", AuditResult.REFUSED, "", "not staff")


async def test_an_impersonal_sender_with_an_owners_id_is_not_staff(harness):
    owner = harness.chat("owner", "Olga")
    await owner.messenger.deliver(Incoming(
        owner.peer, Sender("owner", "Group", "en", impersonal=True), IncomingKind.TEXT,
        text="/staff add console:777 admin"))

    assert "didn't get that" in owner.last.text
    [line] = await _audit(harness)
    assert line.result is AuditResult.REFUSED and "impersonal" in line.detail
    async with harness.uow_factory() as uow:
        assert await uow.staff.all() == []


async def test_the_owner_adds_a_manager_who_can_then_confirm_payments(harness):
    await _ordered(harness)
    owner, manager = harness.chat("owner", "Olga"), harness.chat("777", "Max")

    await manager.send("/paid 1 49 cash")
    assert "didn't get that" in manager.last.text

    await owner.send("/staff add console:777 manager")
    assert owner.last.text == "✅ console:777 is now manager."
    await manager.send("/paid 1 49 cash")
    assert manager.last.text.startswith("✅ Order #1 is paid")

    await manager.send("/staff add console:778 support")
    assert manager.last.text.startswith("Your role (manager) does not allow /staff")

    await owner.send("/staff")
    assert owner.last.text.splitlines() == [
        "The team:", "• console:owner — owner (school file)", "• console:admin — admin "
        "(school file)", "• console:help — support (school file)", "• console:777 — manager"]

    await owner.send("/staff remove console:777")
    assert owner.last.text == "✅ console:777 is no longer on the staff (was manager)."
    await manager.send("/refunds")
    assert "didn't get that" in manager.last.text

    lines = [(e.actor, e.action, e.result.value, e.detail) for e in reversed(
        await _audit(harness))]
    assert lines == [
        ("console:777", "/paid", "refused", "not staff"),
        ("console:owner", "/staff", "done", "console:777: not staff -> manager"),
        ("console:777", "/paid", "done", "order #1: 49 EUR recorded by hand (granted), "
                                         "note: cash"),
        ("console:777", "/staff", "refused", "role manager lacks the right /staff"),
        ("console:owner", "/staff", "nothing", "listed the team"),
        ("console:owner", "/staff", "done", "console:777: manager -> not staff"),
        ("console:777", "/refunds", "refused", "not staff"),
    ]
    [paid] = [e for e in await _audit(harness) if e.action == "/paid" and e.result == "done"]
    assert paid.user_id == 1  # Anna: the line is found from her card too
    assert await _audit(harness, user_id=1) == [paid]


@pytest.mark.parametrize(("command", "answer"), [
    ("/staff add @boss admin", "@boss is not an account"),
    ("/staff add console:admin support", "console:admin is named in the school file"),
    ("/staff add console:9 owner", "Use: /staff"),
    ("/staff remove console:9", "console:9 is not on the staff"),
    ("/staff fire console:9", "Use: /staff"),
])
async def test_bad_team_changes_change_nothing(harness, command, answer):
    owner = harness.chat("owner", "Olga")

    await owner.send(command)

    assert owner.last.text.startswith(answer)
    async with harness.uow_factory() as uow:
        assert await uow.staff.all() == []
    [line] = await _audit(harness)
    assert line.result is AuditResult.NOTHING


async def test_help_lists_only_what_the_role_may_do(harness):
    support, owner, student = (harness.chat("help", "Sam"), harness.chat("owner", "Olga"),
                               harness.chat("1001", "Anna"))
    for chat in (support, owner, student):
        await chat.send("/help")

    assert "/paid" not in support.last.text and "/refund" not in support.last.text
    assert "Staff commands for your role (support)" in support.last.text
    assert all(f"/{c} —" in owner.last.text for c in ("paid", "refund", "audit", "staff"))
    assert "Staff commands" not in student.last.text


async def test_audit_reads_the_latest_and_filters_by_account(harness):
    owner, admin = harness.chat("owner", "Olga"), harness.chat("admin", "Ada")
    await harness.chat("666", "Mallory").send("/refund 1")
    await admin.send("/refund 99")

    await owner.send("/audit console:666")
    assert owner.last.text.splitlines()[0] == "Audit log, latest 1:"
    assert "⛔" in owner.last.text and "console:666 (-) /refund 1 — not staff" in owner.last.text

    await owner.send("/audit")
    assert "console:admin (admin) /refund 99 — no order #99" in owner.last.text

    await admin.send("/audit nonsense")
    assert admin.last.text.startswith("Use: /audit")
