"""Stripe: one-time payments on a Checkout Session page, cards saved there for automatic
renewal charged off-session, refunds, and the signed webhook that reports payments.

The pay button opens ``/payments/stripe/pay/{token}``, which creates the Checkout Session
(outside any database transaction) and redirects to it; Stripe sends the student back to a
page that says to return to the chat. A payment is granted from the webhook only: its
signature is checked on the raw body (``TOLERANCE`` seconds either way of the platform's
clock), the session is fetched again from the API, and the notice goes through the core's one
payment path, which checks amount and currency against the order. Copies of one event that
arrive together are handled once (the first; the rest get its answer). A renewal is charged
with the renewal's deterministic key as Stripe's ``Idempotency-Key``: a charge whose answer
was lost is replayed by Stripe, never made twice, and a payment still processing is looked up
again rather than taken for a failure. Stripe forgets a key after 24 hours, so a charge whose
outcome is still unknown is first searched for by the key in its metadata, however late the
retry. Refunds, in full or a part, go through ``/refund``; refund events (``charge.refunded``,
``refund.*``) report what Stripe has given back of a payment by now, read from the charge."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from html import escape

import stripe

from core.models import Order, OrderStatus, Payment
from core.ports import (
    ChargeResult,
    Clock,
    InvalidNotification,
    PaymentDesk,
    PaymentNotice,
    PaymentReturned,
    Receipt,
    UnknownOrder,
    WebRequest,
    WebResponse,
    WebRoute,
)
from payments.stripe_texts import page_text

NAME = "stripe"
TOLERANCE = 300  # seconds a webhook's signature stays good
EVENTS_KEPT = 10_000  # event ids remembered to answer repeats without handling them again
PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
REFUND_EVENTS = ("charge.refunded", "refund.created", "refund.updated",
                 "charge.refund.updated")
KEY_FIELD = "charge_key"  # the metadata of a renewal's charge that holds its key
# Stripe's decline codes a student can act on; any other decline reads as a declined card.
REASONS = {"authentication_required": "authentication_required",
           "card_declined": "card_declined"}
STARS = "XTR"  # Telegram Stars: paid only inside Telegram

log = logging.getLogger(__name__)


class StillProcessing(Exception):
    """Stripe has not decided the charge yet: ask again later with the same key."""


def _json(status: int, body: dict) -> WebResponse:
    return WebResponse(status, json.dumps(body), "application/json")


def _page(language: str, key: str, status: int = 200) -> WebResponse:
    title = escape(page_text(language, "title"))
    html = (f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{title}</title></head><body><main>"
            f'<h1 id="result" data-status="{key}">{escape(page_text(language, key))}</h1>'
            f"</main></body></html>")
    return WebResponse(status, html, "text/html")


def _timestamp(header: str) -> int:
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isdigit():
            return int(value)
    raise InvalidNotification("the signature has no timestamp")


class StripeGateway:
    """A ``PaymentGateway`` paid on Stripe Checkout, a ``Charger`` of the cards saved there
    and a ``Refunder`` of its payments."""

    name = NAME
    in_chat = False
    label = "card"

    def __init__(self, api_key: str, webhook_secret: str, base_url: str, clock: Clock,
                 api_url: str | None = None, timeout: float = 30.0,
                 retries: int = 2) -> None:
        self._http = stripe.AIOHTTPClient(timeout=timeout)
        self.client = stripe.StripeClient(
            api_key, base_addresses={"api": api_url} if api_url else None,
            http_client=self._http, max_network_retries=retries)
        self.webhook_secret = webhook_secret
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self._events: OrderedDict[str, asyncio.Future[WebResponse]] = OrderedDict()

    async def close(self) -> None:
        """Close the SDK's HTTP session."""
        await self._http.close_async()

    def accepts(self, currency: str) -> bool:
        """Stripe charges cards in 135+ currencies (docs.stripe.com/currencies), every one
        the platform prices in (``core.money.CURRENCIES``) among them, Stars aside."""
        return currency != STARS

    def checkout_url(self, order: Order) -> str:
        return f"{self.base_url}/payments/{NAME}/pay/{order.token}"

    def routes(self, desk: PaymentDesk) -> Sequence[WebRoute]:
        async def pay(request: WebRequest) -> WebResponse:
            return await self.pay_page(desk, request.params["token"])

        async def done(request: WebRequest) -> WebResponse:
            return await self.result_page(desk, request.params["token"], cancelled=False)

        async def cancelled(request: WebRequest) -> WebResponse:
            return await self.result_page(desk, request.params["token"], cancelled=True)

        async def webhook(request: WebRequest) -> WebResponse:
            return await self.webhook(desk, request)

        return (
            WebRoute("GET", f"/payments/{NAME}/pay/{{token}}", pay),
            WebRoute("GET", f"/payments/{NAME}/done/{{token}}", done),
            WebRoute("GET", f"/payments/{NAME}/cancelled/{{token}}", cancelled),
            WebRoute("POST", f"/payments/{NAME}/webhook", webhook),
        )

    # --- checkout --------------------------------------------------------------------------

    def session_params(self, order: Order, title: str) -> dict:
        params: dict = {
            "mode": "payment",
            "client_reference_id": order.token,
            "line_items": [{"quantity": 1, "price_data": {
                "currency": order.currency.lower(), "unit_amount": order.amount,
                "product_data": {"name": title}}}],
            "success_url": f"{self.base_url}/payments/{NAME}/done/{order.token}",
            "cancel_url": f"{self.base_url}/payments/{NAME}/cancelled/{order.token}",
            "metadata": {"order": order.token},
            "payment_intent_data": {"metadata": {"order": order.token}},
        }
        if order.access == "subscription" and order.period:  # renewed by charging the card
            params["customer_creation"] = "always"
            params["payment_intent_data"]["setup_future_usage"] = "off_session"
        return params

    async def pay_page(self, desk: PaymentDesk, token: str) -> WebResponse:
        view = await desk.checkout(token)  # its transaction is over before Stripe is called
        if view is None:
            return _page(desk.default_language, "unknown", 404)
        if view.order.status is not OrderStatus.NEW:
            return await self.result_page(desk, token, cancelled=False)
        params = self.session_params(view.order, view.title)
        # The same order opened again gets the same session (one payment page per order),
        # unless what it sells changed.
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
        try:
            session = await self.client.v1.checkout.sessions.create_async(
                params, options={"idempotency_key": f"checkout-{token}-{digest}"})
        except stripe.StripeError as exc:
            log.error("stripe: no checkout session for order %s: %s", view.order.id, exc)
            return _page(view.language, "unavailable", 502)
        return WebResponse(303, location=session.url)

    async def result_page(self, desk: PaymentDesk, token: str, cancelled: bool) -> WebResponse:
        view = await desk.checkout(token)
        if view is None:
            return _page(desk.default_language, "unknown", 404)
        status = view.order.status
        if status is OrderStatus.PAID:
            key = "paid"
        elif status is OrderStatus.NEW:
            key = "cancelled" if cancelled else "confirming"
        else:
            key = "closed"
        return _page(view.language, key)

    # --- webhook ---------------------------------------------------------------------------

    def verify(self, request: WebRequest) -> stripe.Event:
        header = request.headers.get("Stripe-Signature", "")
        try:
            payload = request.body.decode("utf-8")
            event = stripe.Webhook.construct_event(payload, header, self.webhook_secret,
                                                   tolerance=None)
        except (ValueError, stripe.SignatureVerificationError) as exc:
            raise InvalidNotification(f"bad signature: {exc}") from None
        if abs(self.clock.now().timestamp() - _timestamp(header)) > TOLERANCE:
            raise InvalidNotification("the signature is too old or from the future")
        return event

    async def webhook(self, desk: PaymentDesk, request: WebRequest) -> WebResponse:
        try:
            event = self.verify(request)
        except InvalidNotification as exc:
            desk.refused(NAME, str(exc), request)
            return WebResponse(400, "invalid signature")
        handling = self._events.get(event.id)
        if handling is None:
            handling = asyncio.ensure_future(self._handle(desk, event))
            self._events[event.id] = handling
            while len(self._events) > EVENTS_KEPT:
                self._events.popitem(last=False)
        try:
            return await asyncio.shield(handling)
        except Exception:
            if self._events.get(event.id) is handling:  # Stripe sends it again later
                del self._events[event.id]
            raise

    async def _handle(self, desk: PaymentDesk, event: stripe.Event) -> WebResponse:
        notification = await self.read(event)
        if notification is None:
            return _json(200, {"ok": True})
        try:
            outcome = await desk.settle(notification)
        except UnknownOrder:
            return WebResponse(404, "unknown order")
        return _json(200, {"ok": True, "outcome": outcome})

    async def read(self, event: stripe.Event) -> PaymentNotice | PaymentReturned | None:
        """What a verified event reports; None for one of no interest here."""
        obj = event.data.object
        if event.type in PAID_EVENTS:
            return await self._session_notice(obj["id"])
        if event.type in REFUND_EVENTS and "payment_intent" in obj and obj["payment_intent"]:
            return await self._returned(obj["payment_intent"])
        return None

    async def _returned(self, intent_id: str) -> PaymentReturned | None:
        """How much of the payment Stripe has given back by now, from its charge (events may
        come late or out of order: the total as it is now is what counts)."""
        intent = await self.client.v1.payment_intents.retrieve_async(
            intent_id, {"expand": ["latest_charge"]})
        charge = intent.latest_charge
        if charge is None or isinstance(charge, str) or not charge.amount_refunded:
            return None  # a refund that failed, or nothing refunded yet
        return PaymentReturned(NAME, intent.id, refunded=charge.amount_refunded)

    async def _session_notice(self, session_id: str) -> PaymentNotice | None:
        session = await self.client.v1.checkout.sessions.retrieve_async(
            session_id, {"expand": ["payment_intent"]})
        token, intent = session.client_reference_id, session.payment_intent
        if session.payment_status != "paid" or not token or intent is None:
            return None  # not paid yet (a bank transfer), or not a session of this platform
        details: dict = {"session": session.id}
        if intent.setup_future_usage == "off_session" and session.customer \
                and intent.payment_method:
            details["saved_method"] = f"{session.customer}/{intent.payment_method}"
        return PaymentNotice(NAME, intent.id, token, session.amount_total,
                             session.currency.upper(), details=details)

    # --- renewals and refunds --------------------------------------------------------------

    async def charge(self, method: str, amount: int, currency: str, key: str,
                     receipt: Receipt | None = None,
                     sent_at: datetime | None = None) -> ChargeResult:
        """Charge a saved card off-session once per ``key`` (Stripe's Idempotency-Key). A
        timeout or 5xx raises: the next attempt with the same key gets the first answer.
        A key sent before (``sent_at``) whose answer was lost is looked up first: Stripe
        replays a key for 24 hours only, the search finds the charge later too (its index
        lags a minute or so, which the key's replay covers)."""
        customer, _, payment_method = method.partition("/")
        if not customer.startswith("cus_") or not payment_method:
            return ChargeResult(False, "", "unknown_card")
        if sent_at is not None:
            made = await self._charged_with(key)
            if made is not None:
                log.info("stripe: renewal %s was charged before (%s, %s)", key, made.id,
                         made.status)
                return await self._outcome(made)
        params = {"amount": amount, "currency": currency.lower(), "customer": customer,
                  "payment_method": payment_method, "off_session": True, "confirm": True,
                  "metadata": {KEY_FIELD: key}}
        try:
            intent = await self.client.v1.payment_intents.create_async(
                params, options={"idempotency_key": key})
        except stripe.CardError as exc:
            failed = exc.error.payment_intent if exc.error else None
            return ChargeResult(False, failed.id if failed else "",
                                REASONS.get(exc.code or "", "card_declined"))
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing":  # the card was detached or the customer deleted
                return ChargeResult(False, "", "unknown_card")
            raise
        return await self._outcome(intent)

    async def _charged_with(self, key: str) -> stripe.PaymentIntent | None:
        """The PaymentIntent a charge with ``key`` made, if any (a succeeded one first)."""
        quoted = key.replace("\\", "\\\\").replace("'", "\\'")
        found = await self.client.v1.payment_intents.search_async(
            {"query": f"metadata['{KEY_FIELD}']:'{quoted}'", "limit": 10})
        intents = [i for i in found.data
                   if i.metadata and KEY_FIELD in i.metadata and i.metadata[KEY_FIELD] == key]
        return next((i for i in intents if i.status == "succeeded"),
                    intents[0] if intents else None)

    async def _outcome(self, intent: stripe.PaymentIntent) -> ChargeResult:
        if intent.status == "processing":  # the replay may be stale: ask for it as it is now
            intent = await self.client.v1.payment_intents.retrieve_async(intent.id)
        if intent.status == "succeeded":
            return ChargeResult(True, intent.id)
        if intent.status == "processing":
            raise StillProcessing(intent.id)
        error = intent.last_payment_error
        return ChargeResult(False, intent.id,
                            REASONS.get((error.code if error else "") or "", "card_declined"))

    def refundable(self, payment: Payment, amount: int | None = None) -> bool:
        return payment.gateway == NAME

    async def refund(self, payment: Payment, amount: int | None = None) -> int | None:
        """Give back ``amount`` of the payment (None: what is left); returns what Stripe has
        given back of it by now, read from its charge. The key names what was given back
        before, so the same request repeated is Stripe's replay and a new part is new."""
        params: dict = {"payment_intent": payment.gateway_payment_id, "expand": ["charge"]}
        key = f"refund-{payment.gateway_payment_id}"
        if amount is not None:
            params["amount"] = amount
            key += f"-{payment.refunded_amount}-{amount}"
        try:
            refund = await self.client.v1.refunds.create_async(
                params, options={"idempotency_key": key})
        except stripe.InvalidRequestError as exc:
            if exc.code != "charge_already_refunded" or amount is not None:
                raise
            return None
        charge = refund.charge
        return None if charge is None or isinstance(charge, str) else charge.amount_refunded
