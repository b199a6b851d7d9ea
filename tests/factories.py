"""A small school built in code, so tests do not depend on the demo school's wording."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from core.money import Money
from core.periods import Period
from core.school import (
    AccessKind,
    Course,
    Group,
    JoinMode,
    Lesson,
    LessonOpening,
    Offer,
    OpeningKind,
    Product,
    ProductKind,
    PromoCode,
    School,
)
from core.staff import Role, StaffRef

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def lesson(id: str, title: str, after: str | None = None, at: datetime | None = None,
           link: str | None = None, text: str | None = None) -> Lesson:
    if after:
        opening = LessonOpening(OpeningKind.AFTER, after=Period.parse(after))
    elif at:
        opening = LessonOpening(OpeningKind.AT, at=at)
    else:
        opening = LessonOpening()
    return Lesson(
        id=id,
        title={"en": title, "ru": f"{title} (ru)"},
        link=link if link or text else f"https://school.example/{id}",
        text={"en": text} if text else None,
        opening=opening,
    )


def make_school(**overrides) -> School:
    python = Course(
        "python",
        {"en": "Python", "ru": "Питон"},
        lessons=(
            lesson("intro", "Intro"),
            lesson("vars", "Variables", after="P1D"),
            lesson("loops", "Loops", after="P3D"),
            lesson("live", "Live session", at=START + timedelta(days=10)),
            lesson("notes", "Notes", text="Read chapter 2"),
        ),
    )
    drawing = Course("drawing", {"en": "Drawing"}, lessons=(lesson("pencil", "Pencil"),))
    products = {
        "python-course": Product("python-course", ProductKind.COURSE, python.title,
                                 course="python"),
        "drawing-course": Product("drawing-course", ProductKind.COURSE, drawing.title,
                                  course="drawing"),
        "club": Product("club", ProductKind.GROUP, {"en": "Club"}, group="club"),
    }
    eur = lambda v: Money.from_major(v, "EUR")  # noqa: E731
    offers = [
        Offer("python-life", {"en": "Python forever", "ru": "Питон навсегда"}, eur(49),
              ("python-course",), description={"en": "All lessons, forever."},
              stars=Money(250, "XTR")),
        Offer("python-30", {"en": "Python 30 days"}, eur("19.90"), ("python-course", "club"),
              access=AccessKind.PERIOD, period=Period.parse("P30D")),
        Offer("club-month", {"en": "Club monthly"}, eur(9), ("club",),
              access=AccessKind.SUBSCRIPTION, period=Period.parse("P1M")),
        Offer("club-extend", {"en": "Club +30 days"}, eur(8), ("club",),
              access=AccessKind.PERIOD, period=Period.parse("P30D"), extends=("club",)),
        Offer("secret", {"en": "Secret drawing"}, eur(5), ("drawing-course",), public=False),
        Offer("drawing-seats", {"en": "Drawing workshop"}, eur(30), ("drawing-course",), seats=2),
        Offer("later", {"en": "Next season"}, eur(30), ("drawing-course",),
              sale_starts=START + timedelta(days=60)),
    ]
    promos = [
        PromoCode("TEN", percent=10),
        PromoCode("FREE", percent=100, max_uses=1),
        PromoCode("MINUS100", amount=eur(100)),
        PromoCode("OLD", percent=50, valid_until=START - timedelta(days=1)),
        PromoCode("PYONLY", percent=20, offers=("python-life",)),
    ]
    values = dict(
        name="Test School",
        default_language="en",
        timezone=ZoneInfo("Europe/Berlin"),
        currency="EUR",
        texts={"ru": {"welcome": "Привет из {school}!"}},
        courses={"python": python, "drawing": drawing},
        groups={"club": Group("club", -100123, {"en": "Club"})},
        products=products,
        offers={o.code: o for o in offers},
        promo_codes={p.code: p for p in promos},
        support="@help",
        staff=(StaffRef("console", "admin", Role.ADMIN),),
    )
    values.update(overrides)
    return School(**values)


NEWS_CHAT = -100555


def with_stars_channel(school: School) -> School:
    """``school`` plus the channel "news", sold as a Telegram Stars subscription (offer
    "news-stars", 250 Stars every 30 days)."""
    news = Group("news", NEWS_CHAT, {"en": "News"}, kind="channel",
                 join=JoinMode.STARS_SUBSCRIPTION)
    product = Product("news", ProductKind.GROUP, {"en": "News"}, group="news")
    offer = Offer("news-stars", {"en": "News channel"}, Money(250, "XTR"), ("news",),
                  access=AccessKind.SUBSCRIPTION, period=Period.parse("P30D"))
    return dataclasses.replace(
        school,
        groups={**school.groups, "news": news},
        products={**school.products, "news": product},
        offers={**school.offers, "news-stars": offer},
    )


def with_stars_subscription(school: School) -> School:
    """``school`` plus "python-stars": the Python course as a Telegram Stars subscription to
    the bot, 300 Stars every 30 days."""
    offer = Offer("python-stars", {"en": "Python in Stars"}, Money(300, "XTR"),
                  ("python-course",), access=AccessKind.SUBSCRIPTION,
                  period=Period.parse("P30D"))
    return dataclasses.replace(school, offers={**school.offers, "python-stars": offer})
