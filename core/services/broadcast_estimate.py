"""What a broadcast will take before it is sent: recipients per messenger, the time at each
messenger's pace (the messengers send side by side, so the slowest sets the whole), and the
cost where a messenger charges for a message the bot starts outside a session (the student
has not written within ``segments.SESSION``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from core.ports import Reach

DEFAULT_RATE = 30.0  # messages a second, for a messenger the settings give none


@dataclass(frozen=True)
class MessagePrice:
    amount: Decimal  # per message; a fraction of a cent is common (0.0053 EUR)
    currency: str


@dataclass(frozen=True)
class SendingTerms:
    """Each messenger's pace for bulk messages and its price per message outside a session,
    by messenger name (from the settings)."""

    rates: Mapping[str, float] = field(default_factory=dict)  # messages a second
    prices: Mapping[str, MessagePrice] = field(default_factory=dict)

    def rate(self, messenger: str) -> float:
        return self.rates.get(messenger) or DEFAULT_RATE


@dataclass(frozen=True)
class EstimateLine:
    messenger: str
    recipients: int
    seconds: float
    charged: int = 0  # messages outside a session, on a messenger that charges for them
    cost: MessagePrice | None = None  # ``charged`` times the price


@dataclass(frozen=True)
class Estimate:
    lines: tuple[EstimateLine, ...]

    @property
    def recipients(self) -> int:
        return sum(line.recipients for line in self.lines)

    @property
    def seconds(self) -> float:
        return max((line.seconds for line in self.lines), default=0.0)


def estimate(reach: Mapping[str, Reach], terms: SendingTerms) -> Estimate:
    lines = []
    for messenger, found in sorted(reach.items()):
        price = terms.prices.get(messenger)
        cost = MessagePrice(price.amount * found.idle, price.currency) if price else None
        lines.append(EstimateLine(messenger, found.recipients,
                                  found.recipients / terms.rate(messenger),
                                  found.idle if price else 0, cost))
    return Estimate(tuple(lines))
