"""Alembic environment. ``storage.migrate`` hands in an open connection through
``config.attributes["connection"]``; without one (the ``alembic`` command line) it connects to
``sqlalchemy.url`` or ``$DATABASE_URL``."""

import asyncio
import os
from typing import Any

from alembic import context
from sqlalchemy import TypeDecorator
from sqlalchemy.engine import Connection

from storage.engine import create_engine
from storage.tables import metadata

config = context.config


def render_item(kind: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write our column types as the plain types they store, so that migrations never
    import application code."""
    if kind == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_with_own_engine() -> None:
    url = config.get_main_option("sqlalchemy.url") or os.environ["DATABASE_URL"]
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported")

given = config.attributes.get("connection")
if given is not None:
    run(given)
else:
    asyncio.run(run_with_own_engine())
