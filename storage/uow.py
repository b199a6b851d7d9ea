"""The SQL unit of work: one ``AsyncSession``, one transaction, the only place that commits."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.automation_repositories import (
    SqlAutomationEvents,
    SqlAutomationRuns,
    SqlAutomationStates,
    SqlStudentFields,
    SqlTriggerScans,
    SqlWebhookCalls,
)
from storage.broadcast_repositories import SqlBroadcasts
from storage.reports import SqlDigests, SqlExports, SqlStats
from storage.repositories import (
    SqlAudit,
    SqlChatStates,
    SqlContacts,
    SqlConversations,
    SqlCounters,
    SqlDeliveries,
    SqlInviteLinks,
    SqlLinkCodes,
    SqlMemberships,
    SqlOrders,
    SqlOutbox,
    SqlPayments,
    SqlPromoCodes,
    SqlPurchases,
    SqlRenewals,
    SqlStaff,
    SqlStaffMenus,
    SqlStaffNotes,
    SqlStudents,
    SqlSubscriptionLinks,
    SqlTags,
    SqlUsers,
)
from storage.segment_queries import SqlSegments

# The unit of work's repositories, by the name ``core.ports.UnitOfWork`` gives them.
REPOSITORIES = {
    "users": SqlUsers,
    "orders": SqlOrders,
    "payments": SqlPayments,
    "purchases": SqlPurchases,
    "counters": SqlCounters,
    "deliveries": SqlDeliveries,
    "outbox": SqlOutbox,
    "chat_states": SqlChatStates,
    "memberships": SqlMemberships,
    "invite_links": SqlInviteLinks,
    "subscription_links": SqlSubscriptionLinks,
    "renewals": SqlRenewals,
    "link_codes": SqlLinkCodes,
    "staff": SqlStaff,
    "audit": SqlAudit,
    "tags": SqlTags,
    "conversations": SqlConversations,
    "stats": SqlStats,
    "exports": SqlExports,
    "digests": SqlDigests,
    "promo_codes": SqlPromoCodes,
    "contacts": SqlContacts,
    "staff_menus": SqlStaffMenus,
    "notes": SqlStaffNotes,
    "students": SqlStudents,
    "segments": SqlSegments,
    "automation_runs": SqlAutomationRuns,
    "automation_events": SqlAutomationEvents,
    "automation_states": SqlAutomationStates,
    "student_fields": SqlStudentFields,
    "trigger_scans": SqlTriggerScans,
    "webhook_calls": SqlWebhookCalls,
    "broadcasts": SqlBroadcasts,
}


class SqlUnitOfWork:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        writers: asyncio.Lock | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._session: AsyncSession | None = None
        self._writers = writers

    async def __aenter__(self) -> SqlUnitOfWork:
        if self._writers is not None:
            task = asyncio.current_task()
            if task is not None and getattr(self._writers, "owner", None) is task:
                raise RuntimeError("a unit of work is already open in this task: "
                                   "opening another would wait for itself forever")
            await self._writers.acquire()
            self._writers.owner = task  # type: ignore[attr-defined]
        session = self._session = self._session_factory()
        for name, repository in REPOSITORIES.items():
            setattr(self, name, repository(session))
        return self

    async def __aexit__(self, *exc: object) -> None:
        session, self._session = self._session, None
        try:
            if session is not None:
                try:
                    await session.rollback()  # whatever was not committed
                finally:
                    await session.close()
        finally:
            if self._writers is not None:
                self._writers.owner = None  # type: ignore[attr-defined]
                self._writers.release()

    async def commit(self) -> None:
        await self._active().commit()

    async def rollback(self) -> None:
        await self._active().rollback()

    async def notify(self, channel: str, payload: str) -> None:
        """PostgreSQL NOTIFY, delivered if and when this transaction commits."""
        await self._active().execute(
            select(func.pg_notify(channel, payload)))

    def _active(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use `async with`")
        return self._session
