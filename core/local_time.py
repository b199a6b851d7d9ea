"""A moment typed by a person in the school's local time: ``2026-12-24 10:00``,
``24.12.2026 10:00``, ``tomorrow 10:00`` (the words for today and tomorrow in any of the
languages given), as an aware UTC datetime."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})[ t]+(\d{1,2})[:.h](\d{2})")
_DOTTED = re.compile(r"(\d{1,2})[./](\d{1,2})[./](\d{4})\s+(\d{1,2})[:.h](\d{2})")
_WORD = re.compile(r"(\w+)\s+(\d{1,2})[:.h](\d{2})")


def parse_moment(text: str, now: datetime, zone: ZoneInfo,
                 days: Mapping[str, int]) -> datetime | None:
    """The moment ``text`` names in ``zone``; ``days`` maps words (lower case) to days from
    today (``{"today": 0, "tomorrow": 1}``). None when it names none."""
    typed = " ".join(text.strip().lower().split())
    try:
        if match := _ISO.fullmatch(typed):
            year, month, day, hour, minute = (int(g) for g in match.groups())
            return _at(date(year, month, day), hour, minute, zone)
        if match := _DOTTED.fullmatch(typed):
            day, month, year, hour, minute = (int(g) for g in match.groups())
            return _at(date(year, month, day), hour, minute, zone)
        if (match := _WORD.fullmatch(typed)) and match.group(1) in days:
            today = now.astimezone(zone).date()
            return _at(today + timedelta(days=days[match.group(1)]), int(match.group(2)),
                       int(match.group(3)), zone)
    except ValueError:  # 2026-02-30, 25:00
        return None
    return None


def _at(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)
