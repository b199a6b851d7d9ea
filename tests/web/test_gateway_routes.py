"""Gateways as parts: the web app serves each gateway's own routes through the neutral port,
web names no concrete gateway, and ``/refund`` gives money back through whichever gateway
took it when that gateway can refund (not only Telegram Stars)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from harness import Harness

from core.models import OrderStatus, Payment, PaymentStatus, PurchaseStatus
from core.ports import (
    MAX_BODY,
    InvalidNotification,
    PaymentDesk,
    PaymentReturned,
    Refunder,
    WebRequest,
)
from payments.testgateway import TestGateway
from payments.webhook import notification_route

WEB = Path(__file__).resolve().parents[2] / "web"


class CardGateway(TestGateway):
    """The test gateway's page under another name, a gateway that can also give money back
    and that reports refunds made in its own dashboard to a webhook of its own."""

    name = "card"

    def __init__(self, clock) -> None:
        super().__init__(b"c" * 32, "http://127.0.0.1:8080", clock)
        self.refunded: list[str] = []

    def refundable(self, payment: Payment, amount: int | None = None) -> bool:
        return True

    async def refund(self, payment: Payment, amount: int | None = None) -> int | None:
        self.refunded.append(payment.gateway_payment_id)
        return None

    def routes(self, desk: PaymentDesk):
        async def read(request: WebRequest) -> PaymentReturned | None:
            if request.headers.get("X-Card-Key") != "card-secret":
                raise InvalidNotification("not signed by the card gateway")
            event = json.loads(request.body)
            if event.get("type") != "refunded":
                return None  # an event of no interest
            return PaymentReturned(self.name, event["payment"])

        return (*super().routes(desk),
                notification_route(self.name, read, desk, "/payments/card/refunds"))


@pytest.fixture
async def card(uow_factory, school, clock):
    gateway = CardGateway(clock)
    async with Harness(uow_factory, school, clock, test_payments=False,
                       gateways={"card": gateway}) as h:
        h.gateway = gateway
        yield h


async def _paid(card):
    chat = card.chat()
    await chat.start("python-life")
    await chat.click("Buy")
    link = await chat.click("Pay")
    status, body = await card.pay(link)
    assert status == 200 and 'data-status="paid"' in body
    async with card.uow_factory() as uow:
        [payment] = await uow.payments.for_order(1)
    assert payment.gateway == "card"
    return chat, payment


async def _order_and_purchase(card):
    async with card.uow_factory() as uow:
        return (await uow.orders.get(1)).status, (await uow.purchases.for_user(1))[0].status


def test_the_card_gateway_can_refund_and_the_test_gateway_cannot(clock):
    assert isinstance(CardGateway(clock), Refunder)
    assert not isinstance(TestGateway(b"t" * 32, "http://x", clock), Refunder)


async def test_refund_goes_back_through_the_gateway_that_took_the_money(card):
    _, payment = await _paid(card)
    admin = card.chat("admin", "Staff")
    await admin.send("/refund 1")
    assert admin.last.text == "Order #1: 49 EUR returned, and the access it gave is withdrawn."
    assert card.gateway.refunded == [payment.gateway_payment_id]
    assert await _order_and_purchase(card) == (OrderStatus.REFUNDED, PurchaseStatus.REVOKED)


SIGNED = {"X-Card-Key": "card-secret"}


async def test_a_refund_the_gateway_reports_on_its_own_route_is_recorded_once(card):
    _, payment = await _paid(card)
    url = card.server.make_url("/payments/card/refunds")
    refunded = {"type": "refunded", "payment": payment.gateway_payment_id}
    async with card.http.post(url, json=refunded) as r:
        assert r.status == 403  # not signed: refused, nothing changed
    assert await _order_and_purchase(card) == (OrderStatus.PAID, PurchaseStatus.ACTIVE)
    async with card.http.post(url, json={"type": "disputed"}, headers=SIGNED) as r:
        assert (r.status, await r.json()) == (200, {"ok": True})  # of no interest here
    outcomes = []
    for _ in range(2):
        async with card.http.post(url, json=refunded, headers=SIGNED) as r:
            assert r.status == 200
            outcomes.append((await r.json())["outcome"])
    assert outcomes == ["withdrawn", "duplicate"]
    assert await _order_and_purchase(card) == (OrderStatus.REFUNDED, PurchaseStatus.REVOKED)
    async with card.uow_factory() as uow:
        [returned] = await uow.payments.for_order(1)
    assert returned.status is PaymentStatus.REFUNDED
    assert card.gateway.refunded == []  # the gateway gave it back itself: not asked again


async def test_a_body_over_the_limit_never_reaches_the_gateway(card):
    _, payment = await _paid(card)
    url = card.server.make_url("/payments/card/refunds")
    body = json.dumps({"type": "refunded", "payment": payment.gateway_payment_id,
                       "pad": "x" * MAX_BODY})
    async with card.http.post(url, data=body, headers=SIGNED) as r:
        assert r.status == 413
    assert await _order_and_purchase(card) == (OrderStatus.PAID, PurchaseStatus.ACTIVE)


async def test_only_the_configured_gateways_have_routes(card):
    async with card.http.post(card.server.make_url("/payments/test/webhook")) as r:
        assert r.status == 404  # TEST_PAYMENTS is off: the test gateway serves nothing


def test_web_names_no_concrete_gateway_and_no_flows():
    offences = []
    for path in sorted(WEB.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            offences += [f"{path.name} imports {n}" for n in names
                         if n.split(".")[0] in ("payments", "flows")]
    assert offences == []
