"""``/audit``: who did what, newest first; for one student or one staff member; older pages
with a button (checked and audited on every press, like the command)."""

from __future__ import annotations

from core.staff import Right
from flows.engine import Context, Reply, Stale, parse_id
from flows.staff import staff_only
from flows.ui import Button, Screen, screen

SHOWN = 20
MARKS = {"done": "✅", "nothing": "▫️", "refused": "⛔", "failed": "❌"}
OLDER = "au"  # ``au:<line id>[:<filter>]``: the lines before that one


@staff_only(Right.AUDIT, "/audit")
async def audit_command(ctx: Context, arg: str) -> Reply:
    """``/audit``: the latest lines; ``/audit #12``: about student 12; ``/audit
    telegram:123``: by that account (a staff member, or someone refused)."""
    return await _page(ctx, arg.strip(), before=None)


@staff_only(Right.AUDIT, "audit.older")
async def older(ctx: Context, arg: str) -> Reply:
    """The page of lines before line ``arg``'s id, with the filter the first page had."""
    before, _, wanted = arg.partition(":")
    return await _page(ctx, wanted, before=parse_id(before))


async def _page(ctx: Context, wanted: str, before: int | None) -> Reply:
    t, actor = ctx.t, ctx.staff
    assert actor is not None
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
    entries = await ctx.uow.audit.latest(SHOWN, user_id=user_id, actor=actor_filter,
                                         before=before)
    actor.nothing(f"read {len(entries)} lines" + (f" before #{before}" if before else ""))
    if not entries:
        return Reply(screen(t("audit_none")))
    lines = [t("audit_title", n=len(entries))]
    for entry in entries:
        about = f" · #{entry.user_id}" if entry.user_id else ""
        what = " ".join(part for part in (entry.action, entry.subject) if part)
        lines.append(f"{MARKS.get(entry.result.value, '')} {t.datetime(entry.at)} "
                     f"{entry.actor} ({entry.role or '-'}) {what}{about} — "
                     f"{entry.detail}".rstrip(" —"))
    action = f"{OLDER}:{entries[-1].id}" + (f":{wanted}" if wanted else "")
    rows = ((Button(t("audit_older"), action=action),),) \
        if len(entries) == SHOWN and len(action.encode()) <= 64 else ()
    return Reply(Screen("\n".join(lines), rows))  # a page of its own: the newer one stays
