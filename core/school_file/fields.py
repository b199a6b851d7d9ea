"""Field types of the school file: each parses one YAML value and explains what is wrong with it.

Every validator raises ``ValueError`` with a message written for the school's staff; the
loader puts the location in front (``offers[2].price: ...``). ``Problems`` carries several
messages at once, each with a location below the field that raised it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import isodate
from pydantic import AfterValidator, BeforeValidator, PlainValidator, ValidationInfo

from core.money import CURRENCIES, Money, currency_rule
from core.periods import Period
from core.school import AdminRef

Loc = tuple[str | int, ...]

# The messengers a school file may name (``admins``), each with whether its user ids are
# numbers; the platform passes in those it has (None: any name is taken).
KnownMessengers = Mapping[str, bool]

_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_LESSON_ID = re.compile(r"[a-z0-9_-]{1,32}")
_PROMO = re.compile(r"[A-Za-z0-9_-]{3,32}")
_LANGUAGE = re.compile(r"[a-z]{2}")


class Problems(ValueError):
    """Several problems found by one validator, each at ``loc`` below the value validated."""

    def __init__(self, items: Iterable[tuple[Loc, str]]) -> None:
        self.items = list(items)
        super().__init__("; ".join(message for _, message in self.items))


@dataclass(frozen=True)
class Context:
    """What field validators need from the ``school:`` section (None where it is invalid)."""

    default_language: str | None = None
    timezone: ZoneInfo | None = None
    currency: str | None = None
    messengers: KnownMessengers | None = None


def context_of(info: ValidationInfo) -> Context:
    context = info.context
    if isinstance(context, Context):
        return context
    return Context()


def describe(value: object) -> str:
    """What a YAML value is, for messages like ``must be text, but it is a list``."""
    if value is None:
        return "it is empty"
    if isinstance(value, bool):
        return f"it is {str(value).lower()}"
    if isinstance(value, int | float | Decimal):
        return f"it is a number ({value})"
    if isinstance(value, str):
        return f"it is text ({value!r})" if len(value) <= 40 else "it is text"
    if isinstance(value, list | tuple | set | frozenset):
        return "it is a list"
    if isinstance(value, dict):
        return "it is a mapping"
    if isinstance(value, bytes):
        return "it is binary data"
    return f"it is {type(value).__name__}"


def as_text(value: object) -> str:
    """A scalar as text: YAML turns ``title: 2024`` into a number, the file meant text."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"must be text, but {describe(value)}")
    text = str(value).rstrip()
    if not text.strip():
        raise ValueError("must not be empty")
    return text


# ---- plain scalars --------------------------------------------------------------------------


def _optional_text(value: object) -> str:
    if value is None or value == "":
        return ""
    return as_text(value)


def _integer(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number, but {describe(value)}")
    return value


def _positive(value: int) -> int:
    if value < 1:
        raise ValueError(f"must be a positive whole number, but it is {value}")
    return value


def _chat_id(value: int) -> int:
    if value >= 0:
        raise ValueError(
            f"{value} is not a Telegram group or channel id: those are negative, "
            "such as -1001234567890"
        )
    return value


def _percent(value: int) -> int:
    if not 1 <= value <= 100:
        raise ValueError(f"must be between 1 and 100, but it is {value}")
    return value


def _vat_code(value: int) -> int:
    if not 1 <= value <= 12:
        raise ValueError(
            f"must be one of YooKassa's VAT codes 1 to 12 (1 no VAT, 2 0%, 3 10%, 4 20%, "
            f"5 10/110, 6 20/120, 7 5%, 8 7%, 9 5/105, 10 7/107, 11 22%, 12 22/122), "
            f"but it is {value}")
    return value


def _tax_system_code(value: int) -> int:
    if not 1 <= value <= 6:
        raise ValueError(
            f"must be one of YooKassa's tax system codes 1 to 6 (1 general, 2 simplified on "
            f"income, 3 simplified on income minus costs, 4 ENVD, 5 ESN, 6 patent), "
            f"but it is {value}")
    return value


def _matching(
    pattern: re.Pattern[str], explain: str, transform: Callable[[str], str] = str
) -> Callable[[object], str]:
    def check(value: object) -> str:
        text = as_text(value).strip()
        if not pattern.fullmatch(text):
            raise ValueError(f"{text!r} is not a valid {explain}")
        return transform(text)

    return check


def parse_language(value: object) -> str:
    text = as_text(value).strip()
    if not _LANGUAGE.fullmatch(text):
        raise ValueError(f"{text!r} is not a 2-letter language code such as en or ru")
    return text


def parse_currency(value: object) -> str:
    text = as_text(value).strip().upper()
    if text not in CURRENCIES:
        currency_rule(text)  # raises with the list of supported currencies
    return text


def parse_timezone(value: object) -> ZoneInfo:
    text = as_text(value).strip()
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"{text!r} is not an IANA time zone such as Europe/Berlin, America/New_York or UTC"
        ) from None


def _period(value: object) -> Period:
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO-8601 duration such as P30D or P1M, but {describe(value)}")
    try:
        return Period.parse(value.strip())
    except OverflowError:
        raise ValueError(f"{value.strip()!r} is too long") from None


def _duration(value: object) -> timedelta:
    """A fixed length (days, hours, minutes): months and years have no fixed length."""
    period = _period(value)
    length = isodate.parse_duration(period.iso)
    if not isinstance(length, timedelta):
        raise ValueError(
            f"{period.iso!r} must be in weeks, days, hours or minutes (such as PT1H or P1D), "
            "not months or years"
        )
    return length


def _url(value: object) -> str:
    text = as_text(value).strip()
    scheme, sep, _ = text.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise ValueError(f"{text!r} is not a web link: it must start with https:// or http://")
    try:
        host = urlsplit(text).hostname
    except ValueError:
        host = None
    if not host or any(char.isspace() for char in text):
        raise ValueError(f"{text!r} is not a valid web link")
    return text


def _admin(value: object, info: ValidationInfo) -> AdminRef:
    known = context_of(info).messengers
    example = f"such as {next(iter(known or {}), 'messenger')}:123456789"
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"must be messenger:user-id {example}, but {describe(value)}")
    messenger, sep, user_id = value.strip().partition(":")
    messenger, user_id = messenger.strip(), user_id.strip()
    if not sep or not messenger or not user_id or any(char.isspace() for char in user_id):
        raise ValueError(f"{value!r} is not messenger:user-id {example}")
    if known is not None and messenger not in known:
        raise ValueError(f"unknown messenger {messenger!r} (known: {', '.join(known)})")
    if known is not None and known[messenger] and not user_id.isdecimal():
        raise ValueError(
            f"{value!r}: {messenger} user ids are numbers, such as {messenger}:123456789 "
            "(not a @username)"
        )
    return AdminRef(messenger, user_id)


def _local_datetime(value: object, info: ValidationInfo) -> datetime:
    """``2026-12-01 10:00`` in the school's time zone (or with an explicit offset) as aware UTC."""
    zone = context_of(info).timezone or ZoneInfo("UTC")
    example = "such as 2026-12-01 10:00"
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a date and time {example}") from None
    else:
        raise ValueError(f"must be a date and time {example}, but {describe(value)}")
    try:
        if moment.tzinfo is not None:
            return moment.astimezone(UTC)
        local = moment.replace(tzinfo=zone)
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
            raise ValueError(
                f"{value!r} does not exist in {zone.key}: the clocks jump over it "
                "(summer time); pick another time"
            )
        return local.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value!r} is too far in the past or the future") from None


def _local_text(value: object, info: ValidationInfo) -> MappingProxyType[str, str]:
    """A plain string (in the default language) or a map ``{en: ..., ru: ...}``."""
    if isinstance(value, dict):
        if not value:
            raise ValueError("must not be empty")
        result: dict[str, str] = {}
        problems: list[tuple[Loc, str]] = []
        for language, text in value.items():
            if not isinstance(language, str) or not _LANGUAGE.fullmatch(language):
                problems.append(
                    ((), f"{language!r} is not a 2-letter language code such as en or ru")
                )
                continue
            try:
                result[language] = as_text(text)
            except ValueError as exc:
                problems.append(((language,), str(exc)))
        if problems:
            raise Problems(problems)
        return MappingProxyType(result)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"must be text or a map of language: text, but {describe(value)}")
    language = context_of(info).default_language or "en"
    return MappingProxyType({language: as_text(value)})


def one_of(*allowed: str) -> Callable[[object], str]:
    def check(value: object) -> str:
        if isinstance(value, str) and value.strip() in allowed:
            return value.strip()
        if isinstance(value, str):
            raise ValueError(f"{value!r} is not one of: {', '.join(allowed)}")
        raise ValueError(f"must be one of: {', '.join(allowed)}, but {describe(value)}")

    return check


def choice(enum_type: type[enum.StrEnum]) -> Callable[[object], enum.StrEnum]:
    check_value = one_of(*(member.value for member in enum_type))

    def check(value: object) -> enum.StrEnum:
        return enum_type(check_value(value))

    return check


def money_from(value: object, currency: str) -> Money:
    """A price or an amount: a number in major units, exact (``49.90``)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str | float):
        raise ValueError(f"must be a number such as 49.90, but {describe(value)}")
    if isinstance(value, str) and "," in value:
        raise ValueError(f"{value!r} is not a number: write decimals with a point, as in 49.90")
    return Money.from_major(value, currency)


# ---- the annotated types the models use --------------------------------------------------

Text = Annotated[str, PlainValidator(as_text)]
OptionalText = Annotated[str, PlainValidator(_optional_text)]
PositiveInt = Annotated[int, BeforeValidator(_integer), AfterValidator(_positive)]
ChatId = Annotated[int, BeforeValidator(_integer), AfterValidator(_chat_id)]
Percent = Annotated[int, BeforeValidator(_integer), AfterValidator(_percent)]
VatCode = Annotated[int, BeforeValidator(_integer), AfterValidator(_vat_code)]
TaxSystemCode = Annotated[int, BeforeValidator(_integer), AfterValidator(_tax_system_code)]
Code = Annotated[
    str,
    PlainValidator(
        _matching(
            _CODE,
            "code: use up to 32 lower-case latin letters, digits, - and _, "
            "starting with a letter or digit",
        )
    ),
]
LessonId = Annotated[
    str,
    PlainValidator(
        _matching(_LESSON_ID, "lesson id: use up to 32 lower-case latin letters, digits, - and _")
    ),
]
PromoCodeText = Annotated[
    str,
    PlainValidator(
        _matching(_PROMO, "promo code: use 3 to 32 latin letters, digits, - and _", str.upper)
    ),
]
Language = Annotated[str, PlainValidator(parse_language)]
Currency = Annotated[str, PlainValidator(parse_currency)]
Timezone = Annotated[ZoneInfo, PlainValidator(parse_timezone)]
PeriodField = Annotated[Period, PlainValidator(_period)]
Duration = Annotated[timedelta, PlainValidator(_duration)]
Url = Annotated[str, PlainValidator(_url)]
Admin = Annotated[AdminRef, PlainValidator(_admin)]
LocalDateTime = Annotated[datetime, PlainValidator(_local_datetime)]
LocalText = Annotated[MappingProxyType, PlainValidator(_local_text)]
