"""The ``automations:`` section as pydantic models: one automation per list item, each step a
mapping with exactly one kind (``send:``, ``wait:``, ``ask:`` ...). The models check each item
on its own; references to offers, products, groups, texts and other automations, and loops
that could never end, are ``automation_checks``'s.

The grammar::

    - code: unpaid-reminder           # [a-z0-9_-], unique
      title: Unpaid order reminders   # optional, for the staff's lists
      repeatable: false               # one run per student, ever, unless true
      trigger:                        # exactly one of:
        started: python-friends       #   /start with this payload ("" or empty: any)
        keyword: [help, price]        #   typed text equal to one of these (any case)
        command: /webinar             #   a command of the school's own
        button: liked                 #   an answer button some automation sent
        order_placed: python-30       #   offer code or any
        order_unpaid: {after: PT1H, offer: any}
        offer_paid: any               #   money (or a 100 % promo code); not free, not gifts
        access_started: python        #   product code or any
        access_ending: {product: python, before: P3D}
        access_ended: python          #   product code or any
        joined_group: club / left_group: club
        lesson_opened: {course: python, lesson: "3"}   # lesson optional: any
        tag_added: vip
        manual: true                  #   only staff start it
      steps:                          # each item exactly one kind:
        - send: {text: {en: ...} | text_key: <key of texts:>, picture: https://...,
                 buttons: [{offer: python-30, label: ...}, {url: https://..., label: ...},
                           {answer: yes, label: ...}, {my_courses: true},
                           {pay: true}]}      # pay: the run's order (order_* triggers)
        - wait: PT23H                 # or {until: "2027-01-10 10:00"} or {hour: 10}
        - ask: {text: ..., buttons: [{answer: yes, label: Yes}, ...]
                | expect: email|phone|text, save_as: field, timeout: P1D}
          on: {yes: [steps], answered: [steps], timeout: [steps]}
        - if: {has_access: python | has_tag: vip | language: ru | messenger: vk
               | field: {name: city, equals: Paris} | paid: {at_least: "10 EUR"}
               | order_paid: true}    # order_paid: the run's order (order_* triggers)
          then: [steps]
          else: [steps]
        - grant: python-30            # an offer, or {product: x} for life
        - extend: {product: python, by: P1M}
        - revoke: python
        - tag: vip / untag: vip
        - set: {city: Paris}
        - start: other-automation
        - notify_staff: {en: ...}
        - webhook: {url: https://..., body: {...}}

Texts may say ``{name}``, ``{answer}`` (the last answer), ``{support}`` and any of the
student's fields (``set``, ``save_as``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import ConfigDict, Field, PlainValidator, ValidationInfo, model_validator

from core.automations.model import ANSWERED, RESERVED_COMMANDS, TIMEOUT, Expect, Wait
from core.money import Money
from core.school_file.fields import (
    Code,
    Duration,
    Language,
    LessonId,
    Loc,
    LocalText,
    OptionalText,
    PeriodField,
    Problems,
    Text,
    Url,
    _local_datetime,
    _matching,
    _period,
    as_text,
    choice,
    context_of,
    describe,
    money_from,
    parse_currency,
)
from core.school_file.models import _Model

_COMMAND = re.compile(r"/[a-z0-9_]{1,32}")
_CODE_CHECK = _matching(re.compile(r"[a-z0-9][a-z0-9_-]{0,31}"),
                        "name: use up to 32 lower-case latin letters, digits, - and _")
MAX_STEPS = 100  # in one list of steps
MAX_BUTTONS = 10


def _command(value: object) -> str:
    text = as_text(value).strip().lower()
    if not _COMMAND.fullmatch(text):
        raise ValueError(f"{text!r} is not a command: write / and up to 32 latin letters, "
                         "digits or _, such as /webinar")
    if text in RESERVED_COMMANDS:
        raise ValueError(f"{text} is one of the bot's own commands; choose another")
    return text


def _keywords(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("must not be empty")
    words: list[str] = []
    problems: list[tuple[Loc, str]] = []
    for index, item in enumerate(items):
        loc: Loc = (index,) if isinstance(value, list) else ()
        try:
            word = " ".join(as_text(item).split()).lower()
        except ValueError as exc:
            problems.append((loc, str(exc)))
            continue
        if word.startswith("/"):
            problems.append((loc, f"{word!r} is a command: use command: instead"))
        elif len(word) > 64:
            problems.append((loc, "a keyword is at most 64 characters"))
        elif word in words:
            problems.append((loc, f"{word!r} is listed twice"))
        else:
            words.append(word)
    if problems:
        raise Problems(problems)
    return tuple(words)


def _wait(value: object, info: ValidationInfo) -> Wait:
    """``PT23H`` | ``{until: "2027-01-10 10:00"}`` | ``{hour: 10}``."""
    if isinstance(value, str):
        return Wait(delay=_period(value))
    if not isinstance(value, dict):
        raise ValueError("must be a duration such as PT23H, {until: \"2027-01-10 10:00\"} or "
                         f"{{hour: 10}}, but {describe(value)}")
    keys = set(value)
    if keys not in ({"until"}, {"hour"}):
        unknown = sorted(keys - {"until", "hour"})
        if unknown:
            raise Problems([((key,), "unknown field (a wait takes until: or hour:)")
                            for key in unknown])
        raise ValueError("set until: or hour:, not both")
    if "until" in keys:
        try:
            return Wait(until=_local_datetime(value["until"], info))
        except ValueError as exc:
            raise Problems([(("until",), str(exc))]) from None
    hour = value["hour"]
    if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
        raise Problems([(("hour",), f"must be a whole hour from 0 to 23, but "
                                    f"{describe(hour)}")])
    return Wait(hour=hour)


def _paid(value: object, info: ValidationInfo) -> Money:
    """``"10 EUR"``, or a number in the school's currency."""
    if isinstance(value, str) and len(value.split()) == 2:
        number, currency = value.split()
        currency = parse_currency(currency)
    else:
        number, currency = value, context_of(info).currency  # type: ignore[assignment]
        if currency is None:
            raise ValueError("write the amount with its currency, such as \"10 EUR\"")
    amount = money_from(number, currency)
    if amount.amount <= 0:
        raise ValueError(f"must be more than 0, but it is {amount}")
    return amount


def _json(value: object) -> object:
    """YAML values as JSON: exact decimals become numbers, keys text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise ValueError(f"cannot be sent as JSON: {describe(value)}")


def _body(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"must be a mapping (the JSON object sent), but {describe(value)}")
    body = _json(value)
    assert isinstance(body, dict)
    return body


RESERVED_FIELDS = frozenset({"name", "student", "answer", "support"})  # filled by the platform


def _field_name(value: object) -> str:
    name = _CODE_CHECK(value)
    if name in RESERVED_FIELDS:
        raise ValueError(f"{name!r} is filled in by the platform ({{{name}}}); choose "
                         "another name")
    return name


def _set_values(value: object) -> dict[str, str]:
    """``set: {city: Paris}``: field names and their text."""
    if not isinstance(value, dict):
        raise ValueError(f"must be a mapping of field: value, but {describe(value)}")
    if not value:
        raise ValueError("must not be empty")
    values: dict[str, str] = {}
    problems: list[tuple[Loc, str]] = []
    for key, text in value.items():
        try:
            values[_field_name(key)] = as_text(text)
        except ValueError as exc:
            problems.append(((str(key),), str(exc)))
    if problems:
        raise Problems(problems)
    return values


def _true(value: object) -> bool:
    if value is not True:
        raise ValueError(f"write manual: true, but {describe(value)}")
    return True


Command = Annotated[str, PlainValidator(_command)]
FieldName = Annotated[str, PlainValidator(_field_name)]
SetValues = Annotated[dict[str, str], PlainValidator(_set_values)]
Keywords = Annotated[tuple[str, ...], PlainValidator(_keywords)]
WaitValue = Annotated[Wait, PlainValidator(_wait)]
PaidValue = Annotated[Money, PlainValidator(_paid)]
Body = Annotated[dict[str, Any], PlainValidator(_body)]
TrueOnly = Annotated[bool, PlainValidator(_true)]
ExpectValue = Annotated[Expect, PlainValidator(choice(Expect))]


def _exactly_one(kinds: tuple[str, ...], present: set[str], what: str) -> None:
    """Exactly one of ``kinds`` (by their names as written) is set."""
    found = [k for k in kinds if k in present]
    if len(found) == 1:
        return
    if not found:
        raise ValueError(f"needs one of: {', '.join(kinds)}")
    raise ValueError(f"{' and '.join(found)} cannot go together: one {what} per item")


# ---- triggers ------------------------------------------------------------------------------


class UnpaidTrigger(_Model):
    after: Duration
    offer: Text = "any"


class EndingTrigger(_Model):
    product: Text
    before: PeriodField


class LessonTrigger(_Model):
    course: Text
    lesson: LessonId | None = None


TRIGGERS = ("started", "keyword", "command", "button", "order_placed", "order_unpaid",
            "offer_paid", "access_started", "access_ending", "access_ended", "joined_group",
            "left_group", "lesson_opened", "tag_added", "manual")


class TriggerItem(_Model):
    started: OptionalText | None = None  # a /start payload; empty: any start
    keyword: Keywords | None = None
    command: Command | None = None
    button: Code | None = None
    order_placed: Text | None = None
    order_unpaid: UnpaidTrigger | None = None
    offer_paid: Text | None = None
    access_started: Text | None = None
    access_ending: EndingTrigger | None = None
    access_ended: Text | None = None
    joined_group: Text | None = None
    left_group: Text | None = None
    lesson_opened: LessonTrigger | None = None
    tag_added: Code | None = None
    manual: TrueOnly | None = None

    @model_validator(mode="after")
    def _one(self) -> TriggerItem:
        _exactly_one(TRIGGERS, set(self.model_fields_set), "trigger")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in TRIGGERS if k in self.model_fields_set)


# ---- steps ---------------------------------------------------------------------------------


class ButtonItem(_Model):
    offer: Text | None = None
    url: Url | None = None
    answer: Code | None = None
    my_courses: TrueOnly | None = None
    pay: TrueOnly | None = None  # the pay button of the order that started the run
    label: LocalText | None = None

    @model_validator(mode="after")
    def _one(self) -> ButtonItem:
        kinds = ("offer", "url", "answer", "my_courses", "pay")
        _exactly_one(kinds, {k for k in kinds if getattr(self, k) is not None}, "kind")
        if (self.url is not None or self.answer is not None) and self.label is None:
            raise Problems([(("label",), "required for a url or an answer button")])
        return self


def _answers(buttons: list[ButtonItem]) -> list[tuple[Loc, str]]:
    seen: set[str] = set()
    problems: list[tuple[Loc, str]] = []
    for index, button in enumerate(buttons):
        if button.answer is None:
            continue
        if button.answer in seen:
            problems.append((("buttons", index, "answer"),
                             f"the answer {button.answer!r} is there twice"))
        if button.answer in (ANSWERED, TIMEOUT):
            problems.append((("buttons", index, "answer"),
                             f"{button.answer!r} names a branch of its own; choose another value"))
        seen.add(button.answer)
    return problems


class _Screen(_Model):
    text: LocalText | None = None
    text_key: Text | None = None  # a key of the school's texts: section

    def _text_problems(self) -> list[tuple[Loc, str]]:
        if (self.text is None) == (self.text_key is None):
            return [((), "set text: (or text_key: naming one of the school's texts)")]
        return []


class SendItem(_Screen):
    picture: Url | None = None
    buttons: Annotated[list[ButtonItem], Field(max_length=MAX_BUTTONS)] = []

    @model_validator(mode="after")
    def _rules(self) -> SendItem:
        problems = self._text_problems() + _answers(self.buttons)
        if problems:
            raise Problems(problems)
        return self


class AskItem(_Screen):
    buttons: Annotated[list[ButtonItem], Field(max_length=MAX_BUTTONS)] = []
    expect: ExpectValue | None = None
    save_as: FieldName | None = None
    timeout: PeriodField | None = None

    @model_validator(mode="after")
    def _rules(self) -> AskItem:
        problems = self._text_problems() + _answers(self.buttons)
        if bool(self.buttons) == (self.expect is not None):
            problems.append(((), "an ask takes answer buttons or expect: (email, phone or "
                                 "text), one of the two"))
        for index, button in enumerate(self.buttons):
            if button.answer is None:
                problems.append((("buttons", index),
                                 "a question's buttons are answers: {answer: yes, label: Yes}"))
        if problems:
            raise Problems(problems)
        return self

    def values(self) -> list[str]:
        return [b.answer for b in self.buttons if b.answer is not None]


class FieldCondition(_Model):
    name: FieldName
    equals: Text


class PaidCondition(_Model):
    at_least: PaidValue


CONDITIONS = ("has_access", "has_tag", "language", "messenger", "field", "paid", "order_paid")


class ConditionItem(_Model):
    has_access: Text | None = None
    has_tag: Code | None = None
    language: Language | None = None
    messenger: Text | None = None
    field: FieldCondition | None = None
    paid: PaidCondition | None = None
    order_paid: TrueOnly | None = None  # the order that started the run is paid

    @model_validator(mode="after")
    def _one(self) -> ConditionItem:
        _exactly_one(CONDITIONS, {k for k in CONDITIONS if getattr(self, k) is not None},
                     "condition")
        return self


class GrantItem(_Model):
    offer: Text | None = None
    product: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, value: object) -> object:
        return {"offer": value} if isinstance(value, str | int | Decimal) \
            and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _one(self) -> GrantItem:
        _exactly_one(("offer", "product"),
                     {k for k in ("offer", "product") if getattr(self, k) is not None}, "thing")
        return self


class ExtendItem(_Model):
    product: Text
    by: PeriodField


class WebhookItem(_Model):
    url: Url
    body: Body = {}


STEPS = ("send", "wait", "ask", "if", "grant", "extend", "revoke", "tag", "untag", "set",
         "start", "notify_staff", "webhook")
BRANCHES = ("on", "then", "else")


class StepItem(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True,
                              coerce_numbers_to_str=True, populate_by_name=True)

    send: SendItem | None = None
    wait: WaitValue | None = None
    ask: AskItem | None = None
    on: dict[str, Annotated[list[StepItem], Field(max_length=MAX_STEPS)]] | None = None
    if_: ConditionItem | None = Field(None, alias="if")
    then: Annotated[list[StepItem], Field(max_length=MAX_STEPS)] | None = None
    else_: Annotated[list[StepItem], Field(max_length=MAX_STEPS)] | None = Field(
        None, alias="else")
    grant: GrantItem | None = None
    extend: ExtendItem | None = None
    revoke: Text | None = None
    tag: Code | None = None
    untag: Code | None = None
    set_: SetValues | None = Field(None, alias="set")
    start: Text | None = None
    notify_staff: LocalText | None = None
    webhook: WebhookItem | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_kinds(cls, value: object) -> object:
        if not isinstance(value, dict):
            raise ValueError(f"a step is a mapping such as send: or wait:, but "
                             f"{describe(value)}")
        unknown = [key for key in value if key not in STEPS + BRANCHES]
        if unknown:
            raise Problems([((str(key),), f"unknown step kind (known: {', '.join(STEPS)})")
                            for key in unknown])
        return value

    @model_validator(mode="after")
    def _rules(self) -> StepItem:
        _exactly_one(STEPS, {k for k in STEPS if self.value(k) is not None}, "step")
        problems: list[tuple[Loc, str]] = []
        if self.on is not None and self.ask is None:
            problems.append((("on",), "only an ask: branches on its answers"))
        for name in ("then", "else"):
            if self.value(name) is not None and self.if_ is None:
                problems.append(((name,), "only an if: has then: and else:"))
        if self.if_ is not None and self.then is None and self.else_ is None:
            problems.append(((), "an if: needs then: or else: (or both)"))
        if self.ask is not None and self.on is not None:
            problems += self._branches(self.ask)
        if problems:
            raise Problems(problems)
        return self

    def _branches(self, ask: AskItem) -> list[tuple[Loc, str]]:
        assert self.on is not None
        problems: list[tuple[Loc, str]] = []
        values = ask.values()
        for key in self.on:
            if key == TIMEOUT and ask.timeout is None:
                problems.append((("on", key), "the question has no timeout: set one in ask:"))
            elif key not in (ANSWERED, TIMEOUT, *values):
                allowed = ", ".join([*values, ANSWERED] + ([TIMEOUT] if ask.timeout else []))
                problems.append((("on", key), f"not an answer of this question; it branches "
                                              f"on: {allowed}"))
        return problems

    def value(self, name: str) -> Any:
        return getattr(self, {"if": "if_", "else": "else_", "set": "set_"}.get(name, name))

    @property
    def kind(self) -> str:
        return next(k for k in STEPS if self.value(k) is not None)


class AutomationItem(_Model):
    code: Code
    title: LocalText | None = None
    repeatable: bool = False
    trigger: TriggerItem
    steps: Annotated[list[StepItem], Field(min_length=1, max_length=MAX_STEPS)]
