"""What the fake Bot API does for each method: messages, keyboards, commands, payments and
group management, with the rules and error texts of the real server.

Mixed into FakeBotAPI (fake_bot_api.py), which owns the state, the transport and the update
queue. A handler ``_m_<method>(params)`` returns the result or raises ``ApiError``.
"""

from __future__ import annotations

import mimetypes
import re
import secrets
import struct
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fake_bot_spec import SPEC
from fake_bot_text import TextParseError, parse_text, strip_text
from fake_updates import BOT_ADMIN_RIGHTS, member_object

QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
CHAT_ACTIONS = {
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note",
    "upload_video_note",
}
BUTTON_STYLES = {"danger", "success", "primary"}
_BUTTON_NON_ACTIONS = {"text", "icon_custom_emoji_id", "style"}
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_LANG_RE = re.compile(r"[a-z]{2}")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_SUBSCRIPTION_PERIOD = 30 * 24 * 3600


MAX_PHOTO = 10 * 1024 * 1024  # bytes, uploaded
MAX_DOCUMENT = 50 * 1024 * 1024
PHOTO_THUMB = 90  # the side of the smallest size Telegram makes of a photo
URL_PHOTO = (800, 600)  # what the fake says of a photo sent by URL (it fetches nothing)


@dataclass(frozen=True)
class Upload:
    """A file the bot uploaded (multipart/form-data), as the part arrived."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, JPEG, GIF or WebP image; None if it is none of them."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return struct.unpack("<HH", data[6:10])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and data[12:16] == b"VP8X":
        return (int.from_bytes(data[24:27], "little") + 1,
                int.from_bytes(data[27:30], "little") + 1)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return width, height
            i += 2 + length
    return None


class ApiError(Exception):
    """An error answer: HTTP ``status`` and the Bot API ``description``. ``violation`` marks a
    call the bot should never have made (recorded in ``fake.violations``)."""

    def __init__(
        self,
        status: int,
        description: str,
        *,
        violation: bool = False,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.violation = violation
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad(description: str, *, violation: bool = False) -> ApiError:
    return ApiError(400, "Bad Request: " + description, violation=violation)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _file_object(type_name: str) -> dict[str, Any]:
    values = {}
    fields = SPEC.types[type_name].fields
    if "file_id" in fields:
        values["file_id"] = "fake-" + secrets.token_urlsafe(12)
    if "file_unique_id" in fields:
        values["file_unique_id"] = secrets.token_urlsafe(8)
    return SPEC.default_object(type_name, **values)


class MethodHandlers:
    """The Bot API methods the fake implements (besides getUpdates and webhooks)."""

    # State that FakeBotAPI owns.
    bot_user: dict[str, Any]
    time: Any
    pre_checkout_timeout: float
    reply_keyboards: dict[int, dict[str, Any]]
    deleted_messages: list[dict[str, Any]]
    callback_answers: dict[str, dict[str, Any]]
    pre_checkout_answers: dict[str, dict[str, Any]]
    invoice_links: dict[str, dict[str, Any]]
    refunds: list[str]
    unimplemented: list[str]
    charges: dict[str, dict[str, Any]]
    star_subscriptions: dict[str, dict[str, Any]]
    invite_links: dict[str, dict[str, Any]]
    _message_counters: dict[int, int]
    _chats: dict[int, dict[str, Any]]
    _messages: dict[int, dict[int, dict[str, Any]]]
    _members: dict[tuple[int, int], dict[str, Any]]
    _joined_via: dict[tuple[int, int], str]
    _join_requests: dict[tuple[int, int], dict[str, Any]]
    _callback_queries: dict[str, dict[str, Any]]
    _pre_checkouts: dict[str, dict[str, Any]]
    _commands: dict[tuple[tuple[Any, ...], str], list[dict[str, str]]]
    _primary_links: dict[int, str]

    # ---------------------------------------------------------------- shared helpers

    def _now(self) -> int:
        return int(self.time())

    def _next_message_id(self, chat_id: int) -> int:
        n = self._message_counters.get(chat_id, 0) + 1
        self._message_counters[chat_id] = n
        return n

    def _bot_public(self) -> dict[str, Any]:
        b = self.bot_user
        return {"id": b["id"], "is_bot": True, "first_name": b["first_name"],
                "username": b["username"]}

    def _target_chat(self, p: dict[str, Any], key: str = "chat_id") -> int:
        chat_id = p.get(key)
        if chat_id is None or chat_id == "":
            raise bad(f'parameter "{key}" is required', violation=True)
        if isinstance(chat_id, str):
            name = chat_id.lstrip("@").lower()
            for cid, chat in self._chats.items():
                if chat.get("username", "").lower() == name and chat_id.startswith("@"):
                    return cid
            raise bad("chat not found")
        if chat_id == 0:
            raise bad("chat not found")
        return chat_id

    def _check_bot_in_group(self, chat_id: int) -> None:
        if chat_id > 0:
            return
        status = self._bot_member(chat_id)["status"]
        if status in ("left", "kicked"):
            kind = self._chat_object(chat_id)["type"]  # type: ignore[attr-defined]
            verb = "was kicked from" if status == "kicked" else "is not a member of"
            raise ApiError(403, f"Forbidden: bot {verb} the {kind} chat")

    def _bot_member(self, chat_id: int) -> dict[str, Any]:
        key = (chat_id, self.bot_user["id"])
        if key not in self._members:
            self._members[key] = member_object("administrator", self._bot_public(),
                                               **BOT_ADMIN_RIGHTS)
        return self._members[key]

    def _need_right(self, chat_id: int, right: str, description: str) -> None:
        if chat_id > 0:
            raise bad("method is available for supergroup and channel chats only")
        bot = self._bot_member(chat_id)
        if bot["status"] == "creator":
            return
        if bot["status"] != "administrator" or not bot.get(right):
            raise bad(description)

    def _text(
        self, p: dict[str, Any], key: str, *, limit: int, required: bool
    ) -> tuple[str | None, list[dict[str, Any]]]:
        """The plain text and entities of ``p[key]`` after parse_mode, Telegram's limits applied."""
        text = p.get(key)
        empty = "message text is empty" if key == "text" else "message caption is empty"
        if text is None or text == "":
            if required:
                raise bad(empty, violation=True)
            return None, []
        entities_key = "entities" if key == "text" else "caption_entities"
        if p.get(entities_key) is not None:
            plain, entities = str(text), list(p[entities_key])
        else:
            try:
                plain, entities = parse_text(str(text), p.get("parse_mode"))
            except TextParseError as e:
                raise bad(str(e), violation=True) from None
        plain, entities = strip_text(plain, entities)
        if not plain and required:
            raise bad(empty, violation=True)
        if len(plain) > limit:
            too_long = "message is too long" if key == "text" else "message caption is too long"
            raise bad(too_long, violation=True)
        return plain, entities

    def _check_markup(self, markup: Any) -> None:
        """Inline keyboard rules, checked on every call that carries a reply_markup."""
        if not isinstance(markup, dict) or not isinstance(markup.get("inline_keyboard"), list):
            return
        count = 0
        for row in markup["inline_keyboard"]:
            if not isinstance(row, list):
                continue
            for button in row:
                if not isinstance(button, dict):
                    continue
                count += 1
                self._check_button(button)
        if count > 100:
            raise bad("REPLY_MARKUP_TOO_LONG", violation=True)

    def _check_button(self, button: dict[str, Any]) -> None:
        prefix = "can't parse inline keyboard button: "
        actions = [k for k in button if k not in _BUTTON_NON_ACTIONS]
        if not actions:
            raise bad(prefix + "Text buttons are unallowed in the inline keyboard",
                      violation=True)
        if len(actions) > 1:
            raise bad(prefix + f"exactly one of {', '.join(actions)} must be used",
                      violation=True)
        if not str(button.get("text", "")).strip():
            raise bad(prefix + "Text must be non-empty", violation=True)
        if "callback_data" in button:
            size = len(str(button["callback_data"]).encode("utf-8"))
            if not 1 <= size <= 64:
                raise bad("BUTTON_DATA_INVALID", violation=True)
        if "url" in button:
            _check_button_url(str(button["url"]))
        if "style" in button and button["style"] not in BUTTON_STYLES:
            raise bad(prefix + "invalid button style specified", violation=True)

    def _message_markup(self, chat_id: int, p: dict[str, Any]) -> dict[str, Any] | None:
        """The inline keyboard a message keeps; reply keyboards are remembered per chat."""
        markup = p.get("reply_markup")
        if not isinstance(markup, dict):
            return None
        if "inline_keyboard" in markup:
            return markup if markup["inline_keyboard"] else None
        if "keyboard" in markup:
            self.reply_keyboards[chat_id] = markup
        elif markup.get("remove_keyboard"):
            self.reply_keyboards.pop(chat_id, None)
        return None

    def _reply_to(self, chat_id: int, p: dict[str, Any]) -> dict[str, Any] | None:
        rp = p.get("reply_parameters")
        if rp is None and p.get("reply_to_message_id") is not None:  # the legacy form
            rp = {
                "message_id": p["reply_to_message_id"],
                "allow_sending_without_reply": p.get("allow_sending_without_reply"),
            }
        if not isinstance(rp, dict) or "message_id" not in rp:
            return None
        target = rp.get("chat_id", chat_id)
        original = self._messages.get(target, {}).get(rp["message_id"])
        if original is None:
            if rp.get("allow_sending_without_reply"):
                return None
            raise bad("message to be replied not found")
        return {k: v for k, v in original.items() if k != "reply_to_message"}

    def _new_bot_message(self, chat_id: int, **content: Any) -> dict[str, Any]:
        message = {
            "message_id": self._next_message_id(chat_id),
            "from": self._bot_public(),
            "chat": self._chat_object(chat_id),  # type: ignore[attr-defined]
            "date": self._now(),
        }
        message.update({k: v for k, v in content.items() if v is not None and v != []})
        self._messages.setdefault(chat_id, {})[message["message_id"]] = message
        return message

    def _editable(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if p.get("inline_message_id") is not None:
            raise bad("MESSAGE_ID_INVALID")  # the fake keeps no inline messages
        chat_id = self._target_chat(p)
        message_id = p.get("message_id")
        if message_id is None:
            raise bad("message identifier is not specified", violation=True)
        message = self._messages.get(chat_id, {}).get(message_id)
        if message is None:
            raise bad("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise bad("message can't be edited")
        return chat_id, message

    def _user_obj(self, user_id: int) -> dict[str, Any]:
        return self._users.get(user_id) or {  # type: ignore[attr-defined]
            "id": user_id, "is_bot": False, "first_name": f"User {user_id}"}

    def _member_state(self, chat_id: int, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_user["id"]:
            return self._bot_member(chat_id) if chat_id < 0 else member_object(
                "member", self._bot_public())
        if chat_id > 0:
            status = "member" if user_id == chat_id else "left"
            return member_object(status, self._user_obj(user_id))
        return self._members.get((chat_id, user_id)) or member_object(
            "left", self._user_obj(user_id))

    # ---------------------------------------------------------------- messages

    def _m_getMe(self, p: dict[str, Any]) -> dict[str, Any]:
        return dict(self.bot_user)

    def _m_sendMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._target_chat(p)
        self._check_bot_in_group(chat_id)
        text, entities = self._text(p, "text", limit=4096, required=True)
        reply_to = self._reply_to(chat_id, p)
        markup = self._message_markup(chat_id, p)
        return self._new_bot_message(
            chat_id, text=text, entities=entities, reply_to_message=reply_to,
            reply_markup=markup,
        )

    def _m_editMessageText(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id, message = self._editable(p)
        if "text" not in message:
            raise bad("there is no text in the message to edit")
        text, entities = self._text(p, "text", limit=4096, required=True)
        markup = self._message_markup(chat_id, p)
        if (
            message["text"] == text
            and message.get("entities", []) == entities
            and message.get("reply_markup") == markup
        ):
            raise bad(NOT_MODIFIED)
        message["text"] = text
        _set_or_drop(message, "entities", entities or None)
        _set_or_drop(message, "reply_markup", markup)
        message["edit_date"] = self._now()
        return message

    def _m_editMessageReplyMarkup(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id, message = self._editable(p)
        markup = self._message_markup(chat_id, p)
        if message.get("reply_markup") == markup:
            raise bad(NOT_MODIFIED)
        _set_or_drop(message, "reply_markup", markup)
        message["edit_date"] = self._now()
        return message

    def _m_deleteMessage(self, p: dict[str, Any]) -> bool:
        chat_id = self._target_chat(p)
        message_id = p.get("message_id")
        message = self._messages.get(chat_id, {}).get(message_id)  # type: ignore[arg-type]
        if message is None:
            raise bad("message to delete not found")
        mine = message.get("from", {}).get("id") == self.bot_user["id"]
        if chat_id < 0 and not mine:
            bot = self._bot_member(chat_id)
            if bot["status"] != "creator" and not bot.get("can_delete_messages"):
                raise bad("message can't be deleted")
        self.deleted_messages.append(self._messages[chat_id].pop(message_id))  # type: ignore[arg-type]
        return True

    def _m_deleteMessages(self, p: dict[str, Any]) -> bool:
        chat_id = self._target_chat(p)
        stored = self._messages.get(chat_id, {})
        found = [mid for mid in p.get("message_ids") or [] if mid in stored]
        if not found:
            raise bad("message to delete not found")
        for mid in found:
            self.deleted_messages.append(stored.pop(mid))
        return True

    def _m_sendChatAction(self, p: dict[str, Any]) -> bool:
        chat_id = self._target_chat(p)
        self._check_bot_in_group(chat_id)
        if p.get("action") not in CHAT_ACTIONS:
            raise bad("wrong parameter action in request", violation=True)
        return True

    def _m_answerCallbackQuery(self, p: dict[str, Any]) -> bool:
        query_id = str(p.get("callback_query_id"))
        if len(str(p.get("text") or "")) > 200:
            raise bad("MESSAGE_TOO_LONG", violation=True)
        query = self._callback_queries.get(query_id)
        if query is None or query["answered"]:
            raise bad(QUERY_TOO_OLD)
        query["answered"] = True
        self.callback_answers[query_id] = {
            k: p[k] for k in ("text", "show_alert", "url", "cache_time") if k in p
        }
        return True

    def _uploaded(self, p: dict[str, Any], key: str, limit: int) -> tuple[str, Upload]:
        """The file a send* call carries: a new upload (multipart), or a file_id this server
        gave before. A URL cannot be fetched here and is refused like a dead one."""
        value = p.get(key)
        if isinstance(value, Upload):
            if not value.data:
                raise bad("file must be non-empty", violation=True)
            if len(value.data) > limit:
                raise ApiError(413, "Request Entity Too Large", violation=True)
            file_id = "fake-" + secrets.token_urlsafe(12)
            self.files[file_id] = value  # type: ignore[attr-defined]
            return file_id, value
        if isinstance(value, str) and value in self.files:  # type: ignore[attr-defined]
            return value, self.files[value]  # type: ignore[attr-defined]
        if isinstance(value, str) and urlsplit(value).scheme in ("http", "https"):
            # Telegram fetches it; the fake cannot, and takes it as fetched (no bytes).
            name = urlsplit(value).path.rsplit("/", 1)[-1] or "file"
            file_id = "fake-" + secrets.token_urlsafe(12)
            self.files[file_id] = Upload(name, "", b"")  # type: ignore[attr-defined]
            return file_id, self.files[file_id]  # type: ignore[attr-defined]
        raise bad("wrong remote file identifier specified: Wrong string length")

    def _caption(self, chat_id: int, p: dict[str, Any]) -> dict[str, Any]:
        caption, entities = self._text(p, "caption", limit=1024, required=False)
        return {"caption": caption, "caption_entities": entities,
                "reply_to_message": self._reply_to(chat_id, p),
                "reply_markup": self._message_markup(chat_id, p)}

    def _m_sendPhoto(self, p: dict[str, Any]) -> dict[str, Any]:
        """Telegram's rules: an image of at most 10 MB, width + height at most 10000, sides
        at most 20 to 1. The message holds the photo in sizes (a thumbnail and the full one)."""
        chat_id = self._target_chat(p)
        self._check_bot_in_group(chat_id)
        file_id, upload = self._uploaded(p, "photo", MAX_PHOTO)
        size = image_size(upload.data) if upload.data else URL_PHOTO
        if size is None:
            raise bad("IMAGE_PROCESS_FAILED", violation=True)
        width, height = size
        if width + height > 10000 or max(width, height) > 20 * min(width, height):
            raise bad("PHOTO_INVALID_DIMENSIONS", violation=True)
        scale = PHOTO_THUMB / max(width, height)
        sizes = [
            {"file_id": file_id + "-s", "file_unique_id": secrets.token_urlsafe(8),
             "width": max(1, round(width * scale)), "height": max(1, round(height * scale))},
            {"file_id": file_id, "file_unique_id": secrets.token_urlsafe(8), "width": width,
             "height": height, "file_size": len(upload.data)},
        ]
        return self._new_bot_message(chat_id, photo=sizes, **self._caption(chat_id, p))

    def _m_sendDocument(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._target_chat(p)
        self._check_bot_in_group(chat_id)
        file_id, upload = self._uploaded(p, "document", MAX_DOCUMENT)
        mime = upload.content_type
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(upload.filename)[0] or "application/octet-stream"
        document = {"file_id": file_id, "file_unique_id": secrets.token_urlsafe(8),
                    "file_name": upload.filename, "mime_type": mime,
                    "file_size": len(upload.data)}
        return self._new_bot_message(chat_id, document=document, **self._caption(chat_id, p))

    def _send_generic(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        """Other send* methods: a message with a stand-in for the media and the caption."""
        chat_id = self._target_chat(p)
        self._check_bot_in_group(chat_id)
        content: dict[str, Any] = {}
        field = _snake(method[4:])
        types = SPEC.types["Message"].fields.get(field)
        if types:
            t = types[0]
            if t.startswith("Array of "):
                content[field] = [_file_object(t[9:])]
            elif t in SPEC.types:
                content[field] = _file_object(t)
        caption, entities = self._text(p, "caption", limit=1024, required=False)
        content["caption"] = caption
        content["caption_entities"] = entities
        content["reply_markup"] = self._message_markup(chat_id, p)
        return self._new_bot_message(chat_id, **content)

    # ---------------------------------------------------------------- commands

    def _m_setMyCommands(self, p: dict[str, Any]) -> bool:
        commands = p.get("commands") or []
        if len(commands) > 100:
            raise bad("BOT_COMMANDS_TOO_MUCH", violation=True)
        for c in commands:
            if not _COMMAND_RE.fullmatch(str(c.get("command", ""))):
                raise bad("BOT_COMMAND_INVALID", violation=True)
            if not 1 <= len(str(c.get("description", "")).strip()) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID", violation=True)
        key = self._commands_key(p.get("scope"), p.get("language_code"))
        if commands:
            self._commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        else:
            self._commands.pop(key, None)
        return True

    def _m_getMyCommands(self, p: dict[str, Any]) -> list[dict[str, str]]:
        key = self._commands_key(p.get("scope"), p.get("language_code"))
        return [dict(c) for c in self._commands.get(key, [])]

    def _m_deleteMyCommands(self, p: dict[str, Any]) -> bool:
        self._commands.pop(self._commands_key(p.get("scope"), p.get("language_code")), None)
        return True

    def _commands_key(
        self, scope: Any, language_code: Any
    ) -> tuple[tuple[Any, ...], str]:
        lang = language_code or ""
        if lang and not _LANG_RE.fullmatch(lang):
            raise bad("language_code must be a two-letter ISO 639-1 code", violation=True)
        if scope is None:
            return ("default",), lang
        if isinstance(scope, str):
            return (scope,), lang
        chat_id = scope.get("chat_id")
        if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
            chat_id = int(chat_id)
        parts = (scope.get("type"), chat_id, scope.get("user_id"))
        return tuple(x for x in parts if x is not None), lang

    # ---------------------------------------------------------------- payments

    def _check_invoice(self, p: dict[str, Any]) -> int:
        """Telegram's invoice rules; returns the total amount."""
        if not 1 <= len(str(p.get("title", ""))) <= 32:
            raise bad("invoice title must be 1-32 characters", violation=True)
        if not 1 <= len(str(p.get("description", ""))) <= 255:
            raise bad("invoice description must be 1-255 characters", violation=True)
        if not 1 <= len(str(p.get("payload", "")).encode("utf-8")) <= 128:
            raise bad("invoice payload must be 1-128 bytes", violation=True)
        currency = str(p.get("currency", ""))
        prices = p.get("prices") or []
        if currency == "XTR":
            if p.get("provider_token") or len(prices) != 1:
                raise bad("STARS_INVOICE_INVALID", violation=True)
            if p.get("max_tip_amount") or p.get("suggested_tip_amounts"):
                raise bad("STARS_INVOICE_INVALID", violation=True)
        else:
            if not _CURRENCY_RE.fullmatch(currency):
                raise bad("CURRENCY_INVALID", violation=True)
            if not p.get("provider_token"):
                raise bad("PAYMENT_PROVIDER_INVALID", violation=True)
        if not prices:
            raise bad("prices must be non-empty", violation=True)
        total = 0
        for price in prices:
            amount = price.get("amount") if isinstance(price, dict) else None
            if not isinstance(amount, int) or not str(price.get("label", "")).strip():
                raise bad("can't parse prices: each price needs a label and an amount",
                          violation=True)
            total += amount
        if total <= 0:
            raise bad("CURRENCY_TOTAL_AMOUNT_INVALID", violation=True)
        period = p.get("subscription_period")
        if period is not None:
            if period != _SUBSCRIPTION_PERIOD or currency != "XTR":
                raise bad("SUBSCRIPTION_PERIOD_INVALID", violation=True)
            if total > 10000:
                raise bad("subscription price must be at most 10000 Telegram Stars",
                          violation=True)
        return total

    def _m_sendInvoice(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._target_chat(p)
        self._check_bot_in_group(chat_id)
        total = self._check_invoice(p)
        markup = self._message_markup(chat_id, p)
        if markup is not None:
            first = (markup["inline_keyboard"][0] or [{}])[0]
            if not first.get("pay"):
                raise bad("the first button of an invoice's keyboard must be a Pay button",
                          violation=True)
        invoice = {
            "title": p["title"],
            "description": p["description"],
            "start_parameter": p.get("start_parameter", ""),
            "currency": p["currency"],
            "total_amount": total,
        }
        return self._new_bot_message(chat_id, invoice=invoice, reply_markup=markup)

    def _m_createInvoiceLink(self, p: dict[str, Any]) -> str:
        self._check_invoice(p)
        link = "https://t.me/$" + secrets.token_urlsafe(15)
        self.invoice_links[link] = dict(p)
        return link

    def _m_answerPreCheckoutQuery(self, p: dict[str, Any]) -> bool:
        query_id = str(p.get("pre_checkout_query_id"))
        ok = p.get("ok")
        if ok is False and not p.get("error_message"):
            raise bad("error_message must be non-empty when ok is False", violation=True)
        query = self._pre_checkouts.get(query_id)
        if (
            query is None
            or query["answered"]
            or time.monotonic() - query["created"] > self.pre_checkout_timeout
        ):
            raise bad(QUERY_TOO_OLD)
        query["answered"] = True
        self.pre_checkout_answers[query_id] = {"ok": ok, "error_message": p.get("error_message")}
        return True

    def _m_refundStarPayment(self, p: dict[str, Any]) -> bool:
        charge_id = str(p.get("telegram_payment_charge_id"))
        charge = self.charges.get(charge_id)
        if charge is None or charge["currency"] != "XTR":
            raise bad("CHARGE_NOT_FOUND")
        if charge["user_id"] != p.get("user_id"):
            raise bad("USER_ID_INVALID")
        if charge["refunded"]:
            raise bad("CHARGE_ALREADY_REFUNDED")
        charge["refunded"] = True
        self.refunds.append(charge_id)
        return True

    def _m_editUserStarSubscription(self, p: dict[str, Any]) -> bool:
        """Cancel or re-enable a subscription's renewal; an ended one cannot come back."""
        subscription = self.star_subscriptions.get(str(p.get("telegram_payment_charge_id")))
        if subscription is None:
            raise bad("CHARGE_ID_INVALID")
        if subscription["user_id"] != p.get("user_id"):
            raise bad("USER_ID_INVALID")
        if not p.get("is_canceled") and subscription["until"] <= self._now():
            raise bad("SUBSCRIPTION_EXPIRED")
        subscription["canceled"] = bool(p.get("is_canceled"))
        return True


def _set_or_drop(obj: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        obj.pop(key, None)
    else:
        obj[key] = value


def _check_button_url(url: str) -> None:
    parts = urlsplit(url if "://" in url else "http://" + url)
    if parts.scheme == "tg":
        return
    if parts.scheme not in ("http", "https"):
        raise bad("BUTTON_URL_INVALID", violation=True)
    host = parts.hostname or ""
    if host == "localhost" or "." not in host:
        raise bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL",
                  violation=True)
