"""The student card: ``/find`` by every kind of query, the card itself, and each staff action
on it, with what storage holds before and after, the audit line each leaves, and the
refusals (a role without the right, a stranger, a forged or stale button)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from factories import START

from core.models import (
    Identity,
    Membership,
    OrderStatus,
    PaymentStatus,
    PurchaseStatus,
    User,
)
from core.services import staff_access
from core.staff import AuditResult, Role, StaffRef
from flows.ui import Incoming, IncomingKind, Sender

CLUB_CHAT = -100123
# Students' contacts (for receipts) are searched where the platform keeps them.
CONTACTS = hasattr(User(), "receipt_contact")
NOT_RECORDED = "Students' emails and phone numbers are not recorded here"


@pytest.fixture
def school(school):
    return dataclasses.replace(school, staff=(
        StaffRef("console", "admin", Role.ADMIN),
        StaffRef("console", "boss", Role.MANAGER),
        StaffRef("console", "help", Role.SUPPORT),
    ))


async def _audit(harness, **only):
    async with harness.uow_factory() as uow:
        return list(reversed(await uow.audit.latest(100, **only)))


async def _purchases(harness, user_id):
    async with harness.uow_factory() as uow:
        return await uow.purchases.for_user(user_id)


async def _orders(harness, user_id):
    async with harness.uow_factory() as uow:
        return await uow.orders.for_user(user_id)


async def _outbox(harness, user_id):
    async with harness.uow_factory() as uow:
        return [m.kind for m in await uow.outbox.for_user(user_id)]


async def _buy(harness, chat, offer: str):
    await chat.start(offer)
    await chat.click("Buy")
    await harness.pay(await chat.click("Pay"))
    await harness.deliver()


async def _anna(harness, offer="python-30"):
    """Anna (student #1) bought ``offer`` with the test gateway."""
    anna = harness.chat("1001", "Anna")
    await _buy(harness, anna, offer)
    return anna


async def _card(harness, staff="admin", query="#1"):
    chat = harness.chat(staff, staff.title())
    await chat.send(f"/find {query}")
    return chat


# --- /find ------------------------------------------------------------------------------------


async def _students(harness):
    """Anna (#1, @Anna_K, bought an order), Борис (#2), and Ann-Marie (#3)."""
    anna = harness.chat("1001", "Anna")
    await anna.messenger.deliver(Incoming(anna.peer, Sender("1001", "Anna", "en",
                                                             username="Anna_K"),
                                          IncomingKind.TEXT, text="/start"))
    await _buy(harness, anna, "python-life")
    await harness.chat("1002", "Борис Петров").start()
    await harness.chat("1003", "Ann-Marie").start()


@pytest.mark.parametrize(("query", "found"), [
    ("console:1001", "#1"),
    ("1001", "#1"),
    ("@anna_k", "#1"),
    ("#1", "#1"),
    ("#2", "#2"),
    ("order 1", "#1"),
    ("o1", "#1"),
    ("борис", "#2"),  # a name in any alphabet, ignoring case
    ("МАРИ", None),
    ("marie", "#3"),
])
async def test_find_opens_the_card_of_the_one_student_found(harness, query, found):
    await _students(harness)
    admin = harness.chat("admin", "Ada")

    await admin.send(f"/find {query}")

    if found is None:
        assert admin.last.text == "No student's name contains “МАРИ”."
        return
    number = int(found[1:])
    title = {1: "Anna", 2: "Борис Петров", 3: "Ann-Marie"}[number]
    assert f"👤 {title} — student #{number}" in admin.last.text
    [line] = await _audit(harness, actor="console:admin")
    assert (line.action, line.result, line.user_id) == ("/find", AuditResult.NOTHING, number)
    assert line.detail.endswith(f": student #{number}")


async def test_find_by_order_says_whose_order_it_is(harness):
    await _students(harness)
    admin = harness.chat("admin", "Ada")
    await admin.send("/find order #1")
    assert admin.last.text.startswith("Order #1 (paid) is this student's:\n\n👤 Anna")


async def test_the_username_is_stored_from_the_sender_and_kept_current(harness):
    await _students(harness)
    anna = harness.chat("1001", "Anna")
    await anna.messenger.deliver(Incoming(anna.peer, Sender("1001", "Anna", "en",
                                                             username="anna_new"),
                                          IncomingKind.TEXT, text="/my"))
    admin = harness.chat("admin", "Ada")
    await admin.send("/find @Anna_K")
    assert admin.last.text.startswith("Nobody with the username @Anna_K")
    await admin.send("/find @ANNA_NEW")
    assert "• console 1001 @anna_new “Anna” — reachable" in admin.last.text


@pytest.mark.skipif(not CONTACTS, reason="students' contacts are not recorded here")
@pytest.mark.parametrize(("contact", "query"), [
    ("anna@example.com", "Anna@Example.COM"),
    ("+79001234567", "+7 (900) 123-45-67"),
])
async def test_find_by_the_contact_a_student_gave(harness, contact, query):
    await _students(harness)
    async with harness.uow_factory() as uow:
        anna = await uow.users.get(1)
        anna.receipt_contact = contact
        await uow.users.update(anna)
        await uow.commit()
    admin = harness.chat("admin", "Ada")
    await admin.send(f"/find {query}")
    assert admin.last.text.startswith("👤 Anna — student #1")


async def test_several_matches_are_a_list_of_ten_and_a_count_of_the_rest(harness):
    for number in range(12):
        await harness.chat(f"20{number:02}", f"Student {number}").start()
    admin = harness.chat("admin", "Ada")

    await admin.send("/find STUDENT")

    assert admin.last.text == "12 students match “STUDENT”:\n2 more: refine the search."
    assert admin.last.labels == [f"#{n} Student {n - 1}" for n in range(1, 11)]
    await admin.click("#4 Student 3")
    assert admin.last.text.startswith("👤 Student 3 — student #4")


@pytest.mark.parametrize(("query", "answer"), [
    ("", "Use: /find followed by a name"),
    ("nobody", "No student's name contains “nobody”."),
    ("#999", "There is no student #999."),
    ("#99999999999", "There is no student #99999999999."),
    ("o42", "There is no o42."),
    ("telegram:5", "No student has the account telegram:5."),
    ("777", "No student has an account with the id 777 in any messenger."),
    ("@ghost", "Nobody with the username @ghost has written to the bot"),
    ("anna@example.com", "No student gave anna@example.com" if CONTACTS else NOT_RECORDED),
    ("+49 170 1234567", "No student gave +49 170 1234567" if CONTACTS else NOT_RECORDED),
    ("100%_", "No student's name contains “100%_”."),  # no wildcards
])
async def test_nothing_found_is_said_clearly(harness, query, answer):
    await _students(harness)
    admin = harness.chat("admin", "Ada")
    await admin.send(f"/find {query}")
    assert admin.last.text.startswith(answer)
    assert admin.last.labels == []


# --- the card ---------------------------------------------------------------------------------


async def test_the_card_shows_the_student_whole(harness, clock):
    anna = await _anna(harness, "python-30")
    clock.advance(timedelta(hours=1))
    await anna.start("python-life")
    await anna.click("Buy")  # an order left unpaid
    async with harness.uow_factory() as uow:
        await uow.users.add_identity(Identity(user_id=1, messenger="telegram",
                                              external_id="501", name="Anna T",
                                              reachable=False, username="anna_t"))
        await uow.memberships.put(Membership(group="club", chat_id=CLUB_CHAT,
                                             external_id="501", joined_at=START))
        await uow.commit()
    admin = harness.chat("admin", "Ada")
    await admin.send("/find #1")
    await admin.click("Add a note")
    await admin.send("Asked for an invoice by email")

    lines = admin.last.text.splitlines()
    assert lines[:2] == ["✅ Note added.", ""]
    assert lines[2:4] == ["👤 Anna — student #1",
                          "Since Mar 2, 2026 · language: en · time zone: Europe/Berlin "
                          "(the school's)"]
    text = admin.last.text
    assert "Accounts:\n• console 1001 “Anna” — reachable, last seen Mar 2, 2026 10:00\n" \
           "• telegram 501 @anna_t “Anna T” — ⛔ unreachable (blocked the bot)" in text
    assert "Access:\n• Python 30 days — active, Mar 2, 2026 – Apr 1, 2026; auto-renewal off" \
        in text
    assert "Reminders due:\n• Python 30 days — Mar 29, 2026 10:00: 3 days before the end" \
        in text
    assert "Orders (latest 2 of 2):\n• #2 Python forever — 49 EUR — not paid, Mar 2, 2026\n" \
           "• #1 Python 30 days — 19.90 EUR — paid, Mar 2, 2026\n   ↳ test: 19.90 EUR ✓" in text
    assert "Paid groups:\n• Club — member since Mar 2, 2026" in text
    assert "Notes (latest 1 of 1):\n• Mar 2, 2026 11:00 console:admin: Asked for an invoice " \
           "by email" in text
    assert admin.last.labels == [
        "⚙️ Python 30 days · Apr 1, 2026", "🎁 Grant", "🔗 Send links again", "↩️ Refund",
        "📝 Add a note", "🔄 Refresh"]


async def test_a_long_card_fits_one_message_and_pages_the_rest(harness):
    await _anna(harness, "python-life")
    admin = harness.chat("admin", "Ada")
    for number in range(40):
        await admin.send("/find #1")
        await admin.click("Add a note")
        await admin.send(f"note {number}: " + "x" * 290)
    await admin.send("/find #1")

    assert len(admin.last.text) <= 3500
    assert "Notes (latest 3 of 40):" in admin.last.text
    await admin.click("All notes (40)")
    assert admin.last.text.startswith("Notes on Anna (#1), latest 30 of 40:\n• ")
    assert "note 39: xxx" in admin.last.text and len(admin.last.text) <= 3500
    assert admin.last.text.endswith("… (cut: see the buttons below)")
    assert admin.last.labels == ["⬅️ Card"]


async def test_roles_see_only_the_buttons_they_may_use(harness):
    await _anna(harness, "python-30")
    support = await _card(harness, "help")
    manager = await _card(harness, "boss")
    assert support.last.text.startswith("👤 Anna — student #1")
    assert support.last.labels == ["🔄 Refresh"]
    assert "↩️ Refund" not in manager.last.labels and "🎁 Grant" in manager.last.labels


# --- refusals ---------------------------------------------------------------------------------


async def test_support_reads_the_card_but_is_refused_every_change(harness):
    await _anna(harness, "python-30")
    [before] = await _purchases(harness, 1)
    seen = staff_access.stamp(before)
    support = await _card(harness, "help")

    for action in ("sg:1", "sgy:1:0", f"sx:{before.id}:30:{seen}", f"sxd:{before.id}:{seen}",
                   f"sry:{before.id}:{seen}", "sf:1", "sfy:1", "sl:1", "sn:1"):
        await support.press(action)
        assert support.toasts[-1].startswith("Your role (support) does not allow ")

    assert await _purchases(harness, 1) == [before]
    assert [o.status for o in await _orders(harness, 1)] == [OrderStatus.PAID]
    lines = [(e.action, e.result, e.detail) for e in await _audit(harness, actor="console:help")]
    assert lines[0] == ("/find", AuditResult.NOTHING, "student '1': student #1")
    assert lines[1:] == [
        (action, AuditResult.REFUSED, f"role support lacks the right {action}")
        for action in ("card.grant", "card.grant", "card.extend", "card.extend",
                       "card.revoke", "card.refund", "/refund", "card.resend",
                       "card.note")]


async def test_a_manager_may_change_access_but_not_refund(harness):
    await _anna(harness, "python-30")
    manager = await _card(harness, "boss")
    await manager.press("sf:1")
    assert manager.toasts[-1].startswith("Your role (manager) does not allow card.refund")
    [line] = [e for e in await _audit(harness) if e.action == "card.refund"]
    assert (line.actor, line.result) == ("console:boss", AuditResult.REFUSED)


async def test_a_stranger_pressing_a_forged_button_sees_nothing_of_the_card(harness):
    await _anna(harness, "python-30")
    [purchase] = await _purchases(harness, 1)
    mallory = harness.chat("666", "Mallory")
    await mallory.start()

    for action in ("sc:1", f"sx:{purchase.id}:30:{staff_access.stamp(purchase)}", "sg:1"):
        await mallory.press(action)
        assert mallory.toasts[-1] == "This button is not for you."
    await mallory.send("/find Anna")
    assert mallory.last.text == "I didn't get that. Please use the buttons below."

    assert not any("Anna" in m.text or "19.90" in m.text for m in mallory.messages)
    assert await _purchases(harness, 1) == [purchase]
    lines = [(e.action, e.result, e.detail, e.user_id)
             for e in await _audit(harness, actor="console:666")]
    assert lines == [(action, AuditResult.REFUSED, "not staff", None)
                     for action in ("card.open", "card.extend", "card.grant", "/find")]


@pytest.mark.parametrize("action", ["sc:999999", "sc:abc", "sc:-1", "sp:424242", "sx:1:30",
                                    "sgo:1:no-such-offer", "sfo:77", "sc:"])
async def test_a_tampered_id_answers_stale_and_changes_nothing(harness, action):
    await _anna(harness, "python-30")
    before = await _purchases(harness, 1)
    admin = await _card(harness)

    await admin.press(action)

    assert admin.last.text == "This button is out of date. Here is the menu."
    assert await _purchases(harness, 1) == before
    [line] = (await _audit(harness, actor="console:admin"))[1:]
    assert line.result is AuditResult.NOTHING and line.detail.startswith("Stale:")


# --- grant ------------------------------------------------------------------------------------


async def test_grant_an_offer_without_payment_once(harness):
    await harness.chat("1001", "Anna").start()
    admin = await _card(harness)

    await admin.click("Grant")
    assert admin.last.text.startswith("Grant what?")
    await admin.click("🎁 Python forever")
    assert admin.last.text == "Grant “Python forever” (for life) without payment?"
    await admin.click("✅ Grant")

    assert admin.last.text.startswith(
        "✅ “Python forever” granted for life without payment (order #1).\n\n👤 Anna")
    [order] = await _orders(harness, 1)
    assert (order.status, order.amount, order.granted_by) == (
        OrderStatus.PAID, 0, "console:admin")
    async with harness.uow_factory() as uow:
        assert await uow.payments.for_order(order.id) == []
    [purchase] = await _purchases(harness, 1)
    assert (purchase.offer_code, purchase.status, purchase.ends_at, purchase.order_id) == (
        "python-life", PurchaseStatus.ACTIVE, None, order.id)
    assert "order_paid" in await _outbox(harness, 1)
    assert "• #1 Python forever — granted by console:admin without payment" in admin.last.text

    await admin.press("sgy:1:0")  # the same confirmation again
    assert admin.last.text.startswith("No grant was waiting for this button")
    await admin.click("Grant")
    await admin.click("🎁 Python forever")
    await admin.click("✅ Grant")
    assert admin.last.text.startswith(
        "Nothing changed: the student already has “Python forever” for life.")
    assert len(await _orders(harness, 1)) == 1

    details = [(e.action, e.result, e.detail) for e in await _audit(harness, actor="console:admin")
               if e.action == "card.grant" and e.result is not AuditResult.NOTHING]
    assert details == [("card.grant", AuditResult.DONE,
                        "granted offer python-life without payment (order #1): new purchase "
                        f"#{purchase.id} until lifetime")]
    refused = [e.detail for e in await _audit(harness, actor="console:admin")
               if e.action == "card.grant"][-1]
    assert refused == "refused: owned"
    await harness.deliver()
    assert "Access activated without payment. Order #1: Python forever." in \
        harness.chat("1001").last.text


async def test_grant_a_product_for_days_then_more_days_extends_it(harness):
    await harness.chat("1001", "Anna").start()
    admin = await _card(harness)
    await admin.click("Grant")
    await admin.click("📦 Club (product)")
    assert admin.last.labels == ["For life", "30 days", "7 days", "✖️ Cancel"]
    await admin.click("30 days")
    assert admin.last.text.startswith(
        "✅ “Club” granted without payment (order #1): until Apr 1, 2026.")
    [first] = await _purchases(harness, 1)
    assert (first.offer_code, first.products, first.ends_at) == (
        "club", ("club",), START + timedelta(days=30))

    await admin.click("Grant")
    await admin.click("📦 Club (product)")
    await admin.click("7 days")
    assert admin.last.text.startswith(
        "✅ “Club” granted without payment (order #2): until Apr 8, 2026 (was Apr 1, 2026).")
    [after] = await _purchases(harness, 1)
    assert after.id == first.id and after.ends_at == START + timedelta(days=37)
    assert [o.granted_by for o in await _orders(harness, 1)] == ["console:admin"] * 2
    [_, second] = [e for e in await _audit(harness) if e.result is AuditResult.DONE]
    assert second.detail == (
        f"granted product club without payment (order #2): purchase #{first.id} active until "
        f"{(START + timedelta(days=30)).isoformat()} -> active until "
        f"{(START + timedelta(days=37)).isoformat()}")
    assert second.user_id == 1


# --- extend -----------------------------------------------------------------------------------


async def test_extend_by_a_button_says_what_changed_and_tells_the_student(harness):
    anna = await _anna(harness, "python-30")
    [before] = await _purchases(harness, 1)
    admin = await _card(harness)

    await admin.click("⚙️ Python 30 days")
    assert admin.last.text == ("Purchase #1: Python 30 days\nactive, Mar 2, 2026 – Apr 1, 2026; "
                               "auto-renewal off\nGives: Python, Club")
    plus_30 = admin.last.screen.rows[0][1].action
    await admin.click("➕ 30 days")

    assert admin.last.text.startswith(
        "✅ Access to “Python 30 days” extended by 30 days: until May 1, 2026 (was Apr 1, 2026)."
        "\n\n👤 Anna")
    [after] = await _purchases(harness, 1)
    assert after.ends_at == before.ends_at + timedelta(days=30)
    assert after.remind_at > before.remind_at  # the reminders follow the new end

    # The same button again (a double press): the purchase changed, nothing is added.
    await admin.press(plus_30)
    assert admin.last.text.startswith(
        "Nothing changed: “Python 30 days” changed since this card was shown.")
    assert (await _purchases(harness, 1))[0].ends_at == after.ends_at

    await harness.deliver()
    assert anna.last.text == ("🎁 The school added 30 days to your access to “Python 30 days”: "
                              "it now lasts until May 1, 2026.")
    [done, again] = [e for e in await _audit(harness) if e.action == "card.extend"]
    assert (done.result, done.user_id, done.detail) == (
        AuditResult.DONE, 1,
        f"purchase #1 python-30: +30 days, active until {before.ends_at.isoformat()} -> "
        f"active until {after.ends_at.isoformat()}")
    assert (again.result, again.detail) == (AuditResult.NOTHING, "refused: changed")


async def test_extend_by_a_typed_number_of_days(harness):
    await _anna(harness, "python-30")
    [before] = await _purchases(harness, 1)
    admin = await _card(harness)
    await admin.click("⚙️ Python 30 days")
    await admin.click("Another number of days")
    assert admin.last.text == "How many days to add to “Python 30 days”? Send a number from " \
                              "1 to 3650."

    for wrong in ("many", "0", "3651", "-5"):
        await admin.send(wrong)
        assert admin.last.text == "Send a number of days from 1 to 3650, e.g. 45."
    assert await _purchases(harness, 1) == [before]
    await admin.send("45")

    assert admin.last.text.startswith(
        "✅ Access to “Python 30 days” extended by 45 days: until May 16, 2026 (was Apr 1, 2026).")
    [after] = await _purchases(harness, 1)
    assert after.ends_at == before.ends_at + timedelta(days=45)
    await admin.send("10")  # the step is over: a number means nothing now
    assert (await _purchases(harness, 1))[0].ends_at == after.ends_at


async def test_an_ended_purchase_runs_again_from_now_with_its_group(harness, clock):
    await _anna(harness, "python-30")
    clock.advance(timedelta(days=31))
    await harness.sweep()
    [ended] = await _purchases(harness, 1)
    assert ended.status is PurchaseStatus.EXPIRED
    admin = await _card(harness)

    await admin.click("⚙️ Python 30 days")
    await admin.click("➕ 7 days")

    assert admin.last.text.startswith(
        "✅ Access to “Python 30 days” runs again for 7 days: until Apr 9, 2026 (it had ended "
        "Apr 1, 2026).")
    [after] = await _purchases(harness, 1)
    assert (after.status, after.ends_at, after.ended_at) == (
        PurchaseStatus.ACTIVE, clock.now() + timedelta(days=7), None)
    assert (await _outbox(harness, 1))[-2:] == ["access_extended", "group_invite"]


async def test_lifetime_access_has_no_extend_buttons_and_a_forged_one_changes_nothing(harness):
    await _anna(harness, "python-life")
    [purchase] = await _purchases(harness, 1)
    admin = await _card(harness)
    await admin.click("⚙️ Python forever")
    assert admin.last.labels == ["⛔ Revoke", "⬅️ Card"]
    await admin.press(f"sx:{purchase.id}:30:{staff_access.stamp(purchase)}")
    assert admin.last.text.startswith("Nothing changed: “Python forever” is lifetime access.")
    assert await _purchases(harness, 1) == [purchase]


# --- revoke -----------------------------------------------------------------------------------


async def test_revoke_asks_first_then_takes_access_and_the_group_away(harness, clock):
    await _anna(harness, "python-30")
    async with harness.uow_factory() as uow:
        await uow.users.add_identity(Identity(user_id=1, messenger="telegram",
                                              external_id="501"))
        await uow.memberships.put(Membership(group="club", chat_id=CLUB_CHAT,
                                             external_id="501", joined_at=START))
        await uow.commit()
    admin = await _card(harness)
    await admin.click("⚙️ Python 30 days")
    await admin.click("Revoke")
    assert admin.last.text.startswith("Revoke “Python 30 days” (active, Mar 2, 2026 – Apr 1, "
                                      "2026)? The student loses the access at once")
    assert [p.status for p in await _purchases(harness, 1)] == [PurchaseStatus.ACTIVE]

    await admin.click("Yes, revoke")

    assert admin.last.text.startswith(
        "✅ “Python 30 days” revoked (was active, Mar 2, 2026 – Apr 1, 2026).\n"
        "Removal from Club is due: the group check removes them within a minute.")
    [revoked] = await _purchases(harness, 1)
    assert (revoked.status, revoked.end_reason, revoked.remind_at) == (
        PurchaseStatus.REVOKED, "revoked", None)
    async with harness.uow_factory() as uow:
        member = await uow.memberships.get(CLUB_CHAT, "501")
    assert member.check_at == clock.now()  # the group sweep removes them
    assert [o.status for o in await _orders(harness, 1)] == [OrderStatus.PAID]  # money kept
    assert "access_ended" in await _outbox(harness, 1)
    [line] = [e for e in await _audit(harness) if e.result is AuditResult.DONE]
    assert (line.action, line.user_id, line.detail) == (
        "card.revoke", 1, "purchase #1 python-30: active until "
        f"{(START + timedelta(days=30)).isoformat()} -> revoked; removal from club")
    assert "⚙️ Python 30 days" not in admin.last.labels


# --- refund -----------------------------------------------------------------------------------


async def test_refund_from_the_card_goes_through_refund_and_shows_the_card(stars):
    anna = stars.chat("1001", "Anna")
    await anna.start("python-life")
    await anna.click("Buy for 250 ⭐")
    await anna.pay_in_chat(anna.last.screen.invoice.payload, "XTR", 250, "charge-1")
    await stars.deliver()
    admin = stars.chat("admin", "Ada")
    await admin.send("/find Anna")

    await admin.click("Refund")
    assert admin.last.labels == ["↩️ #1 Python forever · 250 ⭐ (telegram)", "⬅️ Card"]
    await admin.click("#1 Python forever")
    assert admin.last.text == ("Refund order #1 “Python forever”: 250 ⭐ through telegram? "
                               "The access it gave is withdrawn.")
    await admin.click("Yes, refund")

    assert admin.last.text.startswith(
        "Order #1: 250 ⭐ returned, and the access it gave is withdrawn.\n\n👤 Anna")
    assert "• #1 Python forever — 250 ⭐ — refunded (refund)" in admin.last.text
    assert [p.gateway_payment_id for p in stars.refunded] == ["charge-1"]
    async with stars.uow_factory() as uow:
        assert (await uow.orders.get(1)).status is OrderStatus.REFUNDED
        [payment] = await uow.payments.for_order(1)
        assert payment.status is PaymentStatus.REFUNDED
    [purchase] = await _purchases(stars, 1)
    assert purchase.status is PurchaseStatus.REVOKED
    lines = [(e.action, e.result, e.user_id, e.detail) for e in await _audit(stars)
             if e.result is AuditResult.DONE]
    assert lines == [("/refund", AuditResult.DONE, 1, "order #1: refund of 250 ⭐ asked of "
                                                      "telegram"),
                     ("/refund", AuditResult.DONE, 1, "refunded 250 ⭐, access withdrawn")]

    await admin.press("sfy:1")  # again: nothing left to give back
    assert admin.last.text.startswith("Order #1 is not paid (it is refunded).\n\n👤 Anna")
    assert len(stars.refunded) == 1


async def test_an_order_paid_with_a_gateway_that_cannot_refund_is_refused(harness):
    await _anna(harness, "python-life")
    admin = await _card(harness)
    await admin.click("Refund")
    await admin.click("#1 Python forever")
    await admin.click("Yes, refund")
    assert admin.last.text.startswith("Order #1")
    assert "👤 Anna" in admin.last.text
    assert [o.status for o in await _orders(harness, 1)] == [OrderStatus.PAID]
    [line] = (await _audit(harness))[-1:]
    assert (line.action, line.result, line.detail) == (
        "/refund", AuditResult.NOTHING, "order #1: its gateway cannot refund from here")


# --- links again, notes -----------------------------------------------------------------------


async def test_send_the_links_again(harness):
    anna = await _anna(harness, "python-30")
    admin = await _card(harness)

    await admin.click("Send links again")

    assert admin.last.text.startswith(
        "✅ Lessons of “Python 30 days” sent again (2 open).\n"
        "“Club”: no Telegram bot runs here to make a link.\n\n👤 Anna")
    assert (await _outbox(harness, 1))[-1] == "lesson_links"
    await harness.deliver()
    assert anna.last.text.startswith("Your lessons of “Python 30 days” open now:")
    assert anna.last.labels == ["▶️ Intro", "🎓 My courses"]
    [line] = [e for e in await _audit(harness) if e.action == "card.resend"]
    assert (line.result, line.user_id, line.detail) == (
        AuditResult.DONE, 1, "sent again: 2 lessons of purchase #1")

    await admin.click("Send links again")  # the same minute: sent once
    assert admin.last.text.startswith("Nothing was sent")
    assert (await _outbox(harness, 1)).count("lesson_links") == 1


async def test_notes_are_typed_checked_and_kept_with_their_author(harness):
    await _anna(harness, "python-life")
    boss = await _card(harness, "boss")
    await boss.click("Add a note")
    assert boss.last.text.startswith("Send the note on Anna (#1) as a message")

    await boss.send("x" * 1001)
    assert boss.last.text == "A note is 1 to 1000 characters. Send it again."
    await boss.send("Wants an invoice for her company")

    assert boss.last.text.startswith("✅ Note added.\n\n👤 Anna")
    async with harness.uow_factory() as uow:
        [note] = await uow.notes.for_user(1, 10)
    assert (note.author, note.text) == ("console:boss", "Wants an invoice for her company")
    lines = [(e.result, e.detail) for e in await _audit(harness) if e.action == "card.note"]
    assert lines == [(AuditResult.NOTHING, "asked for a note"),
                     (AuditResult.NOTHING, "a note of 1001 characters refused"),
                     (AuditResult.DONE, f"note #{note.id} added: Wants an invoice for her "
                                        "company")]
    await boss.send("Another thought")  # the step is over: it is not a note
    await boss.click("Add a note")
    await boss.click("⬅️ Card")  # changed their mind: the card ends the step
    await boss.send("A stray message")
    assert "didn't get that" in boss.last.text
    async with harness.uow_factory() as uow:
        assert await uow.notes.count(1) == 1
