"""Realistic Telegram ``Update`` objects for the fake Bot API, as the messenger would send them.

The builders also change the fake's state the way Telegram would have before sending the
update: a user's message takes the chat's next message id, a pre-checkout query and a
callback query become answerable, a payment becomes refundable, a member's status changes,
a join request becomes approvable, a user who blocks the bot is blocked. They only build: hand
the result to ``fake.push(update)`` (long polling) or ``await fake.post_to_webhook(update)``.
"""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from fake_bot_spec import SPEC

UserLike = dict[str, Any] | int

# The bot's own rights when it is an administrator (the fake's default in groups).
BOT_ADMIN_RIGHTS = {
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_restrict_members": True,
    "can_invite_users": True,
    "can_pin_messages": True,
    "can_change_info": False,
    "can_promote_members": False,
    "can_manage_video_chats": False,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
}
# Required by aiogram 3.31 (Bot API 10.3) though newer than the 10.1 spec: a real server sends it.
_NEWER_ADMIN_FIELDS = {"can_send_welcome_messages": False}
_GROUP_STATUSES = {"creator", "administrator", "member", "restricted", "left", "kicked"}


def member_object(status: str, user: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A ChatMember of the given status ("creator", "administrator", "member", "restricted",
    "left", "kicked") with every required field."""
    if status not in _GROUP_STATUSES:
        raise ValueError(f"unknown chat member status {status!r}")
    extra = {k: v for k, v in extra.items() if v is not None}
    if status == "creator":
        return SPEC.default_object("ChatMemberOwner", user=user, **extra)
    if status == "administrator":
        fields = {**_NEWER_ADMIN_FIELDS, **extra}
        return SPEC.default_object("ChatMemberAdministrator", user=user, **fields)
    if status == "restricted":
        return SPEC.default_object(
            "ChatMemberRestricted", user=user, is_member=True, until_date=0, **extra
        )
    if status == "kicked":
        return {"status": "kicked", "user": user, "until_date": extra.get("until_date") or 0}
    obj = {"status": status, "user": user}
    if status == "member" and extra.get("until_date"):
        obj["until_date"] = extra["until_date"]
    return obj


class UpdateBuilders:
    """Mixed into FakeBotAPI: builders of Update dicts with increasing ``update_id``."""

    # State that FakeBotAPI owns (declared for readers and type checkers).
    bot_user: dict[str, Any]
    time: Any
    pre_checkout_timeout: float
    _next_update_id: int
    _users: dict[int, dict[str, Any]]
    _chats: dict[int, dict[str, Any]]
    _messages: dict[int, dict[int, dict[str, Any]]]
    _members: dict[tuple[int, int], dict[str, Any]]
    _joined_via: dict[tuple[int, int], str]
    _join_requests: dict[tuple[int, int], dict[str, Any]]
    _callback_queries: dict[str, dict[str, Any]]
    _pre_checkouts: dict[str, dict[str, Any]]
    charges: dict[str, dict[str, Any]]
    star_subscriptions: dict[str, dict[str, Any]]
    invoice_links: dict[str, dict[str, Any]]
    invite_links: dict[str, dict[str, Any]]
    subscription_charges: list[tuple[int, int, int]]

    # ---------------------------------------------------------------- people and chats

    def user(
        self,
        id: int,  # noqa: A002 - the Bot API's name
        first_name: str = "Anna",
        language_code: str | None = "en",
        *,
        last_name: str | None = None,
        username: str | None = None,
        is_premium: bool | None = None,
    ) -> dict[str, Any]:
        """A Telegram User (not a bot); the fake remembers it for its private chat."""
        if id <= 0:
            raise ValueError("user ids are positive")
        user: dict[str, Any] = {"id": id, "is_bot": False, "first_name": first_name}
        for key, value in (
            ("last_name", last_name),
            ("username", username),
            ("language_code", language_code),
            ("is_premium", is_premium),
        ):
            if value is not None:
                user[key] = value
        self._users[id] = user
        return user

    def group(
        self,
        chat_id: int = -1001000000001,
        title: str = "Course group",
        *,
        type: str = "supergroup",  # noqa: A002 - the Bot API's name
        username: str | None = None,
        owner: UserLike | None = None,
        bot_status: str = "administrator",
        **bot_rights: bool,
    ) -> dict[str, Any]:
        """Register a group, supergroup or channel (negative id) and the bot's place in it.

        Unregistered negative chat ids work too: a supergroup where the bot is an administrator
        with BOT_ADMIN_RIGHTS."""
        if chat_id >= 0:
            raise ValueError("group and channel ids are negative")
        chat: dict[str, Any] = {"id": chat_id, "type": type, "title": title}
        if username:
            chat["username"] = username.lstrip("@")
        self._chats[chat_id] = chat
        bot = self._bot_as_user()
        if bot_status == "administrator":
            self._members[(chat_id, bot["id"])] = member_object(
                "administrator", bot, **{**BOT_ADMIN_RIGHTS, **bot_rights}
            )
        else:
            self._members[(chat_id, bot["id"])] = member_object(bot_status, bot)
        if owner is not None:
            owner_user = self._as_user(owner)
            self._members[(chat_id, owner_user["id"])] = member_object(
                "creator", owner_user, is_anonymous=False
            )
        return chat

    # ---------------------------------------------------------------- updates

    def next_update_id(self) -> int:
        self._next_update_id += 1
        return self._next_update_id

    def text_update(
        self, user: UserLike, text: str, *, chat_id: int | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A text message from ``user`` in their private chat with the bot (or in ``chat_id``),
        replying to the message ``reply_to`` of that chat if given. Writing to the bot means
        the user no longer blocks it (Telegram's "Restart")."""
        sender = self._as_user(user)
        if chat_id is None:
            self.unblock(sender["id"])  # type: ignore[attr-defined]
        replied = {"reply_to_message": copy.deepcopy(reply_to)} if reply_to else {}
        message = self._user_message(sender, chat_id, text=text, **replied)
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return {"update_id": self.next_update_id(), "message": copy.deepcopy(message)}

    def callback_update(
        self, user: UserLike, message: dict[str, Any], data: str, *, check: bool = True
    ) -> dict[str, Any]:
        """``user`` presses the inline button with ``data`` under ``message`` (a message the bot
        sent, e.g. ``fake.last_message(chat_id)``). With ``check`` the button must be on the
        message as it is now: Telegram clients only send what a button holds."""
        sender = self._as_user(user)
        chat_id = message["chat"]["id"]
        current = self._messages.get(chat_id, {}).get(message["message_id"])
        if check:
            if current is None:
                raise ValueError(f"message {message['message_id']} is not in chat {chat_id}")
            buttons = [
                b.get("callback_data")
                for row in current.get("reply_markup", {}).get("inline_keyboard", [])
                for b in row
            ]
            if data not in buttons:
                raise ValueError(f"no button with callback_data {data!r} on that message now")
        query_id = str(secrets.randbits(63))
        self._callback_queries[query_id] = {"created": time.monotonic(), "answered": False}
        query = {
            "id": query_id,
            "from": sender,
            "message": copy.deepcopy(current or message),
            "chat_instance": str(abs(hash((chat_id, "instance"))) % 10**18),
            "data": data,
        }
        return {"update_id": self.next_update_id(), "callback_query": query}

    def pre_checkout_update(
        self, user: UserLike, payload: str, currency: str, total_amount: int, **extra: Any
    ) -> dict[str, Any]:
        """The user pressed Pay: the bot must answer within ``fake.pre_checkout_timeout`` s."""
        sender = self._as_user(user)
        query_id = str(secrets.randbits(63))
        self._pre_checkouts[query_id] = {
            "created": time.monotonic(),
            "answered": False,
            "user_id": sender["id"],
            "payload": payload,
        }
        query = {
            "id": query_id,
            "from": sender,
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
            **extra,
        }
        return {"update_id": self.next_update_id(), "pre_checkout_query": query}

    def successful_payment_update(
        self,
        user: UserLike,
        payload: str,
        currency: str,
        total_amount: int,
        telegram_payment_charge_id: str,
        provider_payment_charge_id: str = "",
        **extra: Any,
    ) -> dict[str, Any]:
        """The service message of a completed payment (extra: is_recurring, is_first_recurring,
        subscription_expiration_date ...). The charge becomes refundable (refundStarPayment)."""
        sender = self._as_user(user)
        payment = {
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
            **extra,
            "telegram_payment_charge_id": telegram_payment_charge_id,
            "provider_payment_charge_id": provider_payment_charge_id,
        }
        self.charges[telegram_payment_charge_id] = {
            "user_id": sender["id"],
            "currency": currency,
            "total_amount": total_amount,
            "payload": payload,
            "provider_payment_charge_id": provider_payment_charge_id,
            "refunded": False,
        }
        if extra.get("is_first_recurring"):
            self.star_subscriptions[telegram_payment_charge_id] = {
                "user_id": sender["id"], "payload": payload, "total_amount": total_amount,
                "until": extra["subscription_expiration_date"], "canceled": False,
                "charges": [telegram_payment_charge_id],
            }
        message = self._user_message(sender, None, successful_payment=payment)
        return {"update_id": self.next_update_id(), "message": copy.deepcopy(message)}

    def refunded_payment_update(
        self, telegram_payment_charge_id: str, user: UserLike | None = None, **fields: Any
    ) -> dict[str, Any]:
        """The service message Telegram sends when a payment was refunded (by Telegram
        support, or after the bot's own refundStarPayment): the charge made by
        ``successful_payment_update`` becomes refunded. A charge the fake does not know needs
        ``user`` and the RefundedPayment ``fields`` (currency, total_amount, invoice_payload);
        ``fields`` also override a known charge's."""
        charge = self.charges.get(telegram_payment_charge_id)
        if charge is not None:
            charge["refunded"] = True
            fields = {"currency": charge["currency"], "total_amount": charge["total_amount"],
                      "invoice_payload": charge["payload"],
                      "provider_payment_charge_id": charge["provider_payment_charge_id"],
                      **fields}
        elif user is None or not {"currency", "total_amount", "invoice_payload"} <= set(fields):
            raise ValueError(f"unknown charge {telegram_payment_charge_id!r}: give user and "
                             "currency, total_amount, invoice_payload")
        sender = self._as_user(user if user is not None else charge["user_id"])  # type: ignore
        refunded = {**fields, "telegram_payment_charge_id": telegram_payment_charge_id}
        if not refunded.get("provider_payment_charge_id"):
            refunded.pop("provider_payment_charge_id", None)
        message = self._user_message(sender, None, refunded_payment=refunded)
        return {"update_id": self.next_update_id(), "message": copy.deepcopy(message)}

    def pay_invoice_link(
        self, user: UserLike, link: str, charge_id: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The user opens an invoice link made by createInvoiceLink and pays: the
        pre_checkout_query, then the successful payment (the first of a subscription when
        the link has a subscription_period)."""
        params = self.invoice_links[link]
        total = sum(price["amount"] for price in params["prices"])
        check = self.pre_checkout_update(user, params["payload"], params["currency"], total)
        extra: dict[str, Any] = {}
        if params.get("subscription_period"):
            extra = {"is_recurring": True, "is_first_recurring": True,
                     "subscription_expiration_date":
                         int(self.time()) + params["subscription_period"]}
        paid = self.successful_payment_update(user, params["payload"], params["currency"],
                                              total, charge_id, **extra)
        return check, paid

    def renew_star_subscription(self, first_charge_id: str, charge_id: str) -> dict[str, Any]:
        """Telegram charges a running Stars subscription for its next 30 days: the recurring
        successful payment (no pre_checkout_query comes first). Refused (ValueError) if the
        subscriber cancelled it."""
        subscription = self.star_subscriptions[first_charge_id]
        if subscription["canceled"]:
            raise ValueError(f"subscription {first_charge_id} was cancelled")
        subscription["until"] += SUBSCRIPTION_PERIOD
        subscription["charges"].append(charge_id)
        return self.successful_payment_update(
            subscription["user_id"], subscription["payload"], "XTR",
            subscription["total_amount"], charge_id, is_recurring=True,
            subscription_expiration_date=subscription["until"])

    def chat_member_update(
        self,
        chat_id: int,
        user: UserLike,
        old_status: str | None = None,
        new_status: str = "member",
        *,
        invite_link: str | dict[str, Any] | None = None,
        via_join_request: bool | None = None,
        actor: UserLike | None = None,
        until_date: int | None = None,
        check: bool = True,
    ) -> dict[str, Any]:
        """``user``'s status in group ``chat_id`` changed (``old_status`` defaults to the fake's
        current one). Joining through ``invite_link`` checks, with ``check``, that Telegram
        would let them in: the link is this chat's, not revoked or expired, not full, and a
        join-request link needs ``via_join_request=True`` (after approveChatJoinRequest).
        Delivered to the bot only when it asked for "chat_member" in allowed_updates."""
        member_user = self._as_user(user)
        key = (chat_id, member_user["id"])
        old = self._members.get(key) or member_object("left", member_user)
        if old_status is not None and old_status != old["status"]:
            old = member_object(old_status, member_user)
        link_obj = self._link_for_update(chat_id, invite_link)
        if check and link_obj is not None and new_status == "member":
            self._check_join_through(chat_id, link_obj, via_join_request)
        if link_obj is not None and link_obj.get("subscription_period") and (
                new_status == "member" and until_date is None):
            # Telegram charged the first period as they came in.
            until_date = int(self.time()) + link_obj["subscription_period"]
            self.subscription_charges.append(
                (chat_id, member_user["id"], link_obj["subscription_price"]))
        new = member_object(new_status, member_user, until_date=until_date)
        self._members[key] = new
        if new_status == "member" and link_obj is not None:
            self._joined_via[key] = link_obj["invite_link"]
        elif new_status in ("left", "kicked"):
            self._joined_via.pop(key, None)
        update_body: dict[str, Any] = {
            "chat": self._chat_object(chat_id),
            "from": self._as_user(actor) if actor is not None else member_user,
            "date": int(self.time()),
            "old_chat_member": old,
            "new_chat_member": new,
        }
        if link_obj is not None:
            update_body["invite_link"] = public_link(link_obj)
        if via_join_request is not None:
            update_body["via_join_request"] = via_join_request
        return {"update_id": self.next_update_id(), "chat_member": update_body}

    def renew_subscription(self, chat_id: int, user_id: int) -> dict[str, Any]:
        """Telegram charged a subscriber for the next 30 days: their ``until_date`` moves on.
        Returns the chat_member update Telegram may send about it (push it or not)."""
        key = (chat_id, user_id)
        current = self._members[key]
        if current["status"] != "member" or not current.get("until_date"):
            raise ValueError(f"{user_id} has no subscription in {chat_id}")
        url = self._joined_via.get(key)
        price = self.invite_links[url]["subscription_price"] if url else 0
        self.subscription_charges.append((chat_id, user_id, price))
        until = current["until_date"] + SUBSCRIPTION_PERIOD
        return self.chat_member_update(chat_id, user_id, "member", "member", until_date=until)

    def chat_join_request_update(
        self,
        chat_id: int,
        user: UserLike,
        *,
        invite_link: str | dict[str, Any] | None = None,
        bio: str | None = None,
    ) -> dict[str, Any]:
        """``user`` asks to join ``chat_id``; approveChatJoinRequest / declineChatJoinRequest
        become possible. ``user_chat_id`` lets the bot write to them for 5 minutes."""
        requester = self._as_user(user)
        request: dict[str, Any] = {
            "chat": self._chat_object(chat_id),
            "from": requester,
            "user_chat_id": requester["id"],
            "date": int(self.time()),
        }
        if bio is not None:
            request["bio"] = bio
        link_obj = self._link_for_update(chat_id, invite_link)
        if link_obj is not None:
            request["invite_link"] = public_link(link_obj)
        self._join_requests[(chat_id, requester["id"])] = {
            "invite_link": link_obj["invite_link"] if link_obj else None
        }
        return {"update_id": self.next_update_id(), "chat_join_request": request}

    def my_chat_member_update(
        self,
        user: UserLike,
        chat_id: int | None = None,
        old_status: str = "member",
        new_status: str = "kicked",
    ) -> dict[str, Any]:
        """The bot's own status changed, by ``user``: by default the user blocked the bot in
        their private chat (the fake then answers 403 to messages to them); new_status
        "member" there means they restarted it. With a group ``chat_id``: the bot was added
        (member/administrator) or removed (left/kicked)."""
        actor = self._as_user(user)
        bot = self._bot_as_user()
        target = actor["id"] if chat_id is None else chat_id
        if target > 0:
            if new_status == "kicked":
                self.block(target)  # type: ignore[attr-defined]
            elif new_status == "member":
                self.unblock(target)  # type: ignore[attr-defined]
            new = member_object(new_status, bot)
        else:
            rights = BOT_ADMIN_RIGHTS if new_status == "administrator" else {}
            new = member_object(new_status, bot, **rights)
            self._members[(target, bot["id"])] = new
        body = {
            "chat": self._chat_object(target),
            "from": actor,
            "date": int(self.time()),
            "old_chat_member": member_object(old_status, bot),
            "new_chat_member": new,
        }
        return {"update_id": self.next_update_id(), "my_chat_member": body}

    # ---------------------------------------------------------------- helpers

    def _as_user(self, user: UserLike) -> dict[str, Any]:
        if isinstance(user, int):
            return self._users.get(user) or self.user(user, f"User {user}", None)
        self._users.setdefault(user["id"], user)
        return user

    def _bot_as_user(self) -> dict[str, Any]:
        b = self.bot_user
        return {"id": b["id"], "is_bot": True, "first_name": b["first_name"],
                "username": b["username"]}

    def _chat_object(self, chat_id: int) -> dict[str, Any]:
        if chat_id > 0:
            user = self._users.get(chat_id) or {"first_name": f"User {chat_id}"}
            chat = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if key in user:
                    chat[key] = user[key]
            return chat
        if chat_id in self._chats:
            return dict(self._chats[chat_id])
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": kind, "title": f"Group {chat_id}"}

    def _user_message(
        self, sender: dict[str, Any], chat_id: int | None, **content: Any
    ) -> dict[str, Any]:
        target = sender["id"] if chat_id is None else chat_id
        message = {
            "message_id": self._next_message_id(target),  # type: ignore[attr-defined]
            "from": sender,
            "chat": self._chat_object(target),
            "date": int(self.time()),
            **content,
        }
        self._messages.setdefault(target, {})[message["message_id"]] = message
        return message

    def _link_for_update(
        self, chat_id: int, invite_link: str | dict[str, Any] | None
    ) -> dict[str, Any] | None:
        if invite_link is None:
            return None
        if isinstance(invite_link, dict):
            return invite_link
        if invite_link in self.invite_links:
            return self.invite_links[invite_link]
        return {
            "invite_link": invite_link,
            "creator": self._bot_as_user(),
            "creates_join_request": False,
            "is_primary": False,
            "is_revoked": False,
            "_chat_id": chat_id,
        }

    def _check_join_through(
        self, chat_id: int, link: dict[str, Any], via_join_request: bool | None
    ) -> None:
        url = link["invite_link"]
        if link.get("_chat_id", chat_id) != chat_id:
            raise ValueError(f"{url} is a link to another chat")
        if link.get("is_revoked"):
            raise ValueError(f"{url} was revoked: Telegram would not let the user join")
        if link.get("expire_date") and link["expire_date"] <= int(self.time()):
            raise ValueError(f"{url} has expired: Telegram would not let the user join")
        if link.get("creates_join_request") and not via_join_request:
            raise ValueError(f"{url} needs an approved join request (via_join_request=True)")
        limit = link.get("member_limit")
        if limit:
            inside = sum(
                1
                for (c, u), via in self._joined_via.items()
                if c == chat_id and via == url and self._members.get((c, u), {}).get("status")
                in ("member", "restricted")
            )
            if inside >= limit:
                raise ValueError(f"{url} is full ({limit} members joined through it)")


SUBSCRIPTION_PERIOD = 30 * 86400  # the only period Telegram accepts


def public_link(link: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in link.items() if not k.startswith("_")}
