"""The platform's Prometheus metrics. Each platform (the school, the sandbox beside it) has
its own ``Metrics`` in a registry of its own, so their numbers never mix and tests never see
each other's; every record is one call at the point where the thing happens."""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# Seconds to answer an update: a press is answered in milliseconds; seconds mean trouble.
PRESS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SWEEP_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self._updates = Histogram(
            "school_update_seconds", "Time to handle one update (a press, a message, a "
            "payment), by messenger and kind", ["messenger", "kind"], buckets=PRESS_BUCKETS,
            registry=r)
        self._sent = Counter("school_outbox_sent", "Messages the outbox delivered, by messenger",
                             ["messenger"], registry=r)
        self._rate_limited = Counter(
            "school_rate_limited", "Sends a messenger refused for the rate (HTTP 429, "
            "retry after), by messenger", ["messenger"], registry=r)
        self.outbox_backlog = Gauge(
            "school_outbox_backlog", "Outbox messages due now and not sent yet", registry=r)
        self._payments = Counter(
            "school_payments", "Payment notifications, by gateway and result (paid, "
            "duplicate, ..., refused: failed its signature check)", ["gateway", "result"],
            registry=r)
        self._sweeps = Histogram("school_sweep_seconds", "Duration of each sweep run",
                                 ["sweep"], buckets=SWEEP_BUCKETS, registry=r)
        self._lease = Gauge("school_scheduler_lease",
                            "1 while this process holds the scheduler lease (runs the sweeps)",
                            registry=r)

    def handled(self, messenger: str, kind: str, since: float) -> None:
        """One update handled, begun at ``since`` (``time.perf_counter()``); the histogram's
        _count is the number handled."""
        self._updates.labels(messenger, kind).observe(time.perf_counter() - since)

    def sent(self, messenger: str) -> None:
        self._sent.labels(messenger).inc()

    def rate_limited(self, messenger: str) -> None:
        self._rate_limited.labels(messenger).inc()

    def payment(self, gateway: str, result: str) -> None:
        self._payments.labels(gateway, result).inc()

    def swept(self, name: str, seconds: float) -> None:
        self._sweeps.labels(name).observe(seconds)

    def lease(self, held: bool) -> None:
        self._lease.set(1 if held else 0)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)
