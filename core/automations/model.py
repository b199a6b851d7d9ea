"""An automation as the school file declares it: one trigger and a tree of steps. Immutable;
built by ``core.school_file`` (which checks every reference) and kept in
``School.automations``.

A step is named by its *path* from the automation's first step: ``(2,)`` is the third step,
``(2, "on", "yes", 0)`` the first step of the third step's ``yes`` branch, ``(1, "then", 0)``
and ``(1, "else", 0)`` those of an ``if``. Written as text it is ``2.on.yes.0``: that is how a
run stores where it is."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.money import Money
from core.periods import Period

LocalText = Mapping[str, str]  # {"en": "...", "ru": "..."}, as core.school's
ANY = "any"  # a trigger's offer or product that matches every one
ANSWERED = "answered"  # the branch of an ask taken on any answer no other branch names
TIMEOUT = "timeout"  # the branch taken when nobody answered in time
# The bot's own commands: a ``command:`` trigger cannot take one of them over.
RESERVED_COMMANDS = frozenset({"/start", "/menu", "/help", "/courses", "/my", "/link",
                               "/refund", "/refunds", "/paid", "/members", "/staff", "/audit",
                               "/automations", "/find", "/inbox", "/stats", "/export",
                               "/promo", "/broadcast"})


class TriggerKind(enum.StrEnum):
    STARTED = "started"  # the student starts the bot (with a given payload, or any)
    KEYWORD = "keyword"  # typed text equal to one of the words
    COMMAND = "command"  # a command of the school's own (/webinar)
    BUTTON = "button"  # an answer button some automation sent
    ORDER_PLACED = "order_placed"
    ORDER_UNPAID = "order_unpaid"  # still unpaid ``delay`` after it was placed
    OFFER_PAID = "offer_paid"  # money (or a promo code) paid for the offer
    ACCESS_STARTED = "access_started"
    ACCESS_ENDING = "access_ending"  # ``before`` the end of running access
    ACCESS_ENDED = "access_ended"
    JOINED_GROUP = "joined_group"
    LEFT_GROUP = "left_group"
    LESSON_OPENED = "lesson_opened"
    TAG_ADDED = "tag_added"
    MANUAL = "manual"  # only staff start it


@dataclass(frozen=True)
class Trigger:
    kind: TriggerKind
    # What it waits for: the offer / product / group / tag / course code, the /start payload
    # ("" any), the command, the button's answer value. ``ANY`` for every offer or product.
    subject: str = ""
    words: tuple[str, ...] = ()  # KEYWORD: lower case
    delay: timedelta | None = None  # ORDER_UNPAID
    before: Period | None = None  # ACCESS_ENDING
    lesson: str | None = None  # LESSON_OPENED: None, any lesson of the course


# ---- screens -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OfferButton:
    offer: str
    label: LocalText | None = None  # None: the offer's title and price


@dataclass(frozen=True)
class UrlButton:
    url: str
    label: LocalText


@dataclass(frozen=True)
class AnswerButton:
    value: str  # [a-z0-9_-]: travels in the button
    label: LocalText


@dataclass(frozen=True)
class MyCoursesButton:
    label: LocalText | None = None


@dataclass(frozen=True)
class PayButton:
    """The way to pay the order that started the run: its pay buttons while it can still be
    paid, else its offer's card (to order again). Only in automations an order starts."""

    label: LocalText | None = None


ScreenButton = OfferButton | UrlButton | AnswerButton | MyCoursesButton | PayButton


# ---- steps ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    text: LocalText
    picture: str | None = None
    buttons: tuple[ScreenButton, ...] = ()


@dataclass(frozen=True)
class Wait:
    """Exactly one of: a delay from when the step is reached, a moment, an hour of the
    school's day (the next time it is that o'clock in the school's time zone)."""

    delay: Period | None = None
    until: datetime | None = None
    hour: int | None = None


class Expect(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    TEXT = "text"


@dataclass(frozen=True)
class Ask:
    """A question: answered by one of ``buttons``, or typed (``expect``). ``on`` maps an
    answer value, ``ANSWERED`` or ``TIMEOUT`` to the steps that follow; then the steps after
    the ask."""

    text: LocalText
    buttons: tuple[AnswerButton, ...] = ()
    expect: Expect | None = None
    save_as: str | None = None  # the student's field the answer is kept in
    timeout: Period | None = None  # None: it waits for ever
    on: Mapping[str, tuple[Step, ...]] = field(default_factory=dict)

    def values(self) -> tuple[str, ...]:
        return tuple(b.value for b in self.buttons)


# ---- conditions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HasAccess:
    product: str


@dataclass(frozen=True)
class HasTag:
    tag: str


@dataclass(frozen=True)
class LanguageIs:
    language: str


@dataclass(frozen=True)
class MessengerIs:
    messenger: str


@dataclass(frozen=True)
class FieldEquals:
    name: str
    value: str


@dataclass(frozen=True)
class PaidAtLeast:
    amount: Money  # paid orders in its currency add up to at least this


@dataclass(frozen=True)
class OrderPaid:
    """The order that started the run is paid now (or another of the same offer, paid
    since). Only in automations an order starts."""


Condition = HasAccess | HasTag | LanguageIs | MessengerIs | FieldEquals | PaidAtLeast | OrderPaid
# The triggers that start a run with an order (``PayButton``, ``OrderPaid``).
ORDER_TRIGGERS = frozenset({TriggerKind.ORDER_PLACED, TriggerKind.ORDER_UNPAID})


@dataclass(frozen=True)
class If:
    condition: Condition
    then: tuple[Step, ...] = ()
    otherwise: tuple[Step, ...] = ()  # ``else:``


# ---- actions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """Give an offer (as it sells it) or a product (for life) without payment."""

    offer: str | None = None
    product: str | None = None


@dataclass(frozen=True)
class Extend:
    product: str
    by: Period


@dataclass(frozen=True)
class Revoke:
    product: str  # every running purchase that gives it


@dataclass(frozen=True)
class AddTag:
    tag: str


@dataclass(frozen=True)
class RemoveTag:
    tag: str


@dataclass(frozen=True)
class SetFields:
    values: Mapping[str, str]


@dataclass(frozen=True)
class StartAutomation:
    code: str


@dataclass(frozen=True)
class NotifyStaff:
    text: LocalText


@dataclass(frozen=True)
class Webhook:
    url: str
    body: Mapping[str, Any] = field(default_factory=dict)  # JSON values


Step = (Send | Wait | Ask | If | Grant | Extend | Revoke | AddTag | RemoveTag | SetFields
        | StartAutomation | NotifyStaff | Webhook)
STEP_NAMES: dict[type, str] = {
    Send: "send", Wait: "wait", Ask: "ask", If: "if", Grant: "grant", Extend: "extend",
    Revoke: "revoke", AddTag: "tag", RemoveTag: "untag", SetFields: "set",
    StartAutomation: "start", NotifyStaff: "notify_staff", Webhook: "webhook",
}


@dataclass(frozen=True)
class Automation:
    code: str
    trigger: Trigger
    steps: tuple[Step, ...]
    title: LocalText | None = None
    repeatable: bool = False  # else one run per student, ever


# ---- paths ---------------------------------------------------------------------------------

Path = tuple[int | str, ...]
FIRST: Path = (0,)
Level = tuple[int, tuple[str, ...]]  # a step's index in its list, and the branch taken below


def path_text(path: Path) -> str:
    return ".".join(str(part) for part in path)


def _levels(path: Path) -> list[Level]:
    """``(2, "on", "yes", 0)`` -> ``[(2, ("on", "yes")), (0, ())]``; ValueError if malformed."""
    levels: list[Level] = []
    i = 0
    while i < len(path):
        index = path[i]
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ValueError(f"not a step path: {path!r}")
        i += 1
        if i == len(path):
            levels.append((index, ()))
            break
        if path[i] == "on" and i + 2 < len(path):
            selector: tuple[str, ...] = ("on", str(path[i + 1]))
            i += 2
        elif path[i] in ("then", "else") and i + 1 < len(path):
            selector = (str(path[i]),)
            i += 1
        else:
            raise ValueError(f"not a step path: {path!r}")
        levels.append((index, selector))
    if not levels:
        raise ValueError("an empty step path")
    return levels


def _flat(levels: list[Level]) -> Path:
    return tuple(part for index, selector in levels for part in (index, *selector))


def parse_path(text: str) -> Path:
    """``2.on.yes.0`` -> ``(2, "on", "yes", 0)``; ValueError for what cannot be a path."""
    tokens = text.split(".")
    parts: list[int | str] = []
    expect_index, i = True, 0
    while i < len(tokens):
        token = tokens[i]
        if expect_index:
            if not token.isascii() or not token.isdigit():
                raise ValueError(f"not a step path: {text!r}")
            parts.append(int(token))
        elif token == "on" and i + 1 < len(tokens):
            parts += ["on", tokens[i + 1]]
            i += 1
        elif token in ("then", "else"):
            parts.append(token)
        else:
            raise ValueError(f"not a step path: {text!r}")
        expect_index = not expect_index
        i += 1
    _levels(tuple(parts))
    return tuple(parts)


def branch(step: Step | None, selector: tuple[str, ...]) -> tuple[Step, ...] | None:
    """The steps of one branch of an ask (``("on", answer)``) or an if (``("then",)``)."""
    if isinstance(step, Ask) and selector[:1] == ("on",):
        return step.on.get(selector[1])
    if isinstance(step, If) and selector == ("then",):
        return step.then
    if isinstance(step, If) and selector == ("else",):
        return step.otherwise
    return None


def _list_of(steps: tuple[Step, ...], levels: list[Level]) -> tuple[Step, ...] | None:
    """The list the last level's step is in."""
    current: tuple[Step, ...] | None = steps
    for index, selector in levels[:-1]:
        if current is None or index >= len(current):
            return None
        current = branch(current[index], selector)
    return current


def step_at(steps: tuple[Step, ...], path: Path) -> Step | None:
    """The step ``path`` names, or None when there is none (the file changed)."""
    try:
        levels = _levels(path)
    except ValueError:
        return None
    siblings = _list_of(steps, levels)
    index = levels[-1][0]
    if siblings is None or index >= len(siblings):
        return None
    return siblings[index]


def into(path: Path, *selector: str) -> Path:
    """The first step of a branch of the step at ``path``: ``into(p, "on", "yes")``."""
    return (*path, *selector, 0)


def after(steps: tuple[Step, ...], path: Path) -> Path | None:
    """The step that follows the one at ``path`` once it (and any branch it took) is done:
    the next in its list, else the one after the step whose branch the list is; None at the
    end of the automation."""
    levels = _levels(path)
    while levels:
        siblings = _list_of(steps, levels)
        index = levels[-1][0]
        if siblings is not None and index + 1 < len(siblings):
            return _flat([*levels[:-1], (index + 1, ())])
        levels = levels[:-1]
        if levels:
            levels[-1] = (levels[-1][0], ())
    return None


def walk(steps: tuple[Step, ...], prefix: Path = ()) -> list[tuple[Path, Step]]:
    """Every step with its path, depth first, in file order."""
    found: list[tuple[Path, Step]] = []
    for index, step in enumerate(steps):
        path = (*prefix, index)
        found.append((path, step))
        if isinstance(step, Ask):
            for key, sub in step.on.items():
                found += walk(sub, (*path, "on", key))
        elif isinstance(step, If):
            found += walk(step.then, (*path, "then"))
            found += walk(step.otherwise, (*path, "else"))
    return found
