"""Rules across the items of the school file, and building the ``School`` once all is well.

The items come validated one by one (``models``); a broken item is still ``known`` by the code
written in it, so a reference to it is not reported on top of its own problems.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Generic, TypeVar

from pydantic import BaseModel

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
    ReceiptRules,
    RenewalRules,
    School,
)
from core.school_file.fields import Context
from core.school_file.models import (
    CourseItem,
    GroupItem,
    OfferItem,
    ProductItem,
    PromoItem,
    SchoolSection,
)
from core.staff import Role, StaffRef

M = TypeVar("M", bound=BaseModel)


@dataclass
class Entry(Generic[M]):
    index: int
    code: str | None  # as written, when it is text: known even if the item is broken
    item: M | None  # None when the item has problems


def _known(entries: list[Entry[M]]) -> list[str]:
    return list(dict.fromkeys(entry.code for entry in entries if entry.code is not None))


def _valid(entries: list[Entry[M]]) -> list[tuple[int, M]]:
    return [(entry.index, entry.item) for entry in entries if entry.item is not None]


def _unknown(what: str, plural: str, code: str, known: list[str]) -> str:
    if not known:
        return f"unknown {what} {code!r} (no {plural} are defined)"
    listing = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
    return f"unknown {what} {code!r} (known: {listing})"


class Checks:
    """Rules across items: lesson ids, references, chat ids, promo currencies."""

    def __init__(
        self,
        context: Context,
        courses: list[Entry[CourseItem]],
        groups: list[Entry[GroupItem]],
        products: list[Entry[ProductItem]],
        offers: list[Entry[OfferItem]],
        promos: list[Entry[PromoItem]],
        broken: frozenset[str] = frozenset(),
    ) -> None:
        self.context = context
        self.broken = broken  # sections that are not even a list: references to them wait
        self.courses, self.groups, self.products = courses, groups, products
        self.offers, self.promos = offers, promos
        self.lesson_ids: dict[int, list[str]] = {}  # course index -> lesson ids
        self.promo_offers: dict[int, tuple[str, ...]] = {}  # promo index -> offers it fits
        self.problems: list[str] = []

    def run(self) -> list[str]:
        self._lessons()
        self._products()
        self._groups()
        self._offers()
        self._promos()
        return self.problems

    def _lessons(self) -> None:
        for index, course in _valid(self.courses):
            ids: list[str] = []
            where: dict[str, int] = {}
            for position, lesson in enumerate(course.lessons):
                lesson_id = lesson.id or str(position + 1)
                if lesson_id in where:
                    other = f"courses[{index}].lessons[{where[lesson_id]}]"
                    if lesson.id:
                        self.problems.append(
                            f"courses[{index}].lessons[{position}].id: duplicate id "
                            f"{lesson_id!r}, already used by {other}"
                        )
                    else:
                        self.problems.append(
                            f"courses[{index}].lessons[{position}]: its default id "
                            f"{lesson_id!r} (its position) is already used by {other}; "
                            "give it an id"
                        )
                where.setdefault(lesson_id, position)
                ids.append(lesson_id)
            self.lesson_ids[index] = ids

    def _refer(self, path: str, code: str, section: str, entries: list[Entry[M]]) -> None:
        """Report ``code`` unless an item of ``section`` has it (even a broken item)."""
        if section in self.broken:
            return
        known = _known(entries)
        if code not in known:
            what = section.removesuffix("s")  # courses -> course
            self.problems.append(f"{path}: " + _unknown(what, section, code, known))

    def _products(self) -> None:
        for index, product in _valid(self.products):
            if product.course is not None:
                self._refer(f"products[{index}].course", product.course, "courses", self.courses)
            if product.group is not None:
                self._refer(f"products[{index}].group", product.group, "groups", self.groups)

    def _groups(self) -> None:
        chats: dict[int, int] = {}
        for index, group in _valid(self.groups):
            if group.chat_id in chats:
                self.problems.append(
                    f"groups[{index}].chat_id: the same chat as groups[{chats[group.chat_id]}]"
                )
            chats.setdefault(group.chat_id, index)

    def _offers(self) -> None:
        for index, offer in _valid(self.offers):
            for field in ("products", "extends"):
                for position, code in enumerate(getattr(offer, field)):
                    path = f"offers[{index}].{field}[{position}]"
                    self._refer(path, code, "products", self.products)
        self._stars_subscriptions()

    def _stars_subscriptions(self) -> None:
        """An offer priced in Stars whose only product is a stars_subscription channel is
        sold as Telegram's channel subscription: 30 days, renewed by Telegram."""
        channels = {g.code for _, g in _valid(self.groups)
                    if g.join is JoinMode.STARS_SUBSCRIPTION}
        product_group = {p.code: p.group for _, p in _valid(self.products) if p.group}
        sold = set()
        for index, offer in _valid(self.offers):
            granted = {product_group.get(code) for code in offer.products}
            if self.offer_currency(offer) != "XTR" or len(offer.products) != 1 or not (
                    granted <= channels):
                continue
            sold |= granted
            if offer.access is not AccessKind.SUBSCRIPTION or offer.period is None or (
                    offer.period.approx() != timedelta(days=30)):
                self.problems.append(
                    f"offers[{index}]: a Telegram Stars channel subscription renews every 30 "
                    "days: set access: subscription and period: P30D")
        for index, group in _valid(self.groups):
            if group.code in channels and group.code not in sold:
                self.problems.append(
                    f"groups[{index}].join: stars_subscription needs an offer priced in XTR "
                    "whose only product is this channel")

    def offer_currency(self, offer: OfferItem) -> str | None:
        return offer.currency or self.context.currency

    def _promos(self) -> None:
        valid_offers = {offer.code: offer for _, offer in _valid(self.offers)}
        all_valid = len(valid_offers) == len(self.offers)
        for index, promo in _valid(self.promos):
            currency = promo.money.currency if promo.money is not None else None
            for position, code in enumerate(promo.offers or ()):
                self._refer(f"promo_codes[{index}].offers[{position}]", code, "offers", self.offers)
                if currency and code in valid_offers:
                    offer_currency = self.offer_currency(valid_offers[code])
                    if offer_currency != currency:
                        self.problems.append(
                            f"promo_codes[{index}].offers[{position}]: offer {code!r} is priced "
                            f"in {offer_currency}, but the amount is in {currency}"
                        )
            if currency and promo.offers is None:
                # A fixed amount only fits offers in its currency: the code applies to those.
                fitting = tuple(
                    code
                    for code, offer in valid_offers.items()
                    if self.offer_currency(offer) == currency
                )
                if not fitting and valid_offers and all_valid:
                    self.problems.append(
                        f"promo_codes[{index}].amount: no offer is priced in {currency}"
                    )
                if len(fitting) < len(valid_offers):
                    self.promo_offers[index] = fitting


# ---- building the School -----------------------------------------------------------------------


def _frozen(items: dict[str, object]) -> MappingProxyType:  # type: ignore[type-arg]
    return MappingProxyType(items)


def build_school(
    section: SchoolSection, texts: dict[str, MappingProxyType[str, str]], checks: Checks
) -> School:
    empty: MappingProxyType[str, str] = MappingProxyType({})
    courses: dict[str, Course] = {}
    for index, course in _valid(checks.courses):
        lessons = []
        for lesson, lesson_id in zip(course.lessons, checks.lesson_ids[index], strict=True):
            if lesson.open_at is not None:
                opening = LessonOpening(OpeningKind.AT, at=lesson.open_at)
            elif lesson.open_after is not None:
                opening = LessonOpening(OpeningKind.AFTER, after=lesson.open_after)
            else:
                opening = LessonOpening()
            lessons.append(Lesson(lesson_id, lesson.title, lesson.link, lesson.text, opening))
        courses[course.code] = Course(
            course.code, course.title, course.description or empty, tuple(lessons)
        )

    groups = {
        group.code: Group(group.code, group.chat_id, group.title, group.kind, group.join,
                          frozenset(str(user) for user in group.allow))
        for _, group in _valid(checks.groups)
    }

    products: dict[str, Product] = {}
    for _, product in _valid(checks.products):
        title = product.title
        if title is None and product.kind is ProductKind.COURSE and product.course:
            title = courses[product.course].title
        if title is None and product.kind is ProductKind.GROUP and product.group:
            title = groups[product.group].title
        products[product.code] = Product(
            product.code, product.kind, title or empty, product.course, product.group
        )

    offers = {
        offer.code: Offer(
            code=offer.code,
            title=offer.title,
            price=offer.money,
            products=tuple(offer.products),
            access=offer.access,
            period=offer.period,
            description=offer.description or empty,
            public=offer.public,
            sale_starts=offer.sale.starts if offer.sale else None,
            sale_ends=offer.sale.ends if offer.sale else None,
            seats=offer.seats,
            extends=tuple(offer.extends),
            reminders=tuple(sorted(set(offer.reminders))) if offer.reminders is not None
            else None,
            stars=offer.stars,
            vat_code=offer.vat_code,
            free=offer.free,
        )
        for _, offer in _valid(checks.offers)
    }

    promo_codes = {
        promo.code: PromoCode(
            code=promo.code,
            percent=promo.percent,
            amount=promo.money,
            offers=checks.promo_offers.get(index, tuple(promo.offers or ())),
            max_uses=promo.max_uses,
            valid_until=promo.valid_until,
        )
        for index, promo in _valid(checks.promos)
    }

    return School(
        name=section.name,
        default_language=section.default_language,
        timezone=section.timezone,
        currency=section.currency,
        texts=_frozen(dict(texts)),
        staff=_staff(section),
        courses=_frozen(dict(courses)),
        groups=_frozen(dict(groups)),
        products=_frozen(dict(products)),
        offers=_frozen(dict(offers)),
        promo_codes=_frozen(dict(promo_codes)),
        support=section.support,
        **({"order_ttl": section.order_ttl} if section.order_ttl is not None else {}),
        **({"reminders": tuple(sorted(set(section.reminders)))}
           if section.reminders is not None else {}),
        **({"remind_hour": section.remind_hour} if section.remind_hour is not None else {}),
        **({"renewals": RenewalRules(**section.renewals.model_dump())}
           if section.renewals is not None else {}),
        receipts=_receipts(section),
    )


def _staff(section: SchoolSection) -> tuple[StaffRef, ...]:
    """Everyone the file names: ``admins`` as admins, then ``staff`` with their roles."""
    staff = {ref: Role.ADMIN for ref in section.admins} | dict(section.staff)
    return tuple(StaffRef(ref.messenger, ref.external_id, role) for ref, role in staff.items())


def _receipts(section: SchoolSection) -> ReceiptRules | None:
    rules = section.receipts
    if rules is None or not rules.enabled:
        return None
    return ReceiptRules(rules.vat_code, rules.tax_system_code, rules.contact == "email")


def vat_codes_without_receipts(section: SchoolSection,
                               offers: list[Entry[OfferItem]]) -> list[str]:
    """An offer's VAT code where the school sends no receipts at all is a mistake."""
    if section.receipts is not None:
        return []
    return [f"offers[{index}].vat_code: only used with receipts; turn them on in "
            "school.receipts" for index, offer in _valid(offers) if offer.vat_code is not None]
