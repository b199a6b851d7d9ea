"""Telegram updates -> Incoming, and screens -> Bot API calls, through aiogram 3.

Long polling by default; a webhook when a public URL is configured (its secret token is
required and checked: aiogram's handler answers 401 to a wrong or missing one). Pending
updates are never dropped: an unprocessed ``successful_payment`` is money."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

from aiogram import Bot, Dispatcher, F
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.methods import AnswerCallbackQuery
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    ChatJoinRequest,
    ChatMemberUpdated,
    Message,
    PreCheckoutQuery,
)
from aiohttp import web

from bots.base import Capabilities, MessengerError, OnIncoming, Payment, RetryAfter, UserBlocked
from bots.telegram import render
from bots.telegram.groups import TelegramGroups, missing_in
from bots.telegram.sender import NotModified, TelegramSender
from bots.telegram.session import TunedSession
from bots.telegram.webhook import WebhookEndpoint
from flows.channel import MenuCommands
from flows.commands import command_menu
from flows.ui import (
    GroupEvent,
    InChatPayment,
    Incoming,
    IncomingKind,
    MessageRef,
    Peer,
    Screen,
    Sender,
)

log = logging.getLogger(__name__)

NAME = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
ALLOWED_UPDATES = [
    "message",
    "callback_query",
    "pre_checkout_query",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
]
PRE_CHECKOUT_DEADLINE = 7.0  # seconds; Telegram waits 10 for the answer
TOO_SLOW = "Please try again in a minute."
STOP_WAIT = 10.0  # seconds a stop waits for pre-checkout decisions given up on
# In webhook mode the answer to a button press travels back in the webhook's HTTP response
# (Telegram allows one method there): one request to Telegram per press instead of two.
_WEBHOOK_ANSWER: ContextVar[list[AnswerCallbackQuery] | None] = ContextVar(
    "telegram_webhook_answer", default=None
)
FIAT = frozenset({"USD", "EUR", "GBP", "CHF", "PLN", "RUB", "CZK", "SEK", "NOK", "DKK"})
# Telegram's own accounts that stand in for someone hidden: never a person, never staff.
IMPERSONAL_IDS = frozenset({
    1087968824,  # @GroupAnonymousBot: the sender of an anonymous group admin's message
    136817688,  # @Channel_Bot: the sender of a message sent on behalf of a channel
    777000,  # Telegram itself: service notifications, posts forwarded from a linked channel
})
DESCRIPTION_MAX = 256  # characters of a command's description in a menu


def _status(member) -> str:
    return str(getattr(member.status, "value", member.status))


class TelegramMessenger(TelegramGroups):
    name = NAME

    def __init__(
        self,
        token: str,
        *,
        api_url: str | None = None,
        provider_token: str | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        sender: TelegramSender | None = None,
        concurrency: int = 32,
        default_language: str = "en",
        pre_checkout_deadline: float | None = None,
    ) -> None:
        if webhook_url and not webhook_secret:
            raise ValueError("a Telegram webhook needs a secret token")
        self.bot = Bot(token, session=TunedSession(api_url))
        self.provider_token = provider_token
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.answer_in_webhook_reply = True
        self.sender = sender or TelegramSender()
        self.default_language = default_language  # of the menu for every other language
        self.username: str | None = None  # the bot's, once it runs: for deep links
        self.capabilities = Capabilities(
            can_edit=True,
            invoices=frozenset({"XTR"}) | (FIAT if provider_token else frozenset()),
            replies=True,
            attachments=frozenset({"photo", "document"}),
        )
        # Chat state lives in the platform's database: aiogram's own FSM would only add a
        # lookup to every update.
        self.dispatcher = Dispatcher(disable_fsm=True)
        self._on_incoming: OnIncoming | None = None
        self._polling: asyncio.Task | None = None
        # Updates handled at once: more only queue behind the database and slow every one.
        self._slots = asyncio.Semaphore(concurrency)
        # Seconds a payment check may take (PRE_CHECKOUT_DEADLINE when None); the answer
        # is no after them. The decisions running (with their query) and the queries
        # already answered: one answer each, the first.
        self.pre_checkout_deadline = pre_checkout_deadline
        self._deciding: dict[asyncio.Task, str] = {}
        self._checks_answered: set[str] = set()
        self._register()

    # --- receiving -------------------------------------------------------------------------

    def _register(self) -> None:
        private = F.chat.type == "private"
        self.dispatcher.message.register(self._on_payment, private, F.successful_payment)
        self.dispatcher.message.register(self._on_refund, private, F.refunded_payment)
        self.dispatcher.message.register(self._on_text, private, F.text)
        self.dispatcher.callback_query.register(self._on_callback)
        self.dispatcher.pre_checkout_query.register(self._on_pre_checkout)
        self.dispatcher.my_chat_member.register(self._on_blocked_or_back, private)
        # Paid groups and channels
        self.dispatcher.my_chat_member.register(self._on_bot_status, ~private)
        self.dispatcher.chat_member.register(self._on_member)
        self.dispatcher.chat_join_request.register(self._on_join_request)
        self.dispatcher.message.register(self._on_group_message,
                                         F.chat.type.in_({"group", "supergroup"}))

    def _incoming(self, chat_id: int, user, kind: IncomingKind, sender_chat=None,
                  **fields) -> Incoming:
        """``user`` is who acted (for a button press, who pressed it, whoever's chat it is
        in). A message signed by a chat (``sender_chat``: an anonymous admin, a channel) or
        from one of Telegram's stand-in accounts is impersonal: never taken for staff."""
        impersonal = user.id in IMPERSONAL_IDS or sender_chat is not None
        sender = Sender(str(user.id), user.full_name, user.language_code, impersonal=impersonal,
                        username=user.username or "")
        return Incoming(Peer(NAME, str(chat_id)), sender, kind, **fields)

    async def _deliver(self, incoming: Incoming) -> None:
        if self._on_incoming is None:
            raise RuntimeError("the Telegram messenger is not running")
        async with self._slots:
            await self._on_incoming(incoming)

    async def _on_text(self, message: Message) -> None:
        replied = message.reply_to_message
        reply_to = MessageRef(Peer(NAME, str(message.chat.id)), str(replied.message_id)) \
            if replied is not None else None
        await self._deliver(
            self._incoming(message.chat.id, message.from_user, IncomingKind.TEXT,
                           message.sender_chat, text=message.text or "", reply_to=reply_to,
                           html=message.html_text if message.text else None)
        )

    async def _on_callback(self, query: CallbackQuery) -> AnswerCallbackQuery | None:
        chat_id = query.message.chat.id if query.message else query.from_user.id
        ref = MessageRef(Peer(NAME, str(chat_id)), str(query.message.message_id)) \
            if query.message else None
        in_reply = self.webhook_url and self.answer_in_webhook_reply
        answer: list[AnswerCallbackQuery] | None = [] if in_reply else None
        token = _WEBHOOK_ANSWER.set(answer)
        try:
            await self._deliver(
                self._incoming(chat_id, query.from_user, IncomingKind.ACTION,
                               action=query.data or "", message=ref, event_id=query.id)
            )
        finally:
            _WEBHOOK_ANSWER.reset(token)
        return answer[0] if answer else None

    async def _on_pre_checkout(self, query: PreCheckoutQuery) -> None:
        """Answered within Telegram's 10 s in every case: it skips the queue of other updates,
        and the decision runs in a task of its own. If it is not made by the deadline the
        answer is no at once, without waiting for the decision to give up: a turn cancelled
        while the storage is locked (SQLite by another process) only ends when the lock does.
        The late decision is cancelled and its answer never sent."""
        if self._on_incoming is None:
            raise RuntimeError("the Telegram messenger is not running")
        payment = InChatPayment(query.invoice_payload, query.currency, query.total_amount)
        incoming = self._incoming(query.from_user.id, query.from_user,
                                  IncomingKind.PAYMENT_CHECK, event_id=query.id, payment=payment)
        deadline = self.pre_checkout_deadline
        if deadline is None:
            deadline = PRE_CHECKOUT_DEADLINE
        decision = asyncio.create_task(self._on_incoming(incoming),
                                       name=f"pre-checkout {query.id}")
        self._deciding[decision] = query.id
        decision.add_done_callback(self._decided)
        done, _ = await asyncio.wait({decision}, timeout=deadline)
        if done:
            decision.result()  # its failure is the update's
            return
        log.error("pre-checkout %s not decided in %.1f s: refused", query.id, deadline)
        decision.cancel()
        await self.ack(incoming, TOO_SLOW)

    def _decided(self, decision: asyncio.Task) -> None:
        self._checks_answered.discard(self._deciding.pop(decision, ""))
        if not decision.cancelled() and decision.exception() is not None:
            log.error("pre-checkout decision failed", exc_info=decision.exception())

    async def decided(self, within: float | None = None) -> None:
        """Wait until the pre-checkout decisions still running (given up on) have ended."""
        if self._deciding:
            await asyncio.wait(list(self._deciding), timeout=within)

    async def _on_payment(self, message: Message) -> None:
        paid = message.successful_payment
        until = paid.subscription_expiration_date
        payment = InChatPayment(
            paid.invoice_payload, paid.currency, paid.total_amount,
            paid.telegram_payment_charge_id, paid.provider_payment_charge_id or "",
            recurring=bool(paid.is_recurring), first_recurring=bool(paid.is_first_recurring),
            paid_until=datetime.fromtimestamp(until, UTC) if until else None,
        )
        await self._deliver_money(self._incoming(
            message.chat.id, message.from_user, IncomingKind.PAYMENT, payment=payment))

    async def _on_refund(self, message: Message) -> None:
        """A payment was given back: in Telegram, or by the bot's own refund."""
        returned = message.refunded_payment
        payment = InChatPayment(
            returned.invoice_payload, returned.currency, returned.total_amount,
            returned.telegram_payment_charge_id, returned.provider_payment_charge_id or "",
        )
        await self._deliver_money(self._incoming(
            message.chat.id, message.from_user, IncomingKind.REFUNDED, payment=payment))

    async def _deliver_money(self, incoming: Incoming) -> None:
        """Money: retried until it is recorded. Polling handles updates one by one, so
        Telegram is told an update was received only once this returns; a webhook answers
        only after it too. A stop meanwhile leaves the update with Telegram for next time."""
        payment = incoming.payment
        assert payment is not None
        attempt = 0
        while True:
            try:
                await self._deliver(incoming)
                return
            except Exception:
                attempt += 1
                log.critical("%s %s (%s %s, payload %r) not recorded yet (attempt %d)",
                             incoming.kind, payment.charge_id, payment.amount,
                             payment.currency, payment.payload, attempt, exc_info=True)
                await asyncio.sleep(min(0.5 * 2 ** (attempt - 1), 30))

    async def _on_blocked_or_back(self, update: ChatMemberUpdated) -> None:
        """A student blocked the bot (kicked) or came back (member): reachability follows."""
        if update.new_chat_member.status == "kicked":
            await self._deliver(
                self._incoming(update.chat.id, update.from_user, IncomingKind.BLOCKED)
            )

    async def _on_member(self, update: ChatMemberUpdated) -> None:
        link = update.invite_link
        event = GroupEvent(
            update.chat.id, _status(update.new_chat_member), _status(update.old_chat_member),
            invite_link=link.invite_link if link else None,
            via_request=bool(update.via_join_request),
            until=getattr(update.new_chat_member, "until_date", None)
            if update.new_chat_member.status == "member" else None,
            subscription_price=link.subscription_price if link else None,
            link_name=link.name if link else None,
        )
        await self._deliver(self._incoming(update.chat.id, update.new_chat_member.user,
                                           IncomingKind.MEMBER, group=event))

    async def _on_join_request(self, request: ChatJoinRequest) -> None:
        event = GroupEvent(
            request.chat.id, "requested",
            invite_link=request.invite_link.invite_link if request.invite_link else None,
            user_chat_id=request.user_chat_id,
        )
        await self._deliver(self._incoming(request.chat.id, request.from_user,
                                           IncomingKind.JOIN_REQUEST, group=event))

    async def _on_bot_status(self, update: ChatMemberUpdated) -> None:
        event = GroupEvent(
            update.chat.id, _status(update.new_chat_member), _status(update.old_chat_member),
            missing_rights=tuple(missing_in(update.new_chat_member)),
        )
        await self._deliver(self._incoming(update.chat.id, update.from_user,
                                           IncomingKind.BOT_STATUS, group=event))

    async def _on_group_message(self, message: Message) -> None:
        """Who writes in a group is a member: how members from before the bot are found.
        A message signed by a chat (an anonymous admin, a channel's post) names nobody."""
        if message.from_user is not None and not message.from_user.is_bot \
                and message.sender_chat is None and message.from_user.id not in IMPERSONAL_IDS:
            await self._deliver(self._incoming(
                message.chat.id, message.from_user, IncomingKind.MEMBER,
                group=GroupEvent(message.chat.id, "seen")))

    # --- running ---------------------------------------------------------------------------

    async def run(self, on_incoming: OnIncoming) -> None:
        self._on_incoming = on_incoming
        self.username = (await self.bot.me()).username
        await self.set_command_menu()
        if self.webhook_url:
            await self.bot.set_webhook(
                self.webhook_url,
                secret_token=self.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
            )
            return
        await self.bot.delete_webhook(drop_pending_updates=False)
        self._polling = asyncio.create_task(
            self.dispatcher.start_polling(
                self.bot, allowed_updates=ALLOWED_UPDATES, handle_signals=False,
                close_bot_session=False,
                # One by one: an update is confirmed to Telegram only after it was handled.
                handle_as_tasks=False,
            ),
            name="telegram polling",
        )

    def webhook_routes(self) -> list[web.RouteDef]:
        return [self._webhook_route()] if self.webhook_url else []

    def add_webhook_route(self, app: web.Application) -> None:
        app.router.add_routes([self._webhook_route()])

    def _webhook_route(self) -> web.RouteDef:
        assert self.webhook_secret, "a Telegram webhook needs a secret token"
        endpoint = WebhookEndpoint(self.dispatcher, self.bot, self.webhook_secret)
        return web.post(WEBHOOK_PATH, endpoint.handle)

    def deep_link(self, payload: str) -> str | None:
        return f"https://t.me/{self.username}?start={payload}" if self.username else None

    async def stop(self) -> None:
        if self._polling is not None:
            await self.dispatcher.stop_polling()
            await asyncio.gather(self._polling, return_exceptions=True)
            self._polling = None
        await self.decided(within=STOP_WAIT)
        await self.bot.session.close()

    async def set_command_menu(self) -> None:
        for language, commands in command_menu().items():
            menu = [BotCommand(command=c, description=d) for c, d in commands]
            await self.bot.set_my_commands(menu, language_code=language)
        menus = command_menu()
        default = menus.get(self.default_language, menus["en"])
        await self.bot.set_my_commands([BotCommand(command=c, description=d) for c, d in default])

    async def set_staff_menu(self, peer: Peer, commands: MenuCommands | None) -> None:
        """The private chat's own menu (a per-chat command scope, which Telegram shows
        before the menus of every language); None deletes it, and the students' menu shows
        again. Telegram refuses a chat the bot has never talked with: "chat not found"."""
        scope = BotCommandScopeChat(chat_id=int(peer.chat_id))
        try:
            if commands is None:
                await self.bot.delete_my_commands(scope=scope)
            else:
                await self.bot.set_my_commands(
                    [BotCommand(command=c, description=d.strip()[:DESCRIPTION_MAX] or c)
                     for c, d in commands], scope=scope)
        except TelegramAPIError as exc:
            raise MessengerError(exc.message) from exc

    # --- sending ---------------------------------------------------------------------------

    async def send(
        self, peer: Peer, screen: Screen, bulk: bool = False, key: str | None = None
    ) -> MessageRef:
        chat_id = int(peer.chat_id)
        reply = not bulk
        if screen.invoice is not None and screen.invoice.currency in self.capabilities.invoices:
            try:
                message = await self.sender.call(
                    chat_id, lambda: self._send_invoice(chat_id, screen), reply
                )
                return MessageRef(peer, str(message.message_id))
            except (UserBlocked, RetryAfter):
                raise
            except MessengerError as exc:  # say, the provider refuses this currency
                log.error("invoice refused (%s): the checkout link goes instead", exc)
        if screen.attachment is not None or screen.picture is not None:
            return MessageRef(peer, await self._send_attachment(chat_id, screen, reply))
        text, keyboard = render.message(screen)
        mode = render.parse_mode(screen)
        message = await self.sender.call(
            chat_id, lambda: self.bot.send_message(chat_id, text, reply_markup=keyboard,
                                                   parse_mode=mode), reply,
        )
        return MessageRef(peer, str(message.message_id))

    async def _send_attachment(self, chat_id: int, screen: Screen, reply: bool) -> str:
        """A photo or document with the screen's text as its caption, or, when the text is
        longer than a caption may be, the text first as a message of its own; the keyboard
        goes on the last message. Returns the id of that message."""
        attachment = screen.attachment
        text, keyboard = render.message(dataclasses.replace(screen, attachment=None,
                                                            picture=None))
        caption: str | None = text
        mode = render.parse_mode(screen)
        if len(text.encode("utf-16-le")) // 2 > render.MAX_CAPTION:  # 📊 counts as two
            await self.sender.call(chat_id, lambda: self.bot.send_message(
                chat_id, text, parse_mode=mode), reply)
            caption = None
        if attachment is None:  # a picture by its address: Telegram fetches it
            assert screen.picture is not None
            picture = screen.picture
            send = lambda: self.bot.send_photo(  # noqa: E731
                chat_id, picture, caption=caption or None, reply_markup=keyboard,
                parse_mode=mode if caption else None)
            return str((await self.sender.call(chat_id, send, reply)).message_id)
        upload = BufferedInputFile(attachment.data, filename=attachment.filename)
        if attachment.kind == "photo":
            send = lambda: self.bot.send_photo(  # noqa: E731
                chat_id, upload, caption=caption or None, reply_markup=keyboard)
        else:
            send = lambda: self.bot.send_document(  # noqa: E731
                chat_id, upload, caption=caption or None, reply_markup=keyboard)
        message = await self.sender.call(chat_id, send, reply)
        return str(message.message_id)

    def admit_reply(self, peer: Peer) -> bool:
        """One chat's presses and messages get answers only so fast (the sender's bucket)."""
        return self.sender.admit_reply(int(peer.chat_id))

    async def _send_invoice(self, chat_id: int, screen: Screen) -> Message:
        invoice = screen.invoice
        assert invoice is not None
        if invoice.renews_every:
            return await self._send_subscription_link(chat_id, screen)
        stars = invoice.currency == "XTR"
        return await self.bot.send_invoice(
            chat_id,
            title=invoice.title,
            description=invoice.description,
            payload=invoice.payload,
            currency=invoice.currency,
            prices=render.prices(screen),
            provider_token="" if stars else self.provider_token,
            reply_markup=render.invoice_keyboard(screen),
        )

    async def _send_subscription_link(self, chat_id: int, screen: Screen) -> Message:
        """Telegram makes Stars subscriptions only through an invoice link: the screen goes
        out with the link as its pay button."""
        invoice = screen.invoice
        assert invoice is not None
        link = await self.bot.create_invoice_link(
            title=invoice.title, description=invoice.description, payload=invoice.payload,
            currency=invoice.currency, prices=render.prices(screen),
            subscription_period=invoice.renews_every,
        )
        text, keyboard = render.message(render.with_link_to_pay(screen, link))
        return await self.bot.send_message(chat_id, text, reply_markup=keyboard)

    async def edit(self, ref: MessageRef, screen: Screen, bulk: bool = False) -> MessageRef:
        # An invoice is a message of its own; so is a file (a text cannot become one).
        if screen.invoice is not None or screen.attachment is not None \
                or screen.picture is not None:
            return await self.send(ref.peer, screen, bulk)
        chat_id = int(ref.peer.chat_id)
        text, keyboard = render.message(screen)
        with contextlib.suppress(NotModified):  # the message already shows this screen
            await self.sender.call(chat_id, lambda: self.bot.edit_message_text(
                text=text, chat_id=chat_id, message_id=int(ref.message_id),
                reply_markup=keyboard, parse_mode=render.parse_mode(screen),
            ), reply=not bulk)
        return ref

    async def ack(self, incoming: Incoming, toast: str | None = None) -> None:
        """Answers are not chat messages: Telegram does not count them against the limits.
        A failed answer is logged and never keeps the screen itself from being sent."""
        try:
            if incoming.kind is IncomingKind.PAYMENT_CHECK:
                if incoming.event_id in self._checks_answered:
                    log.info("pre-checkout %s was answered already", incoming.event_id)
                    return
                if incoming.event_id in self._deciding.values():
                    self._checks_answered.add(incoming.event_id)
                await self.bot.answer_pre_checkout_query(
                    incoming.event_id, ok=toast is None, error_message=toast
                )
            elif (answer := _WEBHOOK_ANSWER.get()) is not None and not answer:
                answer.append(AnswerCallbackQuery(callback_query_id=incoming.event_id,
                                                  text=toast))
            else:
                await self.bot.answer_callback_query(incoming.event_id, text=toast)
        except TelegramAPIError as exc:
            log.info("could not answer %s: %s", incoming.event_id, exc)

    # --- payments --------------------------------------------------------------------------

    async def refund(self, payment: Payment) -> None:
        """Give a Stars payment back. A refund Telegram already made counts as done."""
        try:
            await self.bot.refund_star_payment(
                user_id=int(payment.details["payer"]),
                telegram_payment_charge_id=payment.gateway_payment_id,
            )
        except TelegramBadRequest as exc:
            if "CHARGE_ALREADY_REFUNDED" not in exc.message:
                raise MessengerError(exc.message) from exc

    async def set_star_subscription(self, user_id: str, charge_id: str, on: bool) -> None:
        try:
            await self.bot.edit_user_star_subscription(
                user_id=int(user_id), telegram_payment_charge_id=charge_id, is_canceled=not on)
        except TelegramAPIError as exc:
            raise MessengerError(exc.message) from exc
