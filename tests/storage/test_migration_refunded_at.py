"""Migration 0012 dates the refunds recorded before it: when their order was closed as
refunded, else (money that granted nothing, given back) when it came."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from storage.engine import create_engine
from storage.migrate import alembic_config, migrate

PAID = datetime(2026, 3, 1, 9, 0)
CLOSED = datetime(2026, 3, 5, 12, 0)


async def test_refunds_recorded_before_get_a_date(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'school.db'}")
    await migrate(engine)
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0009"))
        await connection.execute(text(
            "INSERT INTO users (id, created_at, name, language, referral_code) "
            "VALUES (1, :at, 'Anna', 'en', 'R1')"), {"at": PAID})
        for order_id, status, closed in ((1, "refunded", CLOSED), (2, "paid", None)):
            await connection.execute(text(
                "INSERT INTO orders (id, user_id, offer_code, token, amount, list_amount, "
                "currency, status, created_at, paid_at, closed_at, products, access, extends, "
                "seat_taken) VALUES (:id, 1, 'x', :token, 900, 900, 'EUR', :status, :at, :at, "
                ":closed, '[]', 'lifetime', '[]', 0)"),
                {"id": order_id, "token": f"t{order_id}", "status": status, "at": PAID,
                 "closed": closed})
        for payment_id, order_id, status in ((1, 1, "refunded"), (2, 2, "refunded"),
                                             (3, 2, "succeeded")):
            await connection.execute(text(
                "INSERT INTO payments (id, order_id, gateway, gateway_payment_id, amount, "
                "currency, status, created_at, details) VALUES (:id, :order, 'test', :gid, "
                "900, 'EUR', :status, :at, '{}')"),
                {"id": payment_id, "order": order_id, "gid": f"p{payment_id}",
                 "status": status, "at": PAID})
    await migrate(engine)
    async with engine.connect() as connection:
        dates = (await connection.execute(text(
            "SELECT id, refunded_at FROM payments ORDER BY id"))).all()
    await engine.dispose()

    found = {row[0]: row[1] for row in dates}
    assert found[3] is None
    assert datetime.fromisoformat(str(found[1])).replace(tzinfo=UTC) == CLOSED.replace(
        tzinfo=UTC)
    assert datetime.fromisoformat(str(found[2])).replace(tzinfo=UTC) == PAID.replace(
        tzinfo=UTC)
