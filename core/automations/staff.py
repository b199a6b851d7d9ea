"""What the staff's screens ask of automations (the chat side words it and audits it):

- ``overview(uow, school)``: each automation with its paused flag, how many runs it has by
  status, and where its open runs are (step path, what the step is, how many, the earliest
  due); ``overview_of`` one of them, with who paused it.
- ``runs_of(uow, school, user_id)``: a student's runs, newest first, with their current step.
- ``pause`` / ``resume``: an automation's runs stop where they are (a run due meanwhile moves
  on once it is resumed; answers given meanwhile are kept); no run starts while paused.
- ``preview(uow, school, code, user_id, now)``: the dry run: whether it would start for the
  student, and the steps that would happen now, conditions evaluated as they stand, up to
  the first wait or question. Changes nothing.
- ``describe(step)``: one line naming a step (``wait PT23H``, ``ask: yes / no``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.automations import engine
from core.automations.model import (
    Ask,
    Automation,
    Extend,
    Grant,
    If,
    NotifyStaff,
    Path,
    RemoveTag,
    Revoke,
    Send,
    SetFields,
    StartAutomation,
    Step,
    Wait,
    Webhook,
    after,
    into,
    parse_path,
    path_text,
    step_at,
)
from core.automations.records import OPEN, AutomationState, Run, RunStatus
from core.ports import UnitOfWork
from core.school import School


def describe(step: Step | None) -> str:
    if step is None:
        return "(no longer in the school file)"
    if isinstance(step, Wait):
        if step.delay is not None:
            return f"wait {step.delay.iso}"
        if step.until is not None:
            return f"wait until {step.until.isoformat()}"
        return f"wait until {step.hour}:00"
    if isinstance(step, Ask):
        answers = " / ".join(step.values()) if step.buttons else f"typed {step.expect}"
        return f"ask: {answers}" + (f" (timeout {step.timeout.iso})" if step.timeout else "")
    if isinstance(step, Send):
        return "send"
    if isinstance(step, If):
        return f"if {type(step.condition).__name__}"
    if isinstance(step, Grant):
        return f"grant {step.offer or 'product ' + str(step.product)}"
    if isinstance(step, Extend):
        return f"extend {step.product} by {step.by.iso}"
    if isinstance(step, Revoke):
        return f"revoke {step.product}"
    if isinstance(step, SetFields):
        return "set " + ", ".join(step.values)
    if isinstance(step, StartAutomation):
        return f"start {step.code}"
    if isinstance(step, NotifyStaff):
        return "notify staff"
    if isinstance(step, Webhook):
        return f"webhook {step.url}"
    return ("untag " if isinstance(step, RemoveTag) else "tag ") + step.tag  # type: ignore[union-attr]


def step_of(automation: Automation | None, position: str) -> Step | None:
    if automation is None:
        return None
    try:
        return step_at(automation.steps, parse_path(position))
    except ValueError:
        return None


@dataclass(frozen=True)
class Where:
    position: str
    step: str  # ``describe``d
    status: RunStatus
    runs: int
    at: Step | None = None  # the step itself (None: no longer in the school file)
    due: datetime | None = None  # the earliest of these runs' ``wait_until``


@dataclass(frozen=True)
class Overview:
    automation: Automation
    paused: bool
    counts: dict[RunStatus, int]
    open: list[Where]  # where the open runs are, most first
    state: AutomationState | None = None  # who paused or resumed it last, and when


async def overview(uow: UnitOfWork, school: School) -> list[Overview]:
    paused = await uow.automation_states.paused()
    return [await _overview(uow, automation, automation.code in paused)
            for automation in school.automations.values()]


async def overview_of(uow: UnitOfWork, school: School, code: str) -> Overview | None:
    """One automation's overview, with its stored state; None if there is no such one."""
    automation = school.automations.get(code)
    if automation is None:
        return None
    state = await uow.automation_states.get(code)
    return await _overview(uow, automation, state is not None and state.paused, state)


async def _overview(uow: UnitOfWork, automation: Automation, paused: bool,
                    state: AutomationState | None = None) -> Overview:
    positions = await uow.automation_runs.positions(automation.code)
    where = [Where(position, describe(step_of(automation, position)), status, n,
                   step_of(automation, position), due)
             for (status, position), (n, due) in positions.items()]
    where.sort(key=lambda w: (-w.runs, w.position))
    return Overview(automation, paused, await uow.automation_runs.counts(automation.code),
                    where, state)


@dataclass(frozen=True)
class RunView:
    run: Run
    automation: Automation | None  # None: no longer in the school file
    step: str  # the current step, ``describe``d ("" once over)
    current: Step | None = None  # the step itself, while the run is open


async def runs_of(uow: UnitOfWork, school: School, user_id: int) -> list[RunView]:
    views = []
    for run in await uow.automation_runs.for_user(user_id):
        automation = school.automations.get(run.automation)
        current = step_of(automation, run.position) if run.status in OPEN else None
        views.append(RunView(run, automation, describe(current) if run.status in OPEN else "",
                             current))
    return views


async def pause(uow: UnitOfWork, school: School, code: str, by: str, now: datetime) -> int:
    """Pause ``code`` (KeyError if there is no such automation). Returns how many open runs
    stopped; 0 also when it was paused already."""
    if code not in school.automations:
        raise KeyError(code)
    state = await uow.automation_states.get(code) or AutomationState(code)
    if state.paused:
        return 0
    state.paused, state.changed_by, state.changed_at = True, by, now
    await uow.automation_states.put(state)
    return await uow.automation_runs.pause(code, now)


async def resume(uow: UnitOfWork, school: School, code: str, by: str, now: datetime) -> int:
    """Resume ``code``; its runs go on where they stopped (those due meanwhile at once)."""
    if code not in school.automations:
        raise KeyError(code)
    state = await uow.automation_states.get(code) or AutomationState(code)
    if not state.paused:
        return 0
    state.paused, state.changed_by, state.changed_at = False, by, now
    await uow.automation_states.put(state)
    return await uow.automation_runs.resume(code, now)


@dataclass(frozen=True)
class Planned:
    """One step of a dry run: an ``if`` with the branch it takes, a wait with its end."""

    path: str
    step: Step
    taken: str = ""  # "then" or "else", for an ``if``
    until: datetime | None = None  # for a wait: when it would be over

    @property
    def line(self) -> str:
        if self.taken:
            return f"{describe(self.step)}: {self.taken}"
        if self.until is not None:
            return f"{describe(self.step)} (until {self.until.isoformat()})"
        return describe(self.step)


@dataclass(frozen=True)
class Preview:
    starts: bool  # a run would start for the student now
    why_not: str  # "unknown", "paused", "already" when it would not
    planned: list[Planned]  # the steps that would happen now, up to a wait or a question

    @property
    def steps(self) -> list[tuple[str, str]]:
        """(path, ``describe``d step) of each step that would happen now."""
        return [(p.path, p.line) for p in self.planned]


async def preview(uow: UnitOfWork, school: School, code: str, user_id: int,
                  now: datetime) -> Preview:
    automation = school.automations.get(code)
    if automation is None:
        return Preview(False, "unknown", [])
    why_not = ""
    if code in await uow.automation_states.paused():
        why_not = "paused"
    elif not automation.repeatable and await uow.automation_runs.of_automation(code, [user_id]):
        why_not = "already"
    planned: list[Planned] = []
    path: Path | None = (0,)
    while path is not None and len(planned) < engine.MAX_STEPS:
        step = step_at(automation.steps, path)
        if step is None:
            break
        if isinstance(step, If):
            taken = "then" if await engine.holds(uow, school, user_id, step.condition, now) \
                else "else"  # (a run's own order is not known before it starts)
            planned.append(Planned(path_text(path), step, taken=taken))
            branch = step.then if taken == "then" else step.otherwise
            path = into(path, taken) if branch else after(automation.steps, path)
            continue
        if isinstance(step, Wait):
            until = engine.wait_end(step, now, school)
            planned.append(Planned(path_text(path), step, until=until))
            if until > now:
                break
        else:
            planned.append(Planned(path_text(path), step))
            if isinstance(step, Ask):
                break
        path = after(automation.steps, path)
    return Preview(not why_not, why_not, planned)
