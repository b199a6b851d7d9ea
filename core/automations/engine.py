"""The automation engine: starting runs when their trigger fires, and moving a run through
its steps until it has to wait.

Entry points (each works in the caller's transaction and commits nothing):

- ``fire(uow, school, event, now)``: start a run of every automation ``event`` triggers
  (not paused; once per student unless repeatable). Returns the new runs' ids: they are due
  now, and the caller's pass (or ``jobs.run_due``) moves them on after the commit.
- ``on_start(uow, school, user_id, payload, now)``: the student pressed /start.
- ``on_text(uow, school, user_id, text, now)``: typed text that no chat step took: it answers
  a question an automation asked (validated), or it is a command or a keyword that starts
  automations. The conversation calls it before its own fallback.
- ``on_answer(uow, school, user_id, run_id, ask, value, now)``: an answer button
  (``aa:<run>:<ask>:<value>``) was pressed.
- ``start_by_hand(uow, school, code, user_id, now, by)``: staff start one for a student.
- ``advance(uow, school, run, now)``: run a claimed run (``jobs.run_due``) from where it is
  until a wait, a question or its end; every effect of those steps and its new position are
  written in the one transaction, so a crash repeats all of it or none.

The conversation never waits for steps: a run started or answered in a turn is only marked
due, and runs right after the turn's commit.
"""

from __future__ import annotations

import enum
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from types import MappingProxyType
from typing import Any

from core import errors, notices
from core.automations import actions
from core.automations.events import Event
from core.automations.model import (
    ANSWERED,
    ANY,
    TIMEOUT,
    AddTag,
    AnswerButton,
    Ask,
    Automation,
    Condition,
    Expect,
    Extend,
    FieldEquals,
    Grant,
    HasAccess,
    HasTag,
    If,
    LanguageIs,
    LocalText,
    MessengerIs,
    MyCoursesButton,
    NotifyStaff,
    OfferButton,
    OrderPaid,
    PaidAtLeast,
    Path,
    PayButton,
    RemoveTag,
    Revoke,
    ScreenButton,
    Send,
    SetFields,
    StartAutomation,
    Step,
    Trigger,
    TriggerKind,
    UrlButton,
    Wait,
    Webhook,
    after,
    into,
    parse_path,
    path_text,
    step_at,
    walk,
)
from core.automations.records import ACTOR, Run, RunStatus, StudentField, Waiting
from core.models import OrderStatus
from core.ports import UnitOfWork
from core.school import School
from core.services import groups, receipts, tags
from core.services.delivery import target
from core.services.outbox import enqueue

log = logging.getLogger(__name__)
MAX_STEPS = 200  # in one pass of one run: more means a loop the school file checks missed
MAX_DEPTH = 10  # automations starting automations (``start:``) in a chain
MAX_TEXT = 1000  # characters of a typed answer kept
_PLACEHOLDER = re.compile(r"\{([a-z0-9_-]{1,32})\}")


# ---- starting runs -------------------------------------------------------------------------


def matches(trigger: Trigger, event: Event) -> bool:
    if trigger.kind is not event.kind:
        return False
    kind = trigger.kind
    if kind is TriggerKind.STARTED:
        return trigger.subject in ("", event.subject)
    if kind is TriggerKind.KEYWORD:
        return event.subject in trigger.words
    if kind in (TriggerKind.ORDER_PLACED, TriggerKind.OFFER_PAID):
        return trigger.subject in (ANY, event.subject)
    if kind in (TriggerKind.ACCESS_STARTED, TriggerKind.ACCESS_ENDED):
        return trigger.subject == ANY or trigger.subject in event.subjects
    if kind is TriggerKind.LESSON_OPENED:
        return trigger.subject == event.subject and trigger.lesson in (
            None, event.detail.get("lesson"))
    if kind in (TriggerKind.MANUAL, TriggerKind.ORDER_UNPAID, TriggerKind.ACCESS_ENDING):
        return False  # staff, and the scans, start these by name
    return trigger.subject == event.subject


async def fire(uow: UnitOfWork, school: School, event: Event, now: datetime) -> list[int]:
    """Start the runs ``event`` triggers; their ids (due now)."""
    wanted = [a for a in school.automations.values() if matches(a.trigger, event)]
    if not wanted:
        return []
    paused = await uow.automation_states.paused()
    started = []
    for automation in wanted:
        if automation.code in paused:
            continue
        run = await start(uow, automation, event.user_id, event.key, event.detail, now)
        if run is not None:
            started.append(run.id)
    return started


async def start(uow: UnitOfWork, automation: Automation, user_id: int, key: str,
                detail: dict[str, Any], now: datetime, depth: int = 0) -> Run | None:
    """A new run of ``automation`` for the student, due now; None if the student has one
    already (run-once automations; the same ``key`` for repeatable ones)."""
    repeat_key = (key or f"{now.isoformat()}:{secrets.token_hex(4)}") \
        if automation.repeatable else ""
    run = Run(automation=automation.code, user_id=user_id, status=RunStatus.ACTIVE,
              position="0", wait_until=now, waiting_for=Waiting.NONE,
              data={"event": detail, "depth": depth}, started_at=now, updated_at=now,
              repeat_key=repeat_key)
    return run if await uow.automation_runs.add(run) else None


def _once(kind: str, now: datetime) -> str:
    """The key of something a student did in the chat: each time is another time."""
    return f"{kind}:{now.isoformat()}:{secrets.token_hex(4)}"


async def on_start(uow: UnitOfWork, school: School, user_id: int, payload: str,
                   now: datetime) -> list[int]:
    return await fire(uow, school, Event(
        TriggerKind.STARTED, user_id, payload.strip(), key=_once("start", now),
        detail={"payload": payload.strip()}), now)


class StartRefused(enum.StrEnum):
    UNKNOWN = "unknown"  # no such automation in the school file
    PAUSED = "paused"
    ALREADY = "already"  # the student has (had) a run of this run-once automation


async def start_by_hand(uow: UnitOfWork, school: School, code: str, user_id: int,
                        now: datetime, by: str) -> Run | StartRefused:
    """Staff start ``code`` for the student (whatever its trigger)."""
    automation = school.automations.get(code)
    if automation is None:
        return StartRefused.UNKNOWN
    if code in await uow.automation_states.paused():
        return StartRefused.PAUSED
    run = await start(uow, automation, user_id, f"manual:{now.isoformat()}:{by}",
                      {"by": by}, now)
    return run if run is not None else StartRefused.ALREADY


# ---- answers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextOutcome:
    consumed: bool = False  # the text was for automations: no other answer to it
    invalid: Expect | None = None  # the question wants an email or a phone: not this
    runs: tuple[int, ...] = ()  # runs due now


def _valid_answer(expect: Expect | None, text: str) -> str | None:
    """The answer as kept (an email in lower case, a phone in E.164), or None."""
    text = text.strip()
    if not text:
        return None
    if expect is Expect.EMAIL or expect is Expect.PHONE:
        try:
            contact = receipts.normalize_contact(text)
        except errors.ReceiptContactInvalid:
            return None
        return contact if ("@" in contact) == (expect is Expect.EMAIL) else None
    return text[:MAX_TEXT]


async def on_text(uow: UnitOfWork, school: School, user_id: int, text: str,
                  now: datetime) -> TextOutcome:
    """A command (``/...``) never answers a question; it may start automations."""
    if _asks_typed(school) and not text.strip().startswith("/"):
        for run in await uow.automation_runs.waiting_for_text(user_id):
            automation = school.automations.get(run.automation)
            step = _step(automation, run.position) if automation else None
            if automation is None or not isinstance(step, Ask) or step.expect is None:
                continue
            answer = _valid_answer(step.expect, text)
            if answer is None:
                return TextOutcome(consumed=True, invalid=step.expect)
            locked = await uow.automation_runs.get_for_update(run.id)
            if locked is None or locked.position != run.position \
                    or locked.waiting_for is not Waiting.TEXT:
                continue
            await _answered(uow, automation, locked, step, answer, now)
            return TextOutcome(consumed=True, runs=(locked.id,))
    stripped = " ".join(text.split())
    if stripped.startswith("/"):
        command = stripped.split()[0].split("@")[0].lower()
        event = Event(TriggerKind.COMMAND, user_id, command, key=_once("command", now),
                      detail={"text": stripped[:200]})
    else:
        event = Event(TriggerKind.KEYWORD, user_id, stripped.lower(),
                      key=_once("keyword", now), detail={"text": stripped[:200]})
    runs = await fire(uow, school, event, now)
    return TextOutcome(consumed=bool(runs), runs=tuple(runs))


def _asks_typed(school: School) -> bool:
    return any(isinstance(step, Ask) and step.expect is not None
               for automation in school.automations.values()
               for _, step in walk(automation.steps))


class Answered(enum.StrEnum):
    ACCEPTED = "accepted"
    LATE = "late"  # the question is not waiting any more (answered, timed out, ended)
    STALE = "stale"  # not the student's, or not an answer it offered: a tampered button


@dataclass(frozen=True)
class AnswerOutcome:
    outcome: Answered
    label: LocalText | None = None  # the button's
    question: LocalText | None = None  # the question's text (filled in), when it was one
    runs: tuple[int, ...] = ()  # runs due now (this one, and those the button started)


async def on_answer(uow: UnitOfWork, school: School, user_id: int, run_id: int, ask: int,
                    value: str, now: datetime) -> AnswerOutcome:
    """An answer button of run ``run_id`` was pressed: ``ask`` is the number of the
    question it answers (0: a button of a ``send`` step). Answers the question if it still
    waits, and starts the automations triggered by the button (``button: <value>``)."""
    run = await uow.automation_runs.get_for_update(run_id)
    automation = school.automations.get(run.automation) if run is not None else None
    if run is None or run.user_id != user_id or automation is None:
        return AnswerOutcome(Answered.STALE)
    button = _answer_button(automation, value, ask)
    if button is None:
        return AnswerOutcome(Answered.STALE)
    outcome, question, due = Answered.ACCEPTED, None, []
    if ask:
        step = _step(automation, run.position)
        waiting = run.status is RunStatus.WAITING or (
            run.status is RunStatus.PAUSED and run.paused_from is RunStatus.WAITING)
        if not (waiting and run.waiting_for is Waiting.ANSWER and isinstance(step, Ask)
                and run.data.get("asks") == ask and value in step.values()):
            return AnswerOutcome(Answered.LATE, button.label)
        question = await _filled(uow, school, run, step.text)
        await _answered(uow, automation, run, step, value, now)
        due.append(run.id)
    due += await fire(uow, school, Event(TriggerKind.BUTTON, user_id, value,
                                         key=f"button:{run.id}:{ask}:{value}",
                                         detail={"run": run.id, "answer": value}), now)
    return AnswerOutcome(outcome, button.label, question, tuple(due))


def _answer_button(automation: Automation, value: str, ask: int) -> AnswerButton | None:
    """The automation's answer button of ``value`` (of a question when ``ask``, else of a
    screen)."""
    for _, step in walk(automation.steps):
        buttons = step.buttons if isinstance(step, Ask) and ask else \
            step.buttons if isinstance(step, Send) and not ask else ()
        for button in buttons:
            if isinstance(button, AnswerButton) and button.value == value:
                return button
    return None


async def _answered(uow: UnitOfWork, automation: Automation, run: Run, ask: Ask, answer: str,
                    now: datetime) -> None:
    """Keep the answer and move the run to the branch it chose; it runs on when due (at
    once, or when its automation is resumed)."""
    path = parse_path(run.position)
    run.data.setdefault("answers", {})[run.position] = answer
    run.data["answer"] = answer
    if ask.save_as:
        await uow.student_fields.put(StudentField(run.user_id, ask.save_as, answer, now))
    chosen = answer if answer in ask.on else ANSWERED
    _move(run, _branch_or_after(automation.steps, path, ask, chosen), now)
    await uow.automation_runs.update(run)


# ---- running -------------------------------------------------------------------------------


def _step(automation: Automation | None, position: str) -> Step | None:
    if automation is None:
        return None
    try:
        return step_at(automation.steps, parse_path(position))
    except ValueError:
        return None


def _branch_or_after(steps: tuple[Step, ...], path: Path, ask: Ask, key: str) -> Path | None:
    if ask.on.get(key):
        return into(path, "on", key)
    if key not in (TIMEOUT, ANSWERED) and ask.on.get(ANSWERED):
        return into(path, "on", ANSWERED)
    return after(steps, path)


def _move(run: Run, path: Path | None, now: datetime) -> None:
    """Due at once at ``path`` (DONE at the end); a paused run stays paused, there."""
    run.updated_at = now
    run.waiting_for = Waiting.NONE
    if path is None:
        run.status, run.wait_until, run.paused_from = RunStatus.DONE, None, None
        return
    run.position = path_text(path)
    run.wait_until = now
    if run.status is RunStatus.PAUSED:
        run.paused_from = RunStatus.ACTIVE
    else:
        run.status = RunStatus.ACTIVE


def _cancel(run: Run, reason: str, now: datetime) -> None:
    run.status, run.wait_until, run.waiting_for = RunStatus.CANCELLED, None, Waiting.NONE
    run.error, run.updated_at = reason[:500], now


@dataclass
class _Pass:
    """One run moving through its steps within one transaction."""

    uow: UnitOfWork
    school: School
    automation: Automation
    run: Run
    now: datetime
    values: dict[str, str] = field(default_factory=dict)  # for {placeholders}

    @property
    def actor(self) -> str:
        return f"{ACTOR}{self.automation.code}"

    def note(self, path: Path, text: str) -> None:
        notes = self.run.data.setdefault("notes", [])
        notes.append(f"{path_text(path)}: {text}"[:300])
        del notes[:-20]


async def advance(uow: UnitOfWork, school: School, run: Run, now: datetime) -> None:
    """Move a claimed run (ACTIVE or WAITING and due) on until it waits or ends, and store
    it. Every effect of its steps is in the caller's transaction."""
    automation = school.automations.get(run.automation)
    if automation is None:
        _cancel(run, "its automation is no longer in the school file", now)
        await uow.automation_runs.update(run)
        return
    if run.automation in await uow.automation_states.paused():  # paused as it started
        run.status, run.paused_from, run.updated_at = RunStatus.PAUSED, run.status, now
        await uow.automation_runs.update(run)
        return
    try:
        path: Path | None = parse_path(run.position)
    except ValueError:
        _cancel(run, f"no step {run.position!r}", now)
        await uow.automation_runs.update(run)
        return
    step = step_at(automation.steps, path)
    if step is None:
        _cancel(run, f"step {run.position} is no longer in the school file", now)
        await uow.automation_runs.update(run)
        return
    if run.status is RunStatus.WAITING:  # its wait is over, or its question timed out
        if isinstance(step, Ask) and run.waiting_for is not Waiting.NONE:
            run.data.setdefault("answers", {})[run.position] = TIMEOUT
            path = _branch_or_after(automation.steps, path, step, TIMEOUT)
        else:
            path = after(automation.steps, path)
    work = _Pass(uow, school, automation, run, now)
    for _ in range(MAX_STEPS):
        if path is None:
            run.status, run.wait_until, run.waiting_for = RunStatus.DONE, None, Waiting.NONE
            break
        step = step_at(automation.steps, path)
        if step is None:
            _cancel(run, f"step {path_text(path)} is no longer in the school file", now)
            break
        run.position = path_text(path)
        if await _stops(work, step, path):
            break
        path = await _next(work, step, path)
    else:
        _cancel(run, f"more than {MAX_STEPS} steps without a wait", now)
        log.error("automation %s, run %s: more than %d steps without a wait: cancelled",
                  automation.code, run.id, MAX_STEPS)
    run.updated_at = now
    await uow.automation_runs.update(run)


async def _stops(work: _Pass, step: Step, path: Path) -> bool:
    """Steps that make the run wait: a wait not over yet, a question. Sets the run's state."""
    run, now = work.run, work.now
    if isinstance(step, Wait):
        until = wait_end(step, now, work.school)
        if until <= now:
            return False
        run.status, run.waiting_for, run.wait_until = RunStatus.WAITING, Waiting.NONE, until
        return True
    if isinstance(step, Ask):
        run.data["asks"] = number = int(run.data.get("asks", 0)) + 1
        await _screen(work, path, step.text, None, step.buttons, number)
        run.status = RunStatus.WAITING
        run.waiting_for = Waiting.TEXT if step.expect is not None else Waiting.ANSWER
        run.wait_until = step.timeout.add_to(now) if step.timeout is not None else None
        return True
    return False


def wait_end(wait: Wait, now: datetime, school: School) -> datetime:
    """When a wait reached ``now`` is over."""
    if wait.delay is not None:
        return wait.delay.add_to(now)
    if wait.until is not None:
        return wait.until
    assert wait.hour is not None
    local = now.astimezone(school.timezone)
    day = local.date()
    moment = datetime.combine(day, time(wait.hour), school.timezone)
    if moment <= local:
        moment = datetime.combine(day + timedelta(days=1), time(wait.hour), school.timezone)
    return moment.astimezone(UTC)


async def _next(work: _Pass, step: Step, path: Path) -> Path | None:
    """Do ``step``; the path of the step that follows."""
    uow, run, now, steps = work.uow, work.run, work.now, work.automation.steps
    if isinstance(step, If):
        taken = "then" if await holds(uow, work.school, run.user_id, step.condition, now,
                                      run) else "else"
        run.data.setdefault("answers", {})[path_text(path)] = taken
        branch_steps = step.then if taken == "then" else step.otherwise
        return into(path, taken) if branch_steps else after(steps, path)
    if isinstance(step, Send):
        await _screen(work, path, step.text, step.picture, step.buttons, 0)
    elif isinstance(step, Grant):
        note = await actions.grant(uow, work.school, run, step, work.actor, now)
        if note:
            work.note(path, note)
    elif isinstance(step, Extend):
        note = await actions.extend(uow, work.school, run, step, work.actor, now)
        if note:
            work.note(path, note)
            await actions.alert_staff(uow, work.school, run, path_text(path), note, now)
    elif isinstance(step, Revoke):
        note = await actions.revoke(uow, run, step, work.actor, now)
        if note:
            work.note(path, note)
    elif isinstance(step, AddTag):
        await tags.add(uow, run.user_id, step.tag, work.actor, now)
    elif isinstance(step, RemoveTag):
        await tags.remove(uow, run.user_id, step.tag)
    elif isinstance(step, SetFields):
        for key, value in step.values.items():
            text = _fill_one(value, await _values(work))
            await uow.student_fields.put(StudentField(run.user_id, key, text, now))
            work.values[key] = text
    elif isinstance(step, StartAutomation):
        await _start_other(work, step, path)
    elif isinstance(step, NotifyStaff):
        text = _fill(step.text, await _values(work))
        await actions.notify_staff(uow, work.school, run, path_text(path), text, now)
    elif isinstance(step, Webhook):
        await actions.webhook(uow, run, path_text(path), step, await _values(work), now)
    return after(steps, path)


async def _start_other(work: _Pass, step: StartAutomation, path: Path) -> None:
    other = work.school.automations.get(step.code)
    depth = int(work.run.data.get("depth", 0)) + 1
    if other is None:
        work.note(path, f"no automation {step.code!r}")
    elif depth > MAX_DEPTH:
        work.note(path, f"not started: {MAX_DEPTH} automations started one another")
    elif step.code in await work.uow.automation_states.paused():
        work.note(path, f"{step.code} is paused: not started")
    elif await start(work.uow, other, work.run.user_id, f"start:{work.run.id}:{path_text(path)}",
                     {"by": f"run:{work.run.id}"}, work.now, depth) is None:
        work.note(path, f"{step.code} has run for this student already")


# ---- screens -------------------------------------------------------------------------------


async def _values(work: _Pass) -> dict[str, str]:
    """What {placeholders} are filled with: the student's name and fields, the last answer,
    the school's support contact."""
    if not work.values:
        work.values.update(await _student_values(work.uow, work.school, work.run))
    return work.values


async def _student_values(uow: UnitOfWork, school: School, run: Run) -> dict[str, str]:
    user = await uow.users.get(run.user_id)
    values = dict(await uow.student_fields.of_user(run.user_id))
    values["name"] = (user.name if user else "") or ""
    values["student"] = f"#{run.user_id}"
    values["support"] = school.support
    if "answer" in run.data:
        values["answer"] = str(run.data["answer"])
    return values


def _fill_one(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _fill(text: LocalText, values: dict[str, str]) -> dict[str, str]:
    return {language: _fill_one(value, values) for language, value in text.items()}


async def _filled(uow: UnitOfWork, school: School, run: Run, text: LocalText) -> LocalText:
    return MappingProxyType(_fill(text, await _student_values(uow, school, run)))


def button_data(button: ScreenButton, ask: int, run: Run) -> dict[str, Any]:
    """A screen's button as the outbox keeps it (``notices.AutomationScreen.buttons``)."""
    label = dict(button.label) if button.label is not None else None
    if isinstance(button, PayButton):
        event = run.data.get("event", {})
        return {"pay": True, "label": label, "order": event.get("order"),
                "offer": event.get("offer")}
    if isinstance(button, OfferButton):
        return {"offer": button.offer, "label": label}
    if isinstance(button, UrlButton):
        return {"url": button.url, "label": label}
    if isinstance(button, AnswerButton):
        return {"answer": button.value, "label": label, "ask": ask}
    assert isinstance(button, MyCoursesButton)
    return {"my_courses": True, "label": label}


async def _screen(work: _Pass, path: Path, text: LocalText, picture: str | None,
                  buttons: tuple[ScreenButton, ...], ask: int) -> None:
    """The student's screen of a ``send`` or an ``ask``, through the outbox, its wording as
    the step had it (a later edit of the school file changes no message recorded)."""
    run = work.run
    await enqueue(work.uow, work.now, run.user_id, notices.AutomationScreen(
        run=run.id, automation=run.automation, text=_fill(text, await _values(work)),
        picture=picture, buttons=tuple(button_data(b, ask, run) for b in buttons)),
        dedupe_key=f"automation:{run.id}:{path_text(path)}:{ask}")


# ---- conditions ----------------------------------------------------------------------------


async def order_paid(uow: UnitOfWork, user_id: int, order_id: int) -> bool:
    """The order is paid, or another order of the student for its offer was paid since it
    was placed (they bought it after all)."""
    orders = await uow.orders.for_user(user_id)
    order = next((o for o in orders if o.id == order_id), None)
    if order is None:
        return False
    return order.status is OrderStatus.PAID or any(
        other.offer_code == order.offer_code and other.status is OrderStatus.PAID
        and other.paid_at is not None and order.created_at is not None
        and other.paid_at >= order.created_at for other in orders)


async def holds(uow: UnitOfWork, school: School, user_id: int, condition: Condition,
                now: datetime, run: Run | None = None) -> bool:
    """Does ``condition`` hold for the student now (``run``: the run asking, for what
    started it)?"""
    if isinstance(condition, OrderPaid):
        order = (run.data.get("event", {}) if run is not None else {}).get("order")
        return isinstance(order, int) and await order_paid(uow, user_id, order)
    if isinstance(condition, HasAccess):
        return any(groups.running(p, now) and condition.product in p.products
                   for p in await uow.purchases.for_user(user_id))
    if isinstance(condition, HasTag):
        return await tags.has(uow, user_id, condition.tag)
    if isinstance(condition, LanguageIs):
        user = await uow.users.get(user_id)
        language = (user.language if user else "") or school.default_language
        return language.split("-")[0].lower() == condition.language
    if isinstance(condition, MessengerIs):
        user = await uow.users.get(user_id)
        identities = await uow.users.identities(user_id)
        chosen = target(user, identities, {i.messenger for i in identities}) if user else None
        return chosen is not None and chosen.messenger == condition.messenger
    if isinstance(condition, FieldEquals):
        value = (await uow.student_fields.of_user(user_id)).get(condition.name)
        return value is not None and value.strip().casefold() == condition.value.casefold()
    assert isinstance(condition, PaidAtLeast)
    paid = sum(order.amount for order in await uow.orders.for_user(user_id)
               if order.status is OrderStatus.PAID
               and order.currency == condition.amount.currency)
    return paid >= condition.amount.amount

