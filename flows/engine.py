"""Incoming -> the right flow step -> a reply. The one error boundary of the conversation:
whatever a handler raises, the transaction is rolled back and the student gets a polite
answer, never silence."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

import orjson

from core import errors
from core.models import ChatState, Identity, User
from core.ports import (
    Clock,
    Notifier,
    PaymentGateway,
    TransactionConflict,
    UnitOfWork,
    UnitOfWorkFactory,
)
from core.school import School
from core.services import users
from core.services.broadcast_estimate import SendingTerms
from core.services.export import ExportDesk
from core.staff import AuditEntry, AuditResult, Role
from flows.admin_alerts import tell_admins
from flows.channel import (
    Capabilities,
    Channel,
    MessengerError,
    StarSubscriptions,
    UserBlocked,
)
from flows.checkout_ways import CheckoutWays
from flows.texts import Texts, normalize
from flows.ui import Button, Incoming, IncomingKind, Peer, Screen
from observability.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass
class StaffActor:
    """The staff member running a command, and what the audit log will say of it: the
    handler sets ``result``, ``user_id`` and ``detail`` to what it changed."""

    account: str  # ``telegram:123``
    role: Role
    result: AuditResult = AuditResult.DONE
    user_id: int | None = None
    detail: str = ""

    def did(self, detail: str, user_id: int | None = None,
            result: AuditResult = AuditResult.DONE) -> None:
        self.detail, self.result = detail, result
        if user_id is not None:
            self.user_id = user_id

    def nothing(self, detail: str, user_id: int | None = None) -> None:
        self.did(detail, user_id, AuditResult.NOTHING)


class Stale(Exception):
    """A button whose ids no longer resolve for this student (old, tampered or not theirs)."""


@runtime_checkable
class RepliesLimited(Protocol):
    """A messenger that bounds how many answers one chat's own actions may trigger."""

    def admit_reply(self, peer: Peer) -> bool:
        """May the chat's press or message be answered now? No: the press gets a toast."""
        ...


class StaffMenuUpdates(Protocol):
    """Staff members' own command menus (``flows.staff_menus.StaffMenuKeeper``)."""

    async def show(self, messenger: str, external_id: str, role: Role | None) -> bool:
        """The account's menu for ``role`` (None: taken away); False if it is owed."""
        ...

    async def seen(self, incoming: Incoming) -> None:
        """Someone wrote: a menu owed to them is tried again."""
        ...


MAX_ID = 2**31 - 1
ATTEMPTS = 3  # a turn whose rows changed under it runs again, this many times in all


def parse_id(text: str) -> int:
    """A row id from a button; Stale for anything else (``²``, ``-1``, ``99999999999``)."""
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID:
        raise Stale(text)
    return int(text)


@dataclass
class Reply:
    screen: Screen | None
    edit: bool = False  # replace the message whose button was pressed, where possible
    toast: str | None = None  # a note on a button press; the refusal of a payment check
    # Work that must not run inside the transaction (a call to a payment provider), run
    # after it commits; the screen it returns is sent to the chat.
    after: Callable[[], Awaitable[Screen | None]] | None = None
    alert: str | None = None  # for every school admin, sent once the turn committed


@dataclass
class Context:
    uow: UnitOfWork
    school: School
    now: datetime
    user: User
    identity: Identity
    state: ChatState
    t: Texts
    incoming: Incoming
    checkout: CheckoutWays  # the web pages that take payment
    capabilities: Capabilities = Capabilities()
    # The school's payment gateways by name (``/refund`` asks the one a payment came from).
    gateways: Mapping[str, PaymentGateway] = field(default_factory=dict)
    uow_factory: UnitOfWorkFactory | None = None  # for work after the commit
    queued: bool = False  # messages were recorded in the outbox: wake the dispatcher
    # A fresh personal link into a paid group for a purchase: (url, expiry) or None.
    group_links: GroupLinks | None = None
    star_subscriptions: StarSubscriptions | None = None  # Telegram, when it runs
    messengers: tuple[str, ...] = ()  # the messengers the school runs on now
    titles: Mapping[str, str] = field(default_factory=dict)  # their names shown to students
    # A link that opens the school in a messenger with a start payload, where it has one.
    deep_link: Callable[[str, str], str | None] = lambda messenger, payload: None
    metrics: Metrics | None = None
    # A staff command's actor, and what its audit line says (``flows.staff.staff_only``).
    staff: StaffActor | None = None
    exports: ExportDesk | None = None  # signed download links of the CSV exports
    staff_menus: StaffMenuUpdates | None = None  # where messengers show staff their own menu
    sending: SendingTerms = SendingTerms()  # messengers' pace and price, for estimates

    def can_pay(self, currency: str) -> bool:
        """Can this student pay in ``currency`` here: in the chat, or on a checkout page?"""
        return currency in self.capabilities.invoices or bool(self.checkout.taking(currency))

    @property
    def unlocked(self) -> list[str]:
        """Hidden offers this chat reached through their deep link."""
        return self.state.data.setdefault("unlocked", [])


Handler = Callable[[Context, str], Awaitable[Reply]]
GroupLinks = Callable[[int, str], Awaitable[tuple[str, datetime] | None]]
GROUP_KINDS = frozenset({IncomingKind.MEMBER, IncomingKind.JOIN_REQUEST, IncomingKind.BOT_STATUS})
# What a chat does itself and may do only so fast; payments and their checks always go through.
LIMITED_KINDS = frozenset({IncomingKind.ACTION, IncomingKind.TEXT})
# Money moved: a failure to record it is raised, so the messenger delivers it again.
MONEY_KINDS = frozenset({IncomingKind.PAYMENT, IncomingKind.REFUNDED})


@dataclass
class Router:
    commands: dict[str, Handler] = field(default_factory=dict)  # "/start" -> handler
    actions: dict[str, Handler] = field(default_factory=dict)  # "o" of "o:python" -> handler
    steps: dict[str, Handler] = field(default_factory=dict)  # chat step awaiting typed text
    fallback: Handler | None = None
    payment_check: Handler | None = None
    payment: Handler | None = None
    refunded: Handler | None = None
    blocked: Handler | None = None
    subscribed: Handler | None = None
    # Typed text no chat step takes, and unknown commands, are offered here first (a question
    # an automation asked waits for it, a keyword starts one); None lets ``fallback`` answer.
    before_fallback: Callable[[Context, str], Awaitable[Reply | None]] | None = None

    def _fallback(self) -> Handler | None:
        first, then = self.before_fallback, self.fallback
        if first is None or then is None:
            return then

        async def offered_first(ctx: Context, arg: str) -> Reply:
            reply = await first(ctx, arg)
            return reply if reply is not None else await then(ctx, arg)

        return offered_first

    def route(self, incoming: Incoming, state: ChatState) -> tuple[Handler | None, str]:
        if incoming.kind is IncomingKind.PAYMENT_CHECK:
            return self.payment_check, ""
        if incoming.kind is IncomingKind.PAYMENT:
            return self.payment, ""
        if incoming.kind is IncomingKind.REFUNDED:
            return self.refunded, ""
        if incoming.kind is IncomingKind.BLOCKED:
            return self.blocked, ""
        if incoming.kind is IncomingKind.SUBSCRIBED:
            return self.subscribed, ""
        if incoming.kind is IncomingKind.STARTED:
            state.step = ""
            return self.commands.get("/start"), incoming.text
        if incoming.kind is IncomingKind.ACTION:
            prefix, _, arg = incoming.action.partition(":")
            return self.actions.get(prefix), arg
        text = incoming.text.strip()
        if text.startswith("/"):
            command, _, arg = text.partition(" ")
            state.step = ""
            return self.commands.get(command.split("@")[0].lower(),
                                     self._fallback()), arg.strip()
        if state.step in self.steps:
            return self.steps[state.step], text
        return self._fallback(), text


def menu_button(t: Texts) -> Button:
    return Button(t("btn_menu"), action="menu")


class FlowEngine:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        school: Callable[[], School],
        router: Router,
        channels: dict[str, Channel],
        checkout: CheckoutWays,
        notifier: Notifier | None = None,
        gateways: Mapping[str, PaymentGateway] | None = None,
        groups: Callable[[Incoming], Awaitable[None]] | None = None,
        group_links: GroupLinks | None = None,
        metrics: Metrics | None = None,
        titles: Mapping[str, str] | None = None,
        exports: ExportDesk | None = None,
        staff_menus: StaffMenuUpdates | None = None,
        automations: Callable[[], Awaitable[int]] | None = None,
        sending: SendingTerms | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self.exports = exports
        # A turn reads before it locks where the storage can (its row cache): most
        # presses change nothing and then never wait for the database.
        self.turns: UnitOfWorkFactory = getattr(uow_factory, "optimistic", uow_factory)
        self.clock = clock
        self.school = school
        self.router = router
        self.channels = channels
        self.checkout = checkout
        self.notifier = notifier
        self.gateways = dict(gateways or {})
        # Paid groups (flows.groups.GroupKeeper): their updates, and personal links.
        self.groups = groups
        self.group_links = group_links
        self.titles = dict(titles or {})  # messengers' names shown to students
        self.star_subscriptions = next(
            (c for c in channels.values() if isinstance(c, StarSubscriptions)), None)
        self.metrics = metrics or Metrics()
        self.staff_menus = staff_menus
        # Moves on the automations a turn started or answered, right after its commit.
        self.automations = automations
        self.sending = sending or SendingTerms()

    async def handle(self, incoming: Incoming) -> None:
        """Answer one update. Raises only when money arrived and could not be recorded, so
        the messenger delivers it again."""
        started = time.perf_counter()
        if incoming.kind in GROUP_KINDS:
            if self.groups is not None:
                await self.groups(incoming)
            self.metrics.handled(incoming.peer.messenger, incoming.kind, since=started)
            return
        school = self.school()
        t = Texts(school, incoming.sender.language)
        if not self._admitted(incoming):
            log.info("%s acts too fast: %s answered with a toast only", incoming.peer,
                     incoming.kind.value)
            await self._deliver(incoming, Reply(None, toast=t("err_too_fast")))
            return
        failure = None
        stale = False
        try:
            reply, queued = await self._converse_again_on_conflict(school, incoming)
        except Stale as exc:
            failure, queued, stale = t("err_stale_button"), False, True
            await self._audit_failed_turn(exc)
        except errors.DomainError as exc:
            failure, queued = error_text(t, exc), False
            await self._audit_failed_turn(exc)
        except Exception:
            log.exception("flow failed on %s", incoming)
            if incoming.kind in MONEY_KINDS:
                raise
            failure, queued = t("err_generic"), False
        if failure is not None:
            screen = Screen(failure, ((menu_button(t),),))
            # A stale button is answered on the message that holds it, not with a new one.
            reply = Reply(None if incoming.kind is IncomingKind.PAYMENT_CHECK else screen,
                          edit=stale, toast=failure)
        if queued and self.notifier is not None:
            self.notifier.wake()
        await self._deliver(incoming, reply)
        if queued and self.automations is not None:
            await self._run_automations()
        if reply.alert is not None:
            await self._alert(school, reply.alert)
        self.metrics.handled(incoming.peer.messenger, incoming.kind, since=started)
        if reply.after is not None:
            await self._follow_up(incoming, reply.after, t)
        if self.staff_menus is not None and incoming.kind in LIMITED_KINDS:
            try:
                await self.staff_menus.seen(incoming)
            except Exception:
                log.exception("staff menu of %s not set", incoming.peer)

    async def _run_automations(self) -> None:
        assert self.automations is not None
        try:
            await self.automations()
        except Exception:  # the sweep moves them on later
            log.exception("automations after a turn failed")

    async def _audit_failed_turn(self, exc: Exception) -> None:
        """A staff action that failed was rolled back with its turn; its audit line is not."""
        entry = getattr(exc, "audit", None)
        if isinstance(entry, AuditEntry):
            async with self.uow_factory() as uow:
                await uow.audit.add(entry)
                await uow.commit()

    async def _alert(self, school: School, text: str) -> None:
        await tell_admins(self.channels, school, text)

    async def _follow_up(
        self, incoming: Incoming, after: Callable[[], Awaitable[Screen | None]], t: Texts
    ) -> None:
        try:
            screen = await after()
        except errors.DomainError as exc:
            screen = Screen(error_text(t, exc))
        except Exception:
            log.exception("follow-up of %s failed", incoming)
            screen = Screen(t("err_generic"))
        if screen is not None:
            await self._deliver(incoming, Reply(screen), part=":after")
    async def _converse_again_on_conflict(
        self, school: School, incoming: Incoming
    ) -> tuple[Reply, bool]:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await self._converse(school, incoming)
            except TransactionConflict:
                if attempt == ATTEMPTS:
                    raise
                log.info("rows changed under %s: running it again", incoming)
        raise AssertionError("unreachable")

    async def _converse(self, school: School, incoming: Incoming) -> tuple[Reply, bool]:
        now = self.clock.now()
        async with self.turns() as uow:
            user, identity = await users.resolve(
                uow,
                now,
                incoming.peer.messenger,
                incoming.sender.external_id,
                incoming.sender.name,
                normalize(incoming.sender.language),
                incoming.sender.username,
            )
            state = await uow.chat_states.get(
                incoming.peer.messenger, incoming.peer.chat_id
            ) or ChatState(incoming.peer.messenger, incoming.peer.chat_id)
            before = (state.step, orjson.dumps(state.data))  # chat data is JSON
            ctx = Context(
                uow=uow,
                school=school,
                now=now,
                user=user,
                identity=identity,
                state=state,
                t=Texts(school, user.language or incoming.sender.language, user.timezone),
                incoming=incoming,
                checkout=self.checkout,
                capabilities=self._capabilities(incoming),
                gateways=self.gateways,
                uow_factory=self.uow_factory,
                group_links=self.group_links,
                star_subscriptions=self.star_subscriptions,
                messengers=tuple(self.channels),
                titles=self.titles,
                deep_link=self._deep_link,
                metrics=self.metrics,
                exports=self.exports,
                staff_menus=self.staff_menus,
                sending=self.sending,
            )
            handler, arg = self.router.route(incoming, state)
            if handler is None:
                raise Stale(incoming.action or incoming.text)
            reply = await handler(ctx, arg)
            if (state.step, orjson.dumps(state.data)) != before or state.updated_at is None:
                state.updated_at = now
                await uow.chat_states.put(state)
            await uow.commit()
        return reply, ctx.queued

    def _admitted(self, incoming: Incoming) -> bool:
        channel = self.channels.get(incoming.peer.messenger)
        if incoming.kind not in LIMITED_KINDS or not isinstance(channel, RepliesLimited):
            return True
        return channel.admit_reply(incoming.peer)

    def _deep_link(self, messenger: str, payload: str) -> str | None:
        make = getattr(self.channels.get(messenger), "deep_link", None)
        return make(payload) if make is not None else None

    def _capabilities(self, incoming: Incoming) -> Capabilities:
        channel = self.channels.get(incoming.peer.messenger)
        return channel.capabilities if channel else Capabilities()

    async def _deliver(self, incoming: Incoming, reply: Reply, part: str = "") -> None:
        channel = self.channels.get(incoming.peer.messenger)
        if channel is None:
            log.error("no channel for %s", incoming.peer.messenger)
            return
        try:
            # A press is answered once: the follow-up after the turn was answered with it.
            if not part and incoming.kind in (IncomingKind.ACTION, IncomingKind.PAYMENT_CHECK):
                await channel.ack(incoming, reply.toast)
            if reply.screen is None:
                return
            if reply.edit and incoming.message is not None and channel.capabilities.can_edit:
                try:
                    await channel.edit(incoming.message, reply.screen)
                    return
                except UserBlocked:
                    raise
                except MessengerError:
                    log.info("edit failed, sending a new message instead")
            key = f"reply:{incoming.event_id}{part}" if incoming.event_id else None
            await channel.send(incoming.peer, reply.screen, key=key)
        except UserBlocked:
            async with self.uow_factory() as uow:
                identity = await uow.users.identity(
                    incoming.peer.messenger, incoming.sender.external_id
                )
                if identity is not None:
                    await users.mark_unreachable(uow, identity.id)
                    await uow.commit()
        except MessengerError as exc:
            log.warning("reply to %s not delivered: %s", incoming.peer, exc)


def error_text(t: Texts, exc: errors.DomainError) -> str:
    key = {
        errors.SoldOut: "err_sold_out",
        errors.OfferUnavailable: "err_offer_unavailable",
        errors.NotEligible: "err_not_eligible",
        errors.AlreadyOwned: "err_already_owned",
        errors.PromoExhausted: "promo_exhausted",
        errors.PromoInvalid: "promo_invalid",
        errors.NotFound: "err_not_found",
        errors.PriceChanged: "err_price_changed",
        errors.OrderNotPayable: "err_order_not_payable",
        errors.LinkCodeInvalid: "err_link_code",
        errors.LinkSameMessenger: "err_link_same_messenger",
    }
    for kind in type(exc).__mro__:
        if kind in key:
            return t(key[kind], **{k: str(v) for k, v in exc.params.items()})
    return t("err_generic")
