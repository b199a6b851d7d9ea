"""The automations: section of the school file: what it builds, and each problem as the exact
``where: what`` line (bad references, malformed steps, loops that could never end), plus
free offers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from automation_scene import base_data, school_of

from bots.registry import known_messengers
from core.automations.model import (
    AnswerButton,
    Ask,
    Expect,
    Extend,
    FieldEquals,
    Grant,
    If,
    MyCoursesButton,
    OfferButton,
    OrderPaid,
    PaidAtLeast,
    PayButton,
    Send,
    SetFields,
    StartAutomation,
    TriggerKind,
    Wait,
    Webhook,
    after,
    parse_path,
    path_text,
    step_at,
    walk,
)
from core.errors import SchoolFileError
from core.money import Money
from core.periods import Period
from core.school_file import parse_school


def problems(*automations: dict[str, Any], **sections: Any) -> list[str]:
    data = base_data() | sections
    data["automations"] = list(automations)
    with pytest.raises(SchoolFileError) as caught:
        parse_school(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                     messengers=known_messengers())
    return caught.value.problems


def auto(code: str = "a", trigger: Any = None, steps: Any = None, **more: Any) -> dict:
    return {"code": code, "trigger": trigger or {"manual": True},
            "steps": steps or [{"tag": "x"}], **more}


def send(text: str = "hi", **more: Any) -> dict:
    return {"send": {"text": text, **more}}


# ---- what it builds -----------------------------------------------------------------------


def test_every_kind_of_step_and_trigger_is_built():
    school = school_of(
        auto("welcome", {"offer_paid": "any"}, [
            {"send": {"text_key": "hello", "picture": "https://school.example/p.png",
                      "buttons": [{"offer": "python-life"}, {"my_courses": True},
                                  {"url": "https://school.example", "label": "Site"},
                                  {"answer": "liked", "label": {"en": "Like", "ru": "Да"}}]}},
            {"wait": "PT23H"},
            {"wait": {"until": "2027-01-10 10:00"}},
            {"wait": {"hour": 10}},
            {"ask": {"text": "Email?", "expect": "email", "save_as": "email",
                     "timeout": "P1D"},
             "on": {"answered": [{"set": {"stage": "lead"}}], "timeout": [{"untag": "x"}]}},
            {"if": {"field": {"name": "stage", "equals": "lead"}},
             "then": [{"grant": "taster"}], "else": [{"grant": {"product": "python"}}]},
            {"if": {"paid": {"at_least": "10 EUR"}}, "then": [{"extend": {
                "product": "python", "by": "P1M"}}]},
            {"revoke": "club"},
            {"start": "other"},
            {"notify_staff": {"en": "{name} is in"}},
            {"webhook": {"url": "https://crm.example/hook", "body": {"event": "in", "n": 1.5}}},
        ]),
        auto("other", {"button": "liked"}, [{"tag": "liker"}], repeatable=True,
             title={"en": "Other"}),
        auto("unpaid", {"order_unpaid": {"after": "PT1H"}},
             [{"send": {"text": "Pay", "buttons": [{"pay": True}]}},
              {"if": {"order_paid": True}, "else": [send("promo")]}]),
        auto("words", {"keyword": ["Price", "how   much"]}),
        auto("cmd", {"command": "/Webinar"}),
        auto("ending", {"access_ending": {"product": "python", "before": "P3D"}}),
        auto("lesson", {"lesson_opened": {"course": "python", "lesson": "loops"}}),
        auto("any-lesson", {"lesson_opened": {"course": "taster"}}),
        auto("start", {"started": None}),
        auto("start-link", {"started": "promo-x"}),
    )
    welcome = school.automations["welcome"]
    assert welcome.trigger.kind is TriggerKind.OFFER_PAID and welcome.trigger.subject == "any"
    assert not welcome.repeatable and welcome.title is None
    first = welcome.steps[0]
    assert isinstance(first, Send)
    assert dict(first.text) == {"en": "Hello {name}!", "ru": "Привет, {name}!"}  # text_key
    assert first.picture == "https://school.example/p.png"
    assert [type(b) for b in first.buttons] == [OfferButton, MyCoursesButton,
                                                 type(first.buttons[2]), AnswerButton]
    assert [s for s in welcome.steps[1:4]] == [
        Wait(delay=Period("PT23H")),
        Wait(until=datetime(2027, 1, 10, 9, 0, tzinfo=UTC)),  # 10:00 in Berlin
        Wait(hour=10)]
    ask = welcome.steps[4]
    assert isinstance(ask, Ask) and ask.expect is Expect.EMAIL and ask.save_as == "email"
    assert ask.timeout == Period("P1D") and set(ask.on) == {"answered", "timeout"}
    assert ask.on["answered"] == (SetFields({"stage": "lead"}),)
    branch = welcome.steps[5]
    assert isinstance(branch, If) and branch.condition == FieldEquals("stage", "lead")
    assert branch.then == (Grant(offer="taster"),)
    assert branch.otherwise == (Grant(product="python"),)
    paid = welcome.steps[6]
    assert isinstance(paid, If) and paid.condition == PaidAtLeast(Money(1000, "EUR"))
    assert paid.then == (Extend("python", Period("P1M")),) and paid.otherwise == ()
    assert welcome.steps[8] == StartAutomation("other")
    hook = welcome.steps[10]
    assert isinstance(hook, Webhook) and dict(hook.body) == {"event": "in", "n": 1.5}
    assert school.automations["other"].repeatable
    unpaid = school.automations["unpaid"]
    assert unpaid.trigger.delay == timedelta(hours=1) and unpaid.trigger.subject == "any"
    assert unpaid.steps[0].buttons == (PayButton(),)  # type: ignore[union-attr]
    assert unpaid.steps[1].condition == OrderPaid()  # type: ignore[union-attr]
    assert school.automations["words"].trigger.words == ("price", "how much")
    assert school.automations["cmd"].trigger.subject == "/webinar"
    assert school.automations["ending"].trigger.before == Period("P3D")
    assert school.automations["lesson"].trigger.lesson == "loops"
    assert school.automations["any-lesson"].trigger.lesson is None
    assert school.automations["start"].trigger.subject == ""
    assert school.automations["start-link"].trigger.subject == "promo-x"


def test_paths_name_steps_in_branches_and_lead_on_after_them():
    school = school_of(auto("a", steps=[
        {"ask": {"text": "?", "buttons": [{"answer": "yes", "label": "Y"},
                                          {"answer": "1", "label": "One"}]},
         "on": {"yes": [{"tag": "a"}, {"if": {"has_tag": "a"}, "then": [{"tag": "b"}]}],
                "1": [{"tag": "c"}]}},
        {"tag": "d"},
    ]))
    steps = school.automations["a"].steps
    paths = [path_text(p) for p, _ in walk(steps)]
    assert paths == ["0", "0.on.yes.0", "0.on.yes.1", "0.on.yes.1.then.0", "0.on.1.0", "1"]
    for text in paths:  # an answer value that looks like a number stays an answer
        assert path_text(parse_path(text)) == text
        assert step_at(steps, parse_path(text)) is not None
    assert after(steps, parse_path("0.on.yes.1.then.0")) == (1,)  # out of two branches
    assert after(steps, parse_path("0.on.yes.0")) == (0, "on", "yes", 1)
    assert after(steps, (1,)) is None
    assert step_at(steps, parse_path("0.on.no.0")) is None
    for bad in ("", "x", "0.on", "0.maybe.0", "0.then"):
        with pytest.raises(ValueError):
            parse_path(bad)


# ---- references ---------------------------------------------------------------------------


def test_references_to_what_does_not_exist_are_reported_where_they_are():
    assert problems(
        auto("a", {"offer_paid": "pyton-30"}, [
            {"grant": "pyton-30"},
            {"grant": {"product": "pyton"}},
            {"extend": {"product": "pyton", "by": "P1M"}},
            {"revoke": "klub"},
            {"start": "nope"},
            {"if": {"has_access": "pyton"}, "then": [{"tag": "x"}]},
            {"send": {"text_key": "helo", "buttons": [{"offer": "nada"}]}},
        ]),
        auto("b", {"joined_group": "klub"}),
        auto("c", {"access_started": "pyton"}),
        auto("d", {"lesson_opened": {"course": "pyton"}}),
        auto("e", {"lesson_opened": {"course": "python", "lesson": "9"}}),
        auto("f", {"button": "loved"}),
        auto("g", {"order_unpaid": {"after": "PT1H", "offer": "pyton"}}),
        auto("h", {"access_ending": {"product": "pyton", "before": "P3D"}}),
        auto("i", steps=[{"if": {"messenger": "icq"}, "then": [{"tag": "x"}]}]),
    ) == [
        "automations[0].trigger.offer_paid: unknown offer 'pyton-30' (known: python-life, "
        "python-30, taster, month, club-month); or 'any' for every one",
        "automations[0].steps[0].grant: unknown offer 'pyton-30' (known: python-life, "
        "python-30, taster, month, club-month)",
        "automations[0].steps[1].grant.product: unknown product 'pyton' (known: python, taster, "
        "club, month)",
        "automations[0].steps[2].extend.product: unknown product 'pyton' (known: python, "
        "taster, club, month)",
        "automations[0].steps[3].revoke: unknown product 'klub' (known: python, taster, club, "
        "month)",
        "automations[0].steps[4].start: unknown automation 'nope' (known: a, b, c, d, e, f, g, "
        "h, i)",
        "automations[0].steps[5].if.has_access: unknown product 'pyton' (known: python, taster, "
        "club, month)",
        "automations[0].steps[6].send.text_key: unknown text 'helo' (known: hello)",
        "automations[0].steps[6].send.buttons[0].offer: unknown offer 'nada' (known: "
        "python-life, python-30, taster, month, club-month)",
        "automations[1].trigger.joined_group: unknown group 'klub' (known: club)",
        "automations[2].trigger.access_started: unknown product 'pyton' (known: python, taster, "
        "club, month); or 'any' for every one",
        "automations[3].trigger.lesson_opened.course: unknown course 'pyton' (known: python, "
        "taster)",
        "automations[4].trigger.lesson_opened.lesson: course 'python' has no lesson '9' (its "
        "lessons: intro, loops)",
        "automations[5].trigger.button: no automation sends an answer button 'loved' (answers "
        "sent: none)",
        "automations[6].trigger.order_unpaid.offer: unknown offer 'pyton' (known: python-life, "
        "python-30, taster, month, club-month); or 'any' for every one",
        "automations[7].trigger.access_ending.product: unknown product 'pyton' (known: python, "
        "taster, club, month)",
        "automations[8].steps[0].if.messenger: unknown messenger 'icq' (known: telegram, vk, "
        "viber, console, web, sandbox)",
    ]


def test_a_hidden_offer_cannot_be_a_button_and_a_pay_button_needs_an_order():
    data = base_data()
    hidden = {"code": "secret", "title": "Secret", "price": 5, "products": ["python"],
              "public": False}
    assert problems(
        auto("a", steps=[send(buttons=[{"offer": "secret"}, {"pay": True}]),
                         {"if": {"order_paid": True}, "then": [{"tag": "x"}]}]),
        offers=[*data["offers"], hidden],
    ) == [
        "automations[0].steps[0].send.buttons[0].offer: offer 'secret' is hidden (public: "
        "false), so a student could not open it from a button; make it public or send a url: "
        "to its deep link",
        "automations[0].steps[0].send.buttons[1].pay: only in an automation an order starts "
        "(trigger order_placed or order_unpaid)",
        "automations[0].steps[1].if.order_paid: only in an automation an order starts (trigger "
        "order_placed or order_unpaid)",
    ]


# ---- the items themselves -----------------------------------------------------------------


CASES: list[tuple[str, dict, list[str]]] = [
    ("no trigger", {"code": "a", "steps": [{"tag": "x"}]}, ["automations[0].trigger: required"]),
    ("two triggers", auto(trigger={"manual": True, "tag_added": "x"}),
     ["automations[0].trigger: tag_added and manual cannot go together: one trigger per item"]),
    ("empty trigger", auto(trigger={"nothing": 1}),
     ["automations[0].trigger.nothing: unknown field"]),
    ("no steps", auto(steps=[]) | {"steps": []}, ["automations[0].steps: must not be empty"]),
    ("unknown step kind", auto(steps=[{"sned": {"text": "x"}}]),
     ["automations[0].steps[0].sned: unknown step kind (known: send, wait, ask, if, grant, "
      "extend, revoke, tag, untag, set, start, notify_staff, webhook)"]),
    ("two kinds in a step", auto(steps=[{"tag": "a", "untag": "b"}]),
     ["automations[0].steps[0]: tag and untag cannot go together: one step per item"]),
    ("a step that is not a mapping", auto(steps=["send"]),
     ["automations[0].steps[0]: a step is a mapping such as send: or wait:, but it is text "
      "('send')"]),
    ("bad duration", auto(steps=[{"wait": "23 hours"}]),
     ["automations[0].steps[0].wait: '23 hours' is not an ISO-8601 duration such as P30D or "
      "P1M"]),
    ("bad hour", auto(steps=[{"wait": {"hour": 24}}]),
     ["automations[0].steps[0].wait.hour: must be a whole hour from 0 to 23, but it is a "
      "number (24)"]),
    ("until and hour", auto(steps=[{"wait": {"until": "2027-01-01 10:00", "hour": 3}}]),
     ["automations[0].steps[0].wait: set until: or hour:, not both"]),
    ("a date that does not exist", auto(steps=[{"wait": {"until": "2027-03-28 02:30"}}]),
     ["automations[0].steps[0].wait.until: '2027-03-28 02:30' does not exist in "
      "Europe/Berlin: the clocks jump over it (summer time); pick another time"]),
    ("send without text", auto(steps=[{"send": {"buttons": [{"my_courses": True}]}}]),
     ["automations[0].steps[0].send: set text: (or text_key: naming one of the school's "
      "texts)"]),
    ("url button without label", auto(steps=[send(buttons=[{"url": "https://x.example"}])]),
     ["automations[0].steps[0].send.buttons[0].label: required for a url or an answer "
      "button"]),
    ("button of two kinds", auto(steps=[send(buttons=[{"offer": "taster", "my_courses": True}])]),
     ["automations[0].steps[0].send.buttons[0]: offer and my_courses cannot go together: one "
      "kind per item"]),
    ("the same answer twice", auto(steps=[send(buttons=[
        {"answer": "yes", "label": "Y"}, {"answer": "yes", "label": "Yes"}])]),
     ["automations[0].steps[0].send.buttons[1].answer: the answer 'yes' is there twice"]),
    ("an answer that is not a code", auto(steps=[send(buttons=[
        {"answer": "Yes!", "label": "Y"}])]),
     ["automations[0].steps[0].send.buttons[0].answer: 'Yes!' is not a valid code: use up to "
      "32 lower-case latin letters, digits, - and _, starting with a letter or digit"]),
    ("ask with buttons and expect", auto(steps=[{"ask": {
        "text": "?", "expect": "email", "buttons": [{"answer": "a", "label": "A"}]}}]),
     ["automations[0].steps[0].ask: an ask takes answer buttons or expect: (email, phone or "
      "text), one of the two"]),
    ("ask with an offer button", auto(steps=[{"ask": {
        "text": "?", "buttons": [{"answer": "a", "label": "A"}, {"offer": "taster"}]}}]),
     ["automations[0].steps[0].ask.buttons[1]: a question's buttons are answers: {answer: "
      "yes, label: Yes}"]),
    ("ask expecting a date", auto(steps=[{"ask": {"text": "?", "expect": "date"}}]),
     ["automations[0].steps[0].ask.expect: 'date' is not one of: email, phone, text"]),
    ("a branch on an answer it does not offer", auto(steps=[{
        "ask": {"text": "?", "buttons": [{"answer": "yes", "label": "Y"},
                                         {"answer": "no", "label": "N"}]},
        "on": {"maybe": [{"tag": "x"}]}}]),
     ["automations[0].steps[0].on.maybe: not an answer of this question; it branches on: yes, "
      "no, answered"]),
    ("a timeout branch with no timeout", auto(steps=[{
        "ask": {"text": "?", "expect": "text"}, "on": {"timeout": [{"tag": "x"}]}}]),
     ["automations[0].steps[0].on.timeout: the question has no timeout: set one in ask:"]),
    ("on: without an ask", auto(steps=[{"tag": "x", "on": {"yes": []}}]),
     ["automations[0].steps[0].on: only an ask: branches on its answers"]),
    ("if without then or else", auto(steps=[{"if": {"has_tag": "x"}}]),
     ["automations[0].steps[0]: an if: needs then: or else: (or both)"]),
    ("then without if", auto(steps=[{"tag": "x", "then": []}]),
     ["automations[0].steps[0].then: only an if: has then: and else:"]),
    ("two conditions", auto(steps=[{"if": {"has_tag": "x", "language": "ru"},
                                    "then": [{"tag": "y"}]}]),
     ["automations[0].steps[0].if: has_tag and language cannot go together: one condition "
      "per item"]),
    ("paid without a currency it knows", auto(steps=[{"if": {"paid": {"at_least": "10 ABC"}},
                                                      "then": [{"tag": "y"}]}]),
     ["automations[0].steps[0].if.paid.at_least: unsupported currency 'ABC' (supported: AUD, "
      "BGN, BYN, CAD, CHF, CZK, DKK, EUR, GBP, HKD, HUF, ILS, KZT, MXN, NOK, NZD, PHP, PLN, RON, "
      "RUB, SEK, SGD, THB, UAH, USD, XTR)"]),
    ("a field the platform fills", auto(steps=[{"set": {"name": "Bob"}}]),
     ["automations[0].steps[0].set.name: 'name' is filled in by the platform ({name}); "
      "choose another name"]),
    ("an empty set", auto(steps=[{"set": {}}]), ["automations[0].steps[0].set: must not be "
                                                 "empty"]),
    ("a reserved command", auto(trigger={"command": "/help"}),
     ["automations[0].trigger.command: /help is one of the bot's own commands; choose another"]),
    ("a keyword that is a command", auto(trigger={"keyword": ["/price", "price"]}),
     ["automations[0].trigger.keyword[0]: '/price' is a command: use command: instead"]),
    ("manual: false", auto(trigger={"manual": False}),
     ["automations[0].trigger.manual: write manual: true, but it is false"]),
    ("a tag that cannot be one", auto(steps=[{"tag": "V I P"}]),
     ["automations[0].steps[0].tag: 'V I P' is not a valid code: use up to 32 lower-case "
      "latin letters, digits, - and _, starting with a letter or digit"]),
    ("webhook to something that is not a web link", auto(steps=[{"webhook": {
        "url": "ftp://x.example"}}]),
     ["automations[0].steps[0].webhook.url: 'ftp://x.example' is not a web link: it must start "
      "with https:// or http://"]),
    ("unknown field of an automation", auto() | {"repeat": True},
     ["automations[0].repeat: unknown field"]),
]


@pytest.mark.parametrize(("change", "automation", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_reports_its_exact_problem(change, automation, expected):
    assert problems(automation) == expected


def test_duplicate_codes_and_a_broken_automation_does_not_hide_the_others():
    assert problems(auto("a"), auto("a"), auto("b", steps=[{"wait": "x"}]),
                    auto("c", steps=[{"start": "b"}])) == [
        "automations[1].code: duplicate code 'a', already used by automations[0]",
        "automations[2].steps[0].wait: 'x' is not an ISO-8601 duration such as P30D or P1M",
    ]  # c starts b, which exists though broken: no second problem about it


# ---- loops that could never end -----------------------------------------------------------


def test_automations_starting_each_other_with_no_wait_are_refused():
    assert problems(
        auto("a", steps=[send(), {"start": "b"}]),
        auto("b", steps=[{"if": {"has_tag": "x"}, "then": [{"start": "c"}]}]),
        auto("c", steps=[{"start": "a"}]),
        auto("self", steps=[{"tag": "x"}, {"start": "self"}]),
    ) == [
        "automations[0].steps[1].start: a -> b -> c -> a start each other with no wait or ask "
        "on the way: they would run endlessly",
        "automations[3].steps[1].start: the automation starts itself with no wait or ask "
        "before: it would run endlessly",
    ]


def test_a_wait_or_a_question_on_the_way_makes_a_cycle_a_loop_in_time():
    school = school_of(
        auto("a", steps=[{"wait": "P1D"}, {"start": "b"}]),
        auto("b", steps=[{"start": "a"}]),
        auto("c", steps=[{"ask": {"text": "Again?", "buttons": [{"answer": "yes", "label": "Y"}]},
                          "on": {"yes": [{"start": "c"}]}}]),
        auto("d", steps=[{"if": {"has_tag": "x"}, "then": [{"wait": "PT1H"}],
                          "else": [{"wait": "PT2H"}]}, {"start": "d"}]),
    )
    assert set(school.automations) == {"a", "b", "c", "d"}


def test_a_repeatable_automation_that_sets_off_its_own_trigger_is_refused():
    assert problems(
        auto("tagger", {"tag_added": "vip"}, [{"untag": "vip"}, {"tag": "vip"}],
             repeatable=True),
        auto("via", {"tag_added": "gold"}, [{"start": "helper"}], repeatable=True),
        auto("helper", steps=[{"tag": "gold"}]),
        auto("granter", {"access_started": "python"}, [{"grant": "python-life"}],
             repeatable=True),
    ) == [
        "automations[0].steps[1].tag: a repeatable automation that adds the tag 'vip' that "
        "triggers it with no wait before would run endlessly; add a wait, or make it run once "
        "per student",
        "automations[1].steps[0].start: a repeatable automation that adds the tag 'gold' that "
        "triggers it with no wait before would run endlessly; add a wait, or make it run once "
        "per student",
        "automations[3].steps[0].grant: a repeatable automation that grants the access whose "
        "start triggers it with no wait before would run endlessly; add a wait, or make it run "
        "once per student",
    ]
    school_of(  # once per student, or with a wait first: it ends
        auto("tagger", {"tag_added": "vip"}, [{"untag": "vip"}, {"tag": "vip"}]),
        auto("slow", {"tag_added": "gold"}, [{"untag": "gold"}, {"wait": "P7D"},
                                              {"tag": "gold"}], repeatable=True),
    )


# ---- free offers --------------------------------------------------------------------------


def _offer(**fields: Any) -> dict:
    return {"code": "gift", "title": "Gift", "products": ["taster"], **fields}


def test_a_free_offer_costs_nothing_and_only_a_free_offer_may_cost_nothing():
    data = base_data()
    school = school_of(offers=[*data["offers"], _offer(price=0, free=True, access="period",
                                                       period="P7D")])
    gift = school.offers["gift"]
    assert gift.free and gift.price == Money(0, "EUR")
    assert not school.offers["python-life"].free
    assert problems(offers=[_offer(price=0)]) == [
        "offers[0].price: 0 EUR is below the minimum of 1; an offer given away for nothing "
        "says free: true"]
    assert problems(offers=[_offer(price=5, free=True)]) == [
        "offers[0].price: a free offer costs nothing: write price: 0"]
    assert problems(offers=[_offer(price=0, free=True, stars=10, access="subscription",
                                   period="P1M")]) == [
        "offers[0].stars: a free offer has no price in Stars",
        "offers[0].access: a free offer has nothing to renew: use lifetime or period",
    ]
