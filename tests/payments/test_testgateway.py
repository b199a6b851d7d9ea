"""The test gateway's signed form: what it accepts and what it refuses."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest

from core.clock import FakeClock
from core.models import Order
from core.ports import InvalidNotification
from payments.testgateway import FORM_TTL, TestGateway

ORDER = Order(id=7, token="tok", amount=4990, currency="EUR")


@pytest.fixture
def gateway(clock: FakeClock) -> TestGateway:
    return TestGateway(b"k" * 32, "http://127.0.0.1:8080/", clock)


def test_a_fresh_form_is_read_back_exactly(gateway):
    body = urlencode(gateway.form_fields(ORDER, "pay")).encode()
    notice = gateway.parse_notification(body, {})
    assert (notice.order_token, notice.amount, notice.currency, notice.succeeded) == (
        "tok", 4990, "EUR", True)
    assert notice.gateway_payment_id == gateway.payment_id(ORDER, "pay")
    assert gateway.checkout_url(ORDER) == "http://127.0.0.1:8080/pay/tok"


def test_pay_and_decline_are_different_payments(gateway):
    assert gateway.payment_id(ORDER, "pay") != gateway.payment_id(ORDER, "decline")


def test_a_form_older_than_its_lifetime_is_refused(gateway, clock):
    body = urlencode(gateway.form_fields(ORDER, "pay")).encode()
    clock.advance(FORM_TTL + timedelta(seconds=1))
    with pytest.raises(InvalidNotification, match="out of date"):
        gateway.parse_notification(body, {})


@pytest.mark.parametrize("field,value", [
    ("expires", "99999999999"), ("amount", "1"), ("order", "other"), ("outcome", "pay2"),
])
def test_every_field_is_covered_by_the_signature(gateway, field, value):
    fields = {**gateway.form_fields(ORDER, "pay"), field: value}
    with pytest.raises(InvalidNotification):
        gateway.parse_notification(urlencode(fields).encode(), {})


def test_another_secret_cannot_forge_a_form(gateway, clock):
    forger = TestGateway(b"x" * 32, "http://127.0.0.1:8080", clock)
    body = urlencode(forger.form_fields(ORDER, "pay")).encode()
    with pytest.raises(InvalidNotification, match="bad signature"):
        gateway.parse_notification(body, {})


def test_a_short_secret_is_refused(clock):
    with pytest.raises(ValueError):
        TestGateway(b"short", "http://x", clock)
