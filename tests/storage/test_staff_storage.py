"""The staff's stored menus and the audit log's pages, on every storage backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.staff import AuditEntry, AuditResult, Role, StaffMenu

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def test_a_menu_is_recorded_once_per_account_and_replaced(db_uow_factory):
    async with db_uow_factory() as uow:
        await uow.staff_menus.put(StaffMenu("telegram", "900", Role.OWNER, T0))
        await uow.staff_menus.put(StaffMenu("telegram", "902", Role.MANAGER, T0))
        await uow.staff_menus.put(StaffMenu("vk", "902", Role.SUPPORT, T0))
        await uow.commit()
    later = T0 + timedelta(days=1)
    async with db_uow_factory() as uow:
        await uow.staff_menus.put(StaffMenu("telegram", "902", Role.SUPPORT, later))
        await uow.staff_menus.remove("telegram", "900")
        await uow.staff_menus.remove("telegram", "999")  # none: nothing happens
        await uow.commit()
    async with db_uow_factory() as uow:
        menus = [(m.messenger, m.external_id, m.role, m.shown_at)
                 for m in await uow.staff_menus.all()]
    assert menus == [("telegram", "902", Role.SUPPORT, later),
                     ("vk", "902", Role.SUPPORT, T0)]


async def test_the_audit_log_pages_back_from_a_line(db_uow_factory):
    async with db_uow_factory() as uow:
        for n in range(5):
            actor = "telegram:900" if n % 2 else "telegram:901"
            await uow.audit.add(AuditEntry(T0, actor, "/paid", AuditResult.NOTHING,
                                           subject=str(n)))
        await uow.commit()
    async with db_uow_factory() as uow:
        newest = await uow.audit.latest(2)
        older = await uow.audit.latest(2, before=newest[-1].id)
        theirs = await uow.audit.latest(5, actor="telegram:901", before=newest[0].id)
    assert [e.subject for e in newest] == ["4", "3"]
    assert [e.subject for e in older] == ["2", "1"]
    assert [e.subject for e in theirs] == ["2", "0"]
