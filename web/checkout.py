"""The checkout page of the test gateway and its result page."""

from __future__ import annotations

from html import escape

from aiohttp import web

from core.models import Order, OrderStatus
from core.money import Money
from core.school import pick
from flows.texts import normalize
from payments.testgateway import PAID, TestGateway
from web.checkout_texts import page_text
from web.deps import DEPS, Deps

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f4f5f7;margin:0;
color:#1d2330}main{max-width:420px;margin:8vh auto;background:#fff;border-radius:14px;
padding:28px;box-shadow:0 4px 24px #0001}h1{font-size:1.3em;margin:0 0 4px}.muted{color:#667}
.total{display:flex;justify-content:space-between;font-size:1.2em;margin:22px 0;font-weight:600}
button{width:100%;padding:14px;border:0;border-radius:10px;font-size:1em;cursor:pointer;
margin-top:10px}.pay{background:#2f6fed;color:#fff}.decline{background:#eceef2;color:#1d2330}
.note{background:#fff7db;border-radius:8px;padding:10px;font-size:.9em;margin-top:18px}
"""


def page(title: str, body: str, language: str = "en", status: int = 200) -> web.Response:
    html = (
        f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return web.Response(text=html, content_type="text/html", status=status)


async def _order_and_language(deps: Deps, token: str) -> tuple[Order | None, str]:
    async with deps.uow_factory() as uow:
        order = await uow.orders.by_token(token)
        user = await uow.users.get(order.user_id) if order else None
    language = normalize(user.language) if user else ""
    return order, language or deps.school().default_language


def _form(gateway: TestGateway, order: Order, outcome: str, label: str) -> str:
    fields = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in gateway.form_fields(order, outcome).items()
    )
    css = "pay" if outcome in PAID else "decline"
    return (
        f'<form method="post" action="../payments/{gateway.name}/webhook">{fields}'
        f'<button class="{css}" type="submit">'
        f"{escape(label)}</button></form>"
    )


async def checkout_page(request: web.Request) -> web.Response:
    deps: Deps = request.app[DEPS]
    gateway = deps.gateways.get("test")
    if not isinstance(gateway, TestGateway):
        raise web.HTTPNotFound()
    order, lang = await _order_and_language(deps, request.match_info["token"])
    if order is None:
        return page(page_text(lang, "title"), f"<p>{page_text(lang, 'unknown')}</p>", lang, 404)
    if order.status is not OrderStatus.NEW:
        return await result_page(request)
    school = deps.school()
    offer = school.offer(order.offer_code)
    title = pick(offer.title, lang, school.default_language) if offer else order.offer_code
    price = Money(order.amount, order.currency).format(lang)
    forms = "".join(
        _form(gateway, order, outcome, page_text(lang, outcome, price=price))
        for outcome in gateway.outcomes(order)
    )
    body = (
        f'<p class="muted">{escape(school.name)} · '
        f'{escape(page_text(lang, "order", id=order.id))}</p>'
        f"<h1>{escape(title)}</h1>"
        f'<div class="total"><span>{escape(page_text(lang, "total"))}</span>'
        f'<span id="price">{escape(price)}</span></div>{forms}'
        f'<p class="note">{escape(page_text(lang, "test_notice"))}</p>'
    )
    return page(page_text(lang, "title"), body, lang)


async def result_page(request: web.Request) -> web.Response:
    deps: Deps = request.app[DEPS]
    order, lang = await _order_and_language(deps, request.match_info["token"])
    if order is None:
        return page(page_text(lang, "title"), f"<p>{page_text(lang, 'unknown')}</p>", lang, 404)
    key = {
        OrderStatus.PAID: "paid",
        OrderStatus.PARTIALLY_PAID: "partial",
        OrderStatus.NEW: "declined",
    }.get(order.status, "closed")
    back = ""
    if order.status is OrderStatus.NEW:
        back = f'<p><a href="../{escape(order.token)}">{escape(page_text(lang, "back"))}</a></p>'
    body = f'<h1 id="result" data-status="{key}">{escape(page_text(lang, key))}</h1>{back}'
    return page(page_text(lang, "title"), body, lang)
