"""ISO-8601 durations (``P30D``, ``P1M``, ``PT12H``) as calendar-aware periods."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import isodate


@dataclass(frozen=True)
class Period:
    iso: str

    @classmethod
    def parse(cls, text: str) -> Period:
        """Raise ``ValueError`` unless ``text`` is a positive ISO-8601 duration."""
        if not isinstance(text, str) or not text.startswith("P"):
            raise ValueError(f"{text!r} is not an ISO-8601 duration such as P30D or P1M")
        try:
            value = isodate.parse_duration(text)
        except (isodate.ISO8601Error, ValueError) as exc:
            raise ValueError(f"{text!r} is not an ISO-8601 duration such as P30D or P1M") from exc
        period = cls(text)
        probe = datetime(2000, 1, 1)
        if probe + value <= probe:
            raise ValueError(f"{text!r} must be longer than zero")
        return period

    def add_to(self, moment: datetime) -> datetime:
        return moment + isodate.parse_duration(self.iso)

    def approx(self) -> timedelta:
        """Length from a fixed reference date: for display and sorting, not for end dates."""
        probe = datetime(2001, 1, 1)
        return self.add_to(probe) - probe

    def __str__(self) -> str:
        return self.iso
