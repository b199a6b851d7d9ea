"""Fixtures shared by the flow tests."""

from __future__ import annotations

import pytest
from harness import Harness


@pytest.fixture
async def stars(uow_factory, school, clock):
    """A console chat that pays in Stars inside the chat; ``h.refunded`` lists what the
    Telegram gateway was asked to give back."""
    refunded = []

    async def refunds(payment):
        refunded.append(payment)

    async with Harness(uow_factory, school, clock, invoices=frozenset({"XTR"}),
                       refunds=refunds) as h:
        h.refunded = refunded
        yield h
