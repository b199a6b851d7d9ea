"""Paid groups on Telegram: personal invite links, join requests, removals and the bot's
rights (``flows.channel.GroupAdmin``). Mixed into ``TelegramMessenger``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram.types import ChatMemberAdministrator

from bots.telegram.sender import TelegramSender
from flows.channel import NEEDED_RIGHTS

SUBSCRIPTION_PERIOD = 30 * 86400  # the only one Telegram accepts


class TelegramGroups:
    bot: Bot
    sender: TelegramSender

    async def _admin_call(self, chat_id: int, request: Any) -> Any:
        return await self.sender.call(chat_id, request, admin=True)

    async def create_link(
        self, chat_id: int, name: str, expires_at: datetime, join_request: bool
    ) -> str:
        link = await self._admin_call(chat_id, lambda: self.bot.create_chat_invite_link(
            chat_id, name=name[:32], expire_date=expires_at,
            member_limit=None if join_request else 1,
            creates_join_request=True if join_request else None,
        ))
        return link.invite_link

    async def subscription_link(self, chat_id: int, name: str, price: int) -> str:
        create = self.bot.create_chat_subscription_invite_link
        link = await self._admin_call(chat_id, lambda: create(
            chat_id, subscription_period=SUBSCRIPTION_PERIOD, subscription_price=price,
            name=name[:32]))
        return link.invite_link

    async def member(self, chat_id: int, user_id: str) -> tuple[str, datetime | None]:
        found = await self._admin_call(
            chat_id, lambda: self.bot.get_chat_member(chat_id, int(user_id)))
        return found.status, getattr(found, "until_date", None) if found.status == "member" \
            else None

    async def revoke_link(self, chat_id: int, url: str) -> None:
        await self._admin_call(chat_id, lambda: self.bot.revoke_chat_invite_link(chat_id, url))

    async def approve(self, chat_id: int, user_id: str) -> None:
        await self._admin_call(
            chat_id, lambda: self.bot.approve_chat_join_request(chat_id, int(user_id)))

    async def decline(self, chat_id: int, user_id: str) -> None:
        await self._admin_call(
            chat_id, lambda: self.bot.decline_chat_join_request(chat_id, int(user_id)))

    async def remove(self, chat_id: int, user_id: str) -> None:
        """A ban removes; the unban right after lets them back with a new link."""
        await self._admin_call(chat_id, lambda: self.bot.ban_chat_member(chat_id, int(user_id)))
        await self._admin_call(chat_id, lambda: self.bot.unban_chat_member(
            chat_id, int(user_id), only_if_banned=True))

    async def missing_rights(self, chat_id: int) -> list[str]:
        me = await self.bot.me()
        member = await self._admin_call(
            chat_id, lambda: self.bot.get_chat_member(chat_id, me.id))
        return missing_in(member)


def missing_in(member: Any) -> list[str]:
    """Which NEEDED_RIGHTS a ChatMember (the bot's) lacks."""
    if not isinstance(member, ChatMemberAdministrator):
        return list(NEEDED_RIGHTS)
    return [right for right in NEEDED_RIGHTS if not getattr(member, right, False)]
