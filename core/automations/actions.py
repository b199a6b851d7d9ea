"""What a run's action steps do, through the core's own paths: access granted as a free order
paid through ``payments.complete_free`` (no payment row), extended or revoked like staff do
it, staff told through the outbox, webhook calls recorded to be sent after the commit. Every
change to access is audited with the automation as its actor (``automation:<code>``).

Each returns None when it did what it says, or a note on why it could not (kept with the
run, for the staff's screens)."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from core import notices
from core.automations.model import Extend, Grant, Revoke, Webhook
from core.automations.records import CallStatus, Run, WebhookCall
from core.models import RENEWED_BY_TELEGRAM, Order, PurchaseStatus
from core.ports import UnitOfWork
from core.school import AccessKind, School
from core.services import access, groups, lessons, payments, staff, upcoming
from core.services.outbox import enqueue
from core.staff import AuditResult, Right, may

log = logging.getLogger(__name__)


async def grant(uow: UnitOfWork, school: School, run: Run, step: Grant, actor: str,
                now: datetime) -> str | None:
    """The offer as it sells it, or the product for life, as a free order marked granted by
    the automation (``granted_by``), which the figures do not count as a sale."""
    if step.offer is not None:
        offer = school.offer(step.offer)
        if offer is None:
            return f"no offer {step.offer!r}"
        order = Order(offer_code=offer.code, list_amount=offer.price.amount,
                      currency=offer.price.currency, products=offer.products,
                      access=offer.access.value,
                      period=offer.period.iso if offer.period else None, extends=offer.extends)
    else:
        assert step.product is not None
        product = school.products.get(step.product)
        if product is None:
            return f"no product {step.product!r}"
        order = Order(offer_code=product.code, currency=school.currency,
                      products=(product.code,), access=AccessKind.LIFETIME.value)
    subject = step.offer or f"product {step.product}"
    if order.period is None and await access.owns_for_life(uow, run.user_id, order.products):
        await staff.audit(uow, now, actor, "automation.grant", AuditResult.NOTHING,
                          user_id=run.user_id, subject=subject, detail="owned already")
        return "owned already"
    order.user_id, order.token, order.free = run.user_id, secrets.token_urlsafe(18), True
    order.granted_by = actor  # ``automation:<code>``: no sale, and the card says who gave it
    order.created_at = order.expires_at = now
    order = await uow.orders.add(order)
    await payments.complete_free(uow, school, order, now)
    await staff.audit(uow, now, actor, "automation.grant", AuditResult.DONE,
                      user_id=run.user_id, subject=subject, detail=f"order #{order.id}")
    return None


async def extend(uow: UnitOfWork, school: School, run: Run, step: Extend, actor: str,
                 now: datetime) -> str | None:
    """The student's latest purchase that gives the product grows by ``by``: from its end
    while it runs, from now if it had ended (it runs again)."""
    held = [p for p in await uow.purchases.for_user(run.user_id)
            if p.status in access.HOLDER_STATUSES and p.ends_at is not None
            and step.product in p.products and p.renewal not in RENEWED_BY_TELEGRAM]
    latest = max(held, key=lambda p: p.ends_at or now, default=None)
    purchase = await uow.purchases.get_for_update(latest.id) if latest is not None else None
    if purchase is None or purchase.ends_at is None:
        await staff.audit(uow, now, actor, "automation.extend", AuditResult.NOTHING,
                          user_id=run.user_id, subject=step.product,
                          detail="no access to extend")
        return f"nothing to extend: no access to {step.product} that ends"
    was_end, lapsed = purchase.ends_at, purchase.status is not PurchaseStatus.ACTIVE
    purchase.ends_at = access.new_end(purchase, step.by, now, school.renewals.grace)
    if lapsed:
        purchase.status, purchase.ended_at, purchase.end_reason = (
            PurchaseStatus.ACTIVE, None, None)
    purchase.updated_at = now
    await lessons.resync(uow, school, purchase, now)
    await upcoming.plan_next(uow, school, purchase, now)
    await uow.purchases.update(purchase)
    if lapsed:  # it runs again: the way back into its groups
        for group in sorted(groups.groups_of(school, purchase.products)):
            await enqueue(uow, now, run.user_id,
                          notices.GroupInvite(purchase=purchase.id, group=group),
                          dedupe_key=f"group_invite:automation:{run.id}:{purchase.id}:{group}")
    await staff.audit(uow, now, actor, "automation.extend", AuditResult.DONE,
                      user_id=run.user_id, subject=f"{step.product} +{step.by.iso}",
                      detail=f"purchase #{purchase.id}: {was_end.isoformat()} -> "
                             f"{purchase.ends_at.isoformat()}")
    return None


async def revoke(uow: UnitOfWork, run: Run, step: Revoke, actor: str,
                 now: datetime) -> str | None:
    """Every running purchase that gives the product ends (revoked)."""
    ended = []
    for purchase in await uow.purchases.for_user(run.user_id):
        if purchase.status is PurchaseStatus.ACTIVE and step.product in purchase.products \
                and await access.revoke(uow, purchase.id, now, actor):
            ended.append(f"#{purchase.id}")
    await staff.audit(uow, now, actor, "automation.revoke",
                      AuditResult.DONE if ended else AuditResult.NOTHING, user_id=run.user_id,
                      subject=step.product, detail=", ".join(ended) or "no access to revoke")
    return None if ended else f"nothing to revoke: no running access to {step.product}"


async def staff_to_tell(uow: UnitOfWork, school: School) -> list[int]:
    """The students' ids of the staff who answer students (``Right.INBOX``) and can be
    written to (they have written to the bot)."""
    found: list[int] = []
    for member in await staff.team(uow, school):
        if not may(member.role, Right.INBOX):
            continue
        identity = await uow.users.identity(member.messenger, member.external_id)
        if identity is None:
            log.warning("staff %s has never written to the bot: not told", member.account)
        elif identity.user_id not in found:
            found.append(identity.user_id)
    return found


async def notify_staff(uow: UnitOfWork, school: School, run: Run, step: str,
                       text: dict[str, str], now: datetime) -> None:
    for user_id in await staff_to_tell(uow, school):
        await enqueue(uow, now, user_id, notices.AutomationStaff(
            student=run.user_id, automation=run.automation, run=run.id, text=text),
            dedupe_key=f"automation_staff:{run.id}:{step}:{user_id}")


async def alert_staff(uow: UnitOfWork, school: School, run: Run, step: str, note: str,
                      now: datetime) -> None:
    """A step that should have changed access could not (money may be waiting for it)."""
    for user_id in await staff_to_tell(uow, school):
        await enqueue(uow, now, user_id, notices.AutomationStaff(
            student=run.user_id, automation=run.automation, run=run.id, problem=note),
            dedupe_key=f"automation_alert:{run.id}:{step}:{user_id}")


async def webhook(uow: UnitOfWork, run: Run, step: str, hook: Webhook, values: dict[str, str],
                  now: datetime) -> None:
    """Recorded now, sent after the commit (``webhooks.send_due``), once per run and step."""
    fields = {k: v for k, v in values.items()
              if k not in ("name", "student", "answer", "support")}
    body: dict[str, Any] = {
        "automation": run.automation,
        "run": run.id,
        "step": step,
        "student": {"id": run.user_id, "name": values.get("name", "")},
        "fields": fields,
        "answers": dict(run.data.get("answers", {})),
        "event": dict(run.data.get("event", {})),
        "data": dict(hook.body),
    }
    await uow.webhook_calls.add(WebhookCall(
        run_id=run.id, user_id=run.user_id, automation=run.automation, url=hook.url,
        body=body, dedupe_key=f"webhook:{run.id}:{step}", status=CallStatus.PENDING,
        due_at=now, created_at=now))
