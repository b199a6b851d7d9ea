"""The bot's wording per language. The school file may override any key per language;
a student's language falls back to the school's default, then to English."""

from __future__ import annotations

import re
from datetime import datetime
from types import ModuleType
from zoneinfo import ZoneInfo

from core.school import School
from flows.texts import (
    automations,
    broadcast_compose,
    broadcasts,
    card,
    en,
    fr,
    inbox,
    promo,
    ru,
    staff,
    staff_menus,
    stats,
)

CATALOGS: dict[str, ModuleType] = {"en": en, "ru": ru, "fr": fr}
# Wording kept beside the flows it belongs to: each part is ``TEXTS = {language: {key: text}}``
# for every language above.
PARTS: tuple[ModuleType, ...] = (staff, inbox, stats, promo, staff_menus, card, automations,
                                  broadcast_compose, broadcasts)
for _part in PARTS:
    for _language, _texts in _part.TEXTS.items():
        CATALOGS[_language].TEXTS.update(_texts)
_SIMPLE_PERIOD = re.compile(r"^P(?:(\d+)([YMWD])|T(\d+)(H))$")


def normalize(language: str | None) -> str:
    """``"ru-RU"`` -> ``"ru"``; empty stays empty."""
    return (language or "").split("-")[0].split("_")[0].lower()


class Texts:
    """Wording for one student: their language, the school's overrides, their time zone."""

    def __init__(self, school: School, language: str | None, timezone: str | None = None):
        wanted = normalize(language)
        has_school_text = wanted in school.texts
        self.language = wanted if wanted in CATALOGS or has_school_text else school.default_language
        self.school = school
        self._catalog = CATALOGS.get(self.language) or CATALOGS.get(school.default_language) or en
        try:
            self.tz = ZoneInfo(timezone) if timezone else school.timezone
        except (ValueError, KeyError):
            self.tz = school.timezone

    def __call__(self, key: str, **params: object) -> str:
        template = (
            self.school.text(key, self.language)
            or self._catalog.TEXTS.get(key)
            or en.TEXTS[key]
        )
        try:
            return template.format(**params)
        except (KeyError, IndexError, ValueError):
            return template  # a school's override with a typo in a placeholder still shows

    def period(self, iso: str) -> str:
        match = _SIMPLE_PERIOD.match(iso)
        if not match:
            return iso
        count = int(match.group(1) or match.group(3))
        unit = match.group(2) or match.group(4)
        return f"{count} {self._catalog.plural(count, self._catalog.UNITS[unit])}"

    def date(self, moment: datetime) -> str:
        return self._catalog.date(moment.astimezone(self.tz))

    def datetime(self, moment: datetime) -> str:
        local = moment.astimezone(self.tz)
        return f"{self._catalog.date(local)} {local:%H:%M}"
