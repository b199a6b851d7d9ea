"""Automations' outbox messages as screens (registered in ``flows.notifications``).

An automation's screen keeps the step's own wording in every language it was written in; the
reader gets theirs. Its buttons: an offer opens the offer card (``o:<code>``), a url is a
link, "my courses" is ``my``, an answer is ``aa:<run>:<question>:<value>`` (the number of the
question in the run, 0 for a screen's own answer buttons: ``flows.automations.answer``), "pay"
is the pay buttons of the run's order while it can be paid, else its offer's card."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core import notices
from core.models import OrderStatus
from flows.ui import Button, Screen, screen

if TYPE_CHECKING:
    from flows.notifications import Render

ANSWER = "aa"  # the action prefix of answer buttons
CARD = "sc"  # the staff's student card (flows.student_card): ``sc:<student id>``
ROW = 3  # answers side by side, up to this many


def answer_action(run: int, ask: int, value: str) -> str:
    return f"{ANSWER}:{run}:{ask}:{value}"


def _label(r: Render, data: dict[str, Any]) -> str | None:
    label = data.get("label")
    return r.text(label) if label else None


def _offer_button(r: Render, data: dict[str, Any]) -> Button | None:
    offer = r.school.offer(data["offer"])
    if offer is None:  # no longer sold: no button
        return None
    label = _label(r, data)
    if label is None:
        price = r.t("price_free") if offer.free else offer.price.format(r.t.language)
        label = f"{r.text(offer.title)} · {price}"
    return Button(label, action=f"o:{offer.code}")


async def _pay_buttons(r: Render, data: dict[str, Any]) -> list[Button]:
    """The order's pay buttons while it can be paid; else its offer's card, to order again."""
    order_id = data.get("order")
    order = await r.uow.orders.get(order_id) if isinstance(order_id, int) else None
    if order is not None and order.status is OrderStatus.NEW and order.expires_at \
            and order.expires_at > r.now:
        buttons = r.checkout.buttons(r.t, order)
        if buttons:
            return buttons
    offer = order.offer_code if order is not None else data.get("offer")
    button = _offer_button(r, {"offer": offer, "label": data.get("label")}) if offer else None
    return [button] if button is not None else []


async def automation_screen(r: Render, n: notices.AutomationScreen) -> Screen | None:
    text = r.text(n.text)
    if n.picture:  # a link first: the messengers show its picture as the link's preview
        text = f"{n.picture}\n\n{text}"
    rows: list[list[Button]] = []
    answers: list[Button] = []
    for data in n.buttons:
        if "answer" in data:
            answers.append(Button(_label(r, data) or data["answer"],
                                  action=answer_action(n.run, int(data.get("ask", 0)),
                                                       data["answer"])))
            continue
        if data.get("pay"):
            rows += [[button] for button in await _pay_buttons(r, data)]
            continue
        if "offer" in data:
            button = _offer_button(r, data)
        elif "url" in data:
            button = Button(_label(r, data) or data["url"], url=data["url"])
        else:
            button = Button(_label(r, data) or r.t("btn_my"), action="my")
        if button is not None:
            rows.append([button])
    if not answers:
        return screen(text, *rows)
    head = [answers] if len(answers) <= ROW else [[answer] for answer in answers]
    return screen(text, *head, *rows)


async def automation_staff(r: Render, n: notices.AutomationStaff) -> Screen | None:
    student = await r.uow.users.get(n.student)
    automation = r.school.automations.get(n.automation)
    title = r.text(automation.title) if automation is not None and automation.title \
        else n.automation
    name = (student.name if student else "") or f"#{n.student}"
    if n.problem:
        text = r.t("auto_staff_problem", automation=title, student=name, id=n.student,
                   problem=n.problem)
    else:
        text = r.t("auto_staff_title", automation=title, student=name, id=n.student)
        text += "\n\n" + r.text(n.text)
    return screen(text, Button(r.t("btn_student_card"), action=f"{CARD}:{n.student}"))
