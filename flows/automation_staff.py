"""``/automations``: the staff's view of the school file's automations. The list (what starts
each, paused or not, its active and waiting runs), one automation's screen (pause / resume,
where its open runs are and when the next is due), starting it by hand for a student, and the
dry run: which steps would happen now for a student, sending and changing nothing.

Each is guarded by ``Right.AUTOMATIONS`` and audited, refusals too (``flows.staff``). The
student is typed as on ``/find`` (``core.services.students.parse``). Buttons carry the
automation's code (at most 32 characters) and a student's number:

- ``am:<code>`` its screen, ``aml`` the list;
- ``amp:<code>`` / ``amr:<code>`` pause / resume;
- ``ams:<code>`` / ``amd:<code>`` ask for the student to start it for / to dry-run it for;
- ``amx:<code>:<student>`` the dry run, ``amg:<code>:<student>`` start it."""

from __future__ import annotations

from core.automations import engine
from core.automations import staff as automation_staff
from core.automations.engine import StartRefused
from core.automations.model import Ask
from core.automations.records import RunStatus
from core.automations.staff import Overview, Planned, Preview
from core.models import User
from core.services import students
from core.staff import Right
from flows.automation_words import automation_title, step_words, trigger_words
from flows.engine import Context, Reply, Stale, parse_id
from flows.staff import staff_only
from flows.student_card import CARD_LIMIT, fit
from flows.ui import Button, Screen, screen

START_STEP, DRY_STEP = "auto_start", "auto_dry"  # a student to type, for a start or a dry run
STEPS = (START_STEP, DRY_STEP)
WHERE_SHOWN = 12  # steps listed with their open runs
LISTED = 10  # students offered when a query matches several
VERBS = ("pause", "resume", "start", "dry")  # /automations VERB CODE [student]


def _leave_steps(ctx: Context) -> None:
    if ctx.state.step in STEPS:
        ctx.state.step = ""
    for step in STEPS:
        ctx.state.data.pop(step, None)


def _title(ctx: Context, code: str) -> str:
    return automation_title(ctx.school, ctx.t, ctx.school.automations.get(code), code)


def _code(ctx: Context, text: str) -> str:
    """The code of an automation in the school file, from a button; Stale otherwise."""
    if text not in ctx.school.automations:
        raise Stale(text)
    return text


def _code_and_student(arg: str) -> tuple[str, int]:
    code, _, student = arg.partition(":")
    return code, parse_id(student)


# --- the list ---------------------------------------------------------------------------------


def _mark(ctx: Context, paused: bool) -> str:
    return ctx.t("auto_mark_paused" if paused else "auto_mark_running")


async def _list(ctx: Context) -> Screen:
    t, school = ctx.t, ctx.school
    overviews = await automation_staff.overview(ctx.uow, school)
    if not overviews:
        return screen(t("auto_list_none"))
    lines = [t("auto_list_line", mark=_mark(ctx, o.paused), code=o.automation.code,
               title=_title(ctx, o.automation.code),
               trigger=trigger_words(school, t, o.automation.trigger),
               active=o.counts.get(RunStatus.ACTIVE, 0),
               waiting=o.counts.get(RunStatus.WAITING, 0)) for o in overviews]
    text = fit([[t("auto_list_title", n=len(overviews))]], [lines], CARD_LIMIT, t("card_cut"))
    buttons = [Button(t("btn_auto_open", mark=_mark(ctx, o.paused),
                        title=_title(ctx, o.automation.code)),
                      action=f"am:{o.automation.code}") for o in overviews]
    return screen(text, *buttons)


# --- one automation ---------------------------------------------------------------------------


def _where(ctx: Context, overview: Overview) -> list[str]:
    t = ctx.t
    if not overview.open:
        return [t("auto_where_title"), t("auto_where_none")]
    lines = [t("auto_where_title")]
    for where in overview.open[:WHERE_SHOWN]:
        line = t("auto_where_line", position=where.position,
                 step=step_words(ctx.school, t, where.at), runs=where.runs,
                 status=t(f"auto_status_{where.status.value}"))
        if where.due is not None and where.status is not RunStatus.PAUSED:
            line += t("auto_where_due", when=t.datetime(where.due))
        lines.append(line)
    if len(overview.open) > WHERE_SHOWN:
        lines.append(t("auto_where_more", n=len(overview.open) - WHERE_SHOWN))
    return lines


async def _automation(ctx: Context, code: str, lead: str = "") -> Screen:
    t = ctx.t
    overview = await automation_staff.overview_of(ctx.uow, ctx.school, code)
    if overview is None:
        raise Stale(code)
    automation, counts, state = overview.automation, overview.counts, overview.state
    if overview.paused and state is not None and state.changed_at is not None:
        running = t("auto_screen_paused", when=t.datetime(state.changed_at),
                    who=state.changed_by or "?")
    else:
        running = t("auto_screen_running")
    head = [t("auto_screen_title", title=_title(ctx, code), code=code),
            t("auto_screen_trigger", trigger=trigger_words(ctx.school, t, automation.trigger)),
            running,
            t("auto_screen_repeatable" if automation.repeatable else "auto_screen_once"),
            t("auto_screen_counts", **{status.value: counts.get(status, 0)
                                       for status in RunStatus})]
    text = fit([[lead]] if lead else [], [head, _where(ctx, overview)], CARD_LIMIT,
               t("card_cut"))
    toggle = Button(t("btn_auto_resume"), action=f"amr:{code}") if overview.paused \
        else Button(t("btn_auto_pause"), action=f"amp:{code}")
    return screen(text, [toggle],
                  [Button(t("btn_auto_dry"), action=f"amd:{code}"),
                   Button(t("btn_auto_start"), action=f"ams:{code}")],
                  [Button(t("btn_auto_refresh"), action=f"am:{code}"),
                   Button(t("btn_auto_list"), action="aml")])


# --- pause, resume ----------------------------------------------------------------------------


async def _switch(ctx: Context, code: str, pausing: bool) -> Reply:
    """Pause or resume; saying so when it was that way already (nothing changes then)."""
    actor = ctx.staff
    assert actor is not None
    was_paused = code in await ctx.uow.automation_states.paused()
    change = automation_staff.pause if pausing else automation_staff.resume
    runs = await change(ctx.uow, ctx.school, code, actor.account, ctx.now)
    word = "paused" if pausing else "resumed"
    if was_paused == pausing:
        actor.nothing(f"{code} was {'paused already' if pausing else 'running already'}")
        lead = ctx.t(f"auto_{word}_already")
    else:
        actor.did(f"{word} {code}: {runs} {'open runs stopped' if pausing else 'runs go on'}")
        lead = ctx.t(f"auto_{word}", n=runs)
        # Runs due meanwhile move on after the commit.
        ctx.queued = ctx.queued or (not pausing and runs > 0)
    return Reply(await _automation(ctx, code, lead), edit=ctx.incoming.message is not None)


# --- a student: start by hand, dry run --------------------------------------------------------


async def _start(ctx: Context, code: str, user: User) -> Reply:
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    name, title = user.name or "?", _title(ctx, code)
    run = await engine.start_by_hand(ctx.uow, ctx.school, code, user.id, ctx.now,
                                     actor.account)
    if isinstance(run, StartRefused):
        actor.nothing(f"{code} not started for #{user.id}: {run.value}", user_id=user.id)
        lead = t(f"auto_start_refused_{run.value}", title=title, name=name)
    else:
        ctx.queued = True  # the run is due now: the engine moves it on after the commit
        actor.did(f"started {code} for #{user.id}: run #{run.id}", user_id=user.id)
        lead = t("auto_started", title=title, name=name, id=user.id, run=run.id)
    return Reply(await _automation(ctx, code, lead), edit=ctx.incoming.message is not None)


def _planned_line(ctx: Context, number: int, item: Planned) -> str:
    t = ctx.t
    line = t("auto_dry_line", n=number, step=step_words(ctx.school, t, item.step))
    if item.taken:
        line += t(f"auto_dry_{item.taken}")
    elif item.until is not None:
        line += t("auto_dry_until", when=t.datetime(item.until)) if item.until > ctx.now \
            else t("auto_dry_over")
    return line


def _dry_text(ctx: Context, code: str, user: User, preview: Preview) -> str:
    t, name = ctx.t, user.name or "?"
    lines = [t("auto_dry_title", title=_title(ctx, code), name=name, id=user.id),
             t("auto_dry_starts") if preview.starts
             else t(f"auto_dry_not_{preview.why_not}", name=name)]
    lines += [_planned_line(ctx, n, item) for n, item in enumerate(preview.planned, 1)]
    last = preview.planned[-1] if preview.planned else None
    waits = last is not None and (last.until is not None and last.until > ctx.now
                                  or isinstance(last.step, Ask))
    lines.append(t("auto_dry_waits" if waits else "auto_dry_end"))
    return fit([], [lines], CARD_LIMIT, t("card_cut"))


async def _dry_run(ctx: Context, code: str, user: User) -> Reply:
    """What would happen now; reads only (``automation_staff.preview``)."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    preview = await automation_staff.preview(ctx.uow, ctx.school, code, user.id, ctx.now)
    if preview.why_not == "unknown":
        raise Stale(code)
    actor.nothing(f"dry run of {code} for #{user.id}: {len(preview.planned)} steps"
                  f"{'' if preview.starts else ', would not start: ' + preview.why_not}",
                  user_id=user.id)
    rows: list[list[Button]] = []
    if preview.starts:
        rows.append([Button(t("btn_auto_start_for", name=user.name or f"#{user.id}"),
                            action=f"amg:{code}:{user.id}")])
    rows.append([Button(t("btn_auto_back", code=code), action=f"am:{code}")])
    return Reply(screen(_dry_text(ctx, code, user, preview), *rows),
                 edit=ctx.incoming.message is not None)


async def _ask_student(ctx: Context, code: str, step: str) -> Reply:
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    _leave_steps(ctx)
    ctx.state.step = step
    ctx.state.data[step] = {"code": code}
    actor.nothing(f"asked for the student to {'start' if step == START_STEP else 'dry-run'} "
                  f"{code} for")
    prompt = "auto_student_prompt_start" if step == START_STEP else "auto_student_prompt_dry"
    return Reply(screen(t(prompt, title=_title(ctx, code)),
                        Button(t("btn_card_cancel"), action=f"am:{code}")), edit=True)


async def _for_student(ctx: Context, code: str, text: str, step: str) -> Reply:
    """The student typed (or given with the command): one starts or dry-runs at once; several
    are offered to pick (each opens its dry run, which offers the start)."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    query = students.parse(text)
    found = await students.find(ctx.uow, query, LISTED) if query is not None else None
    cancel = Button(t("btn_card_cancel"), action=f"am:{code}")
    if found is None or not found.users:
        actor.nothing(f"{code}: no student matches {text.strip()[:60]!r}")
        return Reply(screen(t("auto_student_none", query=text.strip()[:60]), cancel))
    _leave_steps(ctx)
    if found.total > 1:
        actor.nothing(f"{code}: {found.total} students match {text.strip()[:60]!r}")
        buttons = [Button(t("btn_auto_student", id=user.id, name=user.name or "?"),
                          action=f"amx:{code}:{user.id}") for user in found.users]
        return Reply(screen(t("auto_student_many", n=found.total, query=text.strip()[:60]),
                            *buttons, cancel))
    user = found.users[0]
    if step == START_STEP:
        return await _start(ctx, code, user)
    return await _dry_run(ctx, code, user)


async def _typed(ctx: Context, text: str, step: str) -> Reply:
    """The student typed after ``ams`` / ``amd``; an automation gone from the school file
    meanwhile ends the step (kept, it would take every message typed next)."""
    actor = ctx.staff
    assert actor is not None
    code = (ctx.state.data.get(step) or {}).get("code")
    if not isinstance(code, str) or code not in ctx.school.automations:
        _leave_steps(ctx)
        actor.nothing(f"no automation {str(code)[:40]!r} any more")
        return Reply(screen(ctx.t("auto_unknown", code=str(code)[:40])))
    return await _for_student(ctx, code, text, step)


async def _student(ctx: Context, user_id: int) -> User:
    user = await students.student(ctx.uow, user_id)
    if user is None:
        raise Stale(str(user_id))
    return user


# --- handlers ---------------------------------------------------------------------------------


@staff_only(Right.AUTOMATIONS, "/automations")
async def automations_command(ctx: Context, arg: str) -> Reply:
    """``/automations``, ``/automations CODE``, ``/automations pause|resume CODE``,
    ``/automations start|dry CODE student``."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    _leave_steps(ctx)
    words = arg.split()
    if not words:
        shown = await _list(ctx)
        actor.nothing(f"listed {len(ctx.school.automations)} automations")
        return Reply(shown)
    verb, rest = words[0].lower(), words[1:]
    if verb in VERBS and rest:
        code = rest[0]
    elif len(words) == 1 and verb not in VERBS:
        verb, code = "open", words[0]
    else:
        verb = code = ""
    if not code or (verb in ("pause", "resume")) != (len(rest) == 1) \
            or (verb in ("start", "dry")) != (len(rest) >= 2):
        actor.nothing("usage shown")
        return Reply(screen(t("auto_usage")))
    if code not in ctx.school.automations:
        actor.nothing(f"no automation {code[:40]!r}")
        return Reply(screen(t("auto_unknown", code=code[:40])))
    if verb in ("pause", "resume"):
        return await _switch(ctx, code, pausing=verb == "pause")
    if verb in ("start", "dry"):
        return await _for_student(ctx, code, " ".join(rest[1:]),
                                  START_STEP if verb == "start" else DRY_STEP)
    actor.nothing(f"opened {code}")
    return Reply(await _automation(ctx, code))


@staff_only(Right.AUTOMATIONS, "automations.list")
async def list_button(ctx: Context, arg: str) -> Reply:
    """``aml``: the list, in place of the message pressed."""
    actor = ctx.staff
    assert actor is not None
    _leave_steps(ctx)
    shown = await _list(ctx)
    actor.nothing(f"listed {len(ctx.school.automations)} automations")
    return Reply(shown, edit=True)


@staff_only(Right.AUTOMATIONS, "automations.open")
async def open_automation(ctx: Context, arg: str) -> Reply:
    """``am:<code>``: one automation's screen."""
    actor = ctx.staff
    assert actor is not None
    code = _code(ctx, arg)
    _leave_steps(ctx)
    actor.nothing(f"opened {code}")
    return Reply(await _automation(ctx, code), edit=True)


@staff_only(Right.AUTOMATIONS, "automations.pause")
async def pause(ctx: Context, arg: str) -> Reply:
    """``amp:<code>``."""
    _leave_steps(ctx)
    return await _switch(ctx, _code(ctx, arg), pausing=True)


@staff_only(Right.AUTOMATIONS, "automations.resume")
async def resume(ctx: Context, arg: str) -> Reply:
    """``amr:<code>``."""
    _leave_steps(ctx)
    return await _switch(ctx, _code(ctx, arg), pausing=False)


@staff_only(Right.AUTOMATIONS, "automations.start")
async def ask_start(ctx: Context, arg: str) -> Reply:
    """``ams:<code>``: the student to start it for is typed next."""
    return await _ask_student(ctx, _code(ctx, arg), START_STEP)


@staff_only(Right.AUTOMATIONS, "automations.dry_run")
async def ask_dry_run(ctx: Context, arg: str) -> Reply:
    """``amd:<code>``: the student to dry-run it for is typed next."""
    return await _ask_student(ctx, _code(ctx, arg), DRY_STEP)


@staff_only(Right.AUTOMATIONS, "automations.start")
async def typed_start(ctx: Context, text: str) -> Reply:
    """The student to start it for, typed after ``ams``."""
    return await _typed(ctx, text, START_STEP)


@staff_only(Right.AUTOMATIONS, "automations.dry_run")
async def typed_dry_run(ctx: Context, text: str) -> Reply:
    """The student to dry-run it for, typed after ``amd``."""
    return await _typed(ctx, text, DRY_STEP)


@staff_only(Right.AUTOMATIONS, "automations.dry_run")
async def dry_run(ctx: Context, arg: str) -> Reply:
    """``amx:<code>:<student>``."""
    code, user_id = _code_and_student(arg)
    _leave_steps(ctx)
    return await _dry_run(ctx, _code(ctx, code), await _student(ctx, user_id))


@staff_only(Right.AUTOMATIONS, "automations.start")
async def start(ctx: Context, arg: str) -> Reply:
    """``amg:<code>:<student>``: start it for the student (offered by the dry run)."""
    code, user_id = _code_and_student(arg)
    _leave_steps(ctx)
    return await _start(ctx, _code(ctx, code), await _student(ctx, user_id))
