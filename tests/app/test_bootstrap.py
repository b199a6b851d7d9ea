"""The wiring: messengers from the registry bring their own webhook routes, the platform's
parts share one set of metrics and the paid groups' keeper, and one sweep table drives it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from factories import with_stars_subscription
from pydantic import ValidationError

from app.bootstrap import build_platform, configured_messengers, sending_terms
from app.settings import Settings
from bots.console import ConsoleMessenger
from bots.registry import MESSENGERS, known_messengers, titles
from core.notices import GroupInvite
from core.services.broadcast_estimate import MessagePrice, SendingTerms

HOOKED = dict(public_url="https://school.example", test_payments=False,
              telegram_bot_token="123456:ABC", telegram_webhook_secret="w" * 20,
              vk_group_token="vk-token", vk_group_id=7, vk_callback_secret="vk-secret",
              vk_confirmation_code="confirm", viber_auth_token="viber-token")


def paths(messenger) -> list[str]:
    return [route.path for route in messenger.webhook_routes()]


def test_each_messenger_gives_its_webhook_route_only_when_it_receives_on_one():
    hooked = configured_messengers(Settings(_env_file=None, **HOOKED))
    assert {name: paths(m) for name, m in hooked.items()} == {
        "telegram": ["/telegram/webhook"], "vk": ["/vk/callback"], "viber": ["/viber/webhook"]}
    polling = configured_messengers(Settings(_env_file=None, telegram_bot_token="123456:ABC",
                                             vk_group_token="vk-token", vk_group_id=7))
    assert {name: paths(m) for name, m in polling.items()} == {"telegram": [], "vk": []}


def test_the_registry_names_the_messengers_the_school_file_and_the_students_see():
    assert titles() == {"telegram": "Telegram", "vk": "VK", "viber": "Viber"}
    assert known_messengers() == {"telegram": True, "vk": True, "viber": False,
                                  "console": False, "web": False, "sandbox": False}
    assert [entry.name for entry in Settings.messenger_entries] == \
        [entry.name for entry in MESSENGERS]


def test_the_parts_are_wired_through_their_constructors(uow_factory, school, clock):
    console = ConsoleMessenger()
    platform = build_platform(Settings(_env_file=None), school, uow_factory, clock,
                              channels={"console": console})
    assert platform.flows.metrics is platform.metrics is platform.dispatcher.metrics
    assert platform.flows.groups == platform.groups.handle
    assert platform.flows.group_links is None  # no messenger here manages groups
    assert platform.dispatcher.prepare == {GroupInvite: platform.groups.prepare_invite}
    assert platform.flows.titles["telegram"] == "Telegram"
    assert list(platform.gateways) == ["test"]
    assert {name: seconds for name, (seconds, _) in platform.sweeps.items()} == {
        "orders": 300, "lessons": 30, "expiry": 60, "groups": 60, "reminders": 60,
        "renewals": 60, "digests": 60, "broadcasts": 15, "automations": 15, "webhooks": 15}
    assert platform.flows.automations == platform.automations.after_turn
    assert platform.broadcasts.metrics is platform.metrics
    assert platform.broadcasts in platform.flows.notifier.notifiers  # woken after a turn


async def test_an_unknown_sweep_is_refused(harness):
    with pytest.raises(ValueError, match="unknown sweep 'nightly'"):
        await harness.platform.sweep("nightly")
    assert set(await harness.platform.run_sweeps()) == set(harness.platform.sweeps)


# A live school (no test payments) in a messenger with no payments of its own.
LIVE = {"vk": dict(test_payments=False, vk_group_token="vk-token", vk_group_id=7),
        "viber": dict(test_payments=False, public_url="https://school.example",
                      viber_auth_token="viber-token")}
CARDS = {"stripe": dict(stripe_secret_key="sk_test_x", stripe_webhook_secret="whsec_x"),
         "yookassa": dict(yookassa_shop_id="123", yookassa_secret_key="test_secret")}


@pytest.mark.parametrize("messenger", sorted(LIVE))
def test_a_live_school_with_no_gateway_in_a_messenger_without_payments_does_not_start(
        uow_factory, school, clock, messenger):
    settings = Settings(_env_file=None, **LIVE[messenger])
    channels = configured_messengers(settings)
    assert list(channels) == [messenger] and not channels[messenger].capabilities.invoices
    with pytest.raises(SystemExit, match="no way to take payments"):
        build_platform(settings, school, uow_factory, clock, channels=channels)


@pytest.mark.parametrize("gateway", sorted(CARDS))
@pytest.mark.parametrize("messenger", sorted(LIVE))
async def test_a_live_school_with_a_card_gateway_sells_in_vk_and_viber(
        uow_factory, school, clock, messenger, gateway):
    settings = Settings(_env_file=None, **LIVE[messenger], **CARDS[gateway])
    channels = configured_messengers(settings)
    platform = build_platform(settings, school, uow_factory, clock, channels=channels)
    assert list(platform.gateways) == [gateway]
    assert [way.gateway for way in platform.flows.checkout.taking("EUR")] == [gateway]
    assert platform.unpayable_offers() == []  # every offer of the school is in euros
    in_stars = build_platform(settings, with_stars_subscription(school), uow_factory, clock,
                              channels=channels)
    assert in_stars.unpayable_offers() == ["python-stars (XTR)"]
    if gateway == "stripe":
        await platform.gateways[gateway].close()
        await in_stars.gateways[gateway].close()


def test_broadcast_estimates_take_each_messengers_pace_and_vibers_price_from_the_settings():
    assert sending_terms(Settings(_env_file=None)) == SendingTerms(
        {"telegram": 30, "vk": 20, "viber": 25}, {})
    terms = sending_terms(Settings(_env_file=None, telegram_messages_per_second=100,
                                   viber_message_price="0.0053", viber_price_currency="USD"))
    assert terms.rate("telegram") == 100
    assert terms.prices == {"viber": MessagePrice(Decimal("0.0053"), "USD")}
    with pytest.raises(ValidationError):
        Settings(_env_file=None, viber_message_price="-1")
