"""The school as the core sees it: catalog, lessons, groups, texts. Immutable; built by
``core.school_file`` from the YAML file and replaced as a whole when the file changes."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.automations.model import Automation
from core.money import Money
from core.periods import Period
from core.staff import Role, StaffRef

# A text in several languages: {"en": "...", "ru": "..."}.
LocalText = Mapping[str, str]


def pick(text: LocalText | None, language: str, fallback: str) -> str:
    """The text in ``language``, else in the school's ``fallback`` language, else any."""
    if not text:
        return ""
    if language in text:
        return text[language]
    if fallback in text:
        return text[fallback]
    return next(iter(text.values()))


class OpeningKind(enum.StrEnum):
    IMMEDIATE = "immediate"
    AT = "at"  # a fixed moment
    AFTER = "after"  # a delay after the purchase starts


@dataclass(frozen=True)
class LessonOpening:
    kind: OpeningKind = OpeningKind.IMMEDIATE
    at: datetime | None = None  # aware UTC, for AT
    after: Period | None = None  # for AFTER

    def opens_at(self, purchase_start: datetime) -> datetime:
        if self.kind is OpeningKind.AT:
            assert self.at is not None
            return self.at
        if self.kind is OpeningKind.AFTER:
            assert self.after is not None
            return self.after.add_to(purchase_start)
        return purchase_start


@dataclass(frozen=True)
class Lesson:
    id: str
    title: LocalText
    link: str | None = None
    text: LocalText | None = None
    opening: LessonOpening = LessonOpening()


@dataclass(frozen=True)
class Course:
    code: str
    title: LocalText
    description: LocalText = field(default_factory=dict)
    lessons: tuple[Lesson, ...] = ()


class JoinMode(enum.StrEnum):
    INVITE_LINK = "invite_link"
    JOIN_REQUEST = "join_request"
    # Channels only: the offer priced in Stars opens the channel's subscription link and
    # Telegram charges the member every 30 days; students of other offers that include the
    # channel get personal invite links.
    STARS_SUBSCRIPTION = "stars_subscription"


@dataclass(frozen=True)
class Group:
    code: str
    chat_id: int
    title: LocalText
    kind: str = "group"  # group | channel
    join: JoinMode = JoinMode.INVITE_LINK
    allow: frozenset[str] = frozenset()  # Telegram user ids never removed


class ProductKind(enum.StrEnum):
    COURSE = "course"
    GROUP = "group"
    EXTERNAL = "external"


@dataclass(frozen=True)
class Product:
    code: str
    kind: ProductKind
    title: LocalText
    course: str | None = None
    group: str | None = None


class AccessKind(enum.StrEnum):
    LIFETIME = "lifetime"
    PERIOD = "period"
    SUBSCRIPTION = "subscription"


@dataclass(frozen=True)
class Offer:
    code: str
    title: LocalText
    price: Money
    products: tuple[str, ...]
    access: AccessKind = AccessKind.LIFETIME
    period: Period | None = None
    description: LocalText = field(default_factory=dict)
    public: bool = True
    sale_starts: datetime | None = None
    sale_ends: datetime | None = None
    seats: int | None = None
    extends: tuple[str, ...] = ()  # product codes; only their holders may buy
    stars: Money | None = None  # a price in Telegram Stars (XTR) beside ``price``
    reminders: tuple[int, ...] | None = None  # days relative to the end; None: the school's
    vat_code: int | None = None  # on its receipts; None: the school's (``ReceiptRules``)
    # Given away (``free: true``): price 0, enrolment with a "Get it free" button, no payment.
    free: bool = False

    def price_in(self, stars: bool) -> Money | None:
        return self.stars if stars else self.price

    def on_sale(self, now: datetime) -> bool:
        if self.sale_starts and now < self.sale_starts:
            return False
        return not (self.sale_ends and now >= self.sale_ends)


@dataclass(frozen=True)
class PromoCode:
    code: str
    percent: int | None = None
    amount: Money | None = None
    offers: tuple[str, ...] = ()  # empty: every offer
    max_uses: int | None = None
    valid_until: datetime | None = None

    def applies_to(self, offer_code: str) -> bool:
        return not self.offers or offer_code in self.offers

    def discounted(self, price: Money) -> Money:
        """The price after this code. Only 100 % gives zero; otherwise never below the minimum."""
        if self.percent == 100:
            return Money(0, price.currency)
        if self.percent is not None:
            # Round the discount down so the school never loses a fraction of a minor unit.
            new_amount = price.amount - price.amount * self.percent // 100
        else:
            assert self.amount is not None
            new_amount = price.amount - self.amount.amount
        return max(Money(new_amount, price.currency), price.minimum())


@dataclass(frozen=True)
class RenewalRules:
    """Automatic renewal: the notice before a charge, the retries after a failed one, and
    how long access is kept meanwhile."""

    notice_days: int = 3  # the "we will charge … on …" message, this many days ahead
    retry_every: timedelta = timedelta(hours=6)
    retries: int = 3  # attempts after the first failed one
    grace: timedelta = timedelta(days=3)  # access kept after the end while retrying


@dataclass(frozen=True)
class ReceiptRules:
    """Fiscal receipts (Russia's 54-FZ), sent with each payment through a gateway that issues
    them (YooKassa): the codes are YooKassa's. The student is asked once for the email or phone
    a receipt goes to."""

    vat_code: int  # 1 no VAT, 2 0 %, 3 10 %, 4 20 %, ... 11 22 %: an offer may set its own
    tax_system_code: int | None = None  # 1-6, for shops with several tax systems
    email_only: bool = False  # receipts go by email only (YooKassa's own receipts)

    def vat_of(self, offer: Offer | None) -> int:
        return offer.vat_code if offer is not None and offer.vat_code is not None \
            else self.vat_code


@dataclass(frozen=True)
class AdminRef:
    messenger: str
    external_id: str


@dataclass(frozen=True)
class School:
    name: str
    default_language: str
    timezone: ZoneInfo
    currency: str
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    staff: tuple[StaffRef, ...] = ()  # named in the school file
    courses: Mapping[str, Course] = field(default_factory=dict)
    groups: Mapping[str, Group] = field(default_factory=dict)
    products: Mapping[str, Product] = field(default_factory=dict)
    offers: Mapping[str, Offer] = field(default_factory=dict)  # in file order
    promo_codes: Mapping[str, PromoCode] = field(default_factory=dict)  # keys upper-case
    order_ttl: timedelta = timedelta(hours=1)
    support: str = ""  # contact shown in help, e.g. "@school_support"
    # Days relative to the end of access a reminder goes out: before (< 0), on the day (0),
    # after (> 0, a win-back with the renewal offer); at ``remind_hour`` local time.
    reminders: tuple[int, ...] = (-3, -1, 0, 2)
    remind_hour: int = 10
    renewals: RenewalRules = RenewalRules()
    receipts: ReceiptRules | None = None  # None: no receipts are sent
    # ``automations:`` of the file, by code in file order (``core.automations``).
    automations: Mapping[str, Automation] = field(default_factory=dict)

    def text(self, key: str, language: str) -> str | None:
        """The school's own wording for ``key``, if the file sets one."""
        for lang in (language, self.default_language):
            value = self.texts.get(lang, {}).get(key)
            if value:
                return value
        return None

    def offer(self, code: str) -> Offer | None:
        return self.offers.get(code)

    def courses_of(self, product_codes: tuple[str, ...]) -> list[Course]:
        result = []
        for code in product_codes:
            product = self.products.get(code)
            if product and product.kind is ProductKind.COURSE and product.course in self.courses:
                result.append(self.courses[product.course])
        return result

    def promo(self, code: str) -> PromoCode | None:
        return self.promo_codes.get(code.strip().upper())

    @property
    def admins(self) -> tuple[AdminRef, ...]:
        """Owners and admins named in the file: they get the alerts about money and groups."""
        return tuple(AdminRef(s.messenger, s.external_id) for s in self.staff
                     if s.role in (Role.OWNER, Role.ADMIN))

    def role_in_file(self, messenger: str, external_id: str) -> Role | None:
        return next((s.role for s in self.staff
                     if s.messenger == messenger and s.external_id == str(external_id)), None)

    def is_admin(self, messenger: str, external_id: str) -> bool:
        return AdminRef(messenger, str(external_id)) in self.admins
