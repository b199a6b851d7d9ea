"""A fake YooKassa API v3 on 127.0.0.1 (aiohttp), faithful to the endpoints the gateway uses:
``POST /v3/payments`` (redirect confirmation, ``save_payment_method``, a charge of a saved
``payment_method_id``), ``GET /v3/payments/{id}``, ``POST /v3/refunds`` (in full or a part),
``GET /v3/refunds/{id}``.
Basic auth with the shop id and secret key; every POST needs an ``Idempotence-Key`` and a
repeated key answers the first response again (for the same shop), moving nothing; errors are
YooKassa's JSON (``type: error``, ``code``, ``description``).

A shop that sends fiscal receipts (54-FZ, ``receipts=True``) refuses a payment without a
``receipt`` as YooKassa does (400 ``invalid_request``, parameter ``receipt``, "Receipt is
missing or illegal"); any receipt sent is checked: a customer with an email or a phone, items
each with a description of at most 128 characters, a positive quantity, an amount in the
payment's currency and a VAT code 1-12, their sum equal to the payment's amount, and an
optional tax system code 1-6.

The student's side is ``pay`` (the payment page), the bank's ``declined`` methods, the
shop's dashboard ``refund_outside``; each notification YooKassa would send is in
``notifications``."""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import json
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from aiohttp import web
from aiohttp.test_utils import TestServer


def _error(status: int, code: str, description: str, parameter: str | None = None):
    body = {"type": "error", "id": str(uuid.uuid4()), "code": code, "description": description}
    if parameter:
        body["parameter"] = parameter
    return web.json_response(body, status=status)


PAYMENT_SUBJECTS = {"commodity", "excise", "job", "service", "payment", "casino",
                    "gambling_bet", "gambling_prize", "lottery", "lottery_prize",
                    "intellectual_activity", "agent_commission", "property_right",
                    "non_operating_gain", "insurance_premium", "sales_tax", "resort_fee",
                    "composite", "another"}
PAYMENT_MODES = {"full_prepayment", "partial_prepayment", "advance", "full_payment",
                 "partial_payment", "credit", "credit_payment"}
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_PHONE = re.compile(r"\d{7,15}")  # E.164 as YooKassa writes it: 79000000000


def receipt_problem(receipt: object, value: Decimal, currency: str) -> str | None:
    """What is wrong with a payment's ``receipt``, in YooKassa's words where known."""
    if not isinstance(receipt, dict):
        return "Receipt is missing or illegal"
    customer = receipt.get("customer") or {}
    email, phone = customer.get("email"), customer.get("phone")
    if not email and not phone:
        return "Receipt is missing or illegal: customer needs an email or a phone"
    if email and not _EMAIL.fullmatch(str(email)):
        return f"Receipt customer email {email!r} is illegal"
    if phone and not _PHONE.fullmatch(str(phone)):
        return f"Receipt customer phone {phone!r} is illegal: E.164 digits, such as 79000000000"
    items = receipt.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= 100:
        return "Receipt is missing or illegal: 1 to 100 items"
    total = Decimal(0)
    for index, item in enumerate(items):
        where = f"Receipt item {index}"
        description = item.get("description") if isinstance(item, dict) else None
        if not isinstance(description, str) or not 1 <= len(description) <= 128:
            return f"{where}: description must be 1 to 128 characters"
        try:
            quantity = Decimal(str(item["quantity"]))
            amount = Decimal(str(item["amount"]["value"]))
        except (KeyError, TypeError, InvalidOperation):
            return f"{where}: quantity and amount are required"
        if quantity <= 0 or amount < 0:
            return f"{where}: quantity and amount must be positive"
        if item["amount"].get("currency") != currency:
            return f"{where}: amount is not in the payment's currency"
        vat = item.get("vat_code")
        if isinstance(vat, bool) or not isinstance(vat, int) or not 1 <= vat <= 12:
            return f"{where}: vat_code must be 1 to 12"
        if item.get("payment_subject", "commodity") not in PAYMENT_SUBJECTS:
            return f"{where}: payment_subject is illegal"
        if item.get("payment_mode", "full_prepayment") not in PAYMENT_MODES:
            return f"{where}: payment_mode is illegal"
        total += amount * quantity
    if total != value:
        return f"The sum of the receipt items ({total}) is not the payment amount ({value})"
    tax_system = receipt.get("tax_system_code")
    if tax_system is not None and (isinstance(tax_system, bool) or tax_system not in range(1, 7)):
        return "Receipt tax_system_code must be 1 to 6"
    return None


class FakeYooKassa:
    def __init__(self, shop_id: str = "123456", secret_key: str = "test_secret",
                 receipts: bool = False) -> None:
        self.shop_id, self.secret_key = shop_id, secret_key
        self.receipts = receipts  # the shop sends fiscal receipts: every payment needs one
        self.payments: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.methods: dict[str, dict] = {}  # saved payment methods by id
        self.declined: set[str] = set()  # saved methods the bank declines
        self.hold: asyncio.Event | None = None  # POST /v3/payments waits for it when set
        self.in_flight: set[tuple[str, str, str]] = set()  # keys whose request is not done
        self._idle = asyncio.Event()
        self._idle.set()
        self.replies: dict[tuple[str, str, str], tuple[int, dict]] = {}
        self.requests: list[tuple[str, str, dict | None]] = []
        self.notifications: list[dict] = []
        self._ids = itertools.count(1)
        self.server: TestServer | None = None

    @property
    def api_url(self) -> str:
        return str(self.server.make_url("/v3"))

    async def start(self) -> FakeYooKassa:
        app = web.Application(middlewares=[self._auth])
        app.router.add_post("/v3/payments", self._create_payment)
        app.router.add_get("/v3/payments/{id}", self._get_payment)
        app.router.add_post("/v3/refunds", self._create_refund)
        app.router.add_get("/v3/refunds/{id}", self._get_refund)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    async def close(self) -> None:
        await self.server.close()

    # --- the protocol -----------------------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler):
        expected = base64.b64encode(f"{self.shop_id}:{self.secret_key}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return _error(401, "invalid_credentials",
                          "Login and password or token are invalid")
        body = await request.json() if request.method == "POST" else None
        self.requests.append((request.method, request.path, body))
        if request.method != "POST":
            return await handler(request)
        key = request.headers.get("Idempotence-Key")
        if not key or len(key) > 64:
            return _error(400, "invalid_request", "Idempotence key is missing or too long",
                          "Idempotence-Key")
        known = (self.shop_id, request.path, key)
        seen = self.replies.get(known)
        if seen is not None:
            return web.json_response(seen[1], status=seen[0])
        if known in self.in_flight:  # the first request with this key is still at work
            return web.json_response({"type": "processing", "description": "Request accepted",
                                      "id": str(uuid.uuid4()), "retry_after": 1800},
                                     status=202)
        self.in_flight.add(known)
        self._idle.clear()
        try:
            response = await handler(request)
            self.replies[known] = (response.status, _json_of(response))
        finally:
            self.in_flight.discard(known)
            if not self.in_flight:
                self._idle.set()
        return response

    def _new_id(self) -> str:
        return f"2f{next(self._ids):06d}-000f-5000-9000-{uuid.uuid4().hex[:12]}"

    def _now(self) -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    async def _create_payment(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.hold is not None:
            await self.hold.wait()
        amount = body.get("amount") or {}
        try:
            value = Decimal(amount["value"])
            currency = amount["currency"]
        except (KeyError, ArithmeticError, TypeError):
            return _error(400, "invalid_request", "Amount is invalid", "amount")
        if value <= 0 or len(currency) != 3:
            return _error(400, "invalid_request", "Amount is invalid", "amount.value")
        receipt = body.get("receipt")
        if receipt is None and self.receipts:
            return _error(400, "invalid_request", "Receipt is missing or illegal", "receipt")
        if receipt is not None and (problem := receipt_problem(receipt, value, currency)):
            return _error(400, "invalid_request", problem, "receipt")
        payment = {
            "id": self._new_id(), "status": "pending", "paid": False,
            "amount": {"value": f"{value:.2f}", "currency": currency},
            "description": body.get("description", ""),
            "recipient": {"account_id": self.shop_id, "gateway_id": "100001"},
            "created_at": self._now(), "test": True, "refundable": False,
            "metadata": body.get("metadata") or {},
        }
        if receipt is not None:
            payment["receipt_registration"] = "pending"
        method_id = body.get("payment_method_id")
        if method_id is not None:
            method = self.methods.get(method_id)
            if method is None:
                return _error(400, "invalid_request", "Payment method is not found or is not "
                              "saved", "payment_method_id")
            payment["payment_method"] = copy.deepcopy(method)
            if method_id in self.declined:
                self._finish(payment, "canceled",
                             {"party": "issuer", "reason": "insufficient_funds"})
            else:
                self._finish(payment, "succeeded")
        else:
            confirmation = body.get("confirmation") or {}
            if confirmation.get("type") != "redirect" or not confirmation.get("return_url"):
                return _error(400, "invalid_request", "Confirmation is invalid", "confirmation")
            payment["confirmation"] = {
                "type": "redirect", "return_url": confirmation["return_url"],
                "confirmation_url": str(self.server.make_url(f"/checkout/{payment['id']}")),
            }
            payment["_save"] = bool(body.get("save_payment_method"))
        self.payments[payment["id"]] = payment
        return web.json_response(_public(payment))

    def _finish(self, payment: dict, status: str, cancellation: dict | None = None) -> None:
        payment["status"] = status
        if status == "succeeded":
            payment.update(paid=True, refundable=True, captured_at=self._now(),
                           refunded_amount={"value": "0.00",
                                            "currency": payment["amount"]["currency"]})
            if "receipt_registration" in payment:
                payment["receipt_registration"] = "succeeded"
        else:
            payment["cancellation_details"] = cancellation
        self.notifications.append(self.notification(f"payment.{status}", payment["id"]))

    async def _get_payment(self, request: web.Request) -> web.Response:
        payment = self.payments.get(request.match_info["id"])
        if payment is None:
            return _error(404, "not_found", "Payment doesn't exist or access denied")
        return web.json_response(_public(payment))

    async def _create_refund(self, request: web.Request) -> web.Response:
        body = await request.json()
        payment = self.payments.get(body.get("payment_id", ""))
        if payment is None:
            return _error(404, "not_found", "Payment doesn't exist or access denied",
                          "payment_id")
        if payment["status"] != "succeeded":
            return _error(400, "invalid_request", "Payment is not succeeded", "payment_id")
        value = Decimal(body["amount"]["value"])
        left = Decimal(payment["amount"]["value"]) - Decimal(payment["refunded_amount"]["value"])
        if body["amount"]["currency"] != payment["amount"]["currency"] or not 0 < value <= left:
            return _error(400, "invalid_request", "Refund amount exceeds the payment amount",
                          "amount.value")
        return web.json_response(self._refund(payment, value))

    def _refund(self, payment: dict, value: Decimal) -> dict:
        refunded = Decimal(payment["refunded_amount"]["value"]) + value
        payment["refunded_amount"]["value"] = f"{refunded:.2f}"
        payment["refundable"] = refunded < Decimal(payment["amount"]["value"])
        refund = {"id": self._new_id(), "payment_id": payment["id"], "status": "succeeded",
                  "created_at": self._now(),
                  "amount": {"value": f"{value:.2f}",
                             "currency": payment["amount"]["currency"]}}
        self.refunds[refund["id"]] = refund
        self.notifications.append(self.notification("refund.succeeded", refund["id"]))
        return refund

    def refund_outside(self, payment_id: str, value: str | None = None) -> dict:
        """A refund made in YooKassa's dashboard (``value``, default: what is left); returns
        the notification YooKassa sends."""
        payment = self.payments[payment_id]
        left = Decimal(payment["amount"]["value"]) - Decimal(payment["refunded_amount"]["value"])
        self._refund(payment, Decimal(value) if value else left)
        return self.notifications[-1]

    async def _get_refund(self, request: web.Request) -> web.Response:
        refund = self.refunds.get(request.match_info["id"])
        if refund is None:
            return _error(404, "not_found", "Refund doesn't exist or access denied")
        return web.json_response(refund)

    async def idle(self) -> None:
        """Until no request is at work."""
        await self._idle.wait()

    # --- the student and the bank -----------------------------------------------------------

    def pay(self, payment_id: str, succeed: bool = True) -> dict:
        """The student pays (or gives up) on the payment page; returns the notification."""
        payment = self.payments[payment_id]
        assert payment["status"] == "pending", payment["status"]
        if succeed:
            method_id = f"pm-{uuid.uuid4()}"
            method = {"type": "bank_card", "id": method_id, "saved": payment["_save"],
                      "title": "Bank card *4444",
                      "card": {"first6": "555555", "last4": "4444", "expiry_month": "12",
                               "expiry_year": "2030", "card_type": "MasterCard"}}
            payment["payment_method"] = method
            if payment["_save"]:
                self.methods[method_id] = method
            self._finish(payment, "succeeded")
        else:
            self._finish(payment, "canceled", {"party": "yoo_money",
                                               "reason": "expired_on_confirmation"})
        return self.notifications[-1]

    def payment_for(self, confirmation_url: str) -> dict:
        return self.payments[confirmation_url.rsplit("/", 1)[1]]

    @staticmethod
    def notification(event: str, object_id: str) -> dict:
        return {"type": "notification", "event": event, "object": {"id": object_id}}


def _public(payment: dict) -> dict:
    return {k: v for k, v in payment.items() if not k.startswith("_")}


def _json_of(response: web.Response) -> dict:
    return json.loads(response.body)
