"""The conversation's side of automations: answer buttons, typed answers, keywords and
commands, /start. A turn only records (an answer, a run started): the engine moves the runs
on right after the turn commits (``ctx.queued``), and their screens come through the outbox.

- ``answer``: the ``aa:<run>:<question>:<value>`` button (``flows.automation_notices``).
- ``typed``: the router's ``before_fallback``: typed text that no chat step takes goes to a
  question waiting for it, or starts the automations of its keyword or command; anything
  else falls through to the usual answer.
- ``started``: called by /start."""

from __future__ import annotations

import re

from core.automations import engine
from core.automations.engine import Answered
from core.school import pick
from flows.engine import Context, Reply, Stale, parse_id
from flows.ui import Screen, screen

_VALUE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
MAX_ASK = 10_000


async def answer(ctx: Context, arg: str) -> Reply:
    run_text, _, rest = arg.partition(":")
    ask_text, _, value = rest.partition(":")
    if not (ask_text.isascii() and ask_text.isdigit() and int(ask_text) <= MAX_ASK) \
            or not _VALUE.fullmatch(value):
        raise Stale(arg)
    outcome = await engine.on_answer(ctx.uow, ctx.school, ctx.user.id, parse_id(run_text),
                                     int(ask_text), value, ctx.now)
    if outcome.outcome is Answered.STALE:
        raise Stale(arg)
    t = ctx.t
    label = pick(outcome.label, t.language, ctx.school.default_language) or value
    if outcome.outcome is Answered.LATE:
        return Reply(None, toast=t("auto_answer_late"))
    ctx.queued = ctx.queued or bool(outcome.runs)
    if outcome.question is None or not ctx.capabilities.can_edit:
        return Reply(None, toast=t("auto_answered", answer=label))
    # The question keeps its text and shows the answer in place of its buttons.
    question = pick(outcome.question, t.language, ctx.school.default_language)
    return Reply(Screen(f"{question}\n\n{t('auto_answered', answer=label)}"), edit=True)


async def typed(ctx: Context, _: str) -> Reply | None:
    if not ctx.school.automations:
        return None
    outcome = await engine.on_text(ctx.uow, ctx.school, ctx.user.id, ctx.incoming.text,
                                   ctx.now)
    if outcome.invalid is not None:
        return Reply(screen(ctx.t(f"auto_invalid_{outcome.invalid.value}")))
    if not outcome.consumed:
        return None
    ctx.queued = ctx.queued or bool(outcome.runs)
    return Reply(None)


async def started(ctx: Context, payload: str) -> None:
    if ctx.school.automations and await engine.on_start(ctx.uow, ctx.school, ctx.user.id,
                                                        payload, ctx.now):
        ctx.queued = True
