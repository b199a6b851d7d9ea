"""``/export``: CSV files that round-trip through ``csv`` with the database's rows, sent as a
document where the messenger can, else behind a signed link that expires; a link tampered
with, expired or whose maker lost the right gets 403 and tells nothing."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from harness import Harness
from stats_scene import seed

from core.services import export, staff, users
from core.staff import AuditResult, Role, StaffRef


@pytest.fixture
def school(school):
    return dataclasses.replace(school, staff=(
        StaffRef("console", "owner", Role.OWNER),
        StaffRef("console", "boss", Role.MANAGER),
    ))


def rows_of(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, for Excel
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


async def _audit(harness, **only):
    async with harness.uow_factory() as uow:
        return await uow.audit.latest(50, **only)


async def _document(harness, chat, table):
    await chat.send(f"/export {table}")
    sent = chat.last
    assert sent.attachment is not None and sent.attachment.kind == "document"
    return sent


async def test_students_as_a_document(harness, school, clock):
    scene = await seed(harness.uow_factory, school, clock)
    owner = harness.chat("owner", "Olga")

    sent = await _document(harness, owner, "students")

    assert sent.attachment.filename == "students-2026-03-02.csv"
    assert sent.text == "students-2026-03-02.csv: 6 rows."  # five students and Olga
    rows = rows_of(sent.attachment.data)
    assert list(rows[0]) == list(export.TABLES["students"].columns)
    assert [r["name"] for r in rows] == ["Anna", "Boris", "Chen", "Dana", "Emil", "Olga"]
    anna = rows[0]
    assert anna["id"] == str(scene.anna) and anna["messengers"] == "console:anna"
    assert anna["created_at"] == "2026-01-26T10:00:00+01:00"  # school-local, with offset
    assert owner.messages[-2].text == "⏳ Preparing students-2026-03-02.csv…"
    lines = [(e.action, e.result, e.detail) for e in reversed(
        await _audit(harness, actor="console:owner"))]
    assert lines == [
        ("/export", AuditResult.DONE, "students-2026-03-02.csv: preparing it as a document"),
        ("/export", AuditResult.DONE, "students-2026-03-02.csv: 6 rows sent as a document"),
    ]


async def test_orders_purchases_and_payments_round_trip(harness, school, clock):
    scene = await seed(harness.uow_factory, school, clock)
    owner = harness.chat("owner", "Olga")

    orders = rows_of((await _document(harness, owner, "orders")).attachment.data)
    purchases = rows_of((await _document(harness, owner, "purchases")).attachment.data)
    paid = rows_of((await _document(harness, owner, "payments")).attachment.data)

    async with harness.uow_factory() as uow:
        stored = [o for u in (scene.anna, scene.boris, scene.chen, scene.dana, scene.emil)
                  for o in await uow.orders.for_user(u)]
    assert [r["id"] for r in orders] == [str(o.id) for o in sorted(stored, key=lambda o: o.id)]
    chen = next(r for r in orders if r["id"] == str(scene.chen_order))
    assert (chen["offer"], chen["status"], chen["amount"], chen["currency"]) == (
        "python-life", "refunded", "49.00", "EUR")
    assert chen["paid_at"] == "2026-03-01T10:00:00+01:00"
    emil = next(r for r in orders if r["student_id"] == str(scene.emil))
    assert (emil["amount"], emil["currency"]) == ("250", "XTR")
    assert {r["status"] for r in orders} >= {"paid", "new", "refunded"}

    assert [(r["student_id"], r["offer"], r["status"]) for r in purchases] == [
        (str(scene.anna), "python-30", "expired"),
        (str(scene.boris), "club-month", "active"),
        (str(scene.chen), "python-life", "revoked"),
        (str(scene.emil), "python-life", "active"),
    ]
    assert purchases[1]["auto_renewal"] == "test" and purchases[1]["products"] == "club"

    assert [(r["student_id"], r["amount"], r["currency"], r["status"]) for r in paid] == [
        (str(scene.anna), "19.90", "EUR", "succeeded"),
        (str(scene.boris), "9.00", "EUR", "succeeded"),
        (str(scene.boris), "8.00", "EUR", "succeeded"),
        (str(scene.chen), "49.00", "EUR", "refunded"),
        (str(scene.emil), "250", "XTR", "succeeded"),
    ]
    assert paid[3]["refunded_at"] == "2026-03-02T09:00:00+01:00"


async def test_large_tables_are_read_page_by_page(harness, school, clock):
    await seed(harness.uow_factory, school, clock)
    job = export.CsvExport(harness.uow_factory, school, "payments", page=2)

    chunks = [chunk async for chunk in job.chunks()]

    assert len(chunks) == 1 + 3  # the header, then pages of 2, 2 and 1 rows
    assert job.rows == 5
    assert len(rows_of(b"".join(chunks))) == 5


async def test_a_name_a_spreadsheet_would_run_is_kept_as_text(harness, clock):
    async with harness.uow_factory() as uow:
        await users.resolve(uow, clock.now(), "console", "m", '=HYPERLINK("http://x","y")',
                            "en")
        await uow.commit()
    owner = harness.chat("owner", "Olga")

    rows = rows_of((await _document(harness, owner, "students")).attachment.data)

    assert rows[0]["name"] == '\'=HYPERLINK("http://x","y")'


async def test_the_menu_offers_the_tables(harness):
    owner = harness.chat("owner", "Olga")
    await owner.send("/export")
    assert owner.last.labels == ["Students", "Purchases", "Orders", "Payments"]

    await owner.click("Payments")

    assert owner.last.attachment.filename.startswith("payments-")
    await owner.send("/export grades")
    assert owner.last.text.startswith("There is no table grades")


async def test_a_manager_may_not_export(harness):
    boss = harness.chat("boss", "Max")

    await boss.send("/export students")
    await boss.press("ex:students")

    assert all(m.attachment is None for m in boss.messages)
    assert boss.toasts[-1].startswith("Your role (manager) does not allow export.table")
    assert [(e.action, e.result) for e in await _audit(harness, actor="console:boss")] == [
        ("export.table", AuditResult.REFUSED), ("/export", AuditResult.REFUSED)]


@pytest.fixture
async def linked(uow_factory, school, clock):
    """The harness of a messenger that cannot send files (as VK and Viber)."""
    async with Harness(uow_factory, school, clock) as harness:
        harness.console.capabilities = dataclasses.replace(harness.console.capabilities,
                                                           attachments=frozenset())
        yield harness


async def _link(harness, table="orders"):
    owner = harness.chat("owner", "Olga")
    await owner.send(f"/export {table}")
    url = await owner.click("Download")
    assert url is not None and owner.last.attachment is None
    return owner, url


async def _get(harness, url):
    async with harness.http.get(harness.url(url)) as response:
        return response.status, response.headers, await response.read()


async def test_elsewhere_a_signed_link_downloads_the_file(linked, school, clock):
    scene = await seed(linked.uow_factory, school, clock)
    owner, url = await _link(linked)
    assert owner.last.text == ("⬇️ orders-2026-03-02.csv can be downloaded until Mar 2, 2026 "
                               "11:00 (one hour), only while you may export:")
    assert urlsplit(url).path.startswith("/exports/orders.")

    status, headers, body = await _get(linked, url)

    assert status == 200
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Content-Disposition"] == (
        "attachment; filename*=UTF-8''orders-2026-03-02.csv")
    async with linked.uow_factory() as uow:  # the students' and automatic renewals' own
        stored = [o.id for u in (scene.anna, scene.boris, scene.chen, scene.dana, scene.emil)
                  for o in await uow.orders.for_user(u)]
    assert sorted(int(r["id"]) for r in rows_of(body)) == sorted(stored)
    download = (await _audit(linked, actor="console:owner"))[0]
    assert (download.action, download.result, download.subject) == (
        "export.download", AuditResult.DONE, "orders.csv")
    assert download.detail.startswith("download from 127.0.0.1")


@pytest.mark.parametrize("tamper", [
    lambda token: token.replace("orders.", "payments.", 1),  # another table
    lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # signature
    lambda token: token.rsplit(".", 1)[0],  # no signature
    lambda token: "x" * 600,
])
async def test_a_tampered_link_gets_403_and_nothing_else(linked, school, clock, tamper):
    await seed(linked.uow_factory, school, clock)
    _, url = await _link(linked)
    before = len(await _audit(linked))
    base, token = url.rsplit("/", 1)

    status, headers, body = await _get(linked, f"{base}/{tamper(token)}")

    assert status == 403
    assert b"," not in body and b"Anna" not in body and "Content-Disposition" not in headers
    assert len(await _audit(linked)) == before  # an unsigned request writes nothing


async def test_an_expired_link_or_a_lost_right_gets_403_and_is_audited(linked, school, clock):
    await seed(linked.uow_factory, school, clock)
    _, url = await _link(linked)

    clock.advance(timedelta(hours=1))
    status, _, body = await _get(linked, url)

    assert status == 403 and b"Anna" not in body
    refused = (await _audit(linked, actor="console:owner"))[0]
    assert (refused.action, refused.result) == ("export.download", AuditResult.REFUSED)
    assert refused.detail.endswith("refused: the link expired")

    # A staff member added at runtime makes a link, then is taken off the staff.
    async with linked.uow_factory() as uow:
        await staff.put(uow, school, "console", "ada", Role.ADMIN, "console:owner", clock.now())
        await uow.commit()
    ada = linked.chat("ada", "Ada")
    await ada.send("/export students")
    url = await ada.click("Download")
    async with linked.uow_factory() as uow:
        await staff.remove(uow, school, "console", "ada")
        await uow.commit()

    status, _, _ = await _get(linked, url)

    assert status == 403
    refused = (await _audit(linked, actor="console:ada"))[0]
    assert refused.detail.endswith("refused: its maker may no longer export")
