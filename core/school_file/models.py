"""The sections of the school file as pydantic models: one per list item, unknown fields refused.

The models check each item on its own (types, formats, rules between its fields). Rules that
look across items (duplicate codes, references) live in ``crossref``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    field_validator,
    model_validator,
)

from core.money import Money
from core.school import AccessKind, JoinMode, ProductKind
from core.school_file.fields import (
    Admin,
    ChatId,
    Code,
    Currency,
    Duration,
    Language,
    LessonId,
    Loc,
    LocalDateTime,
    LocalText,
    OptionalText,
    Percent,
    PeriodField,
    PositiveInt,
    Problems,
    PromoCodeText,
    TaxSystemCode,
    Text,
    Timezone,
    Url,
    VatCode,
    choice,
    context_of,
    money_from,
    one_of,
)
from core.staff import Role

StaffRole = Annotated[Role, PlainValidator(choice(Role))]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, arbitrary_types_allowed=True, coerce_numbers_to_str=True
    )  # every field type parses its own input; extra="forbid" catches typos


def _duplicates(values: list[str], field: str, what: str) -> list[tuple[Loc, str]]:
    seen: set[str] = set()
    problems: list[tuple[Loc, str]] = []
    for index, value in enumerate(values):
        if value in seen:
            problems.append(((field, index), f"{what} {value!r} is listed twice"))
        seen.add(value)
    return problems


# Days relative to the end of access: -3 three days before, 0 the last day, 2 two days after.
Reminders = Annotated[list[Annotated[int, Field(ge=-60, le=60)]], Field(max_length=10)]


class RenewalsSection(_Model):
    notice_days: Annotated[int, Field(ge=0, le=30)] = 3
    retry_every: Duration = timedelta(hours=6)
    retries: Annotated[int, Field(ge=0, le=20)] = 3
    grace: Duration = timedelta(days=3)


class ReceiptsSection(_Model):
    """Fiscal receipts (54-FZ) with each YooKassa payment."""

    enabled: bool = True
    vat_code: VatCode  # the offers' unless one sets its own
    tax_system_code: TaxSystemCode | None = None
    contact: Annotated[str, PlainValidator(one_of("email_or_phone", "email"))] = "email_or_phone"


class SchoolSection(_Model):
    name: Text
    default_language: Language
    timezone: Timezone
    currency: Currency
    support: OptionalText = ""
    admins: list[Admin] = []
    # ``messenger:user-id: role``; an account listed under ``admins`` has the admin role.
    staff: dict[Admin, StaffRole] = {}
    order_ttl: Duration | None = None  # None: the School's default
    reminders: Reminders | None = None
    remind_hour: Annotated[int, Field(ge=0, le=23)] | None = None
    renewals: RenewalsSection | None = None
    receipts: ReceiptsSection | None = None

    @field_validator("admins", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return [] if value is None else value

    @field_validator("staff", mode="before")
    @classmethod
    def _no_staff(cls, value: object) -> object:
        return {} if value is None else value

    @model_validator(mode="after")
    def _one_role_each(self) -> SchoolSection:
        twice = [account for account in self.staff if account in self.admins]
        if twice:
            raise Problems([(("staff",), f"{twice[0].messenger}:{twice[0].external_id} is "
                                         "under admins and staff: give it one role, in staff")])
        return self


class LessonItem(_Model):
    id: LessonId | None = None
    title: LocalText
    link: Url | None = None
    text: LocalText | None = None
    open_after: PeriodField | None = None
    open_at: LocalDateTime | None = None

    @model_validator(mode="after")
    def _rules(self) -> LessonItem:
        problems: list[tuple[Loc, str]] = []
        if self.link is None and self.text is None:
            problems.append(((), "a lesson needs a link or a text (or both)"))
        if self.open_after is not None and self.open_at is not None:
            problems.append(((), "set open_after or open_at, not both"))
        if problems:
            raise Problems(problems)
        return self


class CourseItem(_Model):
    code: Code
    title: LocalText
    description: LocalText | None = None
    lessons: Annotated[list[LessonItem], Field(min_length=1)]


class GroupItem(_Model):
    code: Code
    chat_id: ChatId
    title: LocalText
    kind: Annotated[str, PlainValidator(one_of("group", "channel"))] = "group"
    join: Annotated[JoinMode, PlainValidator(choice(JoinMode))] = JoinMode.INVITE_LINK
    # Telegram user ids never removed from this chat though they bought nothing (guests,
    # teachers who are not admins there).
    allow: list[Annotated[int, Field(gt=0)]] = []

    @model_validator(mode="after")
    def _subscription_in_channels(self) -> GroupItem:
        if self.join is JoinMode.STARS_SUBSCRIPTION and self.kind != "channel":
            raise Problems([(("join",), "stars_subscription works only for kind: channel "
                                        "(Telegram sells subscriptions to channels only)")])
        return self


class ProductItem(_Model):
    code: Code
    kind: Annotated[ProductKind, PlainValidator(choice(ProductKind))]
    course: Text | None = None
    group: Text | None = None
    title: LocalText | None = None

    @model_validator(mode="after")
    def _rules(self) -> ProductItem:
        problems: list[tuple[Loc, str]] = []
        wanted = {
            ProductKind.COURSE: "course",
            ProductKind.GROUP: "group",
            ProductKind.EXTERNAL: None,
        }[self.kind]
        for field in ("course", "group"):
            present = getattr(self, field) is not None
            if field == wanted and not present:
                problems.append(((field,), f"required when kind is {self.kind.value}"))
            elif field != wanted and present:
                problems.append(((field,), f"not allowed when kind is {self.kind.value}"))
        if self.kind is ProductKind.EXTERNAL and self.title is None:
            problems.append((("title",), "required when kind is external"))
        if problems:
            raise Problems(problems)
        return self


class SaleWindow(_Model):
    starts: LocalDateTime | None = None
    ends: LocalDateTime | None = None

    @model_validator(mode="after")
    def _order(self) -> SaleWindow:
        if self.starts is not None and self.ends is not None and self.starts >= self.ends:
            raise ValueError("starts must be before ends")
        return self


class OfferItem(_Model):
    code: Code
    title: LocalText
    description: LocalText | None = None
    currency: Currency | None = None
    free: bool = False  # given away: price 0, enrolment without payment
    price: Any  # becomes Money
    products: Annotated[list[Text], Field(min_length=1)]
    access: Annotated[AccessKind, PlainValidator(choice(AccessKind))] = AccessKind.LIFETIME
    period: PeriodField | None = None
    public: bool = True
    sale: SaleWindow | None = None
    seats: PositiveInt | None = None
    extends: list[Text] = []
    stars: Any = None  # an optional price in Telegram Stars beside the main one
    reminders: Reminders | None = None  # None: the school's
    vat_code: VatCode | None = None  # on its receipts; None: school.receipts.vat_code

    @field_validator("stars")
    @classmethod
    def _stars(cls, value: object, info: ValidationInfo) -> Money | None:
        if value is None:
            return None
        if (info.data.get("currency") or context_of(info).currency) == "XTR":
            raise ValueError("the price is in Telegram Stars already; leave stars out")
        price = money_from(value, "XTR")
        problem = price.limits_problem()
        if problem:
            raise ValueError(problem)
        return price

    @field_validator("price")
    @classmethod
    def _price(cls, value: object, info: ValidationInfo) -> Money | None:
        if "currency" not in info.data:
            return None  # the currency is wrong: that is the problem to report
        currency = info.data["currency"] or context_of(info).currency
        if currency is None:
            return None  # the school's currency is wrong: reported there
        price = money_from(value, currency)
        free = info.data.get("free") is True
        if free and price.amount != 0:
            raise ValueError("a free offer costs nothing: write price: 0")
        problem = price.limits_problem()
        if problem and not free:
            if price.amount == 0:
                problem += "; an offer given away for nothing says free: true"
            raise ValueError(problem)
        return price

    @field_validator("extends", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return [] if value is None else value

    @model_validator(mode="after")
    def _rules(self) -> OfferItem:
        problems = _duplicates(self.products, "products", "product")
        problems += _duplicates(self.extends, "extends", "product")
        if self.access is AccessKind.LIFETIME:
            if self.period is not None:
                problems.append((("period",), "not allowed when access is lifetime"))
            if self.extends:
                problems.append(
                    (("extends",), "a renewal offer needs access: period or subscription")
                )
        elif self.period is None:
            problems.append((("period",), f"required when access is {self.access.value}"))
        problems += self._free()
        if problems:
            raise Problems(problems)
        return self

    @property
    def money(self) -> Money:
        assert isinstance(self.price, Money)
        return self.price

    def _free(self) -> list[tuple[Loc, str]]:
        """A free offer (its price 0 is checked with the price) has no Stars price and
        nothing to renew."""
        if not self.free:
            return []
        problems: list[tuple[Loc, str]] = []
        if self.stars is not None:
            problems.append((("stars",), "a free offer has no price in Stars"))
        if self.access is AccessKind.SUBSCRIPTION:
            problems.append((("access",), "a free offer has nothing to renew: use lifetime "
                                          "or period"))
        return problems


class PromoItem(_Model):
    code: PromoCodeText
    percent: Percent | None = None
    currency: Currency | None = None
    amount: Any = None  # becomes Money (stays as written while the currency is unknown)
    offers: list[Text] | None = None
    max_uses: PositiveInt | None = None
    valid_until: LocalDateTime | None = None

    @field_validator("offers", mode="before")
    @classmethod
    def _not_empty(cls, value: object) -> object:
        if value == []:
            raise ValueError("leave offers out to apply to every offer; an empty list fits none")
        return value

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: object, info: ValidationInfo) -> object:
        if value is None or "currency" not in info.data:
            return value
        currency = info.data["currency"] or context_of(info).currency
        if currency is None:
            return value  # the school's currency is wrong: reported there
        amount = money_from(value, currency)
        if amount.amount <= 0:
            raise ValueError(f"must be more than 0, but it is {amount}")
        return amount

    @model_validator(mode="after")
    def _rules(self) -> PromoItem:
        problems: list[tuple[Loc, str]] = []
        if self.percent is None and self.amount is None:
            problems.append(((), "set percent or amount"))
        if self.percent is not None and self.amount is not None:
            problems.append(((), "set percent or amount, not both"))
        if self.currency is not None and self.amount is None:
            problems.append((("currency",), "only used with amount"))
        if self.offers:
            problems += _duplicates(self.offers, "offers", "offer")
        if problems:
            raise Problems(problems)
        return self

    @property
    def money(self) -> Money | None:
        """The fixed discount, once it is known to be valid."""
        return self.amount if isinstance(self.amount, Money) else None
