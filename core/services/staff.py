"""The school's staff: who has which role, changes to the team, and the audit log."""

from __future__ import annotations

from datetime import datetime

from core.ports import UnitOfWork
from core.school import School
from core.staff import AuditEntry, AuditResult, Role, StaffMember, StaffRef


async def role_of(uow: UnitOfWork, school: School, messenger: str,
                  external_id: str) -> Role | None:
    """The account's role: the school file's first, then one an owner gave at runtime."""
    in_file = school.role_in_file(messenger, external_id)
    if in_file is not None:
        return in_file
    member = await uow.staff.get(messenger, external_id)
    return member.role if member is not None else None


async def team(uow: UnitOfWork, school: School) -> list[StaffRef]:
    """Everyone on the staff: the school file's, then those added at runtime."""
    listed = {(s.messenger, s.external_id) for s in school.staff}
    added = [StaffRef(m.messenger, m.external_id, m.role) for m in await uow.staff.all()
             if (m.messenger, m.external_id) not in listed]
    return [*school.staff, *added]


class StaffChangeRefused(Exception):
    """Why a change to the team cannot be made (shown to the owner, audited)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "in_file", "owner_role", "not_staff"


async def put(uow: UnitOfWork, school: School, messenger: str, external_id: str, role: Role,
              by: str, now: datetime) -> Role | None:
    """Give the account ``role``; returns the role it had before (None: it is new). Owners
    and the school file's staff are the file's to change, not the chat's."""
    if role is Role.OWNER:
        raise StaffChangeRefused("owner_role")
    if school.role_in_file(messenger, external_id) is not None:
        raise StaffChangeRefused("in_file")
    member = await uow.staff.get(messenger, external_id)
    if member is None:
        await uow.staff.add(StaffMember(messenger, external_id, role, by, now))
        return None
    before, member.role, member.added_by, member.added_at = member.role, role, by, now
    await uow.staff.update(member)
    return before


async def remove(uow: UnitOfWork, school: School, messenger: str, external_id: str) -> Role:
    """Take the account off the staff; returns the role it had."""
    if school.role_in_file(messenger, external_id) is not None:
        raise StaffChangeRefused("in_file")
    member = await uow.staff.get(messenger, external_id)
    if member is None:
        raise StaffChangeRefused("not_staff")
    await uow.staff.remove(member.id)
    return member.role


async def audit(uow: UnitOfWork, now: datetime, actor: str, action: str, result: AuditResult,
                *, role: Role | None = None, user_id: int | None = None, subject: str = "",
                detail: str = "") -> None:
    """One line of the audit log, written in the transaction of the action it records."""
    await uow.audit.add(AuditEntry(
        at=now, actor=actor, action=action, result=result, role=role.value if role else "",
        user_id=user_id, subject=subject[:200], detail=detail[:500]))
