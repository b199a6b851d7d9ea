"""The webhook most gateways need: authenticate the notification, settle it through the
platform's one payment path, answer in JSON. A gateway gives only its reader."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from core.ports import (
    InvalidNotification,
    PaymentDesk,
    PaymentNotice,
    PaymentReturned,
    UnknownOrder,
    WebRequest,
    WebResponse,
    WebRoute,
)

# Reads one request: what it reports, or None for an event of no interest (answered 200 so
# the gateway stops sending it). Raises InvalidNotification for a forged or malformed one.
Reader = Callable[[WebRequest], Awaitable[PaymentNotice | PaymentReturned | None]]


def _json(status: int, body: dict) -> WebResponse:
    return WebResponse(status, json.dumps(body), "application/json")


def notification_route(gateway: str, read: Reader, desk: PaymentDesk,
                       path: str | None = None) -> WebRoute:
    """``POST /payments/<gateway>/webhook`` (or ``path``): 403 and nothing changed for a
    notification ``read`` refuses, 404 for an unknown order, 200 otherwise (a repeat too)."""

    async def handle(request: WebRequest) -> WebResponse:
        try:
            notification = await read(request)
        except InvalidNotification as exc:
            desk.refused(gateway, str(exc), request)
            return WebResponse(403, "invalid notification")
        if notification is None:
            return _json(200, {"ok": True})
        try:
            outcome = await desk.settle(notification)
        except UnknownOrder:
            return WebResponse(404, "unknown order")
        return _json(200, {"ok": True, "outcome": outcome})

    return WebRoute("POST", path or f"/payments/{gateway}/webhook", handle)
