"""``/find``: a student by messenger account, bare id, @username, student number, order
number or a part of the name; one match opens the card, several are a list to pick from."""

from __future__ import annotations

from core.services import students
from core.staff import Right
from flows.engine import Context, Reply
from flows.staff import staff_only
from flows.student_card import View, card_screen, leave_steps
from flows.ui import Button, screen

LISTED = 10  # students listed for a query that matches several


@staff_only(Right.STUDENTS, "/find")
async def find(ctx: Context, arg: str) -> Reply:
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    query = students.parse(arg)
    if query is None:
        actor.nothing("usage shown")
        return Reply(screen(t("find_usage")))
    found = await students.find(ctx.uow, query, LISTED)
    said = f"{query.kind.value} {query.value!r}"
    if not found.contacts_recorded:
        actor.nothing(f"{said}: contacts are not recorded")
        return Reply(screen(t("find_contact", query=arg.strip())))
    if not found.users:
        actor.nothing(f"{said}: nobody")
        return Reply(screen(t(f"find_none_{query.kind.value}", query=arg.strip())))
    if found.total == 1:
        user = found.users[0]
        lead = ""
        if found.order is not None:
            lead = t("find_order", id=found.order.id,
                     status=t(f"card_order_{found.order.status.value}"))
        leave_steps(ctx)
        actor.nothing(f"{said}: student #{user.id}", user_id=user.id)
        shown = await card_screen(View.of(ctx), user.id, lead)
        assert shown is not None
        return Reply(shown)
    actor.nothing(f"{said}: {found.total} students")
    buttons = [Button(t("btn_find_student", id=user.id, name=user.name or "?"),
                      action=f"sc:{user.id}") for user in found.users]
    text = t("find_many", n=found.total, query=arg.strip())
    if found.total > len(found.users):
        text += "\n" + t("find_more", n=found.total - len(found.users))
    return Reply(screen(text, *buttons))
