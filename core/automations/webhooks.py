"""A ``webhook`` step's call to the school's own systems: a JSON body, signed, retried.

The body is the JSON the step recorded (``actions.webhook``: automation, run, step, student,
fields, answers, the event that started the run, and the step's own ``body`` as ``data``),
serialized the same way on every attempt. Headers:

- ``X-School-Signature: sha256=<hex>``: HMAC-SHA256 of the raw body with the platform's
  ``SECRET_KEY``; the school checks it before it trusts the call.
- ``X-School-Delivery: <call id>``: the same on every attempt of one call, so the school can
  ignore a repeat (a call whose answer got lost is sent again).

A 2xx answer ends it. Other answers and transport errors are tried again after a growing
wait (30 s, 1 min, 2 min ... at most an hour), ``MAX_ATTEMPTS`` times in all; a 4xx other
than 408, 425 and 429 is final at once (the school's system refuses the call as it is).
No transaction is open while a call is made."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta

from core.automations.records import WebhookCall
from core.ports import UnitOfWorkFactory, WebhookPoster

log = logging.getLogger(__name__)
SIGNATURE = "X-School-Signature"
DELIVERY = "X-School-Delivery"
MAX_ATTEMPTS = 8
STALE_AFTER = timedelta(minutes=2)  # a call SENDING longer than this lost its sender
RETRYABLE = frozenset({408, 425, 429})


def body_of(call: WebhookCall) -> bytes:
    return json.dumps(call.body, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode()


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, signature: str) -> bool:
    """What the school's side does with a call (and the tests)."""
    return hmac.compare_digest(sign(secret, body), signature)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


async def send_due(uow_factory: UnitOfWorkFactory, poster: WebhookPoster, secret: bytes,
                   now: datetime, batch: int = 20) -> int:
    """Send the calls due now. Returns how many were tried."""
    tried = 0
    while True:
        async with uow_factory() as uow:
            claimed = await uow.webhook_calls.claim(now, now - STALE_AFTER, batch)
            await uow.commit()
        for call in claimed:
            await _send(uow_factory, poster, secret, call, now)
        tried += len(claimed)
        if len(claimed) < batch:
            return tried


async def _send(uow_factory: UnitOfWorkFactory, poster: WebhookPoster, secret: bytes,
                call: WebhookCall, now: datetime) -> None:
    body = body_of(call)
    headers = {"Content-Type": "application/json", SIGNATURE: sign(secret, body),
               DELIVERY: str(call.id)}
    try:
        status: int | None = await poster.post(call.url, body, headers)
        error = f"HTTP {status}"
    except Exception as exc:  # the network, a timeout: try again
        status, error = None, f"{type(exc).__name__}: {exc}"
    async with uow_factory() as uow:
        if status is not None and 200 <= status < 300:
            await uow.webhook_calls.mark_sent(call.id, now)
        elif (status is not None and 400 <= status < 500 and status not in RETRYABLE) \
                or call.attempts >= MAX_ATTEMPTS:
            log.warning("webhook %s of automation %s to %s failed for good: %s", call.id,
                        call.automation, call.url, error)
            await uow.webhook_calls.mark_failed(call.id, error)
        else:
            log.info("webhook %s to %s: %s; again later", call.id, call.url, error)
            await uow.webhook_calls.mark_retry(call.id, now + backoff(call.attempts), error)
        await uow.commit()
