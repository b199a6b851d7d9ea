"""``/staff``: the owner sees and changes the team, by messenger account (never a username)."""

from __future__ import annotations

from core.services import staff
from core.staff import Right, Role
from flows.engine import Context, Reply
from flows.staff import staff_only
from flows.ui import Screen, screen

USAGE_ROLES = (Role.ADMIN, Role.MANAGER, Role.SUPPORT)


def _account(ctx: Context, text: str) -> tuple[str, str] | None:
    """``telegram:123`` of a messenger the school runs on, or None. Numbers where the
    messenger's ids are numbers: a ``@username`` can change hands."""
    messenger, sep, external_id = text.strip().partition(":")
    if not sep or not external_id or messenger not in (*ctx.messengers, "console", "web"):
        return None
    if messenger in ("telegram", "vk") and not external_id.isdecimal():
        return None
    if any(char.isspace() for char in external_id) or external_id.startswith("@"):
        return None
    return messenger, external_id


@staff_only(Right.STAFF, "/staff")
async def staff_command(ctx: Context, arg: str) -> Reply:
    """``/staff`` lists the team; ``/staff add ACCOUNT ROLE`` gives a role (admin, manager,
    support); ``/staff remove ACCOUNT`` takes it away."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    verb, _, rest = arg.strip().partition(" ")
    words = rest.split()
    usage = Reply(screen(t("staff_usage", roles=", ".join(r.value for r in USAGE_ROLES))))
    if not verb:
        actor.nothing("listed the team")
        return Reply(screen(await _team(ctx)))
    if verb not in ("add", "remove") or not words:
        actor.nothing("usage shown")
        return usage
    account = _account(ctx, words[0])
    if account is None:
        actor.nothing(f"{words[0]!r} is not messenger:id")
        return Reply(screen(t("staff_bad_account", account=words[0])))
    shown = f"{account[0]}:{account[1]}"
    try:
        if verb == "add":
            if len(words) != 2 or words[1].lower() not in {r.value for r in USAGE_ROLES}:
                actor.nothing("no role given")
                return usage
            role = Role(words[1].lower())
            before = await staff.put(ctx.uow, ctx.school, *account, role, actor.account,
                                     ctx.now)
            actor.did(f"{shown}: {before.value if before else 'not staff'} -> {role.value}")
            return _with_menu(ctx, Reply(screen(t("staff_added", account=shown,
                                                  role=t(f"role_{role.value}")))), account, role)
        role = await staff.remove(ctx.uow, ctx.school, *account)
        actor.did(f"{shown}: {role.value} -> not staff")
        return _with_menu(ctx, Reply(screen(t("staff_removed", account=shown,
                                              role=t(f"role_{role.value}")))), account, None)
    except staff.StaffChangeRefused as refused:
        actor.nothing(f"{shown}: {refused.reason}")
        return Reply(screen(t(f"staff_refused_{refused.reason}", account=shown)))


def _with_menu(ctx: Context, reply: Reply, account: tuple[str, str],
               role: Role | None) -> Reply:
    """Once the change is committed, the account's own command menu follows it (where the
    messenger shows one per chat); the owner hears if it has to wait."""
    menus, t = ctx.staff_menus, ctx.t
    if menus is None:
        return reply

    async def after() -> Screen | None:
        if await menus.show(*account, role) or role is None:
            return None
        return screen(t("staff_menu_later", account=f"{account[0]}:{account[1]}"))

    reply.after = after
    return reply


async def _team(ctx: Context) -> str:
    t = ctx.t
    in_file = {(s.messenger, s.external_id) for s in ctx.school.staff}
    lines = [t("staff_title")]
    for member in await staff.team(ctx.uow, ctx.school):
        where = t("staff_in_file") if (member.messenger, member.external_id) in in_file else ""
        lines.append(f"• {member.account} — {t(f'role_{member.role.value}')}{where}")
    return "\n".join(lines)
