"""What the web handlers need, handed over by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from core.ports import (
    Clock,
    DownloadDesk,
    Notifier,
    PaymentDesk,
    PaymentGateway,
    UnitOfWorkFactory,
)
from core.school import School
from observability.metrics import Metrics


@dataclass
class Deps:
    uow_factory: UnitOfWorkFactory
    clock: Clock
    school: Callable[[], School]
    gateways: dict[str, PaymentGateway] = field(default_factory=dict)
    notifier: Notifier | None = None
    metrics: Metrics = field(default_factory=Metrics)
    desk: PaymentDesk | None = None  # what the gateways' routes settle through
    downloads: DownloadDesk | None = None  # the files behind signed links (CSV exports)


DEPS = web.AppKey("deps", Deps)
