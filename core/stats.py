"""The school's figures as staff read them (``/stats``, the daily digest) and the staff's
digest subscription. Computed by ``core.services.stats`` from aggregate queries."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Span(enum.StrEnum):
    TODAY = "today"
    WEEK = "7d"  # today and the 6 days before, school-local
    MONTH = "30d"  # today and the 29 days before
    ALL = "all"
    DAY = "day"  # one whole past day (the digest's)


@dataclass(frozen=True)
class Window:
    span: Span
    start: datetime | None  # None: since the beginning
    end: datetime  # exclusive: now, or the end of the day reported


@dataclass(frozen=True)
class Takings:
    """Money moved in a window, per currency, in minor units."""

    taken: int = 0  # payments received (refunded later or not)
    refunded: int = 0  # payments given back in the window

    @property
    def net(self) -> int:
        return self.taken - self.refunded


@dataclass
class Report:
    window: Window
    money: dict[str, Takings] = field(default_factory=dict)
    orders: int = 0  # placed by students (an automatic renewal's own order is not)
    paid_orders: int = 0  # of those, paid
    new_students: int = 0
    renewals: int = 0  # paid orders that extended a purchase (by hand or automatically)
    churned: int = 0  # purchases that ran out (or whose renewal failed) and were not renewed
    active_by_product: dict[str, int] = field(default_factory=dict)  # now
    renewable: int = 0  # running purchases that have an end (now)
    auto_renewing: int = 0  # of those, renewing by themselves

    @property
    def conversion(self) -> float | None:
        return self.paid_orders / self.orders if self.orders else None

    @property
    def churn(self) -> float | None:
        """Of the purchases that came to their end in the window: renewed or ran out."""
        due = self.churned + self.renewals
        return self.churned / due if due else None

    @property
    def auto_share(self) -> float | None:
        return self.auto_renewing / self.renewable if self.renewable else None

    def main_currency(self, default: str) -> str:
        """The currency the chart shows: the school's own if money came in it, else the one
        most came in (amounts in different currencies are not compared otherwise)."""
        taken = {currency: m.taken for currency, m in self.money.items() if m.taken}
        if default in taken or not taken:
            return default
        return max(taken, key=lambda currency: (taken[currency], currency))


class Unit(enum.StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass
class Series:
    """Per period of ``unit`` between ``edges`` (one period fewer than edges): net revenue
    per currency in minor units, and how many students had access at some time in it."""

    unit: Unit
    edges: list[datetime]
    revenue: dict[str, list[int]]
    active: list[int]


@dataclass
class StaffDigest:
    """A staff account's daily digest: due at ``hour`` school-local time; off when
    ``due_at`` is None."""

    messenger: str = ""
    external_id: str = ""
    hour: int = 9
    due_at: datetime | None = None
    updated_at: datetime | None = None
    id: int = 0

    @property
    def account(self) -> str:
        return f"{self.messenger}:{self.external_id}"
