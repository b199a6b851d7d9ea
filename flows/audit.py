"""``/audit``: who did what, newest first; for one student or one staff member."""

from __future__ import annotations

from core.staff import Right
from flows.engine import Context, Reply, Stale, parse_id
from flows.staff import staff_only
from flows.ui import screen

SHOWN = 20
MARKS = {"done": "✅", "nothing": "▫️", "refused": "⛔", "failed": "❌"}


@staff_only(Right.AUDIT, "/audit")
async def audit_command(ctx: Context, arg: str) -> Reply:
    """``/audit``: the latest lines; ``/audit #12``: about student 12; ``/audit
    telegram:123``: by that account (a staff member, or someone refused)."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    wanted = arg.strip()
    user_id = actor_filter = None
    if wanted.startswith("#"):
        try:
            user_id = parse_id(wanted[1:])
        except Stale:
            actor.nothing("bad filter")
            return Reply(screen(t("audit_usage")))
    elif wanted:
        if ":" not in wanted or " " in wanted:
            actor.nothing("bad filter")
            return Reply(screen(t("audit_usage")))
        actor_filter = wanted
    entries = await ctx.uow.audit.latest(SHOWN, user_id=user_id, actor=actor_filter)
    actor.nothing(f"read {len(entries)} lines")
    if not entries:
        return Reply(screen(t("audit_none")))
    lines = [t("audit_title", n=len(entries))]
    for entry in entries:
        about = f" · #{entry.user_id}" if entry.user_id else ""
        lines.append(f"{MARKS.get(entry.result.value, '')} {t.datetime(entry.at)} "
                     f"{entry.actor} ({entry.role or '-'}) {entry.action} "
                     f"{entry.subject}{about} — {entry.detail}".rstrip(" —"))
    return Reply(screen("\n".join(lines)))
