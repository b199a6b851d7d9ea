"""Automations in the staff's words: what starts one, what a step does, a run's state. Used by
``/automations`` (``flows.automation_staff``) and the student card."""

from __future__ import annotations

from datetime import timedelta

from core.automations.model import (
    ANY,
    AddTag,
    Ask,
    Automation,
    Condition,
    Extend,
    FieldEquals,
    Grant,
    HasAccess,
    HasTag,
    If,
    LanguageIs,
    MessengerIs,
    NotifyStaff,
    OrderPaid,
    PaidAtLeast,
    RemoveTag,
    Revoke,
    Send,
    SetFields,
    StartAutomation,
    Step,
    Trigger,
    TriggerKind,
    Wait,
    Webhook,
)
from core.automations.records import Run, RunStatus, Waiting
from core.school import School, pick
from flows.texts import Texts
from flows.titles import title_of

SNIPPET = 40  # characters of a message's text that name a ``send`` step


def automation_title(school: School, t: Texts, automation: Automation | None, code: str) -> str:
    """Its title in the staff's language, else its code."""
    if automation is None:
        return code
    return pick(automation.title, t.language, school.default_language) or automation.code


def _thing(school: School, t: Texts, code: str, any_key: str) -> str:
    """An offer's or a product's title; ``any`` in words."""
    return t(any_key) if code == ANY else title_of(school, t, code)


def _group(school: School, t: Texts, code: str) -> str:
    group = school.groups.get(code)
    return pick(group.title, t.language, school.default_language) if group else code


def delay(t: Texts, span: timedelta) -> str:
    """``1 hour``, ``2 days``; minutes when it is not a whole number of hours."""
    minutes = int(span.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        return t.period(f"P{minutes // (24 * 60)}D")
    if minutes % 60 == 0:
        return t.period(f"PT{minutes // 60}H")
    return t("auto_minutes", n=minutes)


def trigger_words(school: School, t: Texts, trigger: Trigger) -> str:
    kind, subject = trigger.kind, trigger.subject
    if kind is TriggerKind.STARTED:
        return t("auto_trigger_started_payload", payload=subject) if subject \
            else t("auto_trigger_started")
    if kind is TriggerKind.KEYWORD:
        return t("auto_trigger_keyword", words=", ".join(f"“{w}”" for w in trigger.words))
    if kind in (TriggerKind.ORDER_PLACED, TriggerKind.OFFER_PAID):
        return t(f"auto_trigger_{kind.value}", offer=_thing(school, t, subject, "auto_any_offer"))
    if kind is TriggerKind.ORDER_UNPAID:
        assert trigger.delay is not None
        return t("auto_trigger_order_unpaid", delay=delay(t, trigger.delay),
                 offer=_thing(school, t, subject, "auto_any_offer"))
    if kind in (TriggerKind.ACCESS_STARTED, TriggerKind.ACCESS_ENDED):
        return t(f"auto_trigger_{kind.value}",
                 product=_thing(school, t, subject, "auto_any_product"))
    if kind is TriggerKind.ACCESS_ENDING:
        assert trigger.before is not None
        return t("auto_trigger_access_ending", before=t.period(trigger.before.iso),
                 product=_thing(school, t, subject, "auto_any_product"))
    if kind in (TriggerKind.JOINED_GROUP, TriggerKind.LEFT_GROUP):
        return t(f"auto_trigger_{kind.value}", group=_group(school, t, subject))
    if kind is TriggerKind.LESSON_OPENED:
        course = school.courses.get(subject)
        course_title = pick(course.title, t.language, school.default_language) if course \
            else subject
        if trigger.lesson is None:
            return t("auto_trigger_any_lesson", course=course_title)
        lesson = next((item for item in course.lessons if item.id == trigger.lesson),
                      None) if course else None
        return t("auto_trigger_lesson_opened", course=course_title,
                 lesson=pick(lesson.title, t.language, school.default_language) if lesson
                 else trigger.lesson)
    # COMMAND, BUTTON, TAG_ADDED, MANUAL
    return t(f"auto_trigger_{kind.value}", subject=subject)


def condition_words(school: School, t: Texts, condition: Condition) -> str:
    if isinstance(condition, HasAccess):
        return t("auto_if_access", product=title_of(school, t, condition.product))
    if isinstance(condition, HasTag):
        return t("auto_if_tag", tag=condition.tag)
    if isinstance(condition, LanguageIs):
        return t("auto_if_language", language=condition.language)
    if isinstance(condition, MessengerIs):
        return t("auto_if_messenger", messenger=condition.messenger)
    if isinstance(condition, FieldEquals):
        return t("auto_if_field", name=condition.name, value=condition.value)
    if isinstance(condition, PaidAtLeast):
        return t("auto_if_paid", amount=condition.amount.format(t.language))
    assert isinstance(condition, OrderPaid)
    return t("auto_if_order_paid")


def step_words(school: School, t: Texts, step: Step | None) -> str:
    """One line naming what ``step`` does."""
    if step is None:
        return t("auto_step_gone")
    if isinstance(step, Send):
        text = " ".join(pick(step.text, t.language, school.default_language).split())
        return t("auto_step_send", text=text if len(text) <= SNIPPET else
                 text[:SNIPPET - 1] + "…")
    if isinstance(step, Wait):
        if step.delay is not None:
            return t("auto_step_wait", period=t.period(step.delay.iso))
        if step.until is not None:
            return t("auto_step_wait_until", when=t.datetime(step.until))
        return t("auto_step_wait_hour", hour=f"{step.hour:02d}:00")
    if isinstance(step, Ask):
        if step.buttons:
            line = t("auto_step_ask", answers=" / ".join(
                pick(b.label, t.language, school.default_language) or b.value
                for b in step.buttons))
        else:
            line = t("auto_step_ask_typed", expect=t(f"auto_expect_{step.expect}"))
        if step.timeout is not None:
            line += t("auto_step_timeout", period=t.period(step.timeout.iso))
        return line
    if isinstance(step, If):
        return t("auto_step_if", condition=condition_words(school, t, step.condition))
    if isinstance(step, Grant):
        if step.offer is not None:
            return t("auto_step_grant", offer=title_of(school, t, step.offer))
        return t("auto_step_grant_product", product=title_of(school, t, str(step.product)))
    if isinstance(step, Extend):
        return t("auto_step_extend", product=title_of(school, t, step.product),
                 period=t.period(step.by.iso))
    if isinstance(step, Revoke):
        return t("auto_step_revoke", product=title_of(school, t, step.product))
    if isinstance(step, AddTag | RemoveTag):
        return t("auto_step_tag" if isinstance(step, AddTag) else "auto_step_untag",
                 tag=step.tag)
    if isinstance(step, SetFields):
        return t("auto_step_set", fields=", ".join(step.values))
    if isinstance(step, StartAutomation):
        return t("auto_step_start", code=step.code)
    if isinstance(step, NotifyStaff):
        return t("auto_step_notify")
    assert isinstance(step, Webhook)
    return t("auto_step_webhook", url=step.url)


def run_state(t: Texts, run: Run) -> str:
    """What an open run does now: waits for an answer or for a time, or moves on; how one
    that is over ended."""
    if run.status is RunStatus.DONE:
        return t("auto_run_done", date=t.date(run.updated_at)) if run.updated_at \
            else t("auto_status_done")
    if run.status is RunStatus.CANCELLED:
        return t("auto_run_cancelled", why=run.error or "?")
    paused = run.status is RunStatus.PAUSED
    waiting = run.status is RunStatus.WAITING or (
        paused and run.paused_from is RunStatus.WAITING)
    if waiting and run.waiting_for in (Waiting.ANSWER, Waiting.TEXT):
        text = t(f"auto_run_waits_{run.waiting_for.value}")
        if run.wait_until is not None:
            text += t("auto_run_until", when=t.datetime(run.wait_until))
    elif waiting and run.wait_until is not None:
        text = t("auto_run_waits_time", when=t.datetime(run.wait_until))
    else:
        text = t("auto_run_moving")
    return t("auto_run_paused", state=text) if paused else text
