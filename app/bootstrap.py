"""Wiring: one platform built from its settings, its school and its storage. Every
collaborator is passed to the constructor of what uses it; nothing is patched afterwards."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from app.settings import PlatformSettings
from app.sweeps import SweepTable, automation_sweeps, sweep_table
from bots.base import Messenger, MessengerContext
from bots.registry import titles
from core.automations.model import Webhook, walk
from core.automations.runner import AutomationRunner, Wakes
from core.clock import SystemClock
from core.notices import GroupInvite
from core.ports import Charger, Clock, PaymentGateway, UnitOfWorkFactory, WebhookPoster
from core.school import School
from core.services.broadcast_estimate import MessagePrice, SendingTerms
from core.services.export import ExportDesk
from core.services.payment_desk import Desk
from flows.broadcast_send import BroadcastSender
from flows.channel import GroupAdmin
from flows.checkout_ways import CheckoutWays, unpayable
from flows.engine import FlowEngine
from flows.groups import GroupKeeper
from flows.outbound import OutboundDispatcher
from flows.routes import student_router
from flows.staff_menus import StaffMenuKeeper
from observability.metrics import Metrics
from payments.registry import GatewayContext
from web.app import make_app
from web.deps import Deps
from web.webhook_client import AiohttpPoster

log = logging.getLogger(__name__)


class SchoolHolder:
    """The current school; replaced whole when the file is reloaded."""

    def __init__(self, school: School) -> None:
        self.school = school

    def __call__(self) -> School:
        return self.school


@dataclass
class Platform:
    settings: PlatformSettings
    school: SchoolHolder
    clock: Clock
    uow_factory: UnitOfWorkFactory
    gateways: dict[str, PaymentGateway]
    channels: dict[str, Messenger]
    dispatcher: OutboundDispatcher
    flows: FlowEngine
    app: web.Application
    groups: GroupKeeper
    metrics: Metrics
    sweeps: SweepTable
    broadcasts: BroadcastSender
    staff_menus: StaffMenuKeeper | None = None
    automations: AutomationRunner | None = None

    async def started(self) -> None:
        """What needs the messengers running: the paid groups' checks, the staff's menus."""
        await self.groups.start()
        if self.staff_menus is not None:
            await self.staff_menus.start()

    async def sweep(self, name: str) -> int:
        """Run one sweep now; the scheduler calls this on intervals, tests call it directly."""
        if name not in self.sweeps:
            raise ValueError(f"unknown sweep {name!r}")
        count = await self.sweeps[name][1]()
        if count:
            self.dispatcher.wake()
        return count

    def unpayable_offers(self) -> list[str]:
        """``code (currency)`` of each offer that no gateway and no messenger here takes."""
        offers = unpayable(self.school().offers.values(), self.flows.checkout,
                           (c.capabilities for c in self.channels.values()))
        return [f"{offer.code} ({offer.price.currency})" for offer in offers]

    def chargers(self) -> dict[str, Charger]:
        """The gateways that can charge a saved method again."""
        return chargers(self.gateways)

    async def run_sweeps(self) -> dict[str, int]:
        return {name: await self.sweep(name) for name in self.sweeps}


def chargers(gateways: Mapping[str, PaymentGateway]) -> dict[str, Charger]:
    return {name: g for name, g in gateways.items() if isinstance(g, Charger)}


def sending_terms(settings: PlatformSettings) -> SendingTerms:
    """Each registered messenger's pace and price for messages the platform starts, as the
    settings give them (what a broadcast's estimate is made of)."""
    rates, prices = {}, {}
    for entry in settings.messenger_entries:
        if entry.bulk_rate is not None:
            rates[entry.name] = entry.bulk_rate(settings)
        price = entry.message_price(settings) if entry.message_price is not None else None
        if price is not None:
            prices[entry.name] = MessagePrice(*price)
    return SendingTerms(rates, prices)


def configured_messengers(settings: PlatformSettings, default_language: str = "en",
                          school_name: str = "School") -> dict[str, Messenger]:
    """Every registered messenger its settings configure."""
    context = MessengerContext(settings.base_url, settings.public_url is not None,
                               default_language, school_name)
    messengers: dict[str, Messenger] = {}
    for entry in settings.messenger_entries:
        messenger = entry.build(settings, context)
        if messenger is not None:
            messengers[entry.name] = messenger
    return messengers


def configured_gateways(settings: PlatformSettings, clock: Clock, base_url: str | None = None,
                        messengers: Mapping[str, Messenger] | None = None,
                        ) -> dict[str, PaymentGateway]:
    """Every registered gateway its settings (and the running messengers) configure."""
    secret = (settings.secret_key or secrets.token_hex(32)).encode()
    context = GatewayContext(base_url or settings.base_url, clock, secret, dict(messengers or {}))
    gateways: dict[str, PaymentGateway] = {}
    for entry in settings.gateway_entries:
        gateway = entry.build(settings, context)
        if gateway is not None:
            gateways[entry.name] = gateway
    return gateways


def build_platform(
    settings: PlatformSettings,
    school: School,
    uow_factory: UnitOfWorkFactory,
    clock: Clock | None = None,
    channels: dict[str, Messenger] | None = None,
    base_url: str | None = None,
    gateways: dict[str, PaymentGateway] | None = None,
    webhook_poster: WebhookPoster | None = None,
) -> Platform:
    """Wire one platform. ``base_url``: where its pages are reached (the sandbox's sit under
    ``/sandbox``); ``gateways``: those the settings configure unless given."""
    clock = clock or SystemClock()
    holder = SchoolHolder(school)
    channels = dict(channels or {})
    if gateways is None:
        gateways = configured_gateways(settings, clock, base_url, channels)
    if not any(not g.in_chat for g in gateways.values()) \
            and not any(c.capabilities.invoices for c in channels.values()):
        raise SystemExit("no way to take payments: configure a payment gateway or a messenger "
                         "that takes payments in the chat (TEST_PAYMENTS=1 for the demo)")
    checkout = CheckoutWays.of(gateways.values())  # the registry's order

    metrics = Metrics()
    # Export links are signed with the platform's secret (random per start when unset: links
    # then end with the process, and several processes need SECRET_KEY to share them).
    exports = ExportDesk(uow_factory, clock, holder,
                         (settings.secret_key or secrets.token_hex(32)).encode(),
                         base_url or settings.base_url)
    # Paid groups live in Telegram: the Telegram messenger is the one that can manage them.
    group_admin = next((c for c in channels.values() if isinstance(c, GroupAdmin)), None)
    keeper = GroupKeeper(uow_factory, clock, holder, channels, group_admin)
    dispatcher = OutboundDispatcher(uow_factory, clock, holder, channels, checkout,
                                    prepare={GroupInvite: keeper.prepare_invite},
                                    metrics=metrics)
    sender = BroadcastSender(uow_factory, clock, holder, channels, metrics=metrics)
    staff_menus = StaffMenuKeeper(uow_factory, clock, holder, channels)
    runner = AutomationRunner(uow_factory, clock, holder, dispatcher)
    flows = FlowEngine(
        uow_factory, clock, holder, student_router(), channels, checkout,
        Wakes(dispatcher, sender),
        gateways, groups=keeper.handle,
        group_links=keeper.personal_link if group_admin is not None else None,
        metrics=metrics, titles=titles(settings.messenger_entries), exports=exports,
        staff_menus=staff_menus, automations=runner.after_turn,
        sending=sending_terms(settings),
    )
    desk = Desk(uow_factory, clock, holder, Wakes(dispatcher, runner), metrics.payment)
    app = make_app(Deps(uow_factory, clock, holder, gateways, dispatcher, metrics, desk,
                        downloads=exports))
    sweeps = sweep_table(holder, clock, uow_factory, keeper, chargers(gateways), sender)
    sweeps |= automation_sweeps(holder, clock, uow_factory, webhook_poster or AiohttpPoster(),
                                webhook_secret(settings, school))
    return Platform(settings, holder, clock, uow_factory, gateways, channels, dispatcher, flows,
                    app, keeper, metrics, sweeps, sender, staff_menus=staff_menus,
                    automations=runner)


def webhook_secret(settings: PlatformSettings, school: School) -> bytes:
    """What automations' webhook calls are signed with: SECRET_KEY (random per start when
    unset, which the school's systems cannot check: said once)."""
    if settings.secret_key:
        return settings.secret_key.encode()
    if any(isinstance(step, Webhook) for automation in school.automations.values()
           for _, step in walk(automation.steps)):
        log.warning("SECRET_KEY is not set: automations' webhook calls are signed with a key "
                    "that changes at every start, which your systems cannot check")
    return secrets.token_hex(32).encode()
