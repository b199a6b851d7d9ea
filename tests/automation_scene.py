"""A small school written as a school file, with automations added per test, and a ``Scene``
that drives the real services, the automation passes and the outbox with the fake clock."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import yaml

from bots.registry import known_messengers
from core import notices
from core.automations import jobs
from core.automations.records import Run
from core.models import Order, OutboxMessage, User
from core.ports import PaymentNotice
from core.school import School
from core.school_file import parse_school
from core.services import checkout, payments, users


def base_data() -> dict[str, Any]:
    return {
        "school": {
            "name": "Auto School", "default_language": "en", "timezone": "Europe/Berlin",
            "currency": "EUR",
            "staff": {"console:admin": "admin", "console:helper": "support",
                      "console:manager": "manager"},
        },
        "texts": {"en": {"hello": "Hello {name}!"}, "ru": {"hello": "Привет, {name}!"}},
        "courses": [
            {"code": "python", "title": "Python", "lessons": [
                {"id": "intro", "title": "Intro", "link": "https://school.example/1"},
                {"id": "loops", "title": "Loops", "link": "https://school.example/2",
                 "open_after": "P2D"}]},
            {"code": "taster", "title": "Python taster", "lessons": [
                {"id": "first", "title": "First lesson", "link": "https://school.example/t"}]},
        ],
        "groups": [{"code": "club", "chat_id": -1001, "title": "Club"}],
        "products": [
            {"code": "python", "kind": "course", "course": "python"},
            {"code": "taster", "kind": "course", "course": "taster"},
            {"code": "club", "kind": "group", "group": "club"},
            {"code": "month", "kind": "external", "title": "One more month"},
        ],
        "offers": [
            {"code": "python-life", "title": "Python forever", "price": 49,
             "products": ["python"]},
            {"code": "python-30", "title": "Python 30 days", "price": 19,
             "products": ["python", "club"], "access": "period", "period": "P30D"},
            {"code": "taster", "title": "First lesson", "price": 0, "free": True,
             "products": ["taster"]},
            {"code": "month", "title": "+1 month", "price": 9, "products": ["month"],
             "access": "period", "period": "P1M", "reminders": []},
            {"code": "club-month", "title": "Club monthly", "price": 5, "products": ["club"],
             "access": "subscription", "period": "P1M"},
        ],
        "promo_codes": [{"code": "BACK10", "percent": 10}, {"code": "GIFT", "percent": 100}],
    }


# Three ways a run goes: a VIP is tagged and asked at once, the others wait a day first.
FUNNEL = {"code": "funnel", "title": {"en": "Funnel", "ru": "Воронка"},
          "trigger": {"offer_paid": "any"},
          "steps": [
              {"send": {"text": "hi"}},
              {"if": {"has_tag": "vip"}, "then": [{"tag": "seen-vip"}],
               "else": [{"wait": "P1D"}]},
              {"ask": {"text": "More?", "buttons": [{"answer": "yes", "label": "Yes"}],
                       "timeout": "P2D"},
               "on": {"yes": [{"grant": "taster"}]}},
              {"notify_staff": "done"}]}


def school_of(*automations: dict[str, Any], **sections: Any) -> School:
    data = base_data() | sections
    data["automations"] = list(automations)
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    return parse_school(text, messengers=known_messengers())


def text(en: str) -> dict[str, str]:
    return {"en": en}


class Scene:
    """Students, orders and payments through the real services; ``run()`` is the scheduler's
    automation pass; what a student was sent is read back from the outbox."""

    def __init__(self, uow_factory, school: School, clock) -> None:
        self.uow_factory = uow_factory
        self.school = school
        self.clock = clock
        self._ids = itertools.count(1)

    async def student(self, name: str = "Anna", language: str = "en",
                      external_id: str | None = None, messenger: str = "console") -> User:
        async with self.uow_factory() as uow:
            user, _ = await users.resolve(uow, self.clock.now(), messenger,
                                          external_id or f"s{next(self._ids)}", name, language)
            await uow.commit()
        return user

    async def order(self, user: User, offer: str, promo: str | None = None) -> Order:
        async with self.uow_factory() as uow:
            placed = await checkout.place_order(uow, self.school, self.clock.now(), user,
                                                offer, promo, messenger="console",
                                                unlocked=True)
            await uow.commit()
        return placed.order

    async def pay(self, order: Order, **details: Any) -> None:
        async with self.uow_factory() as uow:
            await payments.confirm(uow, self.school, PaymentNotice(
                "test", f"pay-{next(self._ids)}", order.token, order.amount, order.currency,
                details=details), self.clock.now())
            await uow.commit()

    async def buy(self, user: User, offer: str) -> Order:
        order = await self.order(user, offer)
        if order.amount:
            await self.pay(order)
        return order

    async def run(self) -> int:
        """The scheduler's pass over automations."""
        return await jobs.sweep(self.uow_factory, self.school, self.clock.now())

    async def later(self, **delta: float) -> int:
        self.clock.advance(timedelta(**delta))
        return await self.run()

    async def runs(self, user: User, automation: str | None = None) -> list[Run]:
        async with self.uow_factory() as uow:
            found = await uow.automation_runs.for_user(user.id)
        return [r for r in found if automation in (None, r.automation)]

    async def run_of(self, user: User, automation: str) -> Run:
        [run] = await self.runs(user, automation)
        return run

    async def outbox(self, user: User, kind: str | None = None) -> list[OutboxMessage]:
        async with self.uow_factory() as uow:
            messages = await uow.outbox.for_user(user.id)
        return [m for m in messages if kind in (None, m.kind)]

    async def screens(self, user: User, language: str = "en") -> list[str]:
        """The texts of the automations' screens the student was sent, oldest first."""
        return [notices.parse(m.kind, m.data).text.get(language, "")  # type: ignore[attr-defined]
                for m in await self.outbox(user, "automation_screen")]

    async def screen_data(self, user: User) -> list[notices.AutomationScreen]:
        return [notices.parse(m.kind, m.data)  # type: ignore[misc]
                for m in await self.outbox(user, "automation_screen")]

    async def fields(self, user: User) -> dict[str, str]:
        async with self.uow_factory() as uow:
            return await uow.student_fields.of_user(user.id)

    async def tags(self, user: User) -> list[str]:
        async with self.uow_factory() as uow:
            return [t.tag for t in await uow.tags.of_user(user.id)]


