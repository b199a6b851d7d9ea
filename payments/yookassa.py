"""YooKassa: card (and other) payments on YooKassa's own page, through the official ``yookassa``
SDK.

The pay button opens this gateway's ``/payments/yookassa/pay/{token}``, which creates the
payment (redirect confirmation; a subscription's payment saves its method for renewals) outside
any transaction, with an Idempotence-Key fixed per order, and sends the student to YooKassa.
A notification is never trusted as it comes: the payment it names is fetched again from the
API (copies arriving together share the request), and only what the API says is settled
(optionally the sender's address must also be one of YooKassa's networks). Renewals charge
the saved ``payment_method_id`` with the renewal's deterministic key; refunds, in full or a
part, go through the staff's ``/refund``, and ``refund.succeeded`` reports what YooKassa has
given back of a payment by now. While the school sends fiscal receipts (54-FZ), each payment
and each renewal carries its receipt.

The SDK is synchronous and keeps its account in one global ``Configuration``: its calls run in
a thread of their own, each given up after ``timeout`` seconds (one YooKassa account per
process)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr, model_validator

from core.models import Order, OrderStatus, Payment, PaymentStatus
from core.ports import (
    ChargeResult,
    InvalidNotification,
    PaymentDesk,
    PaymentNotice,
    PaymentReturned,
    Receipt,
    WebRequest,
    WebResponse,
    WebRoute,
)
from payments.testgateway_page import page
from payments.webhook import notification_route

log = logging.getLogger(__name__)
NAME = "yookassa"
API_URL = "https://api.yookassa.ru/v3"
# Where YooKassa sends notifications from (its documentation's list).
YOOKASSA_NETWORKS = (
    "185.71.76.0/27", "185.71.77.0/27", "77.75.153.0/25", "77.75.156.11/32",
    "77.75.156.35/32", "77.75.154.128/25", "2a02:5180::/32",
)
# Digits after the point, where not two (the platform's minor units are ISO 4217's).
EXPONENTS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "UGX": 0, "XTR": 0}
# The currencies a YooKassa payment may be in: the SDK's ``yookassa.domain.models.Currency``.
ACCEPTED = frozenset({"RUB", "USD", "EUR", "BYN", "CNY", "KZT", "UAH", "UZS", "TRY", "INR",
                      "MDL", "AZN", "AMD"})
_T = TypeVar("_T")


class YooKassaSettings(BaseModel):
    yookassa_shop_id: str | None = None
    yookassa_secret_key: SecretStr | None = None
    yookassa_api_url: str = API_URL  # a local fake in tests
    # Networks notifications may come from: "yookassa" for YooKassa's published list, or
    # comma-separated networks; empty: any sender (each notification is checked with the API).
    yookassa_allowed_ips: str = ""
    yookassa_timeout: float = 30.0  # seconds a call to the API may take

    @model_validator(mode="after")
    def _complete(self) -> YooKassaSettings:
        if bool(self.yookassa_shop_id) != bool(self.yookassa_secret_key):
            raise ValueError("YooKassa needs both YOOKASSA_SHOP_ID and YOOKASSA_SECRET_KEY")
        if not self.yookassa_api_url.startswith(("https://", "http://")):
            raise ValueError("YOOKASSA_API_URL must be an http(s) URL")
        if self.yookassa_timeout <= 0:
            raise ValueError("YOOKASSA_TIMEOUT must be a positive number of seconds")
        networks(self.yookassa_allowed_ips)  # raises ValueError naming a bad network
        return self


def networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    spec = spec.strip()
    if not spec:
        return ()
    items = YOOKASSA_NETWORKS if spec.lower() == "yookassa" else spec.split(",")
    try:
        return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items)
    except ValueError as exc:
        raise ValueError(f"YOOKASSA_ALLOWED_IPS: {exc}") from None


def build(settings: YooKassaSettings, context: Any) -> YooKassaGateway | None:
    """The gateway, or None when no shop is configured."""
    if not settings.yookassa_shop_id or settings.yookassa_secret_key is None:
        return None
    return YooKassaGateway(settings.yookassa_shop_id,
                           settings.yookassa_secret_key.get_secret_value(),
                           context.base_url, api_url=settings.yookassa_api_url,
                           allowed=networks(settings.yookassa_allowed_ips),
                           timeout=settings.yookassa_timeout)


def to_value(amount: int, currency: str) -> str:
    """Minor units as YooKassa's decimal string: 4900 RUB -> "49.00"."""
    exponent = EXPONENTS.get(currency, 2)
    return f"{Decimal(amount).scaleb(-exponent):.{exponent}f}"


def to_minor(value: Any, currency: str) -> int:
    minor = Decimal(str(value)).scaleb(EXPONENTS.get(currency, 2))
    if minor != minor.to_integral_value():
        raise InvalidNotification(f"amount {value} {currency} is not a whole number of units")
    return int(minor)


def receipt_request(receipt: Receipt) -> dict[str, Any]:
    """YooKassa's ``receipt``: the customer's email or phone (digits, as YooKassa writes
    E.164: ``79001234567``), one service paid in full."""
    customer = {"email": receipt.email} if receipt.email \
        else {"phone": receipt.contact.removeprefix("+")}
    item = {"description": receipt.item[:128], "quantity": "1.00",
            "amount": {"value": to_value(receipt.amount, receipt.currency),
                       "currency": receipt.currency},
            "vat_code": receipt.vat_code, "payment_subject": "service",
            "payment_mode": "full_payment"}
    request: dict[str, Any] = {"customer": customer, "items": [item]}
    if receipt.tax_system_code is not None:
        request["tax_system_code"] = receipt.tax_system_code
    return request


PAGES = {
    "en": {"title": "Payment", "back": "Payment done? Go back to the chat with the bot: it "
           "confirms your order there as soon as YooKassa tells it.",
           "unknown": "There is no such order.",
           "closed": "This order cannot be paid any more. Go back to the chat with the bot.",
           "down": "YooKassa does not answer right now. Please try again in a minute.",
           "contact": "The receipt for this payment needs your email or phone. Go back to the "
           "chat with the bot and press “Buy” again: it will ask for it."},
    "ru": {"title": "Оплата", "back": "Оплатили? Вернитесь в чат с ботом: он подтвердит заказ, "
           "как только YooKassa сообщит об оплате.",
           "unknown": "Такого заказа нет.",
           "closed": "Этот заказ уже нельзя оплатить. Вернитесь в чат с ботом.",
           "down": "YooKassa сейчас не отвечает. Попробуйте ещё раз через минуту.",
           "contact": "Для чека нужен ваш email или телефон. Вернитесь в чат с ботом и нажмите "
           "«Купить» ещё раз: бот его спросит."},
}


def _page(language: str, key: str, status: int = 200) -> WebResponse:
    texts = PAGES.get(language, PAGES["en"])
    return page(texts["title"], f"<p>{texts[key]}</p>", language, status)


class YooKassaGateway:
    """A ``PaymentGateway`` paid on YooKassa's page, a ``Refunder``, a ``Charger`` and a
    ``ReceiptIssuer``."""

    name = NAME
    in_chat = False
    issues_receipts = True
    label = "YooKassa"

    def __init__(self, shop_id: str, secret_key: str, base_url: str, *,
                 api_url: str = API_URL, allowed: Sequence[Any] = (),
                 timeout: float = 30.0) -> None:
        self.shop_id, self._secret = shop_id, secret_key
        self.base_url = base_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        self.allowed = tuple(allowed)
        self.timeout = timeout
        # Its own threads: calls that hang past the timeout never starve the loop's pool.
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="yookassa")
        self._reading: dict[str, asyncio.Future[Any]] = {}  # notifications' fetches in flight

    # --- the SDK, off the event loop ------------------------------------------------------

    _config_lock = threading.Lock()

    def _configure(self) -> None:
        from yookassa import Configuration

        with self._config_lock:
            if (Configuration.account_id, Configuration.secret_key, Configuration.api_url) != (
                    self.shop_id, self._secret, self.api_url):
                Configuration.configure(self.shop_id, self._secret, api_url=self.api_url,
                                        max_attempts=1)

    async def _call(self, work: Callable[[], _T]) -> _T:
        def run() -> _T:
            self._configure()
            return work()

        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(self._pool, run), self.timeout)

    # --- checkout ---------------------------------------------------------------------------

    def accepts(self, currency: str) -> bool:
        return currency in ACCEPTED

    def checkout_url(self, order: Order) -> str:
        return f"{self.base_url}/payments/{NAME}/pay/{order.token}"

    def routes(self, desk: PaymentDesk) -> Sequence[WebRoute]:
        async def pay(request: WebRequest) -> WebResponse:
            return await self._pay(desk, request.params["token"])

        async def back(request: WebRequest) -> WebResponse:
            view = await desk.checkout(request.params["token"])
            language = view.language if view else desk.default_language
            return _page(language, "back" if view else "unknown", 200 if view else 404)

        return (
            WebRoute("GET", f"/payments/{NAME}/pay/{{token}}", pay),
            WebRoute("GET", f"/payments/{NAME}/back/{{token}}", back),
            notification_route(NAME, self.read, desk),
        )

    def payment_request(self, order: Order, title: str,
                        receipt: Receipt | None = None) -> dict[str, Any]:
        request: dict[str, Any] = {
            "amount": {"value": to_value(order.amount, order.currency),
                       "currency": order.currency},
            "confirmation": {"type": "redirect",
                             "return_url": f"{self.base_url}/payments/{NAME}/back/{order.token}"},
            "capture": True,
            "description": f"#{order.id} {title}"[:128],
            "metadata": {"order": order.token},
        }
        if order.access == "subscription" and order.period:
            request["save_payment_method"] = True
        if receipt is not None:
            request["receipt"] = receipt_request(receipt)
        return request

    async def _pay(self, desk: PaymentDesk, token: str) -> WebResponse:
        view = await desk.checkout(token)  # its transaction is over before YooKassa is called
        if view is None:
            return _page(desk.default_language, "unknown", 404)
        if view.order.status is not OrderStatus.NEW:
            return _page(view.language, "closed", 409)
        if view.receipts and view.receipt is None:  # an order placed before receipts were on
            return _page(view.language, "contact", 409)
        from yookassa import Payment as SdkPayment

        request = self.payment_request(view.order, view.title, view.receipt)
        try:
            created = await self._call(
                lambda: SdkPayment.create(request, f"pay:{view.order.token}"))
        except Exception:
            log.exception("YooKassa refused or did not answer for order %s", view.order.id)
            return _page(view.language, "down", 502)
        return WebResponse(303, location=created.confirmation.confirmation_url)

    # --- notifications ----------------------------------------------------------------------

    async def read(self, request: WebRequest) -> PaymentNotice | PaymentReturned | None:
        if self.allowed:
            try:
                sender = ipaddress.ip_address(request.remote or "")
            except ValueError:
                raise InvalidNotification("no sender address") from None
            if not any(sender in network for network in self.allowed):
                raise InvalidNotification(f"sender {sender} is not one of YooKassa's networks")
        try:
            body = json.loads(request.body)
            event, claimed = body["event"], str(body["object"]["id"])
        except (ValueError, KeyError, TypeError):
            raise InvalidNotification("not a YooKassa notification") from None
        if event.startswith("refund."):
            return await self._returned(claimed)
        if not event.startswith("payment."):
            return None
        payment = await self._fetch_shared(claimed)
        if f"payment.{payment.status}" != event:
            raise InvalidNotification(
                f"the notification says {event}, YooKassa says payment {payment.status}")
        token = (payment.metadata or {}).get("order")
        if payment.status not in ("succeeded", "canceled") or not token:
            return None  # in progress, or a renewal's charge (recorded by the renewal sweep)
        currency = payment.amount.currency
        method = payment.payment_method
        saved = method.id if method is not None and getattr(method, "saved", False) else None
        return PaymentNotice(
            gateway=NAME, gateway_payment_id=payment.id, order_token=token,
            amount=to_minor(payment.amount.value, currency), currency=currency,
            succeeded=payment.status == "succeeded",
            details={"saved_method": saved} if saved else {},
        )

    async def _fetch(self, payment_id: str) -> Any:
        from yookassa import Payment as SdkPayment
        from yookassa.domain.exceptions import NotFoundError

        try:
            return await self._call(lambda: SdkPayment.find_one(payment_id))
        except (NotFoundError, ValueError):
            raise InvalidNotification(f"YooKassa knows no payment {payment_id!r}") from None

    async def _fetch_shared(self, payment_id: str) -> Any:
        """The payment as YooKassa has it now, asked for after the notification came. Copies
        of one notification arriving together share one request: a burst of repeats must not
        take every thread of the pool from pay pages and renewals."""
        reading = self._reading.get(payment_id)
        if reading is None:
            reading = asyncio.ensure_future(self._fetch(payment_id))
            self._reading[payment_id] = reading
            reading.add_done_callback(lambda _done: self._reading.pop(payment_id, None))
        return await asyncio.shield(reading)

    async def _returned(self, refund_id: str) -> PaymentReturned | None:
        from yookassa import Refund
        from yookassa.domain.exceptions import NotFoundError

        try:
            refund = await self._call(lambda: Refund.find_one(refund_id))
        except (NotFoundError, ValueError):
            raise InvalidNotification(f"YooKassa knows no refund {refund_id!r}") from None
        if refund.status != "succeeded":
            return None
        payment = await self._fetch(refund.payment_id)
        refunded = getattr(payment, "refunded_amount", None)
        if refunded is None:
            return None
        # What YooKassa has given back of the payment by now: a repeated or late
        # notification reports the same total, and adds nothing.
        return PaymentReturned(NAME, payment.id,
                               refunded=to_minor(refunded.value, refunded.currency))

    # --- refunds ----------------------------------------------------------------------------

    def refundable(self, payment: Payment, amount: int | None = None) -> bool:
        return payment.gateway == NAME and payment.status is PaymentStatus.SUCCEEDED

    async def refund(self, payment: Payment, amount: int | None = None) -> int | None:
        """Give back ``amount`` of the payment (None: what is left of it); returns what
        YooKassa has given back of it by now. The key names what was given back before, so
        the same request repeated is YooKassa's replay and a new part is new."""
        from yookassa import Refund
        from yookassa.domain.exceptions import BadRequestError

        pid = payment.gateway_payment_id
        value = payment.refundable_amount if amount is None else amount
        if value <= 0:  # all of it is back already, by this record
            return await self._refunded(pid, payment.currency)
        key = f"refund:{pid}" if amount is None else f"rp:{pid}:{payment.refunded_amount}:{amount}"
        request = {"payment_id": pid,
                   "amount": {"value": to_value(value, payment.currency),
                              "currency": payment.currency}}
        try:
            refund = await self._call(lambda: Refund.create(request, key))
        except BadRequestError:
            # Past the key's 24 hours a repeat is refused: done if the money is back already.
            back = await self._refunded(pid, payment.currency)
            if amount is None and back >= payment.amount:
                return back
            raise
        if refund.status == "canceled":
            reason = getattr(refund.cancellation_details, "reason", "unknown")
            raise RuntimeError(f"YooKassa cancelled the refund of {pid}: {reason}")
        return await self._refunded(pid, payment.currency)

    async def _refunded(self, payment_id: str, currency: str) -> int:
        paid = await self._fetch(payment_id)
        refunded = getattr(paid, "refunded_amount", None)
        return to_minor(refunded.value, currency) if refunded is not None else 0

    # --- renewals ---------------------------------------------------------------------------

    async def charge(self, method: str, amount: int, currency: str, key: str,
                     receipt: Receipt | None = None,
                     sent_at: datetime | None = None) -> ChargeResult:
        """Charge a saved method with ``key`` as the Idempotence-Key: a repeat gets the first
        payment back; one still in progress is asked about again, and raises if still so.
        (YooKassa keeps a key 24 hours; a charge whose answer was lost longer ago than that
        is not looked up yet.)"""
        from yookassa import Payment as SdkPayment

        request: dict[str, Any] = {
            "amount": {"value": to_value(amount, currency), "currency": currency},
            "payment_method_id": method, "capture": True,
            "description": f"Renewal {key}"[:128]}
        if receipt is not None:
            request["receipt"] = receipt_request(receipt)
        payment = await self._call(lambda: SdkPayment.create(request, key))
        if payment.status not in ("succeeded", "canceled"):
            payment = await self._fetch(payment.id)
        if payment.status == "succeeded":
            return ChargeResult(True, payment.id)
        if payment.status == "canceled":
            details = payment.cancellation_details
            return ChargeResult(False, payment.id, getattr(details, "reason", "") or "canceled")
        raise RuntimeError(f"YooKassa payment {payment.id} is still {payment.status}")
