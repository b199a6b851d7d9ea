"""The school file loader: the example school, every rule with its exact problem line, garbage."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import yaml

from bots.registry import known_messengers
from core.errors import SchoolFileError
from core.money import Money
from core.periods import Period
from core.school import (
    AccessKind,
    AdminRef,
    JoinMode,
    OpeningKind,
    ProductKind,
    ReceiptRules,
    School,
)
from core.school_file import load_school, parse_school
from core.staff import Role, StaffRef

KNOWN = known_messengers()  # the platform checks admins against its registry of messengers
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "school.example.yaml"
FILES = Path(__file__).resolve().parent / "school_files"


def base() -> dict[str, Any]:
    """A small valid school as data; tests break one thing and dump it to YAML."""
    return {
        "school": {
            "name": "Mini School",
            "default_language": "en",
            "timezone": "Europe/Berlin",
            "currency": "EUR",
        },
        "courses": [
            {
                "code": "python",
                "title": "Python",
                "lessons": [
                    {"title": "Hello", "link": "https://pixel-school.example/python/1"},
                    {"title": "Loops", "text": "Read chapter 2.", "open_after": "P3D"},
                ],
            }
        ],
        "groups": [{"code": "club", "chat_id": -1001234567890, "title": "Club"}],
        "products": [
            {"code": "python-course", "kind": "course", "course": "python"},
            {"code": "club", "kind": "group", "group": "club"},
        ],
        "offers": [
            {
                "code": "python-lifetime",
                "title": "Python forever",
                "price": "49.90",
                "products": ["python-course"],
            }
        ],
    }


def dump(data: object) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def parse(data: object) -> School:
    return parse_school(data if isinstance(data, str) else dump(data), messengers=KNOWN)


def problems(data: object) -> list[str]:
    with pytest.raises(SchoolFileError) as caught:
        parse(data)
    assert caught.value.problems, "a SchoolFileError must say what is wrong"
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def broken(change) -> list[str]:  # type: ignore[no-untyped-def]
    data = base()
    change(data)
    return problems(data)


def offer(**fields: object) -> dict[str, Any]:
    result: dict[str, Any] = {
        "code": "extra",
        "title": "Extra",
        "price": "10",
        "products": ["python-course"],
    }
    result.update(fields)
    return result


def with_offer(**fields: object) -> list[str]:
    return broken(lambda d: d["offers"].append(offer(**fields)))


def with_promo(**fields: object) -> list[str]:
    return broken(lambda d: d.setdefault("promo_codes", []).append({"code": "PROMO", **fields}))


def with_lesson(**fields: object) -> list[str]:
    return broken(lambda d: d["courses"][0]["lessons"].append(fields))


def loaded_with(change) -> School:  # type: ignore[no-untyped-def]
    data = base()
    change(data)
    return parse(data)


# ---- the example school ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def example() -> School:
    return load_school(EXAMPLE)


def test_example_school_loads(example: School) -> None:
    assert example.name == "Pixel School"
    assert example.default_language == "en"
    assert example.timezone.key == "Europe/Berlin"
    assert example.currency == "EUR"
    assert example.support == "@pixel_support"
    assert example.admins == (AdminRef("vk", "1234"), AdminRef("telegram", "123456789"))
    assert example.role_in_file("telegram", "123456789") is Role.OWNER
    assert example.is_admin("telegram", "123456789")
    assert example.order_ttl == timedelta(hours=1)


def test_example_has_texts_in_three_languages(example: School) -> None:
    assert set(example.texts) == {"en", "ru", "fr"}
    for language in ("en", "ru", "fr"):
        assert example.text("welcome", language)
        assert example.text("help", language)
    for course in example.courses.values():
        assert {"en", "ru", "fr"} <= set(course.title)


def test_example_courses_mix_every_kind_of_opening(example: School) -> None:
    # The free first lesson of Python is a course of its own (one lesson, an automation's).
    courses = [c for c in example.courses.values() if c.code != "python-taster"]
    assert 2 <= len(courses) <= 3
    kinds = []
    delays = set()
    for course in courses:
        assert 3 <= len(course.lessons) <= 5
        for lesson in course.lessons:
            assert lesson.link or lesson.text
            assert lesson.link is None or lesson.link.startswith("https://pixel-school.example/")
            kinds.append(lesson.opening.kind)
            if lesson.opening.after:
                delays.add(lesson.opening.after.iso)
    assert kinds.count(OpeningKind.AT) == 1
    assert OpeningKind.IMMEDIATE in kinds
    assert {"P1D", "P3D", "P7D"} <= delays
    live = example.courses["python"].lessons[-1]
    # 19:00 in Berlin in December (CET, UTC+1)
    assert live.opening.at == datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def test_example_default_lesson_ids(example: School) -> None:
    assert [lesson.id for lesson in example.courses["drawing"].lessons] == ["1", "2", "3", "4"]
    assert example.courses["python"].lessons[0].id == "intro"


def test_example_paid_group(example: School) -> None:
    (club,) = example.groups.values()
    assert isinstance(club.chat_id, int) and club.chat_id < 0
    assert club.join is JoinMode.JOIN_REQUEST
    product = example.products["club"]
    assert product.kind is ProductKind.GROUP
    assert product.title == club.title  # defaults to the group's title
    assert club.allow == frozenset()


def test_example_offers(example: School) -> None:
    offers = example.offers
    lifetime = offers["python-lifetime"]
    assert lifetime.access is AccessKind.LIFETIME
    assert lifetime.price == Money(4990, "EUR")

    bundle = offers["drawing-club-30d"]
    assert bundle.access is AccessKind.PERIOD and bundle.period == Period("P30D")
    kinds = {example.products[code].kind for code in bundle.products}
    assert kinds == {ProductKind.COURSE, ProductKind.GROUP}

    monthly = offers["club-monthly"]
    assert monthly.access is AccessKind.SUBSCRIPTION and monthly.period == Period("P1M")
    assert monthly.products == ("club",)

    assert offers["club-monthly-stars"].price == Money(500, "XTR")
    assert not offers["python-friends"].public
    assert [o.code for o in offers.values() if not o.public] == ["python-friends"]

    renewal = offers["club-renewal"]
    assert renewal.extends == ("club",)
    assert renewal.access is AccessKind.PERIOD

    assert any(o.seats for o in offers.values())
    early = offers["english-early-bird"]
    assert early.seats == 30
    assert early.sale_starts == datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    assert early.on_sale(datetime(2026, 6, 1, tzinfo=UTC))
    assert not early.on_sale(datetime(2027, 1, 1, tzinfo=UTC))

    assert list(offers)[0] == "python-lifetime"  # file order
    for item in offers.values():
        assert item.price.limits_problem() is None or item.free
    assert offers["python-first-lesson"].free and offers["python-first-lesson"].price.amount == 0


def test_example_promo_codes(example: School) -> None:
    welcome = example.promo("welcome10")
    assert welcome is not None and welcome.percent == 10 and welcome.offers == ()
    assert welcome.valid_until == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    free = example.promo("FREEPASS")
    assert free is not None and free.percent == 100 and free.max_uses == 1
    assert free.discounted(example.offers["python-lifetime"].price) == Money(0, "EUR")
    spring = example.promo("SPRING5")
    assert spring is not None and spring.amount == Money(500, "EUR")


def test_example_every_reference_resolves(example: School) -> None:
    for product in example.products.values():
        assert product.title
        assert product.course is None or product.course in example.courses
        assert product.group is None or product.group in example.groups
    for item in example.offers.values():
        assert set(item.products) | set(item.extends) <= set(example.products)
    for promo in example.promo_codes.values():
        assert set(promo.offers) <= set(example.offers)


def test_school_is_immutable(example: School) -> None:
    with pytest.raises(AttributeError):
        example.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        example.offers["new"] = example.offers["python-lifetime"]  # type: ignore[index]
    with pytest.raises(TypeError):
        example.courses["python"].title["de"] = "x"  # type: ignore[index]
    assert isinstance(example.texts["en"], MappingProxyType)


def test_all_datetimes_are_aware_utc(example: School) -> None:
    moments = [lesson.opening.at for c in example.courses.values() for lesson in c.lessons]
    moments += [o.sale_starts for o in example.offers.values()]
    moments += [o.sale_ends for o in example.offers.values()]
    moments += [p.valid_until for p in example.promo_codes.values()]
    present = [moment for moment in moments if moment is not None]
    assert len(present) >= 4
    assert all(moment.utcoffset() == timedelta(0) for moment in present)


# ---- a minimal file and the defaults ---------------------------------------------------------


def test_minimal_file_and_defaults() -> None:
    school = load_school(FILES / "minimal.yaml")
    assert school.order_ttl == timedelta(hours=1)
    assert school.admins == () and school.support == "" and dict(school.texts) == {}
    course = school.courses["python"]
    assert course.title == {"en": "Python"}  # a plain string is the default language
    assert dict(course.description) == {}
    assert [lesson.id for lesson in course.lessons] == ["1", "2"]
    assert course.lessons[0].opening.kind is OpeningKind.IMMEDIATE
    assert course.lessons[1].opening.kind is OpeningKind.AFTER
    assert course.lessons[1].opening.after == Period("P3D")
    assert school.products["python-course"].title == {"en": "Python"}
    item = school.offers["python-lifetime"]
    assert item.access is AccessKind.LIFETIME and item.public and item.period is None
    assert item.price == Money(4990, "EUR")
    assert school.groups["club"].kind == "group"
    assert school.groups["club"].join is JoinMode.INVITE_LINK


def test_load_school_accepts_str_path() -> None:
    assert load_school(str(FILES / "minimal.yaml")).name == "Mini School"


def test_default_lesson_ids_follow_positions_with_explicit_ones_mixed_in() -> None:
    def change(d: dict[str, Any]) -> None:
        d["courses"][0]["lessons"] = [
            {"title": "A", "text": "a"},
            {"id": "setup", "title": "B", "text": "b"},
            {"title": "C", "text": "c"},
            {"id": 7, "title": "D", "text": "d"},
        ]

    lessons = loaded_with(change).courses["python"].lessons
    assert [lesson.id for lesson in lessons] == ["1", "setup", "3", "7"]


def test_school_section_options() -> None:
    def change(d: dict[str, Any]) -> None:
        d["school"].update(
            support="@help",
            admins=["telegram:1", "viber:AbC+/==", "console:alice", "telegram:1"],
            order_ttl="PT30M",
            currency="eur",
        )

    school = loaded_with(change)
    assert school.support == "@help"
    assert school.admins == (
        AdminRef("telegram", "1"),
        AdminRef("viber", "AbC+/=="),
        AdminRef("console", "alice"),
    )
    assert school.order_ttl == timedelta(minutes=30)
    assert school.currency == "EUR"


def test_staff_with_roles() -> None:
    def change(d: dict[str, Any]) -> None:
        d["school"].update(admins=["vk:7"], staff={"telegram:1": "owner", "web:anna": "support",
                                                   "console:sam": "manager"})

    school = loaded_with(change)
    assert school.staff == (StaffRef("vk", "7", Role.ADMIN), StaffRef("telegram", "1", Role.OWNER),
                            StaffRef("web", "anna", Role.SUPPORT),
                            StaffRef("console", "sam", Role.MANAGER))
    assert school.admins == (AdminRef("vk", "7"), AdminRef("telegram", "1"))
    assert school.role_in_file("web", "anna") is Role.SUPPORT
    assert school.role_in_file("web", "bob") is None


def test_staff_of_the_sandbox_and_the_terminal() -> None:
    def change(d: dict[str, Any]) -> None:
        d["school"].update(staff={"sandbox:s2": "support", "console:terminal-student": "owner"})

    school = loaded_with(change)
    assert school.role_in_file("sandbox", "s2") is Role.SUPPORT
    assert school.role_in_file("console", "terminal-student") is Role.OWNER


def test_per_language_texts_and_school_texts() -> None:
    def change(d: dict[str, Any]) -> None:
        d["texts"] = {"en": {"welcome": "Hi"}, "ru": {"welcome": "Привет", "404": 404}}
        d["courses"][0]["title"] = {"en": "Python", "ru": "Питон"}

    school = loaded_with(change)
    assert school.text("welcome", "ru") == "Привет"
    assert school.text("welcome", "de") == "Hi"
    assert school.texts["ru"]["404"] == "404"
    assert school.courses["python"].title == {"en": "Python", "ru": "Питон"}


def test_windows_line_endings() -> None:
    text = (FILES / "minimal.yaml").read_text(encoding="utf-8").replace("\n", "\r\n")
    assert parse_school(text).name == "Mini School"


def test_norwegian_is_a_language_not_false() -> None:
    text = dump(base()).replace("title: Python\n", "title: {en: Python, no: Python}\n", 1)
    assert parse_school(text).courses["python"].title == {"en": "Python", "no": "Python"}


def test_offer_options() -> None:
    def change(d: dict[str, Any]) -> None:
        d["offers"].append(
            offer(
                code="club-month",
                price="9.90",
                currency="RUB",
                products=["club", "python-course"],
                access="subscription",
                period="P1M",
                public="no",
                seats=5,
                extends=["club"],
                description={"en": "Monthly"},
            )
        )

    item = loaded_with(change).offers["club-month"]
    assert item.price == Money(990, "RUB")
    assert item.access is AccessKind.SUBSCRIPTION and item.period == Period("P1M")
    assert not item.public and item.seats == 5 and item.extends == ("club",)
    assert item.products == ("club", "python-course")
    assert item.description == {"en": "Monthly"}


@pytest.mark.parametrize(
    ("written", "amount"),
    [("49.90", 4990), ("19.99", 1999), ("0.1E1", 100), ("1_000.5", 100050), ("7", 700)],
)
def test_prices_are_exact(written: str, amount: int) -> None:
    text = dump(base()).replace("price: '49.90'", f"price: {written}")
    assert parse_school(text).offers["python-lifetime"].price == Money(amount, "EUR")


def test_external_product_needs_no_delivery() -> None:
    def change(d: dict[str, Any]) -> None:
        d["products"].append({"code": "review", "kind": "external", "title": "Review"})

    product = loaded_with(change).products["review"]
    assert product.kind is ProductKind.EXTERNAL and product.title == {"en": "Review"}


def test_promo_codes_are_stored_upper_case() -> None:
    def change(d: dict[str, Any]) -> None:
        d["promo_codes"] = [
            {"code": "welcome10", "percent": 10, "max_uses": 3, "offers": ["python-lifetime"]}
        ]

    school = loaded_with(change)
    assert list(school.promo_codes) == ["WELCOME10"]
    assert school.promo(" Welcome10 ") is not None


def test_fixed_amount_promo_applies_only_to_offers_in_its_currency() -> None:
    def change(d: dict[str, Any]) -> None:
        d["offers"].append(offer(code="rub", currency="RUB", price=990))
        d["promo_codes"] = [
            {"code": "FIVE", "amount": 5},
            {"code": "RUB100", "amount": 100, "currency": "RUB"},
            {"code": "TEN", "percent": 10},
        ]

    school = loaded_with(change)
    assert school.promo_codes["FIVE"].offers == ("python-lifetime",)
    assert school.promo_codes["FIVE"].amount == Money(500, "EUR")
    assert school.promo_codes["RUB100"].offers == ("rub",)
    assert school.promo_codes["TEN"].offers == ()


def test_offers_in_the_newer_currencies_load() -> None:
    def change(d: dict[str, Any]) -> None:
        d["offers"].append(offer(code="kz", currency="KZT", price="14990.50"))
        d["offers"].append(offer(code="au", currency="AUD", price=79))

    school = loaded_with(change)
    assert school.offers["kz"].price == Money(1499050, "KZT")
    assert school.offers["au"].price == Money(7900, "AUD")


def test_fixed_amount_promo_over_offers_all_in_its_currency_applies_to_all() -> None:
    school = loaded_with(lambda d: d.update(promo_codes=[{"code": "FIVE", "amount": "5.50"}]))
    assert school.promo_codes["FIVE"].offers == ()
    assert school.promo_codes["FIVE"].amount == Money(550, "EUR")


# ---- time zones ------------------------------------------------------------------------------


def sale_of(starts: str, timezone: str = "Europe/Berlin") -> datetime:
    def change(d: dict[str, Any]) -> None:
        d["school"]["timezone"] = timezone
        d["offers"][0]["sale"] = {"starts": starts}

    moment = loaded_with(change).offers["python-lifetime"].sale_starts
    assert moment is not None and moment.tzinfo is UTC
    return moment


@pytest.mark.parametrize(
    ("written", "timezone", "utc"),
    [
        ("2026-01-15 10:00", "Europe/Berlin", datetime(2026, 1, 15, 9, 0)),  # CET, +1
        ("2026-07-15 10:00", "Europe/Berlin", datetime(2026, 7, 15, 8, 0)),  # CEST, +2
        ("2026-03-29 01:59", "Europe/Berlin", datetime(2026, 3, 29, 0, 59)),  # before the jump
        ("2026-03-29 03:00", "Europe/Berlin", datetime(2026, 3, 29, 1, 0)),  # after the jump
        ("2026-10-25 02:30", "Europe/Berlin", datetime(2026, 10, 25, 0, 30)),  # twice: first
        ("2026-10-25 03:30", "Europe/Berlin", datetime(2026, 10, 25, 2, 30)),
        ("2026-07-15", "Europe/Berlin", datetime(2026, 7, 14, 22, 0)),  # midnight
        ("2026-07-15T10:00:30", "America/New_York", datetime(2026, 7, 15, 14, 0, 30)),
        ("2026-12-15 10:00", "America/New_York", datetime(2026, 12, 15, 15, 0)),
        ("2026-07-15 10:00", "Asia/Kolkata", datetime(2026, 7, 15, 4, 30)),
        ("2026-07-15 10:00", "UTC", datetime(2026, 7, 15, 10, 0)),
        ("2026-07-15 10:00+05:00", "Europe/Berlin", datetime(2026, 7, 15, 5, 0)),  # offset wins
        ("2026-07-15T10:00Z", "Europe/Berlin", datetime(2026, 7, 15, 10, 0)),
    ],
)
def test_times_are_read_in_the_school_time_zone(written: str, timezone: str, utc: datetime) -> None:
    assert sale_of(written, timezone) == utc.replace(tzinfo=UTC)


def test_lesson_open_at_and_promo_valid_until_convert_too() -> None:
    def change(d: dict[str, Any]) -> None:
        d["courses"][0]["lessons"][0]["open_at"] = "2026-06-01 09:30"
        d["promo_codes"] = [{"code": "X10", "percent": 10, "valid_until": "2026-02-01 00:00"}]

    school = loaded_with(change)
    opening = school.courses["python"].lessons[0].opening
    assert opening.kind is OpeningKind.AT
    assert opening.at == datetime(2026, 6, 1, 7, 30, tzinfo=UTC)
    assert school.promo_codes["X10"].valid_until == datetime(2026, 1, 31, 23, 0, tzinfo=UTC)


def test_a_time_skipped_by_summer_time_is_a_problem() -> None:
    assert broken(lambda d: d["offers"][0].update(sale={"ends": "2026-03-29 02:30"})) == [
        "offers[0].sale.ends: '2026-03-29 02:30' does not exist in Europe/Berlin: the clocks "
        "jump over it (summer time); pick another time"
    ]


# ---- one rule, one exact problem -------------------------------------------------------------


CASES: list[tuple[str, Any, list[str]]] = [
    # -- the file's shape
    (
        "unknown top-level section",
        lambda d: d.update(prodcuts=[]),
        [
            "prodcuts: unknown section (known: school, texts, courses, groups, products, "
            "offers, promo_codes, automations)"
        ],
    ),
    ("school is required", lambda d: d.pop("school"), ["school: required"]),
    ("unknown field", lambda d: d["offers"][0].update(prise=3), ["offers[0].prise: unknown field"]),
    ("required field", lambda d: d["offers"][0].pop("title"), ["offers[0].title: required"]),
    (
        "section must be a list",
        lambda d: d.update(offers={"code": "x"}),
        ["offers: must be a list, but it is a mapping"],
    ),
    (
        "item must be a mapping",
        lambda d: d["offers"].append("python"),
        ["offers[1]: must be a mapping (name: value), but it is text ('python')"],
    ),
    (
        "text must be text",
        lambda d: d["school"].update(name=["a"]),
        ["school.name: must be text, but it is a list"],
    ),
    ("empty text", lambda d: d["school"].update(name="  "), ["school.name: must not be empty"]),
    # -- school
    (
        "default language",
        lambda d: d["school"].update(default_language="english"),
        ["school.default_language: 'english' is not a 2-letter language code such as en or ru"],
    ),
    (
        "time zone",
        lambda d: d["school"].update(timezone="Europe/Berlinn"),
        [
            "school.timezone: 'Europe/Berlinn' is not an IANA time zone such as Europe/Berlin, "
            "America/New_York or UTC"
        ],
    ),
    (
        "school currency",
        lambda d: d["school"].update(currency="EUX"),
        [
            "school.currency: unsupported currency 'EUX' (supported: AUD, BGN, BYN, CAD, CHF, "
            "CZK, DKK, EUR, GBP, HKD, HUF, ILS, KZT, MXN, NOK, NZD, PHP, PLN, RON, RUB, SEK, "
            "SGD, THB, UAH, USD, XTR)"
        ],
    ),
    (
        "admin format",
        lambda d: d["school"].update(admins=["123456789"]),
        ["school.admins[0]: '123456789' is not messenger:user-id such as telegram:123456789"],
    ),
    (
        "admin messenger",
        lambda d: d["school"].update(admins=["whatsapp:1"]),
        [
            "school.admins[0]: unknown messenger 'whatsapp' "
            "(known: telegram, vk, viber, console, web, sandbox)"
        ],
    ),
    (
        "admin telegram id is a number",
        lambda d: d["school"].update(admins=["telegram:@boss"]),
        [
            "school.admins[0]: 'telegram:@boss': telegram user ids are numbers, such as "
            "telegram:123456789 (not a @username)"
        ],
    ),
    (
        "admin is text",
        lambda d: d["school"].update(admins=[123]),
        [
            "school.admins[0]: must be messenger:user-id such as telegram:123456789, "
            "but it is a number (123)"
        ],
    ),
    (
        "staff role",
        lambda d: d["school"].update(staff={"telegram:5": "boss"}),
        ["school.staff.telegram:5: 'boss' is not one of: owner, admin, manager, support"],
    ),
    (
        "staff by username",
        lambda d: d["school"].update(staff={"telegram:@boss": "owner"}),
        ["school.staff.telegram:@boss.[key]: 'telegram:@boss': telegram user ids are numbers, "
         "such as telegram:123456789 (not a @username)"],
    ),
    (
        "staff and admins",
        lambda d: d["school"].update(admins=["telegram:5"], staff={"telegram:5": "support"}),
        ["school.staff: telegram:5 is under admins and staff: give it one role, in staff"],
    ),
    (
        "order_ttl duration",
        lambda d: d["school"].update(order_ttl="1 hour"),
        ["school.order_ttl: '1 hour' is not an ISO-8601 duration such as P30D or P1M"],
    ),
    (
        "order_ttl fixed length",
        lambda d: d["school"].update(order_ttl="P1M"),
        [
            "school.order_ttl: 'P1M' must be in weeks, days, hours or minutes "
            "(such as PT1H or P1D), not months or years"
        ],
    ),
    # -- texts
    (
        "texts language",
        lambda d: d.update(texts={"english": {"welcome": "Hi"}}),
        ["texts.english: 'english' is not a 2-letter language code such as en or ru"],
    ),
    (
        "texts value",
        lambda d: d.update(texts={"en": {"welcome": ["Hi"]}}),
        ["texts.en.welcome: must be text, but it is a list"],
    ),
    (
        "texts shape",
        lambda d: d.update(texts=["Hi"]),
        ["texts: must be a mapping of language: {key: text}, but it is a list"],
    ),
    (
        "texts of a language",
        lambda d: d.update(texts={"en": "Hi"}),
        ["texts.en: must be a mapping of key: text, but it is text ('Hi')"],
    ),
    (
        "local text language",
        lambda d: d["courses"][0].update(title={"EN": "Python"}),
        ["courses[0].title: 'EN' is not a 2-letter language code such as en or ru"],
    ),
    (
        "local text value",
        lambda d: d["courses"][0].update(title={"en": "Python", "ru": None}),
        ["courses[0].title.ru: must be text, but it is empty"],
    ),
    (
        "local text shape",
        lambda d: d["courses"][0].update(title=["Python"]),
        ["courses[0].title: must be text or a map of language: text, but it is a list"],
    ),
    # -- courses and lessons
    (
        "course code",
        lambda d: d["courses"][0].update(code="Python 3"),
        [
            "courses[0].code: 'Python 3' is not a valid code: use up to 32 lower-case latin "
            "letters, digits, - and _, starting with a letter or digit",
            "products[0].course: unknown course 'python' (known: Python 3)",
        ],
    ),
    (
        "course code too long",
        lambda d: d["courses"].append({**d["courses"][0], "code": "a" * 33}),
        [
            f"courses[1].code: '{'a' * 33}' is not a valid code: use up to 32 lower-case latin "
            "letters, digits, - and _, starting with a letter or digit"
        ],
    ),
    (
        "duplicate course",
        lambda d: d["courses"].append(copy.deepcopy(d["courses"][0])),
        ["courses[1].code: duplicate code 'python', already used by courses[0]"],
    ),
    (
        "course needs lessons",
        lambda d: d["courses"][0].update(lessons=[]),
        ["courses[0].lessons: must not be empty"],
    ),
    (
        "open_after duration",
        lambda d: d["courses"][0]["lessons"][1].update(open_after="P3X"),
        ["courses[0].lessons[1].open_after: 'P3X' is not an ISO-8601 duration such as P30D or P1M"],
    ),
    (
        "open_after positive",
        lambda d: d["courses"][0]["lessons"][1].update(open_after="P0D"),
        ["courses[0].lessons[1].open_after: 'P0D' must be longer than zero"],
    ),
    (
        "open_after is text",
        lambda d: d["courses"][0]["lessons"][1].update(open_after=3),
        [
            "courses[0].lessons[1].open_after: must be an ISO-8601 duration such as P30D or "
            "P1M, but it is a number (3)"
        ],
    ),
    (
        "open_at format",
        lambda d: d["courses"][0]["lessons"][1].update(open_after=None, open_at="1 Dec 2026"),
        [
            "courses[0].lessons[1].open_at: '1 Dec 2026' is not a date and time such as "
            "2026-12-01 10:00"
        ],
    ),
    (
        "open_after and open_at",
        lambda d: d["courses"][0]["lessons"][1].update(open_at="2026-12-01 10:00"),
        ["courses[0].lessons[1]: set open_after or open_at, not both"],
    ),
    (
        "lesson without link or text",
        lambda d: d["courses"][0]["lessons"].append({"title": "Empty"}),
        ["courses[0].lessons[2]: a lesson needs a link or a text (or both)"],
    ),
    (
        "link scheme",
        lambda d: d["courses"][0]["lessons"][0].update(link="ftp://pixel-school.example/a"),
        [
            "courses[0].lessons[0].link: 'ftp://pixel-school.example/a' is not a web link: "
            "it must start with https:// or http://"
        ],
    ),
    (
        "link without scheme",
        lambda d: d["courses"][0]["lessons"][0].update(link="pixel-school.example/a"),
        [
            "courses[0].lessons[0].link: 'pixel-school.example/a' is not a web link: "
            "it must start with https:// or http://"
        ],
    ),
    (
        "link without host",
        lambda d: d["courses"][0]["lessons"][0].update(link="https:///a b"),
        ["courses[0].lessons[0].link: 'https:///a b' is not a valid web link"],
    ),
    (
        "lesson id format",
        lambda d: d["courses"][0]["lessons"][0].update(id="Intro!"),
        [
            "courses[0].lessons[0].id: 'Intro!' is not a valid lesson id: use up to 32 "
            "lower-case latin letters, digits, - and _"
        ],
    ),
    (
        "duplicate lesson id",
        lambda d: [lesson.update(id="intro") for lesson in d["courses"][0]["lessons"]],
        ["courses[0].lessons[1].id: duplicate id 'intro', already used by courses[0].lessons[0]"],
    ),
    (
        "default lesson id taken",
        lambda d: d["courses"][0]["lessons"][0].update(id="2"),
        [
            "courses[0].lessons[1]: its default id '2' (its position) is already used by "
            "courses[0].lessons[0]; give it an id"
        ],
    ),
    # -- groups
    (
        "group kind",
        lambda d: d["groups"][0].update(kind="chanel"),
        ["groups[0].kind: 'chanel' is not one of: group, channel"],
    ),
    (
        "group join",
        lambda d: d["groups"][0].update(join="link"),
        ["groups[0].join: 'link' is not one of: invite_link, join_request, stars_subscription"],
    ),
    (
        "chat id is a number",
        lambda d: d["groups"][0].update(chat_id="@pixel_club"),
        ["groups[0].chat_id: must be a whole number, but it is text ('@pixel_club')"],
    ),
    (
        "allow-list holds user ids",
        lambda d: d["groups"][0].update(allow=[123, -5]),
        ["groups[0].allow[1]: input should be greater than 0"],
    ),
    (
        "chat id is negative",
        lambda d: d["groups"][0].update(chat_id=12345),
        [
            "groups[0].chat_id: 12345 is not a Telegram group or channel id: those are "
            "negative, such as -1001234567890"
        ],
    ),
    (
        "duplicate group",
        lambda d: d["groups"].append({"code": "club", "chat_id": -100, "title": "Again"}),
        ["groups[1].code: duplicate code 'club', already used by groups[0]"],
    ),
    (
        "same chat twice",
        lambda d: d["groups"].append({"code": "club2", "chat_id": -1001234567890, "title": "2"}),
        ["groups[1].chat_id: the same chat as groups[0]"],
    ),
    # -- products
    (
        "product kind",
        lambda d: d["products"][0].update(kind="lesson"),
        ["products[0].kind: 'lesson' is not one of: course, group, external"],
    ),
    (
        "product course required",
        lambda d: d["products"][0].pop("course"),
        ["products[0].course: required when kind is course"],
    ),
    (
        "product group not allowed for a course",
        lambda d: d["products"][0].update(group="club"),
        ["products[0].group: not allowed when kind is course"],
    ),
    (
        "external product",
        lambda d: d["products"].append({"code": "x", "kind": "external", "course": "python"}),
        [
            "products[2].course: not allowed when kind is external",
            "products[2].title: required when kind is external",
        ],
    ),
    (
        "unknown course",
        lambda d: d["products"][0].update(course="pyhton"),
        ["products[0].course: unknown course 'pyhton' (known: python)"],
    ),
    (
        "unknown group",
        lambda d: d["products"][1].update(group="klub"),
        ["products[1].group: unknown group 'klub' (known: club)"],
    ),
    (
        "unknown group, none defined",
        lambda d: (d.pop("groups"), d["products"][1].update(group="club")),
        ["products[1].group: unknown group 'club' (no groups are defined)"],
    ),
    (
        "duplicate product",
        lambda d: d["products"].append({"code": "club", "kind": "group", "group": "club"}),
        ["products[2].code: duplicate code 'club', already used by products[1]"],
    ),
    # -- offers
    (
        "price below minimum",
        lambda d: d["offers"].append(offer(currency="RUB", price=0)),
        ["offers[1].price: 0 RUB is below the minimum of 1; an offer given away for nothing "
         "says free: true"],
    ),
    (
        "price below the minimum of a currency whose unit is worth little",
        lambda d: d["offers"].append(offer(currency="KZT", price=100)),
        ["offers[1].price: 100 KZT is below the minimum of 250"],
    ),
    (
        "price above maximum",
        lambda d: d["offers"][0].update(price=2000.01),
        ["offers[0].price: 2000.01 EUR is above the maximum of 2000"],
    ),
    (
        "price decimals",
        lambda d: d["offers"][0].update(price="49.999"),
        ["offers[0].price: 49.999 EUR has more than 2 digits after the point"],
    ),
    (
        "stars are whole",
        lambda d: d["offers"][0].update(price="49.5", currency="XTR"),
        ["offers[0].price: 49.5 XTR has more than 0 digits after the point"],
    ),
    (
        "price is a number",
        lambda d: d["offers"][0].update(price="cheap"),
        ["offers[0].price: 'cheap' is not a number"],
    ),
    (
        "price with a decimal comma",
        lambda d: d["offers"][0].update(price="49,90"),
        ["offers[0].price: '49,90' is not a number: write decimals with a point, as in 49.90"],
    ),
    (
        "price is a scalar",
        lambda d: d["offers"][0].update(price=[49]),
        ["offers[0].price: must be a number such as 49.90, but it is a list"],
    ),
    ("price is required", lambda d: d["offers"][0].pop("price"), ["offers[0].price: required"]),
    (
        "offer currency",
        lambda d: d["offers"][0].update(currency="BTC"),
        [
            "offers[0].currency: unsupported currency 'BTC' (supported: AUD, BGN, BYN, CAD, "
            "CHF, CZK, DKK, EUR, GBP, HKD, HUF, ILS, KZT, MXN, NOK, NZD, PHP, PLN, RON, RUB, "
            "SEK, SGD, THB, UAH, USD, XTR)"
        ],
    ),
    (
        "offer needs products",
        lambda d: d["offers"][0].update(products=[]),
        ["offers[0].products: must not be empty"],
    ),
    (
        "unknown product",
        lambda d: d["offers"].append(offer(products=["pyhton"])),
        ["offers[1].products[0]: unknown product 'pyhton' (known: python-course, club)"],
    ),
    (
        "product listed twice",
        lambda d: d["offers"][0].update(products=["club", "club"]),
        ["offers[0].products[1]: product 'club' is listed twice"],
    ),
    (
        "duplicate offer",
        lambda d: d["offers"].append(offer(code="python-lifetime")),
        ["offers[1].code: duplicate code 'python-lifetime', already used by offers[0]"],
    ),
    (
        "access",
        lambda d: d["offers"][0].update(access="forever"),
        ["offers[0].access: 'forever' is not one of: lifetime, period, subscription"],
    ),
    (
        "period required",
        lambda d: d["offers"][0].update(access="subscription"),
        ["offers[0].period: required when access is subscription"],
    ),
    (
        "period forbidden for lifetime",
        lambda d: d["offers"][0].update(period="P30D"),
        ["offers[0].period: not allowed when access is lifetime"],
    ),
    (
        "period duration",
        lambda d: d["offers"][0].update(access="period", period="30 days"),
        ["offers[0].period: '30 days' is not an ISO-8601 duration such as P30D or P1M"],
    ),
    (
        "public is a boolean",
        lambda d: d["offers"][0].update(public="maybe"),
        ["offers[0].public: must be true or false, but it is text ('maybe')"],
    ),
    (
        "sale order",
        lambda d: d["offers"][0].update(
            sale={"starts": "2026-02-01 00:00", "ends": "2026-01-01 00:00"}
        ),
        ["offers[0].sale: starts must be before ends"],
    ),
    (
        "sale fields",
        lambda d: d["offers"][0].update(sale={"start": "2026-02-01 00:00"}),
        ["offers[0].sale.start: unknown field"],
    ),
    (
        "sale time",
        lambda d: d["offers"][0].update(sale={"ends": "tomorrow"}),
        ["offers[0].sale.ends: 'tomorrow' is not a date and time such as 2026-12-01 10:00"],
    ),
    (
        "seats positive",
        lambda d: d["offers"][0].update(seats=0),
        ["offers[0].seats: must be a positive whole number, but it is 0"],
    ),
    (
        "seats whole",
        lambda d: d["offers"][0].update(seats="many"),
        ["offers[0].seats: must be a whole number, but it is text ('many')"],
    ),
    (
        "seats not boolean",
        lambda d: d["offers"][0].update(seats=True),
        ["offers[0].seats: must be a whole number, but it is true"],
    ),
    (
        "renewal needs a period",
        lambda d: d["offers"][0].update(extends=["club"]),
        ["offers[0].extends: a renewal offer needs access: period or subscription"],
    ),
    (
        "unknown extended product",
        lambda d: d["offers"].append(offer(access="period", period="P30D", extends=["clbu"])),
        ["offers[1].extends[0]: unknown product 'clbu' (known: python-course, club)"],
    ),
    # -- promo codes
    (
        "promo code format",
        lambda d: d.update(promo_codes=[{"code": "AB", "percent": 10}]),
        [
            "promo_codes[0].code: 'AB' is not a valid promo code: use 3 to 32 latin letters, "
            "digits, - and _"
        ],
    ),
    (
        "promo duplicate ignores case",
        lambda d: d.update(
            promo_codes=[{"code": "Welcome", "percent": 10}, {"code": "WELCOME", "percent": 5}]
        ),
        ["promo_codes[1].code: duplicate code 'WELCOME', already used by promo_codes[0]"],
    ),
    (
        "promo percent or amount",
        lambda d: d.update(promo_codes=[{"code": "NONE"}]),
        ["promo_codes[0]: set percent or amount"],
    ),
    (
        "promo percent and amount",
        lambda d: d.update(promo_codes=[{"code": "BOTH", "percent": 10, "amount": 5}]),
        ["promo_codes[0]: set percent or amount, not both"],
    ),
    (
        "promo percent range",
        lambda d: d.update(promo_codes=[{"code": "MORE", "percent": 101}]),
        ["promo_codes[0].percent: must be between 1 and 100, but it is 101"],
    ),
    (
        "promo percent whole",
        lambda d: d.update(promo_codes=[{"code": "HALF", "percent": 12.5}]),
        ["promo_codes[0].percent: must be a whole number, but it is a number (12.5)"],
    ),
    (
        "promo amount positive",
        lambda d: d.update(promo_codes=[{"code": "ZERO", "amount": 0}]),
        ["promo_codes[0].amount: must be more than 0, but it is 0 EUR"],
    ),
    (
        "promo currency only with amount",
        lambda d: d.update(promo_codes=[{"code": "PCT", "percent": 10, "currency": "EUR"}]),
        ["promo_codes[0].currency: only used with amount"],
    ),
    (
        "promo unknown offer",
        lambda d: d.update(promo_codes=[{"code": "X10", "percent": 10, "offers": ["pyhton"]}]),
        ["promo_codes[0].offers[0]: unknown offer 'pyhton' (known: python-lifetime)"],
    ),
    (
        "promo offers not empty",
        lambda d: d.update(promo_codes=[{"code": "X10", "percent": 10, "offers": []}]),
        [
            "promo_codes[0].offers: leave offers out to apply to every offer; "
            "an empty list fits none"
        ],
    ),
    (
        "promo amount currency matches its offers",
        lambda d: d.update(
            promo_codes=[
                {"code": "RUB", "amount": 100, "currency": "RUB", "offers": ["python-lifetime"]}
            ]
        ),
        [
            "promo_codes[0].offers[0]: offer 'python-lifetime' is priced in EUR, "
            "but the amount is in RUB"
        ],
    ),
    (
        "promo amount with no offer in its currency",
        lambda d: d.update(promo_codes=[{"code": "RUB", "amount": 100, "currency": "RUB"}]),
        ["promo_codes[0].amount: no offer is priced in RUB"],
    ),
    (
        "promo max uses",
        lambda d: d.update(promo_codes=[{"code": "ONE", "percent": 100, "max_uses": -1}]),
        ["promo_codes[0].max_uses: must be a positive whole number, but it is -1"],
    ),
    (
        "promo valid_until",
        lambda d: d.update(promo_codes=[{"code": "OLD", "percent": 5, "valid_until": 2026}]),
        [
            "promo_codes[0].valid_until: must be a date and time such as 2026-12-01 10:00, "
            "but it is a number (2026)"
        ],
    ),
    # -- receipts
    (
        "receipts need a VAT code",
        lambda d: d["school"].update(receipts={"enabled": True}),
        ["school.receipts.vat_code: required"],
    ),
    (
        "receipts VAT code",
        lambda d: d["school"].update(receipts={"vat_code": 13}),
        [
            "school.receipts.vat_code: must be one of YooKassa's VAT codes 1 to 12 (1 no VAT, "
            "2 0%, 3 10%, 4 20%, 5 10/110, 6 20/120, 7 5%, 8 7%, 9 5/105, 10 7/107, 11 22%, "
            "12 22/122), but it is 13"
        ],
    ),
    (
        "receipts tax system",
        lambda d: d["school"].update(receipts={"vat_code": 1, "tax_system_code": 7}),
        [
            "school.receipts.tax_system_code: must be one of YooKassa's tax system codes 1 to "
            "6 (1 general, 2 simplified on income, 3 simplified on income minus costs, 4 ENVD, "
            "5 ESN, 6 patent), but it is 7"
        ],
    ),
    (
        "receipts contact",
        lambda d: d["school"].update(receipts={"vat_code": 1, "contact": "sms"}),
        ["school.receipts.contact: 'sms' is not one of: email_or_phone, email"],
    ),
    (
        "receipts unknown field",
        lambda d: d["school"].update(receipts={"vat_code": 1, "vat": 4}),
        ["school.receipts.vat: unknown field"],
    ),
    (
        "offer VAT code",
        lambda d: (d["school"].update(receipts={"vat_code": 1}),
                   d["offers"][0].update(vat_code="20%")),
        ["offers[0].vat_code: must be a whole number, but it is text ('20%')"],
    ),
    (
        "offer VAT code without receipts",
        lambda d: d["offers"][0].update(vat_code=4),
        ["offers[0].vat_code: only used with receipts; turn them on in school.receipts"],
    ),
]


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule_reports_its_exact_problem(change: Any, expected: list[str]) -> None:
    assert broken(change) == expected


def test_the_base_school_is_valid() -> None:
    parse(base())


# ---- several problems at once ----------------------------------------------------------------


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    with pytest.raises(SchoolFileError) as caught:
        load_school(FILES / "many_problems.yaml")
    assert caught.value.problems == [
        "school.default_language: 'english' is not a 2-letter language code such as en or ru",
        "school.timezone: 'Europe/Berlinn' is not an IANA time zone such as Europe/Berlin, "
        "America/New_York or UTC",
        "courses[0].lessons[0].link: 'ftp://pixel-school.example/python/1' is not a web link: "
        "it must start with https:// or http://",
        "courses[0].lessons[1].open_after: 'P3X' is not an ISO-8601 duration such as P30D or P1M",
        "offers[0].products[0]: unknown product 'pyhton' (known: python-course)",
        "offers[1].price: 0 RUB is below the minimum of 1; an offer given away for nothing "
        "says free: true",
        "offers[1].prise: unknown field",
        "offers[1].code: duplicate code 'python-lifetime', already used by offers[0]",
        "promo_codes[0]: set percent or amount, not both",
    ]


def test_a_broken_item_does_not_hide_the_others_nor_cause_false_references() -> None:
    def change(d: dict[str, Any]) -> None:
        d["courses"][0]["title"] = None  # the course is broken but still known as 'python'
        d["offers"][0]["price"] = 0
        d["offers"].append(offer(code="b", products=["nope"]))

    assert broken(change) == [
        "courses[0].title: must be text or a map of language: text, but it is empty",
        "offers[0].price: 0 EUR is below the minimum of 1; an offer given away for nothing "
        "says free: true",
        "offers[1].products[0]: unknown product 'nope' (known: python-course, club)",
    ]


# ---- YAML and file problems ------------------------------------------------------------------


def test_yaml_syntax_error_names_line_and_column() -> None:
    text = "school:\n  name: Pixel\n  currency: [EUR\n"
    (line,) = problems(text)
    assert line.startswith("line 4, column 1: ")
    assert "(while parsing a flow sequence at line 3, column 13)" in line


def test_yaml_bad_indentation() -> None:
    assert problems("school:\n  name: A\n timezone: UTC\n") == [
        "line 3, column 2: expected <block end>, but found '<block mapping start>' "
        "(while parsing a block mapping at line 1, column 1)"
    ]


def test_yaml_tab_indentation() -> None:
    (line,) = problems("school:\n\tname: A\n")
    assert line.startswith("line 2, column 1: found character '\\t' that cannot start any token")


def test_duplicate_keys_are_problems() -> None:
    text = (
        "school:\n"
        "  name: A\n"
        "  default_language: en\n"
        "  timezone: UTC\n"
        "  currency: EUR\n"
        "  name: B\n"
        "offers: []\n"
        "offers: []\n"
    )
    assert problems(text) == [
        "line 6, column 3: duplicate key 'name' (first at line 2)",
        "line 8, column 1: duplicate key 'offers' (first at line 7)",
    ]


def test_python_tags_are_refused() -> None:
    (line,) = problems("school: !!python/object/apply:os.system ['echo hi']\n")
    assert line.startswith("line 1, column 9: could not determine a constructor for the tag")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(SchoolFileError) as caught:
        load_school(path)
    assert caught.value.problems == [f"{path}: no such file"]


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(SchoolFileError) as caught:
        load_school(tmp_path)
    assert caught.value.problems == [f"{tmp_path}: is a directory, not a school file"]


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "school.yaml"
    path.write_bytes("school:\n  name: Café\n".encode("latin-1"))
    with pytest.raises(SchoolFileError) as caught:
        load_school(path)
    assert caught.value.problems == [
        f"{path}: not UTF-8 text (byte 0xe9 at offset 19); save the file as UTF-8"
    ]


def test_file_with_bom_loads(tmp_path: Path) -> None:
    path = tmp_path / "school.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + (FILES / "minimal.yaml").read_bytes())
    assert load_school(path).name == "Mini School"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "doc: the file is empty; it needs at least a school: section"),
        ("# only a comment\n", "doc: the file is empty; it needs at least a school: section"),
        ("~\n", "doc: the file is empty; it needs at least a school: section"),
        (
            "- school\n- offers\n",
            "doc: the top level must be a mapping with sections such as school:, courses: "
            "and offers:, but it is a list",
        ),
        (
            "just words\n",
            "doc: the top level must be a mapping with sections such as school:, courses: "
            "and offers:, but it is text ('just words')",
        ),
    ],
)
def test_whole_file_problems_name_the_source(text: str, expected: str) -> None:
    with pytest.raises(SchoolFileError) as caught:
        parse_school(text, source="doc")
    assert caught.value.problems == [expected]


def test_aliases_that_refer_to_themselves() -> None:
    assert problems("a: &a [*a]\n") == [
        "line 1, column 1: an alias refers to itself (endless data)"
    ]


def test_alias_bombs_are_refused_quickly() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for level in range(1, 9):
        previous = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 10)}]")
    (line,) = problems("\n".join(lines) + "\n")
    assert "aliases expand into more than" in line


def test_aliases_and_merge_keys_work() -> None:
    text = dump(base()) + (
        "promo_codes:\n  - &ten {code: TEN, percent: 10}\n  - <<: *ten\n    code: TENTOO\n"
    )
    school = parse_school(text)
    assert school.promo_codes["TENTOO"].percent == 10


# ---- garbage never escapes as anything but SchoolFileError -----------------------------------


GARBAGE: list[Any] = [
    "",
    " ",
    "\n\n\n",
    "---\n---\n",
    "42",
    "3.14",
    "true",
    "null",
    "[]",
    "{}",
    "[[[[",
    "{{{{",
    "]]]",
    ":",
    ": :",
    "- - -",
    "'",
    '"\\',
    "&a",
    "*a",
    "!!binary zz",
    "!!float abc",
    "!!int abc",
    "!!timestamp x",
    "!foo bar",
    "? [a]\n: b",
    "? {a: 1}\n: b",
    "<<: 5",
    "<<: [1, 2]",
    "%YAML 9.9\n---\na: 1",
    "%TAG ! tag:x,2000:\n---\n!a b",
    "\x00\x01\x02",
    "\ud800",
    "\ufeff",
    "[" * 5000,
    "a:\n" + "  " * 2000 + "b: 1",
    "school: {name: [], default_language: 7, timezone: {}, currency: true}",
    "school: []\ncourses: {}\ngroups: 5\nproducts: 'x'\noffers: true\npromo_codes: 1.5\ntexts: []",
    "school: null\ncourses: [null, 1, [], 'x', {lessons: 5}, {lessons: [null, 1, {}]}]",
    "offers: [{price: .inf}, {price: .nan}, {price: -.inf}, {price: 1e400}, {price: 0x1F}]",
    "offers: [{price: 1e999999999}, {price: '1e-999999999'}, {price: 99999999999999999999999}]",
    "offers: [{price: 190:20:30.15}, {products: {a: b}}, {sale: [1]}, {sale: {starts: []}}]",
    "promo_codes: [{code: [], percent: {}, amount: [], offers: 'x', valid_until: {}}]",
    "promo_codes: [{code: ABC, amount: 1e999999}]",
    "texts: {en: {a: {b: c}}, 12: [], ~: x, true: y}",
    "courses: [{code: x, title: {en: {}}, lessons: [{title: t, open_at: 9999-99-99}]}]",
    "courses: [{code: x, title: t, lessons: [{title: t, text: t, open_after: P99999999999Y}]}]",
    "courses: [{code: x, title: t, lessons: [{title: t, text: t, open_after: PT-1H}]}]",
    "courses: [{code: x, title: t, lessons: [{title: t, link: 'http://[::1'}]}]",
    "courses: [{code: x, title: t, lessons: [{title: t, open_at: '0001-01-01 00:00'}]}]",
    "courses: [{code: x, title: t, lessons: [{title: t, open_at: '9999-12-31 23:59+00:00'}]}]",
    "school: {name: a, default_language: en, timezone: '../../etc/passwd', currency: EUR}",
    "school: {name: a, default_language: en, timezone: '', currency: EUR}",
    "school: {name: a, default_language: en, timezone: 'Europe/\\x00', currency: EUR}",
    "school: {order_ttl: P1000000000Y}",
    "groups: [{chat_id: 1e5}, {chat_id: -99999999999999999999999999999}]",
    b"\xff\xfe\x00\x00garbage",
    b"school:\n  name: \xc3\x28\n",
    bytes(range(256)),
    None,
    42,
]


def assert_clean_failure_or_school(text: Any) -> None:
    try:
        result = parse_school(text)
    except SchoolFileError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        assert not any("unexpected error" in p for p in exc.problems), exc.problems
    else:
        assert isinstance(result, School)


@pytest.mark.parametrize("text", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_only_raises_school_file_error(text: Any) -> None:
    assert_clean_failure_or_school(text)


def test_random_bytes_only_raise_school_file_error(tmp_path: Path) -> None:
    rng = random.Random(20260101)
    path = tmp_path / "junk.yaml"
    for _ in range(200):
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))))
        with pytest.raises(SchoolFileError) as caught:
            load_school(path)
        assert not any("unexpected error" in p for p in caught.value.problems)


def test_random_text_mutations_of_the_example_only_raise_school_file_error() -> None:
    rng = random.Random(7)
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    alphabet = " :-[]{}&*!|>'\"#%@`,?\t\nabc019"
    for _ in range(100):
        mutated = list(lines)
        for _ in range(rng.randrange(1, 4)):
            index = rng.randrange(len(mutated))
            line = mutated[index]
            action = rng.randrange(3)
            if action == 0:
                del mutated[index]
            elif action == 1 and line:
                position = rng.randrange(len(line))
                mutated[index] = line[:position] + rng.choice(alphabet) + line[position + 1 :]
            else:
                mutated.insert(index, line[: rng.randrange(len(line) + 1)])
        assert_clean_failure_or_school("\n".join(mutated))


WRONG_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1.5,
    "",
    "x",
    "P3X",
    "2026-13-01 10:00",
    [],
    [None],
    {},
    {"a": None},
    {"en": []},
]


def _replace_random_node(data: Any, rng: random.Random) -> Any:
    """Replace one random value somewhere in ``data`` with a wrong one."""
    slots: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                slots.append((node, key))
                walk(value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                slots.append((node, index))
                walk(value)

    walk(data)
    container, key = rng.choice(slots)
    container[key] = copy.deepcopy(rng.choice(WRONG_VALUES))
    return data


def test_wrong_types_everywhere_only_raise_school_file_error() -> None:
    rng = random.Random(42)
    original = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    failures = 0
    for _ in range(150):
        data = copy.deepcopy(original)
        for _ in range(rng.randrange(1, 4)):
            _replace_random_node(data, rng)
        text = yaml.safe_dump(data, allow_unicode=True, default_flow_style=False)
        try:
            parse_school(text)
        except SchoolFileError as exc:
            failures += 1
            assert not any("unexpected error" in p for p in exc.problems), exc.problems
    assert failures > 100  # the mutations do break the file


def _stars_channel(data: dict[str, Any], **offer_fields: object) -> None:
    data["groups"][0].update(kind="channel", join="stars_subscription")
    data["offers"].append(offer(code="club-stars", currency="XTR", price=250,
                                products=["club"], **offer_fields))


def test_a_channel_sold_as_a_stars_subscription() -> None:
    data = base()
    _stars_channel(data, access="subscription", period="P30D")
    school = parse(data)
    assert school.groups["club"].join is JoinMode.STARS_SUBSCRIPTION
    assert school.offers["club-stars"].price == Money(250, "XTR")


def test_stars_subscriptions_are_for_channels_sold_for_30_days() -> None:
    def group_kind(data: dict[str, Any]) -> None:
        _stars_channel(data, access="subscription", period="P30D")
        data["groups"][0]["kind"] = "group"

    [problem] = broken(group_kind)
    assert problem.startswith("groups[0].join:") and "kind: channel" in problem
    [problem] = broken(lambda d: _stars_channel(d, access="subscription", period="P1M"))
    assert problem.startswith("offers[1]:") and "period: P30D" in problem

    def no_offer(data: dict[str, Any]) -> None:
        data["groups"][0].update(kind="channel", join="stars_subscription")

    [problem] = broken(no_offer)
    assert problem.startswith("groups[0].join:") and "needs an offer priced in XTR" in problem


def test_receipts() -> None:
    data = base()
    data["school"].update(receipts={"vat_code": 1, "tax_system_code": 2})
    data["offers"][0].update(vat_code=11)
    school = parse(data)
    assert school.receipts == ReceiptRules(vat_code=1, tax_system_code=2, email_only=False)
    assert school.offers["python-lifetime"].vat_code == 11
    assert school.receipts.vat_of(school.offers["python-lifetime"]) == 11
    data["school"]["receipts"].update(contact="email")
    assert parse(data).receipts.email_only
    # Turned off, they are kept in the file (the offers' codes too) and nothing is sent.
    data["school"]["receipts"].update(enabled=False)
    assert parse(data).receipts is None
    assert parse(base()).receipts is None


def test_reminders_and_renewal_rules() -> None:
    data = base()
    data["school"].update(reminders=[2, -3, 0, -3], remind_hour=9,
                          renewals={"retry_every": "PT12H", "retries": 2})
    data["offers"][0].update(reminders=[-1])
    school = parse(data)
    assert school.reminders == (-3, 0, 2) and school.remind_hour == 9
    assert school.renewals.retry_every == timedelta(hours=12)
    assert school.renewals.retries == 2 and school.renewals.notice_days == 3
    assert school.offers["python-lifetime"].reminders == (-1,)
    [problem] = broken(lambda d: d["school"].update(remind_hour=25))
    assert problem.startswith("school.remind_hour")
