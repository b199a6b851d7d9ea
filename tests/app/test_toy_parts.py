"""A messenger and a payment gateway are added as a module each plus one registry line; a
student then buys through them end to end: updates on the toy's webhook, the flows, the
gateway's signed notification, the confirmation sent back through the toy."""

from __future__ import annotations

import aiohttp
import orjson
import toy_gateway
import toy_messenger
from aiohttp.test_utils import TestServer

from app.bootstrap import build_platform, configured_messengers
from app.lifecycle import add_webhook_routes
from app.settings import compose_settings
from bots import registry as bots_registry
from bots.registry import MessengerEntry, known_messengers
from core.models import OrderStatus
from core.school_file import parse_school
from flows.ui import Button, Screen
from payments import registry as payments_registry
from payments.registry import GatewayEntry

MESSENGERS = (*bots_registry.MESSENGERS,
              MessengerEntry("toy", "Toy Chat", toy_messenger.ToySettings, toy_messenger.build))
GATEWAYS = (*payments_registry.GATEWAYS,
            GatewayEntry("toy", toy_gateway.ToyGatewaySettings, toy_gateway.build))
Settings = compose_settings(MESSENGERS, GATEWAYS)
TOKEN, SECRET = "toy-token", "toy-pay-secret-0123"


def button(screen: Screen, label: str) -> Button:
    return next(b for b in screen.buttons if label in b.text)


async def test_a_student_buys_through_a_toy_messenger_and_a_toy_gateway(uow_factory, school,
                                                                         clock):
    settings = Settings(_env_file=None, toy_token=TOKEN, toy_pay_secret=SECRET,
                        test_payments=False)
    messengers = configured_messengers(settings, school.default_language, school.name)
    assert list(messengers) == ["toy"]
    platform = build_platform(settings, school, uow_factory, clock, channels=messengers)
    assert list(platform.gateways) == ["toy"]
    add_webhook_routes(platform.app, messengers)
    toy = messengers["toy"]
    await toy.run(platform.flows.handle)
    server = TestServer(platform.app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            async def say(**update: str) -> Screen:
                async with http.post(server.make_url(toy_messenger.WEBHOOK_PATH),
                                     json={"chat": "7", **update},
                                     headers={"X-Toy-Token": TOKEN}) as response:
                    assert response.status == 200, await response.text()
                return toy.sent["7"][-1]

            async def notify(body: bytes, signature: str) -> int:
                async with http.post(server.make_url("/payments/toy/webhook"), data=body,
                                     headers={"X-Toy-Signature": signature}) as response:
                    return response.status

            screen = await say(text="/start")
            assert "Welcome to Test School" in screen.text
            screen = await say(press=button(screen, "Courses").action)
            screen = await say(press=button(screen, "Python forever").action)
            screen = await say(press=button(screen, "Buy for 49 EUR").action)
            pay = button(screen, "Pay 49 EUR").url
            assert pay.startswith("https://pay.toy.example/")
            token = pay.rsplit("/", 1)[1].partition("?")[0]

            body = orjson.dumps({"id": "toy-1", "order": token, "amount": 4900,
                                 "currency": "EUR"})
            assert await notify(body, "forged") == 403
            async with uow_factory() as uow:
                assert (await uow.orders.get(1)).status is OrderStatus.NEW
            for _ in range(2):  # the provider may notify twice: one payment
                assert await notify(body, toy_gateway.sign(SECRET.encode(), body)) == 200
            await platform.dispatcher.drain()
    finally:
        await server.close()
        await toy.stop()
    assert "Payment received! Order #1: Python forever." in toy.sent["7"][-1].text
    async with uow_factory() as uow:
        order = await uow.orders.get(1)
        assert order.status is OrderStatus.PAID
        assert len(await uow.purchases.for_user(order.user_id)) == 1


def test_the_toy_parts_are_configured_from_the_environment_by_their_own_names(monkeypatch):
    monkeypatch.setenv("TOY_TOKEN", TOKEN)
    monkeypatch.setenv("TOY_PAY_SECRET", SECRET)
    settings = Settings(_env_file=None, test_payments=False)
    assert settings.toy_token.get_secret_value() == TOKEN
    assert settings.toy_pay_secret.get_secret_value() == SECRET
    assert TOKEN not in repr(settings)  # a part's secrets never reach a log either


def test_the_school_file_knows_a_registered_messenger_and_its_title():
    school = parse_school(SCHOOL.replace("ADMIN", "toy:ab-12"),
                          messengers=known_messengers(MESSENGERS))
    assert [(a.messenger, a.external_id) for a in school.admins] == [("toy", "ab-12")]
    assert bots_registry.titles(MESSENGERS)["toy"] == "Toy Chat"


SCHOOL = """
school: {name: Toy School, default_language: en, timezone: UTC, currency: EUR, admins: [ADMIN]}
courses: []
products: []
offers: []
"""
