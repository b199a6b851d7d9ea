"""Small builders shared by the storage tests."""

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError, StatementError

from core.models import Order, Purchase, User
from core.ports import UnitOfWork

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

NAIVE_ERRORS = (ValueError, StatementError)  # SQLAlchemy wraps the type's ValueError


async def add_user(uow: UnitOfWork, code: str = "") -> User:
    return await uow.users.add(User(created_at=T0, name="Ann", referral_code=code))


async def add_order(uow: UnitOfWork, user_id: int, token: str = "tok", **fields) -> Order:
    values = {
        "user_id": user_id,
        "offer_code": "python",
        "token": token,
        "amount": 1000,
        "list_amount": 1200,
        "currency": "RUB",
        "created_at": T0,
    } | fields
    return await uow.orders.add(Order(**values))


async def add_purchase(uow: UnitOfWork, **fields) -> Purchase:
    if "user_id" not in fields:
        fields["user_id"] = (await add_user(uow)).id
    if "order_id" not in fields:
        token = f"tok-{fields['user_id']}-{len(await uow.orders.for_user(fields['user_id']))}"
        fields["order_id"] = (await add_order(uow, fields["user_id"], token)).id
    values = {"offer_code": "python", "products": ("python",), "starts_at": T0} | fields
    return await uow.purchases.add(Purchase(**values))


def raises_integrity():
    return pytest.raises(IntegrityError)
