"""A broadcast's estimate: time at each messenger's pace, side by side, and the cost of the
messages a messenger charges for."""

from __future__ import annotations

from decimal import Decimal

from core.ports import Reach
from core.services.broadcast_estimate import MessagePrice, SendingTerms, estimate


def test_the_estimate_of_time_and_cost():
    terms = SendingTerms(rates={"telegram": 30, "viber": 10},
                         prices={"viber": MessagePrice(Decimal("0.0053"), "EUR")})
    found = estimate({"telegram": Reach(9000, 8000), "viber": Reach(1000, 400),
                      "console": Reach(60, 60)}, terms)
    by_messenger = {line.messenger: line for line in found.lines}
    assert found.recipients == 10060
    assert by_messenger["telegram"].seconds == 300 and by_messenger["telegram"].cost is None
    assert by_messenger["viber"].seconds == 100
    assert by_messenger["viber"].charged == 400
    assert by_messenger["viber"].cost == MessagePrice(Decimal("2.1200"), "EUR")
    assert by_messenger["console"].seconds == 2  # a messenger with no rate: the default, 30
    assert found.seconds == 300  # side by side: the slowest
