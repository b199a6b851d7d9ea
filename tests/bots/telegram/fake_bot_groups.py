"""Group management in the fake Bot API: chats, members, bans, invite links, join requests.

Mixed into FakeBotAPI through GroupHandlers (on top of MethodHandlers' helpers). The fake
tracks each member's status per chat; unregistered negative chat ids are supergroups where
the bot is an administrator (see ``fake.group()`` to change that).
"""

from __future__ import annotations

import secrets
from typing import Any

from fake_bot_methods import MethodHandlers, bad
from fake_bot_spec import SPEC
from fake_updates import SUBSCRIPTION_PERIOD, member_object, public_link


class GroupHandlers(MethodHandlers):
    """getChat, getChatMember(s), bans, invite links and join requests."""

    def _m_getChat(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_object(self._target_chat(p))  # type: ignore[attr-defined]
        return SPEC.default_object("ChatFullInfo", max_reaction_count=11, **chat)

    def _m_getChatMember(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._member_state(self._target_chat(p), int(p.get("user_id") or 0))

    def _m_getChatAdministrators(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        chat_id = self._target_chat(p)
        if chat_id > 0:
            raise bad("there are no administrators in the private chat")
        self._bot_member(chat_id)
        admins = [
            m for (c, _), m in self._members.items()
            if c == chat_id and m["status"] in ("creator", "administrator")
        ]
        return sorted(admins, key=lambda m: m["status"] != "creator")

    def _m_banChatMember(self, p: dict[str, Any]) -> bool:
        chat_id = self._target_chat(p)
        self._need_right(chat_id, "can_restrict_members",
                         "not enough rights to restrict/unrestrict chat member")
        user_id = int(p.get("user_id") or 0)
        if user_id == self.bot_user["id"]:
            raise bad("can't remove self", violation=True)
        current = self._member_state(chat_id, user_id)
        if current["status"] == "creator":
            raise bad("can't remove chat owner")
        if current["status"] == "administrator":
            raise bad("user is an administrator of the chat")
        until = int(p.get("until_date") or 0)
        if until and not 30 <= until - self._now() <= 366 * 86400:
            until = 0  # Telegram: less than 30 s or more than 366 days is forever
        self._members[(chat_id, user_id)] = member_object(
            "kicked", current["user"], until_date=until)
        self._joined_via.pop((chat_id, user_id), None)
        return True

    def _m_unbanChatMember(self, p: dict[str, Any]) -> bool:
        chat_id = self._target_chat(p)
        self._need_right(chat_id, "can_restrict_members",
                         "not enough rights to restrict/unrestrict chat member")
        user_id = int(p.get("user_id") or 0)
        current = self._member_state(chat_id, user_id)
        status = current["status"]
        if status == "kicked" or (
            status in ("member", "restricted") and not p.get("only_if_banned")
        ):
            # Without only_if_banned a current member is removed too (the Bot API's "kick").
            self._members[(chat_id, user_id)] = member_object("left", current["user"])
            self._joined_via.pop((chat_id, user_id), None)
        elif status == "creator" and not p.get("only_if_banned"):
            raise bad("can't remove chat owner")
        elif status == "administrator" and not p.get("only_if_banned"):
            raise bad("user is an administrator of the chat")
        return True

    def _check_link_params(self, p: dict[str, Any]) -> None:
        if len(str(p.get("name") or "")) > 32:
            raise bad("invite link name must be at most 32 characters", violation=True)
        limit = p.get("member_limit")
        if limit is not None and not 1 <= limit <= 99999:
            raise bad("member_limit must be between 1 and 99999", violation=True)
        if limit is not None and p.get("creates_join_request"):
            raise bad("can't combine member_limit with creates_join_request", violation=True)
        expire = p.get("expire_date")
        if expire and expire <= self._now():
            raise bad("EXPIRE_DATE_INVALID")

    def _m_createChatInviteLink(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._target_chat(p)
        self._need_right(chat_id, "can_invite_users",
                         "not enough rights to manage chat invite link")
        self._check_link_params(p)
        link: dict[str, Any] = {
            "invite_link": "https://t.me/+" + secrets.token_urlsafe(12),
            "creator": self._bot_public(),
            "creates_join_request": bool(p.get("creates_join_request")),
            "is_primary": False,
            "is_revoked": False,
        }
        for key in ("name", "expire_date", "member_limit"):
            if p.get(key) is not None:
                link[key] = p[key]
        link["_chat_id"] = chat_id
        self.invite_links[link["invite_link"]] = link
        return public_link(link)

    def _m_createChatSubscriptionInviteLink(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._target_chat(p)
        if self._chat_object(chat_id)["type"] != "channel":  # type: ignore[attr-defined]
            raise bad("CHAT_NOT_CHANNEL")  # subscription links exist for channels only
        self._need_right(chat_id, "can_invite_users",
                         "not enough rights to manage chat invite link")
        self._check_link_params(p)
        if p.get("subscription_period") != SUBSCRIPTION_PERIOD:
            raise bad("SUBSCRIPTION_PERIOD_INVALID")
        price = p.get("subscription_price")
        if not isinstance(price, int) or not 1 <= price <= 10000:
            raise bad("SUBSCRIPTION_PRICE_INVALID")
        link: dict[str, Any] = {
            "invite_link": "https://t.me/+" + secrets.token_urlsafe(12),
            "creator": self._bot_public(),
            "creates_join_request": False,
            "is_primary": False,
            "is_revoked": False,
            "subscription_period": SUBSCRIPTION_PERIOD,
            "subscription_price": price,
            "_chat_id": chat_id,
        }
        if p.get("name"):
            link["name"] = p["name"]
        self.invite_links[link["invite_link"]] = link
        return public_link(link)

    def _own_link(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat_id = self._target_chat(p)
        self._need_right(chat_id, "can_invite_users",
                         "not enough rights to manage chat invite link")
        link = self.invite_links.get(str(p.get("invite_link")))
        if link is None or link.get("_chat_id") != chat_id:
            raise bad("INVITE_HASH_EXPIRED")
        return chat_id, link

    def _m_editChatInviteLink(self, p: dict[str, Any]) -> dict[str, Any]:
        _, link = self._own_link(p)
        self._check_link_params(p)
        for key in ("name", "expire_date", "member_limit", "creates_join_request"):
            if key in p:
                link[key] = p[key]
        return public_link(link)

    def _m_revokeChatInviteLink(self, p: dict[str, Any]) -> dict[str, Any]:
        _, link = self._own_link(p)
        link["is_revoked"] = True
        return public_link(link)

    def _m_exportChatInviteLink(self, p: dict[str, Any]) -> str:
        chat_id = self._target_chat(p)
        self._need_right(chat_id, "can_invite_users",
                         "not enough rights to manage chat invite link")
        old = self._primary_links.get(chat_id)
        if old:
            self.invite_links[old]["is_revoked"] = True
        url = "https://t.me/+" + secrets.token_urlsafe(12)
        self.invite_links[url] = {
            "invite_link": url, "creator": self._bot_public(), "creates_join_request": False,
            "is_primary": True, "is_revoked": False, "_chat_id": chat_id,
        }
        self._primary_links[chat_id] = url
        return url

    def _join_request(self, p: dict[str, Any]) -> tuple[tuple[int, int], dict[str, Any]]:
        chat_id = self._target_chat(p)
        self._need_right(chat_id, "can_invite_users", "not enough rights")
        key = (chat_id, int(p.get("user_id") or 0))
        request = self._join_requests.pop(key, None)
        if request is None:
            raise bad("HIDE_REQUESTER_MISSING")
        return key, request

    def _m_approveChatJoinRequest(self, p: dict[str, Any]) -> bool:
        key, request = self._join_request(p)
        current = self._member_state(*key)
        if current["status"] in ("creator", "administrator", "member", "restricted"):
            raise bad("USER_ALREADY_PARTICIPANT")
        self._members[key] = member_object("member", current["user"])
        if request.get("invite_link"):
            self._joined_via[key] = request["invite_link"]
        return True

    def _m_declineChatJoinRequest(self, p: dict[str, Any]) -> bool:
        self._join_request(p)
        return True
