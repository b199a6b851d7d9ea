"""The ``automations:`` section across the file: every reference (offers, products, groups,
courses and lessons, texts, other automations, answers) and the loops that could never end,
then the immutable ``core.automations.model.Automation`` of each item.

A loop that could never end: automations that start each other (``start:``) with no
``wait`` or ``ask`` on the way, and a repeatable automation whose own steps (or those of
what it starts at once) set off its trigger again before any wait: it adds the tag that
triggers it, or grants the product whose access starting triggers it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from core.automations.model import (
    ANY,
    ORDER_TRIGGERS,
    AddTag,
    AnswerButton,
    Ask,
    Automation,
    Expect,
    Extend,
    FieldEquals,
    Grant,
    HasAccess,
    HasTag,
    If,
    LanguageIs,
    MessengerIs,
    MyCoursesButton,
    NotifyStaff,
    OfferButton,
    OrderPaid,
    PaidAtLeast,
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
)
from core.school_file.automation_items import (
    AskItem,
    AutomationItem,
    ButtonItem,
    ConditionItem,
    SendItem,
    StepItem,
)
from core.school_file.crossref import Checks, Entry, _known, _unknown, _valid
from core.school_file.fields import Loc

Texts = Mapping[str, Mapping[str, str]]
_EMPTY: MappingProxyType[str, str] = MappingProxyType({})


def _where(loc: Loc) -> str:
    """``("automations", 0, "steps", 2, "grant")`` -> ``automations[0].steps[2].grant``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _steps(items: list[StepItem], loc: Loc) -> list[tuple[Loc, StepItem]]:
    """Every step item with its location, depth first."""
    found: list[tuple[Loc, StepItem]] = []
    for index, item in enumerate(items):
        here = (*loc, index)
        found.append((here, item))
        for key, sub in (item.on or {}).items():
            found += _steps(sub, (*here, "on", key))
        for name in ("then", "else"):
            found += _steps(item.value(name) or [], (*here, name))
    return found


@dataclass
class AutomationChecks:
    checks: Checks  # the other sections' items and what they found
    entries: list[Entry[AutomationItem]]
    texts: Texts
    broken: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.problems: list[str] = []
        self.built: dict[str, Automation] = {}

    # ---- references ------------------------------------------------------------------------

    def _refer(self, loc: Loc, code: str, section: str, entries: list[Entry[Any]],
               any_allowed: bool = False) -> bool:
        if section in self.broken or (any_allowed and code == ANY):
            return True
        known = _known(entries)
        if code in known:
            return True
        what = section.removesuffix("s")
        self.problems.append(f"{_where(loc)}: " + _unknown(what, section, code, known)
                             + (f"; or {ANY!r} for every one" if any_allowed else ""))
        return False

    def run(self) -> list[str]:
        answers = self._answers_sent()
        for index, item in _valid(self.entries):
            loc: Loc = ("automations", index)
            self._trigger(item, (*loc, "trigger"), answers)
            by_order = TriggerKind(item.trigger.kind) in ORDER_TRIGGERS
            for where, step in _steps(item.steps, (*loc, "steps")):
                self._step(step, where)
                if not by_order:
                    self._needs_order(step, where)
        for _, item in _valid(self.entries):
            self.built[item.code] = self._automation(item)
        self._loops()
        return self.problems

    def _answers_sent(self) -> set[str]:
        values: set[str] = set()
        for _, item in _valid(self.entries):
            for _, step in _steps(item.steps, ()):
                screen = step.send or step.ask
                if screen is not None:
                    values |= {b.answer for b in screen.buttons if b.answer is not None}
        return values

    def _trigger(self, item: AutomationItem, loc: Loc, answers: set[str]) -> None:
        trigger = item.trigger
        checks = self.checks
        kind = trigger.kind
        if kind in ("order_placed", "offer_paid"):
            self._refer((*loc, kind), getattr(trigger, kind), "offers", checks.offers, True)
        elif kind == "order_unpaid":
            assert trigger.order_unpaid is not None
            self._refer((*loc, kind, "offer"), trigger.order_unpaid.offer, "offers",
                        checks.offers, True)
        elif kind in ("access_started", "access_ended"):
            self._refer((*loc, kind), getattr(trigger, kind), "products", checks.products,
                        True)
        elif kind == "access_ending":
            assert trigger.access_ending is not None
            self._refer((*loc, kind, "product"), trigger.access_ending.product, "products",
                        checks.products)
        elif kind in ("joined_group", "left_group"):
            self._refer((*loc, kind), getattr(trigger, kind), "groups", checks.groups)
        elif kind == "lesson_opened":
            assert trigger.lesson_opened is not None
            self._lesson((*loc, kind), trigger.lesson_opened.course,
                         trigger.lesson_opened.lesson)
        elif kind == "button" and trigger.button not in answers:
            sent = ", ".join(sorted(answers)) or "none"
            self.problems.append(f"{_where((*loc, kind))}: no automation sends an answer "
                                 f"button {trigger.button!r} (answers sent: {sent})")

    def _needs_order(self, step: StepItem, loc: Loc) -> None:
        """A pay button and ``order_paid`` speak of the order that started the run."""
        where = None
        screen = step.send or step.ask
        if screen is not None:
            where = next(((*loc, step.kind, "buttons", i, "pay")
                          for i, b in enumerate(screen.buttons) if b.pay), None)
        if step.if_ is not None and step.if_.order_paid:
            where = (*loc, "if", "order_paid")
        if where is not None:
            self.problems.append(f"{_where(where)}: only in an automation an order starts "
                                 "(trigger order_placed or order_unpaid)")

    def _lesson(self, loc: Loc, course: str, lesson: str | None) -> None:
        if not self._refer((*loc, "course"), course, "courses", self.checks.courses):
            return
        index = next((i for i, c in _valid(self.checks.courses) if c.code == course), None)
        ids = self.checks.lesson_ids.get(index, []) if index is not None else []
        if lesson is not None and index is not None and lesson not in ids:
            self.problems.append(f"{_where((*loc, 'lesson'))}: course {course!r} has no "
                                 f"lesson {lesson!r} (its lessons: {', '.join(ids)})")

    def _step(self, step: StepItem, loc: Loc) -> None:
        checks = self.checks
        kind = step.kind
        here = (*loc, kind)
        if step.send is not None:
            self._screen(step.send, here)
        elif step.ask is not None:
            self._screen(step.ask, here)
        elif step.grant is not None:
            if step.grant.offer is not None:
                self._refer(here, step.grant.offer, "offers", checks.offers)
            elif step.grant.product is not None:
                self._refer((*here, "product"), step.grant.product, "products",
                            checks.products)
        elif step.extend is not None:
            self._refer((*here, "product"), step.extend.product, "products", checks.products)
        elif step.revoke is not None:
            self._refer(here, step.revoke, "products", checks.products)
        elif step.start is not None:
            self._refer(here, step.start, "automations", self.entries)
        elif step.if_ is not None:
            self._condition(step.if_, here)

    def _screen(self, screen: SendItem | AskItem, loc: Loc) -> None:
        if screen.text_key is not None and not self._text(screen.text_key):
            known = sorted({key for texts in self.texts.values() for key in texts})
            self.problems.append(f"{_where((*loc, 'text_key'))}: "
                                 + _unknown("text", "texts", screen.text_key, known))
        for index, button in enumerate(screen.buttons):
            if button.offer is None:
                continue
            where = (*loc, "buttons", index, "offer")
            if not self._refer(where, button.offer, "offers", self.checks.offers):
                continue
            offer = next((o for _, o in _valid(self.checks.offers) if o.code == button.offer),
                         None)
            if offer is not None and not offer.public:
                self.problems.append(f"{_where(where)}: offer {button.offer!r} is hidden "
                                     "(public: false), so a student could not open it from "
                                     "a button; make it public or send a url: to its deep link")

    def _condition(self, condition: ConditionItem, loc: Loc) -> None:
        if condition.has_access is not None:
            self._refer((*loc, "has_access"), condition.has_access, "products",
                        self.checks.products)
        known = self.checks.context.messengers
        if condition.messenger is not None and known is not None \
                and condition.messenger not in known:
            self.problems.append(f"{_where((*loc, 'messenger'))}: unknown messenger "
                                 f"{condition.messenger!r} (known: {', '.join(known)})")

    def _text(self, key: str) -> dict[str, str]:
        return {language: texts[key] for language, texts in self.texts.items() if key in texts}

    # ---- building --------------------------------------------------------------------------

    def _automation(self, item: AutomationItem) -> Automation:
        return Automation(code=item.code, trigger=self._built_trigger(item),
                          steps=self._built_steps(item.steps), title=item.title,
                          repeatable=item.repeatable)

    @staticmethod
    def _built_trigger(item: AutomationItem) -> Trigger:
        t = item.trigger
        kind = TriggerKind(t.kind)
        if kind is TriggerKind.KEYWORD:
            return Trigger(kind, words=t.keyword or ())
        if kind is TriggerKind.ORDER_UNPAID:
            assert t.order_unpaid is not None
            return Trigger(kind, t.order_unpaid.offer, delay=t.order_unpaid.after)
        if kind is TriggerKind.ACCESS_ENDING:
            assert t.access_ending is not None
            return Trigger(kind, t.access_ending.product, before=t.access_ending.before)
        if kind is TriggerKind.LESSON_OPENED:
            assert t.lesson_opened is not None
            return Trigger(kind, t.lesson_opened.course, lesson=t.lesson_opened.lesson)
        if kind is TriggerKind.MANUAL:
            return Trigger(kind)
        return Trigger(kind, str(getattr(t, t.kind) or ""))

    def _built_steps(self, items: list[StepItem]) -> tuple[Step, ...]:
        return tuple(self._built_step(item) for item in items)

    def _screen_text(self, screen: SendItem | AskItem) -> Mapping[str, str]:
        if screen.text is not None:
            return screen.text
        return MappingProxyType(self._text(screen.text_key or ""))

    @staticmethod
    def _button(button: ButtonItem) -> ScreenButton:
        if button.offer is not None:
            return OfferButton(button.offer, button.label)
        if button.url is not None:
            assert button.label is not None
            return UrlButton(button.url, button.label)
        if button.answer is not None:
            assert button.label is not None
            return AnswerButton(button.answer, button.label)
        if button.pay:
            return PayButton(button.label)
        return MyCoursesButton(button.label)

    def _built_step(self, item: StepItem) -> Step:
        if item.send is not None:
            send = item.send
            return Send(self._screen_text(send), send.picture,
                        tuple(self._button(b) for b in send.buttons))
        if item.wait is not None:
            return item.wait
        if item.ask is not None:
            ask = item.ask
            answers = tuple(b for b in map(self._button, ask.buttons)
                            if isinstance(b, AnswerButton))
            on = MappingProxyType({key: self._built_steps(sub)
                                   for key, sub in (item.on or {}).items()})
            return Ask(self._screen_text(ask), answers,
                       Expect(ask.expect) if ask.expect else None, ask.save_as, ask.timeout, on)
        if item.if_ is not None:
            return If(self._built_condition(item.if_), self._built_steps(item.then or []),
                      self._built_steps(item.else_ or []))
        if item.grant is not None:
            return Grant(item.grant.offer, item.grant.product)
        if item.extend is not None:
            return Extend(item.extend.product, item.extend.by)
        if item.revoke is not None:
            return Revoke(item.revoke)
        if item.tag is not None:
            return AddTag(item.tag)
        if item.untag is not None:
            return RemoveTag(item.untag)
        if item.set_ is not None:
            return SetFields(MappingProxyType(dict(item.set_)))
        if item.start is not None:
            return StartAutomation(item.start)
        if item.notify_staff is not None:
            return NotifyStaff(item.notify_staff)
        assert item.webhook is not None
        return Webhook(item.webhook.url, MappingProxyType(dict(item.webhook.body)))

    @staticmethod
    def _built_condition(c: ConditionItem) -> Any:
        if c.has_access is not None:
            return HasAccess(c.has_access)
        if c.has_tag is not None:
            return HasTag(c.has_tag)
        if c.language is not None:
            return LanguageIs(c.language)
        if c.messenger is not None:
            return MessengerIs(c.messenger)
        if c.field is not None:
            return FieldEquals(c.field.name, c.field.equals)
        if c.order_paid:
            return OrderPaid()
        assert c.paid is not None
        return PaidAtLeast(c.paid.at_least)

    # ---- loops -----------------------------------------------------------------------------

    def _loops(self) -> None:
        index_of = {item.code: index for index, item in _valid(self.entries)}
        instant = {code: _instant(a.steps) for code, a in self.built.items()}
        starts = {code: [(path, e[1]) for path, e in effects if e[0] == "start"
                         and e[1] in self.built] for code, effects in instant.items()}
        reported: set[frozenset[str]] = set()
        for code in self.built:
            cycle = _cycle(code, starts)
            if cycle is None or frozenset(c for c, _ in cycle) in reported:
                continue
            reported.add(frozenset(c for c, _ in cycle))
            first, path = cycle[0]
            where = _where(("automations", index_of[first], "steps", *_loc(path), "start"))
            if len(cycle) == 1:
                self.problems.append(f"{where}: the automation starts itself with no wait or "
                                     "ask before: it would run endlessly")
            else:
                chain = " -> ".join([*(c for c, _ in cycle), first])
                self.problems.append(f"{where}: {chain} start each other with no wait or ask "
                                     "on the way: they would run endlessly")
        for code, automation in self.built.items():
            if automation.repeatable:
                self._retriggers(automation, index_of[code], instant, starts)

    def _retriggers(self, automation: Automation, index: int,
                    instant: dict[str, list[tuple[tuple[Any, ...], tuple[Any, ...]]]],
                    starts: dict[str, list[tuple[tuple[Any, ...], str]]]) -> None:
        trigger = automation.trigger
        if trigger.kind not in (TriggerKind.TAG_ADDED, TriggerKind.ACCESS_STARTED):
            return
        # The steps of this automation, and of those it starts at once, reached with no wait.
        seen, queue = {automation.code}, [(automation.code, None)]
        while queue:
            code, via = queue.pop()
            for path, effect in instant[code]:
                where = via or path
                if effect[0] == "tag" and trigger.kind is TriggerKind.TAG_ADDED \
                        and effect[1] == trigger.subject:
                    what = f"adds the tag {trigger.subject!r} that triggers it"
                elif effect[0] == "grant" and trigger.kind is TriggerKind.ACCESS_STARTED \
                        and (trigger.subject == ANY or trigger.subject in self._granted(effect)):
                    what = "grants the access whose start triggers it"
                else:
                    continue
                kind = "start" if via else effect[0]
                self.problems.append(
                    f"{_where(('automations', index, 'steps', *_loc(where), kind))}: a "
                    f"repeatable automation that {what} with no wait before would run "
                    "endlessly; add a wait, or make it run once per student")
                return
            for path, target in starts[code]:
                if target not in seen:
                    seen.add(target)
                    queue.append((target, via or path))

    def _granted(self, effect: tuple[Any, ...]) -> set[str]:
        _, offer, product = effect
        if product is not None:
            return {product}
        found = next((o for _, o in _valid(self.checks.offers) if o.code == offer), None)
        return set(found.products) if found is not None else set()


def _loc(path: tuple[Any, ...]) -> Loc:
    """A step's model path as its location in the file: ``(1, "then", 0)`` is written
    ``steps[1].then[0]``, ``(2, "on", "yes", 0)`` ``steps[2].on.yes[0]``."""
    return tuple(path)


def _instant(steps: tuple[Step, ...], prefix: tuple[Any, ...] = ()
             ) -> list[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """What the steps do before their first wait or ask: ``("start", code)``,
    ``("tag", tag)``, ``("grant", offer, product)``, each with its step's path."""
    return _instant_walk(steps, prefix)[0]


def _instant_walk(steps: tuple[Step, ...], prefix: tuple[Any, ...]
                  ) -> tuple[list[tuple[tuple[Any, ...], tuple[Any, ...]]], bool]:
    effects: list[tuple[tuple[Any, ...], tuple[Any, ...]]] = []
    for index, step in enumerate(steps):
        path = (*prefix, index)
        if isinstance(step, Wait | Ask):
            return effects, False
        if isinstance(step, If):
            then, passes_then = _instant_walk(step.then, (*path, "then"))
            other, passes_else = _instant_walk(step.otherwise, (*path, "else"))
            effects += then + other
            if not (passes_then or passes_else):
                return effects, False
        elif isinstance(step, StartAutomation):
            effects.append((path, ("start", step.code)))
        elif isinstance(step, AddTag):
            effects.append((path, ("tag", step.tag)))
        elif isinstance(step, Grant):
            effects.append((path, ("grant", step.offer, step.product)))
        elif isinstance(step, Send | Extend | Revoke | RemoveTag | SetFields | NotifyStaff
                        | Webhook):
            pass
    return effects, True


def _cycle(code: str, starts: dict[str, list[tuple[tuple[Any, ...], str]]]
           ) -> list[tuple[str, tuple[Any, ...]]] | None:
    """A chain of instant starts from ``code`` back to it: [(automation, its start step)]."""
    stack: list[tuple[str, list[tuple[str, tuple[Any, ...]]]]] = [(code, [])]
    visited: set[str] = set()
    while stack:
        current, chain = stack.pop()
        for path, target in starts.get(current, []):
            step = [*chain, (current, path)]
            if target == code:
                return step
            if target not in visited:
                visited.add(target)
                stack.append((target, step))
    return None
