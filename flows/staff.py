"""The guard on every staff command and button: who may run it, and the audit line it leaves.

A stranger's attempt looks like any unknown command to them (nothing tells them there is
something to find) but is audited; a staff member whose role lacks the right is told so. An
impersonal sender (an anonymous group admin, a channel) is never staff."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core import errors
from core.ports import UnitOfWorkFactory
from core.services import staff
from core.staff import AuditEntry, AuditResult, Right, Role, may
from flows.engine import Context, Handler, Reply, StaffActor, Stale, error_text
from flows.ui import IncomingKind, screen

log = logging.getLogger(__name__)


def account_of(ctx: Context) -> str:
    return f"{ctx.incoming.peer.messenger}:{ctx.incoming.sender.external_id}"


async def role_of(ctx: Context) -> Role | None:
    if ctx.incoming.sender.impersonal:
        return None
    return await staff.role_of(ctx.uow, ctx.school, ctx.incoming.peer.messenger,
                               ctx.incoming.sender.external_id)


@dataclass(frozen=True)
class StaffCommand:
    """A staff command, for ``/help`` and the messenger's command menu: shown to the roles
    with ``right``; ``staffcmd_<name>`` is its description."""

    name: str
    right: Right


# In the order /help lists them.
STAFF_COMMANDS: list[StaffCommand] = [
    StaffCommand("paid", Right.ORDERS),
    StaffCommand("refund", Right.REFUND),
    StaffCommand("refunds", Right.REFUND),
    StaffCommand("members", Right.ACCESS),
    StaffCommand("audit", Right.AUDIT),
    StaffCommand("staff", Right.STAFF),
    StaffCommand("inbox", Right.INBOX),
    StaffCommand("stats", Right.STATS),
    StaffCommand("export", Right.EXPORT),
    StaffCommand("promo", Right.PROMO),
    StaffCommand("broadcast", Right.BROADCAST),
    StaffCommand("find", Right.STUDENTS),
    StaffCommand("automations", Right.AUTOMATIONS),
]


def commands_for(role: Role) -> list[StaffCommand]:
    return [command for command in STAFF_COMMANDS if may(role, command.right)]


def staff_only(right: Right, action: str,
               stranger: Handler | None = None) -> Callable[[Handler], Handler]:
    """Run the handler only for staff whose role has ``right``, and audit the attempt either
    way (``action``: ``/refund``, ``card.extend``). The handler says what it changed through
    ``ctx.staff.did`` / ``ctx.staff.nothing``. ``stranger``: the answer to someone who is not
    staff (default: the answer to an unknown command)."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(ctx: Context, arg: str) -> Reply:
            account, role = account_of(ctx), await role_of(ctx)
            if not may(role, right):
                return await _refuse(ctx, action, arg, account, role, stranger)
            ctx.staff = actor = StaffActor(account, role)
            try:
                reply = await handler(ctx, arg)
            except (Stale, errors.DomainError) as exc:
                # The turn is rolled back; the engine writes this line after it.
                text = error_text(ctx.t, exc) if isinstance(exc, errors.DomainError) \
                    else f"stale or tampered button {exc}"
                exc.audit = AuditEntry(  # type: ignore[attr-defined]
                    at=ctx.now, actor=account, action=action, result=AuditResult.NOTHING,
                    role=role.value, user_id=actor.user_id, subject=arg[:200],
                    detail=f"{type(exc).__name__}: {text}"[:500])
                raise
            await staff.audit(ctx.uow, ctx.now, account, action, actor.result, role=role,
                              user_id=actor.user_id, subject=arg, detail=actor.detail)
            return reply

        guarded.__name__ = guarded.__qualname__ = handler.__name__
        guarded.__doc__ = handler.__doc__
        return guarded

    return wrap


async def _refuse(ctx: Context, action: str, arg: str, account: str, role: Role | None,
                  stranger: Handler | None) -> Reply:
    if ctx.incoming.sender.impersonal:
        why = "an impersonal sender (anonymous admin or channel) is never staff"
    elif role is None:
        why = "not staff"
    else:
        why = f"role {role.value} lacks the right {action}"
    log.warning("refused %s %s from %s: %s", action, arg[:60], account, why)
    await staff.audit(ctx.uow, ctx.now, account, action, AuditResult.REFUSED, role=role,
                      subject=arg, detail=why)
    if ctx.incoming.kind is IncomingKind.ACTION and (role is not None or stranger is None):
        # A refused press changes no message: it may be a staff screen others read (a group
        # where the bot posted it); the presser alone gets a note.
        return Reply(None, toast=ctx.t("staff_button_refused") if role is None else ctx.t(
            "staff_not_allowed", role=ctx.t(f"role_{role.value}"), command=action))
    if role is None:
        from flows import start

        return await (stranger or start.unknown_text)(ctx, arg)
    return Reply(screen(ctx.t("staff_not_allowed", role=ctx.t(f"role_{role.value}"),
                              command=action)))


async def audit_later(uow_factory: UnitOfWorkFactory, now: datetime, actor: StaffActor,
                      action: str, subject: str, detail: str,
                      result: AuditResult = AuditResult.DONE) -> None:
    """The audit line of work done after the command's turn (a call to a gateway)."""
    async with uow_factory() as uow:
        await staff.audit(uow, now, actor.account, action, result, role=actor.role,
                          user_id=actor.user_id, subject=subject, detail=detail)
        await uow.commit()
