"""The test gateway's web routes: the checkout page with its Pay and Decline forms, the form's
webhook, and the result page the student lands on after it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from core.models import OrderStatus
from core.ports import (
    InvalidNotification,
    PaymentDesk,
    UnknownOrder,
    WebRequest,
    WebResponse,
    WebRoute,
)
from payments.testgateway_texts import page_text

if TYPE_CHECKING:
    from payments.testgateway import TestGateway

log = logging.getLogger(__name__)

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f4f5f7;margin:0;
color:#1d2330}main{max-width:420px;margin:8vh auto;background:#fff;border-radius:14px;
padding:28px;box-shadow:0 4px 24px #0001}h1{font-size:1.3em;margin:0 0 4px}.muted{color:#667}
.total{display:flex;justify-content:space-between;font-size:1.2em;margin:22px 0;font-weight:600}
button{width:100%;padding:14px;border:0;border-radius:10px;font-size:1em;cursor:pointer;
margin-top:10px}.pay{background:#2f6fed;color:#fff}.decline{background:#eceef2;color:#1d2330}
.note{background:#fff7db;border-radius:8px;padding:10px;font-size:.9em;margin-top:18px}
"""


def page(title: str, body: str, language: str = "en", status: int = 200) -> WebResponse:
    html = (
        f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return WebResponse(status, html, "text/html")


def _message(language: str, key: str, status: int) -> WebResponse:
    return page(page_text(language, "title"), f"<p>{page_text(language, key)}</p>", language,
                status)


class CheckoutPages:
    def __init__(self, gateway: TestGateway, desk: PaymentDesk) -> None:
        self.gateway = gateway
        self.desk = desk

    def routes(self) -> Sequence[WebRoute]:
        return (
            WebRoute("GET", "/pay/{token}", self.checkout_page),
            WebRoute("GET", "/pay/{token}/done", self.result_page),
            WebRoute("POST", f"/payments/{self.gateway.name}/webhook", self.webhook),
        )

    def _form(self, view, outcome: str, label: str) -> str:
        fields = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
            for k, v in self.gateway.form_fields(view.order, outcome).items()
        )
        css = "decline" if outcome == "decline" else "pay"
        return (
            f'<form method="post" action="../payments/{self.gateway.name}/webhook">{fields}'
            f'<button class="{css}" type="submit">'
            f"{escape(label)}</button></form>"
        )

    async def checkout_page(self, request: WebRequest) -> WebResponse:
        view = await self.desk.checkout(request.params["token"])
        if view is None:
            return _message(self.desk.default_language, "unknown", 404)
        if view.order.status is not OrderStatus.NEW:
            return await self.result_page(request)
        lang = view.language
        forms = "".join(
            self._form(view, outcome, page_text(lang, outcome, price=view.price))
            for outcome in self.gateway.outcomes(view.order)
        )
        body = (
            f'<p class="muted">{escape(view.school)} · '
            f'{escape(page_text(lang, "order", id=view.order.id))}</p>'
            f"<h1>{escape(view.title)}</h1>"
            f'<div class="total"><span>{escape(page_text(lang, "total"))}</span>'
            f'<span id="price">{escape(view.price)}</span></div>{forms}'
            f'<p class="note">{escape(page_text(lang, "test_notice"))}</p>'
        )
        return page(page_text(lang, "title"), body, lang)

    async def result_page(self, request: WebRequest) -> WebResponse:
        view = await self.desk.checkout(request.params["token"])
        if view is None:
            return _message(self.desk.default_language, "unknown", 404)
        order, lang = view.order, view.language
        key = {
            OrderStatus.PAID: "paid",
            OrderStatus.PARTIALLY_PAID: "partial",
            OrderStatus.NEW: "declined",
        }.get(order.status, "closed")
        back = ""
        if order.status is OrderStatus.NEW:
            back = (f'<p><a href="../{escape(order.token)}">'
                    f'{escape(page_text(lang, "back"))}</a></p>')
        body = f'<h1 id="result" data-status="{key}">{escape(page_text(lang, key))}</h1>{back}'
        return page(page_text(lang, "title"), body, lang)

    async def webhook(self, request: WebRequest) -> WebResponse:
        """The submitted form: read, then settled through the platform's one payment path."""
        try:
            notice = self.gateway.parse_notification(request.body, request.headers)
        except InvalidNotification as exc:
            self.desk.refused(self.gateway.name, str(exc), request)
            return _message(self.desk.default_language, "refused", 403)
        try:
            await self.desk.settle(notice)
        except UnknownOrder:
            return WebResponse(404, "unknown order")
        # Relative, so the same pages work under a prefix (the sandbox's /sandbox/).
        return WebResponse(303, location=f"../../pay/{notice.order_token}/done")
