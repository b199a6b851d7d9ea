"""The author's buttons under a broadcast's progress message: pause, resume, cancel. Only staff
whose role may broadcast can press them; every press is audited."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from core.ports import UnitOfWork
from core.services import broadcasts
from core.staff import Right
from flows.broadcast_view import progress_screen
from flows.engine import Context, Reply, parse_id
from flows.staff import staff_only

Change = Callable[[UnitOfWork, int, datetime], Awaitable[bool]]


async def _control(ctx: Context, arg: str, change: Change, done_key: str) -> Reply:
    actor = ctx.staff
    assert actor is not None
    broadcast_id = parse_id(arg)
    before = await broadcasts.get(ctx.uow, broadcast_id)
    if before is None:
        actor.nothing(f"no broadcast #{broadcast_id}")
        return Reply(None, toast=ctx.t("bc_not_found"))
    if not await change(ctx.uow, broadcast_id, ctx.now):
        actor.nothing(f"broadcast #{broadcast_id} is {before.status.value}")
        return Reply(None, toast=ctx.t("bc_unchanged", id=broadcast_id,
                                       state=ctx.t(f"bc_state_{before.status}")))
    after = await broadcasts.get(ctx.uow, broadcast_id)
    assert after is not None
    actor.did(f"broadcast #{broadcast_id}: {before.status.value} -> {after.status.value}")
    ctx.queued = True  # the sender looks again at once (a resumed broadcast goes on)
    progress = await broadcasts.progress(ctx.uow, broadcast_id)
    return Reply(progress_screen(after, progress, ctx.t, None), edit=True,
                 toast=ctx.t(done_key, id=broadcast_id))


@staff_only(Right.BROADCAST, "broadcast.pause")
async def pause(ctx: Context, arg: str) -> Reply:
    return await _control(ctx, arg, broadcasts.pause, "bc_paused")


@staff_only(Right.BROADCAST, "broadcast.resume")
async def resume(ctx: Context, arg: str) -> Reply:
    return await _control(ctx, arg, broadcasts.resume, "bc_resumed")


@staff_only(Right.BROADCAST, "broadcast.cancel")
async def cancel(ctx: Context, arg: str) -> Reply:
    return await _control(ctx, arg, broadcasts.cancel, "bc_cancelled")
