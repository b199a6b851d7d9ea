"""A toy messenger added the way a real one is: this module (its settings, its factory and the
messenger) plus one registry line. It receives JSON on a webhook and keeps what it sends."""

from __future__ import annotations

import itertools

from aiohttp import web
from pydantic import BaseModel, SecretStr

from bots.base import Capabilities, MessengerContext, OnIncoming
from flows.ui import Incoming, IncomingKind, MessageRef, Peer, Screen, Sender

NAME = "toy"
WEBHOOK_PATH = "/toy/updates"


class ToySettings(BaseModel):
    toy_token: SecretStr | None = None


def build(settings: ToySettings, context: MessengerContext) -> ToyMessenger | None:
    if settings.toy_token is None:
        return None
    return ToyMessenger(settings.toy_token.get_secret_value())


class ToyMessenger:
    name = NAME
    capabilities = Capabilities(can_edit=False)

    def __init__(self, token: str) -> None:
        self.token = token
        self.sent: dict[str, list[Screen]] = {}  # chat id -> screens, oldest first
        self.ids = itertools.count(1)
        self._on_incoming: OnIncoming | None = None

    async def run(self, on_incoming: OnIncoming) -> None:
        self._on_incoming = on_incoming

    async def stop(self) -> None:
        self._on_incoming = None

    def webhook_routes(self) -> list[web.RouteDef]:
        return [web.post(WEBHOOK_PATH, self._receive)]

    async def _receive(self, request: web.Request) -> web.Response:
        """``{"chat": "7", "text": "/start"}`` or ``{"chat": "7", "press": "<action>"}``."""
        if request.headers.get("X-Toy-Token") != self.token:
            raise web.HTTPUnauthorized(text="wrong token")
        body = await request.json()
        peer = Peer(NAME, str(body["chat"]))
        sender = Sender(peer.chat_id, "Toy student", "en")
        if "press" in body:
            incoming = Incoming(peer, sender, IncomingKind.ACTION, action=body["press"],
                                event_id=f"press-{next(self.ids)}")
        else:
            incoming = Incoming(peer, sender, IncomingKind.TEXT, text=body["text"])
        assert self._on_incoming is not None, "the toy messenger is not running"
        await self._on_incoming(incoming)
        return web.json_response({"ok": True})

    async def send(self, peer: Peer, screen: Screen, bulk: bool = False,
                   key: str | None = None) -> MessageRef:
        self.sent.setdefault(peer.chat_id, []).append(screen)
        return MessageRef(peer, str(next(self.ids)))

    async def edit(self, ref: MessageRef, screen: Screen, bulk: bool = False) -> MessageRef:
        return await self.send(ref.peer, screen)  # it cannot edit: a new message

    async def ack(self, incoming: Incoming, toast: str | None = None) -> None:
        return None
