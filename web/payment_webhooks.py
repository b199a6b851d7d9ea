"""``POST /payments/<gateway>/webhook``: every gateway's notifications enter here and go to
the core's one payment path."""

from __future__ import annotations

import logging

from aiohttp import web

from core import errors
from core.services import payments
from payments.base import InvalidNotification
from payments.testgateway import TestGateway
from web.checkout import page
from web.checkout_texts import page_text
from web.deps import DEPS, Deps

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


async def payment_webhook(request: web.Request) -> web.Response:
    deps: Deps = request.app[DEPS]
    gateway = deps.gateways.get(request.match_info["gateway"])
    if gateway is None:
        raise web.HTTPNotFound(text="unknown gateway")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
    body = await request.read()
    try:
        notice = gateway.parse_notification(body, request.headers)
    except InvalidNotification as exc:
        log.warning("refused a %s notification from %s: %s", gateway.name, request.remote, exc)
        deps.metrics.payment(gateway.name, "refused")
        if isinstance(gateway, TestGateway):
            lang = deps.school().default_language
            return page(page_text(lang, "title"), f"<p>{page_text(lang, 'refused')}</p>", lang, 403)
        raise web.HTTPForbidden(text="invalid notification") from None
    try:
        async with deps.uow_factory() as uow:
            result = await payments.confirm(uow, deps.school(), notice, deps.clock.now())
            await uow.commit()
    except errors.NotFound:
        raise web.HTTPNotFound(text="unknown order") from None
    log.info("payment %s/%s: %s", notice.gateway, notice.gateway_payment_id, result.outcome)
    deps.metrics.payment(notice.gateway, result.outcome.value)
    if deps.notifier is not None:
        deps.notifier.wake()
    if isinstance(gateway, TestGateway):
        # Relative, so the same pages work under a prefix (the sandbox's /sandbox/).
        raise web.HTTPSeeOther(f"../../pay/{notice.order_token}/done")
    return web.json_response({"ok": True, "outcome": result.outcome.value})
