"""Importing a student base: students found by their accounts, email or phone, or made; the
access they had granted like a purchase, with no payment and no message; again changes
nothing."""

from __future__ import annotations

from datetime import timedelta

from factories import START

from core.contacts import ContactKind
from core.models import OrderStatus, PurchaseStatus
from core.services import groups, importing
from core.services.importing import ImportReport, ImportRow
from core.staff import AuditResult

SOURCE = "import:students.csv"
COLUMNS = (("telegram", "telegram_id"), ("vk", "vk_id"))


def row(line=2, telegram=None, vk=None, email=None, **fields) -> ImportRow:
    accounts = tuple((m, i) for m, i in (("telegram", telegram), ("vk", vk)) if i)
    contacts = ((ContactKind.EMAIL, email),) if email else ()
    return ImportRow(line=line, accounts=accounts, contacts=contacts, columns=COLUMNS,
                     **fields)


async def _import(uow_factory, school, rows, now=START) -> ImportReport:
    report = ImportReport()
    async with uow_factory() as uow:
        await importing.import_rows(uow, school, rows, SOURCE, now, report)
        if not report.problems:
            await uow.commit()
    return report


async def test_a_new_student_gets_the_access_lessons_open_now_and_no_message(shop):
    rows = [row(telegram="555", email="anna@example.com", name="Anna", language="ru",
                item="python-30", starts_at=START - timedelta(days=5),
                ends_at=START + timedelta(days=20))]

    report = await _import(shop.uow_factory, shop.school, rows)

    assert (report.new, report.matched, report.created, report.problems) == (1, 0, 1, [])
    async with shop.uow_factory() as uow:
        identity = await uow.users.identity("telegram", "555")
        user = await uow.users.get(identity.user_id)
        assert (user.name, user.language, user.referral_code != "") == ("Anna", "ru", True)
        [contact] = await uow.contacts.of_user(user.id)
        assert (contact.kind, contact.value, contact.source) == (
            ContactKind.EMAIL, "anna@example.com", SOURCE)
        [purchase] = await uow.purchases.for_user(user.id)
        [order] = await uow.orders.for_user(user.id)
        assert await uow.payments.for_order(order.id) == []
        assert await uow.outbox.for_user(user.id) == []  # nothing sent: no "paid", no invite
        delivered = await uow.deliveries.delivered(user.id, "python")
        [line] = await uow.audit.latest(5)
    assert (order.status, order.amount, order.currency, order.paid_at) == (
        OrderStatus.PAID, 0, "EUR", START - timedelta(days=5))
    assert (purchase.status, purchase.offer_code, purchase.products) == (
        PurchaseStatus.ACTIVE, "python-30", ("python-course", "club"))
    assert (purchase.starts_at, purchase.ends_at) == (START - timedelta(days=5),
                                                      START + timedelta(days=20))
    assert delivered == {"intro", "vars", "loops", "notes"}  # open at the import
    assert purchase.next_lesson_at == START + timedelta(days=10)  # "live", on its schedule
    assert START < purchase.remind_at < purchase.ends_at  # reminded before the end
    assert (line.actor, line.action, line.result, line.user_id, line.subject) == (
        SOURCE, "import", AuditResult.DONE, user.id, "line 2")
    assert line.detail == ("new student Anna; +telegram:555; +email anna@example.com; "
                           "python-30 until 2026-03-22 10:00 school time granted (no payment)")
    async with shop.uow_factory() as uow:  # the paid group lets them in on their next join
        group = shop.school.groups["club"]
        assert await groups.may_join(uow, shop.school, group, "555", START)


async def test_an_existing_student_is_matched_by_telegram_id_and_keeps_their_name(shop):
    student = await shop.student("Anya")  # telegram 1001, as the bot met her

    report = await _import(shop.uow_factory, shop.school,
                           [row(telegram="1001", name="Anna Petrova", item="python-life")])

    assert (report.new, report.matched, report.created) == (0, 1, 1)
    async with shop.uow_factory() as uow:
        assert (await uow.users.get(student.id)).name == "Anya"
        [purchase] = await uow.purchases.for_user(student.id)
    assert (purchase.offer_code, purchase.ends_at) == ("python-life", None)


async def test_a_student_is_matched_by_email_and_gains_the_rows_accounts(shop):
    await _import(shop.uow_factory, shop.school, [row(email="anna@example.com", name="Anna")])

    report = await _import(shop.uow_factory, shop.school,
                           [row(line=3, vk="777", email="anna@example.com")])

    assert (report.new, report.matched) == (0, 1)
    assert report.changes == ["line 3: +vk:777"]
    async with shop.uow_factory() as uow:
        contact = await uow.contacts.find(ContactKind.EMAIL, "anna@example.com")
        assert (await uow.users.identity("vk", "777")).user_id == contact.user_id


async def test_a_row_whose_identities_belong_to_two_students_is_a_problem(shop):
    first = await shop.student("A")
    await _import(shop.uow_factory, shop.school, [row(email="b@example.com", name="B")])

    report = await _import(shop.uow_factory, shop.school,
                           [row(line=7, telegram="1001", email="b@example.com",
                                item="python-life")])

    assert report.problems == [
        f"line 7: telegram_id 1001 belong to student #{first.id}; email b@example.com belong "
        f"to student #{first.id + 1}: one row is one student (link their accounts in the chat "
        "first, or fix the row)"]
    assert await shop.purchases(first.id) == []


async def test_a_later_end_extends_the_running_purchase_and_the_same_end_changes_nothing(shop):
    student = await shop.student()
    bought = await shop.buy(student, "python-30")  # to START + 30 days
    later = START + timedelta(days=90)
    rows = [row(telegram="1001", item="python-30", ends_at=later)]

    report = await _import(shop.uow_factory, shop.school, rows)
    again = await _import(shop.uow_factory, shop.school, rows)

    assert (report.created, report.extended) == (0, 1)
    assert report.changes == [f"line 2: purchase #{bought.id} python-30 extended from "
                              "2026-04-01 11:00 school time until 2026-05-31 11:00 school time"]
    assert (again.extended, again.unchanged, again.changes) == (0, 1, [])
    [purchase] = await shop.purchases(student.id)
    assert (purchase.id, purchase.ends_at) == (bought.id, later)


async def test_access_held_for_life_already_changes_nothing(shop):
    student = await shop.student()
    await shop.buy(student, "python-life")

    report = await _import(shop.uow_factory, shop.school,
                           [row(telegram="1001", item="python-life")])

    assert (report.created, report.unchanged, report.changes) == (0, 1, [])
    assert len(await shop.purchases(student.id)) == 1


async def test_access_that_ended_is_kept_as_history_with_no_reminder(shop):
    ended = START - timedelta(days=3)
    report = await _import(shop.uow_factory, shop.school,
                           [row(telegram="9", item="club-month",
                                starts_at=START - timedelta(days=40), ends_at=ended)])

    assert report.created == 1
    async with shop.uow_factory() as uow:
        user_id = (await uow.users.identity("telegram", "9")).user_id
        [purchase] = await uow.purchases.for_user(user_id)
        assert await uow.outbox.for_user(user_id) == []
    assert (purchase.status, purchase.ended_at, purchase.end_reason, purchase.remind_at) == (
        PurchaseStatus.EXPIRED, ended, "expired", None)


async def test_a_product_code_grants_that_product(shop):
    await _import(shop.uow_factory, shop.school, [row(telegram="9", item="drawing-course")])

    async with shop.uow_factory() as uow:
        user_id = (await uow.users.identity("telegram", "9")).user_id
        [purchase] = await uow.purchases.for_user(user_id)
        assert await uow.deliveries.delivered(user_id, "drawing") == {"pencil"}
    assert (purchase.offer_code, purchase.products, purchase.access, purchase.ends_at) == (
        "drawing-course", ("drawing-course",), "lifetime", None)


async def test_rows_of_one_student_in_one_file_make_one_student(shop):
    rows = [row(line=2, telegram="9", name="Boris", item="python-life"),
            row(line=3, telegram="9", vk="10", item="club-month",
                ends_at=START + timedelta(days=9))]

    report = await _import(shop.uow_factory, shop.school, rows)

    assert (report.new, report.matched, report.created) == (1, 0, 2)
    async with shop.uow_factory() as uow:
        user_id = (await uow.users.identity("telegram", "9")).user_id
        assert (await uow.users.identity("vk", "10")).user_id == user_id
        assert len(await uow.purchases.for_user(user_id)) == 2


async def test_importing_twice_changes_nothing_the_second_time(db_uow_factory, school):
    rows = [row(line=2, telegram="1", email="a@example.com", name="A", item="python-life"),
            row(line=3, vk="2", name="B", item="python-30",
                ends_at=START + timedelta(days=10)),
            row(line=4, email="c@example.com", item="club-month",
                ends_at=START - timedelta(days=1))]

    first = await _import(db_uow_factory, school, rows)
    second = await _import(db_uow_factory, school, rows)

    assert (first.new, first.created) == (3, 3)
    assert (second.new, second.matched, second.created, second.extended, second.unchanged,
            second.changes) == (0, 3, 0, 0, 3, [])


async def test_a_purchase_renewing_by_itself_here_is_not_changed_by_a_file(shop):
    student = await shop.student()
    bought = await shop.buy(student, "club-month")
    async with shop.uow_factory() as uow:
        purchase = await uow.purchases.get(bought.id)
        purchase.renewal, purchase.renewal_method = "test", "test:card-1"
        await uow.purchases.update(purchase)
        await uow.commit()

    report = await _import(shop.uow_factory, shop.school,
                           [row(line=4, telegram="1001", item="club-month",
                                ends_at=START + timedelta(days=300))])

    assert report.problems == [f"line 4: student #{student.id}'s purchase #{bought.id} of "
                               "club-month renews automatically here: leave it out of the file"]
    assert (await shop.purchase(bought.id)).ends_at == bought.ends_at
