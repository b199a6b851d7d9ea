"""The built-in test gateway: a checkout page with Pay and Decline, no money involved.

The page is a form whose fields (order, payment id, amount, outcome) are signed with the
platform's secret; submitting it is this gateway's webhook, handled by the same code path as
any real gateway's: a forged or altered form is refused and changes nothing. The payment id
is fixed per order, so pressing Pay twice (or replaying the form) is one payment. A form is
good for ``FORM_TTL`` after the page was opened; an older one asks for the page again.
The pages are this gateway's web routes (``payments.testgateway_page``)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from core.models import Order
from core.ports import (
    ChargeResult,
    Clock,
    InvalidNotification,
    PaymentDesk,
    PaymentNotice,
    Receipt,
    WebRoute,
)
from payments.testgateway_page import CheckoutPages

NAME = "test"
OUTCOMES = ("pay", "decline")
# A subscription can also be paid with a card saved for automatic renewal: one that works,
# and one the pretend bank declines at every renewal (to see retries and the grace).
SAVE_OUTCOMES = ("pay_save", "pay_save_failing")
PAID = ("pay", *SAVE_OUTCOMES)
FORM_TTL = timedelta(hours=1)
FAILING = "_fails"


class TestGateway:
    """A ``PaymentGateway`` paid on its own checkout page, and a ``Charger`` of the cards
    saved there; it gives nothing back from the bot (no ``Refunder``)."""

    name = NAME
    in_chat = False
    label = "test"
    __test__ = False  # not a pytest test class

    def __init__(self, secret: bytes, base_url: str, clock: Clock) -> None:
        if len(secret) < 16:
            raise ValueError("the test gateway needs a secret of at least 16 bytes")
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        # The pretend bank lives in memory: a restart forgets its idempotency keys (no real
        # money moves through this gateway).
        self._ledger: dict[str, ChargeResult] = {}
        self.charges: list[tuple[str, int, str, str]] = []
        self.declining: set[str] = set()  # cards to decline from now on (tests, demos)

    def outcomes(self, order: Order) -> tuple[str, ...]:
        """The buttons of the checkout page for ``order``."""
        if order.access == "subscription" and order.period:
            return ("pay", *SAVE_OUTCOMES, "decline")
        return OUTCOMES

    def accepts(self, currency: str) -> bool:
        """Any currency but Telegram Stars, which only Telegram takes."""
        return currency != "XTR"

    def checkout_url(self, order: Order) -> str:
        return f"{self.base_url}/pay/{order.token}"

    def routes(self, desk: PaymentDesk) -> Sequence[WebRoute]:
        """The checkout page, its result page, and the form's webhook."""
        return CheckoutPages(self, desk).routes()

    def payment_id(self, order: Order, outcome: str) -> str:
        digest = hmac.new(self._secret, f"id|{order.token}|{outcome}".encode(), hashlib.sha256)
        return f"test_{order.id}_{outcome}_{digest.hexdigest()[:12]}"

    def _sign(self, fields: Mapping[str, str]) -> str:
        message = "|".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "signature")
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def form_fields(self, order: Order, outcome: str) -> dict[str, str]:
        """The hidden fields of the Pay or Decline form for ``order``."""
        fields = {
            "order": order.token,
            "payment_id": self.payment_id(order, outcome),
            "amount": str(order.amount),
            "currency": order.currency,
            "outcome": outcome,
            "expires": str(int((self.clock.now() + FORM_TTL).timestamp())),
        }
        fields["signature"] = self._sign(fields)
        return fields

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> PaymentNotice:
        try:
            fields = dict(parse_qsl(body.decode("utf-8"), strict_parsing=True))
        except (UnicodeDecodeError, ValueError):
            raise InvalidNotification("the form is not readable") from None
        expected = {"order", "payment_id", "amount", "currency", "outcome", "expires", "signature"}
        if set(fields) != expected:
            raise InvalidNotification("the form's fields are not the checkout page's")
        if not hmac.compare_digest(fields["signature"], self._sign(fields)):
            raise InvalidNotification("bad signature")
        if fields["outcome"] not in (*OUTCOMES, *SAVE_OUTCOMES) or not fields["amount"].isdigit():
            raise InvalidNotification("malformed form")
        if not fields["expires"].isdigit() or int(fields["expires"]) < self.clock.now().timestamp():
            raise InvalidNotification("the checkout page is out of date: open it again")
        outcome = fields["outcome"]
        saved = self.card_for(fields["order"], failing=outcome == "pay_save_failing") \
            if outcome in SAVE_OUTCOMES else None
        return PaymentNotice(
            gateway=self.name,
            gateway_payment_id=fields["payment_id"],
            order_token=fields["order"],
            amount=int(fields["amount"]),
            currency=fields["currency"],
            succeeded=outcome in PAID,
            details={"saved_method": saved} if saved else {},
        )

    # --- the pretend bank: saved cards and repeat charges ------------------------------------

    def card_for(self, order_token: str, failing: bool) -> str:
        """A card reference that only this gateway could have issued."""
        digest = hmac.new(self._secret, f"card|{order_token}|{failing}".encode(),
                          hashlib.sha256).hexdigest()[:20]
        return f"card_{digest}{FAILING if failing else ''}"

    def _issued(self, method: str) -> bool:
        return method.startswith("card_") and len(method.removesuffix(FAILING)) == 25

    async def charge(self, method: str, amount: int, currency: str, key: str,
                     receipt: Receipt | None = None,
                     sent_at: datetime | None = None) -> ChargeResult:
        """Charge a saved card once per ``key``; a repeated key returns the first result and
        takes nothing more, however late (``charges`` lists the money actually moved)."""
        if key in self._ledger:
            return self._ledger[key]
        digest = hmac.new(self._secret, f"charge|{key}".encode(), hashlib.sha256).hexdigest()
        payment_id = f"test_charge_{digest[:16]}"
        if not self._issued(method):
            result = ChargeResult(False, payment_id, "unknown_card")
        elif method.endswith(FAILING) or method in self.declining:
            result = ChargeResult(False, payment_id, "card_declined")
        else:
            result = ChargeResult(True, payment_id)
            self.charges.append((method, amount, currency, key))
        self._ledger[key] = result
        return result
