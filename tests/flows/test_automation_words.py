"""Every trigger, step and condition in the staff's words, in English, Russian and French:
no placeholder left, nothing left in English, titles in place of codes."""

from __future__ import annotations

import pytest
from automation_scene import school_of

from core.automations.model import TriggerKind, walk
from flows.automation_words import step_words, trigger_words
from flows.texts import Texts

TRIGGERS = [
    {"started": ""}, {"started": "python-friends"}, {"keyword": ["price", "цена"]},
    {"command": "/webinar"}, {"button": "liked"}, {"order_placed": "python-30"},
    {"order_unpaid": {"after": "PT90M", "offer": "any"}}, {"offer_paid": "any"},
    {"access_started": "python"}, {"access_ending": {"product": "python", "before": "P3D"}},
    {"access_ended": "any"}, {"joined_group": "club"}, {"left_group": "club"},
    {"lesson_opened": {"course": "python", "lesson": "loops"}},
    {"lesson_opened": {"course": "python"}}, {"tag_added": "vip"}, {"manual": True},
]
STEPS = [
    {"send": {"text": {"en": "Hello there, this is a rather long first message", "ru": "Привет"},
              "buttons": [{"answer": "liked", "label": "Liked"}]}},
    {"wait": "PT23H"}, {"wait": {"until": "2027-01-10 10:00"}}, {"wait": {"hour": 9}},
    {"ask": {"text": "Yes?", "buttons": [{"answer": "yes", "label": {"en": "Yes", "ru": "Да"}},
                                         {"answer": "no", "label": "No"}], "timeout": "P1D"},
     "on": {"yes": [{"grant": "python-30"}]}},
    {"ask": {"text": "Email?", "expect": "email", "save_as": "email"}},
    {"if": {"has_access": "python"}, "then": [{"grant": {"product": "taster"}}]},
    {"if": {"has_tag": "vip"}, "then": [{"extend": {"product": "python", "by": "P1M"}}]},
    {"if": {"language": "ru"}, "then": [{"revoke": "python"}]},
    {"if": {"messenger": "console"}, "then": [{"tag": "x"}], "else": [{"untag": "x"}]},
    {"if": {"field": {"name": "city", "equals": "Paris"}}, "then": [{"set": {"city": "Rome"}}]},
    {"if": {"paid": {"at_least": "10 EUR"}}, "then": [{"start": "other"}]},
    {"notify_staff": "hi"}, {"webhook": {"url": "https://school.example/hook"}},
]


def _school():
    automations = [{"code": f"t{i}", "trigger": trigger, "steps": [{"tag": f"t{i}"}]}
                   for i, trigger in enumerate(TRIGGERS)]
    automations.append({"code": "steps", "trigger": {"manual": True}, "steps": STEPS})
    automations.append({"code": "other", "trigger": {"manual": True},
                        "steps": [{"wait": "P1D"}]})
    automations.append({"code": "paid", "trigger": {"order_placed": "any"},
                        "steps": [{"if": {"order_paid": True}, "then": [{"tag": "p"}]}]})
    return school_of(*automations)


def _words(language: str) -> list[str]:
    school = _school()
    t = Texts(school, language)
    said = [trigger_words(school, t, a.trigger) for a in school.automations.values()]
    for automation in school.automations.values():
        said += [step_words(school, t, step) for _, step in walk(automation.steps)]
    return said


def test_every_trigger_kind_is_covered():
    assert {a.trigger.kind for a in _school().automations.values()} == set(TriggerKind)


@pytest.mark.parametrize("language", ["en", "ru", "fr"])
def test_every_trigger_and_step_is_said_with_nothing_left_to_fill(language):
    for line in _words(language):
        assert line and "{" not in line and "auto_" not in line, line


@pytest.mark.parametrize("language", ["ru", "fr"])
def test_nothing_is_left_in_english(language):
    english, translated = _words("en"), _words(language)
    same = [e for e, t in zip(english, translated, strict=True)
            if e == t and not e.startswith(("call https", "wait until"))]
    assert same == [], same


def test_titles_stand_for_codes_and_long_messages_are_cut():
    said = _words("en")
    assert "lesson “Loops” of the course “Python” opens" in said
    assert "an order for any offer is still unpaid 90 min after it was placed" in said
    assert "access to Python ends in 3 days" in said
    assert "message “Hello there, this is a rather long firs…”" in said
    assert "question: Yes / No (unanswered after 1 day: timeout)" in said
    assert "wait until 09:00 school time" in said
    assert "if the student has paid at least 10 EUR" in said
    assert "grant First lesson for life" in said  # the product taster, named as sold
    assert "if the student has the field city set to “Paris”" in said
    assert "if the student has paid the order" in said
