"""``/export students|purchases|orders|payments``: a CSV file of the table, sent as a document
where the messenger can send one, else as a signed download link that works for an hour."""

from __future__ import annotations

from core.services import export as exports
from core.staff import Right
from flows.engine import Context, Reply, Stale
from flows.staff import audit_later, staff_only
from flows.ui import Attachment, Button, Screen, screen


@staff_only(Right.EXPORT, "/export")
async def export_command(ctx: Context, arg: str) -> Reply:
    """``/export`` offers the tables; ``/export TABLE`` exports one."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    table = arg.strip().lower()
    if not table:
        actor.nothing("tables offered")
        return Reply(screen(t("export_menu"), *[
            Button(t(f"export_btn_{name}"), action=f"ex:{name}") for name in exports.TABLES]))
    if table not in exports.TABLES:
        actor.nothing(f"no table {table[:40]!r}")
        return Reply(screen(t("export_unknown", table=table[:40])))
    return _export(ctx, table, edit=False)


@staff_only(Right.EXPORT, "export.table")
async def export_table(ctx: Context, arg: str) -> Reply:
    """A table's button under ``/export`` (``ex:orders``)."""
    if arg not in exports.TABLES:
        raise Stale(arg)
    return _export(ctx, arg, edit=True)


def _link(ctx: Context, table: str, key: str, file: str) -> Screen:
    assert ctx.exports is not None and ctx.staff is not None
    url, until = ctx.exports.link(table, ctx.staff.account, ctx.now)
    return screen(ctx.t(key, file=file, until=ctx.t.datetime(until)),
                  Button(ctx.t("export_btn_download", file=file), url=url))


def _export(ctx: Context, table: str, edit: bool) -> Reply:
    t, actor = ctx.t, ctx.staff
    assert actor is not None and ctx.uow_factory is not None
    job = exports.CsvExport(ctx.uow_factory, ctx.school, table)
    file = job.filename(ctx.now)
    if "document" not in ctx.capabilities.attachments:
        shown = _link(ctx, table, "export_link", file)
        actor.did(f"{file}: a download link, valid one hour")
        return Reply(shown, edit=edit)
    actor.did(f"{file}: preparing it as a document")
    uow_factory, now = ctx.uow_factory, ctx.now

    async def send() -> Screen:  # read page by page after the turn, outside its transaction
        data = await job.collect()
        if data is None:
            await audit_later(uow_factory, now, actor, "/export", table,
                              f"{file}: too large to send, a download link instead")
            return _link(ctx, table, "export_too_large", file)
        await audit_later(uow_factory, now, actor, "/export", table,
                          f"{file}: {job.rows} rows sent as a document")
        return Screen(t("export_done", file=file, rows=job.rows),
                      attachment=Attachment("document", file, data))

    return Reply(screen(t("export_preparing", file=file)), edit=edit, after=send)
