"""Paid groups and channels: the Telegram side of ``core.services.groups``, which decides
(what a status change means, who may stay, what is recorded). This records each decision in
a transaction, then calls Telegram with none open; a removal is recorded only after Telegram
confirmed it, and a failed call is tried again by the sweep, never read as "no access"."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from core.models import Membership
from core.notices import GroupInvite
from core.ports import Clock, UnitOfWorkFactory
from core.school import Group, JoinMode, School, pick
from core.services import groups, star_channels
from core.services.star_channels import Sync
from flows.admin_alerts import tell_admins
from flows.channel import Channel, GroupAdmin, MessengerError
from flows.texts import Texts
from flows.ui import Button, Incoming, IncomingKind, Peer, Screen, screen

log = logging.getLogger(__name__)

MESSENGER = groups.MESSENGER


def title(t: Texts, school: School, group: Group) -> str:
    return pick(group.title, t.language, school.default_language)


def invite_screen(t: Texts, school: School, group: Group, url: str, expires: datetime) -> Screen:
    key = "group_invite_request" if group.join is JoinMode.JOIN_REQUEST else "group_invite"
    name = title(t, school, group)
    return screen(t(key, group=name, date=t.date(expires)),
                  Button(t("btn_join", group=name), url=url))


def included_line(t: Texts, school: School, group: Group) -> str:
    """A paid group a purchase gives, and where it is joined: in Telegram, with a personal
    link from the bot (said also where no messenger here can make that link)."""
    kind = t("kind_channel" if group.kind == "channel" else "kind_group")
    return t("group_included", group=title(t, school, group), kind=kind)


def offer_buttons(t: Texts, school: School, group: str) -> list[Button]:
    buttons = []
    for code in groups.offers_for(school, group):
        offer = school.offers[code]
        label = f"{pick(offer.title, t.language, school.default_language)} · " \
                f"{offer.price.format(t.language)}"
        buttons.append(Button(label, action=f"o:{code}"))
    return buttons


class GroupKeeper:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        school: Callable[[], School],
        channels: dict[str, Channel],
        admin: GroupAdmin | None,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.school = school
        self.channels = channels
        self.admin = admin
        # Does the bot lack its rights in a group (by chat id)? Learned from its status
        # updates and the check at start, or asked when someone writes there.
        self._lacking: dict[int, bool] = {}

    # --- updates from the groups ---------------------------------------------------------

    async def handle(self, incoming: Incoming) -> None:
        event = incoming.group
        school = self.school()
        group = groups.group_by_chat(school, event.chat_id) if event else None
        if event is None or group is None:
            return  # not a paid group: none of the platform's business
        if incoming.kind is IncomingKind.BOT_STATUS:
            await self._bot_status(group, event.status, event.missing_rights)
        elif incoming.kind is IncomingKind.JOIN_REQUEST:
            await self._join_request(school, group, incoming)
        else:
            await self._member_changed(school, group, incoming)

    async def _member_changed(self, school: School, group: Group, incoming: Incoming) -> None:
        event = incoming.group
        assert event is not None
        change = groups.change(event.old_status, event.status, event.until)
        if change is groups.Change.SEEN:
            await self._seen(group, incoming)
        elif change is groups.Change.JOINED:
            await self._joined(school, group, incoming)
        elif change is groups.Change.RENEWED:
            await self._subscription_moved(school, group, incoming)
        elif change is groups.Change.LEFT:
            async with self.uow_factory() as uow:
                await groups.left(uow, group, incoming.sender.external_id, self.clock.now())
                await uow.commit()

    async def _joined(self, school: School, group: Group, incoming: Incoming) -> None:
        event, who = incoming.group, incoming.sender
        assert event is not None
        async with self.uow_factory() as uow:
            if event.until is not None and event.subscription_price:  # paid to come in
                await star_channels.paid_until(
                    uow, school, group, who.external_id, who.name, event.until,
                    event.subscription_price, self.clock.now(), event.link_name)
            outcome = await groups.joined(
                uow, school, group, who.external_id, who.name, event.status, event.invite_link,
                event.via_request, self.clock.now())
            await uow.commit()
        if outcome.revoke and self.admin is not None:
            try:
                await self.admin.revoke_link(group.chat_id, outcome.revoke)
            except MessengerError as exc:  # it allowed one member anyway
                log.warning("could not revoke the used link %s: %s", outcome.revoke, exc)
        if outcome.remove:
            async with self.uow_factory() as uow:
                member = await uow.memberships.get(group.chat_id, who.external_id)
            if member is not None and await self._remove(group, member, notify=False):
                await self.alert("alert_stranger", group=group, name=who.name or "?",
                                 id=who.external_id)

    async def _subscription_moved(self, school: School, group: Group, incoming: Incoming) -> None:
        """A member's Stars subscription end changed (Telegram renewed it)."""
        event = incoming.group
        assert event is not None and event.until is not None
        async with self.uow_factory() as uow:
            await star_channels.renewed(uow, school, group, incoming.sender.external_id,
                                        event.until, self.clock.now())
            await uow.commit()

    async def _seen(self, group: Group, incoming: Incoming) -> None:
        """Someone wrote in the group: a member the platform did not know of is recorded as
        there before the bot (removed only once an admin switches enforcement on); while the
        bot lacks its rights, as one to look at once they are back."""
        who = incoming.sender
        lacking = await self._lacks_rights(group)
        async with self.uow_factory() as uow:
            if lacking:
                recorded = await groups.seen_without_rights(uow, group, who.external_id,
                                                            who.name, self.clock.now())
            else:
                recorded = await groups.import_members(uow, group, [who.external_id],
                                                       self.clock.now(), source="seen")
            if recorded:
                await uow.commit()

    async def _lacks_rights(self, group: Group) -> bool:
        known = self._lacking.get(group.chat_id)
        if known is not None or self.admin is None:
            return bool(known)
        try:
            known = bool(await self.admin.missing_rights(group.chat_id))
        except MessengerError as exc:
            log.warning("cannot check the bot's rights in %s: %s", group.code, exc)
            return False
        self._lacking[group.chat_id] = known
        return known

    async def _join_request(self, school: School, group: Group, incoming: Incoming) -> None:
        event, who = incoming.group, incoming.sender
        assert event is not None and self.admin is not None
        async with self.uow_factory() as uow:
            allowed = await groups.may_join(uow, school, group, who.external_id,
                                            self.clock.now())
        if allowed:
            await self.admin.approve(group.chat_id, who.external_id)
            return
        await self.admin.decline(group.chat_id, who.external_id)
        channel = self.channels.get(MESSENGER)
        if channel is None or event.user_chat_id is None:
            return
        t = Texts(school, who.language)
        offer = screen(t("join_declined", group=title(t, school, group)),
                       *offer_buttons(t, school, group.code),
                       Button(t("btn_catalog"), action="cat"))
        try:
            await channel.send(Peer(MESSENGER, str(event.user_chat_id)), offer)
        except MessengerError as exc:
            log.info("could not tell %s how to get in: %s", who.external_id, exc)

    async def _bot_status(self, group: Group, status: str, missing: tuple[str, ...]) -> None:
        was_lacking = self._lacking.get(group.chat_id, False)
        self._lacking[group.chat_id] = groups.lacks_rights(status, missing)
        if status != "administrator":
            await self.alert("alert_bot_out", group=group, status=status)
        elif missing:
            await self.alert("alert_rights", group=group, rights=", ".join(missing))
        else:
            await self._rights_back(group, was_lacking)

    async def _rights_back(self, group: Group, was_lacking: bool) -> None:
        """The bot can let in and remove again: whoever it saw in the group meanwhile without
        access is removed (never students with access, school admins, the allow-list or the
        chat's own administrators), and the admins are told who."""
        assert self.admin is not None
        async with self.uow_factory() as uow:
            seen, strangers = await groups.rights_back(uow, self.school(), group,
                                                       self.clock.now())
            await uow.commit()
        if not seen and not was_lacking:
            return
        removed, pending = [], 0
        for member in strangers:
            try:
                status, _ = await self.admin.member(group.chat_id, member.external_id)
            except MessengerError as exc:  # the sweep looks at them again later
                log.warning("cannot look at %s in %s: %s", member.external_id, group.code, exc)
                pending += 1
                continue
            if not groups.must_go(status):  # gone already, or the chat's own administrator
                async with self.uow_factory() as uow:
                    await groups.spared(uow, group, member, status, self.clock.now())
                    await uow.commit()
            elif await self._remove(group, member, notify=False):
                removed.append(member)
            else:
                pending += 1
        listed = "\n".join(f"• {m.name or '?'} ({m.external_id})" for m in removed)
        key = "alert_rights_back" if removed else "alert_rights_back_none"
        retry = "\n" + self._texts()("alert_rights_back_pending", count=pending) if pending \
            else ""
        await self.alert(key, group=group, seen=len(seen), count=len(removed), list=listed,
                         retry=retry)

    # --- removal -------------------------------------------------------------------------

    async def _remove(self, group: Group, member: Membership, notify: bool) -> bool:
        """Out of the group, recorded only once Telegram confirmed; on failure the member
        is looked at again later."""
        assert self.admin is not None
        try:
            await self.admin.remove(group.chat_id, member.external_id)
        except MessengerError as exc:
            log.warning("could not remove %s from %s (will retry): %s",
                        member.external_id, group.code, exc)
            async with self.uow_factory() as uow:
                current = await uow.memberships.get(member.chat_id, member.external_id)
                if current is not None:
                    await groups.removal_failed(uow, current, self.clock.now())
                    await uow.commit()
            return False
        now = self.clock.now()
        async with self.uow_factory() as uow:
            current = await uow.memberships.get(member.chat_id, member.external_id)
            if current is not None:
                await groups.removed(uow, current, now, notify=notify)
            await uow.commit()
        return True

    async def sweep(self) -> int:
        """Compare Stars subscriptions whose end has come with Telegram, then remove the
        members whose access ended (and retry failed removals). Returns how many were
        removed."""
        if self.admin is None:
            return 0
        await self.sync_subscriptions()
        school = self.school()
        async with self.uow_factory() as uow:
            due = await groups.due_removals(uow, school, self.clock.now())
            await uow.commit()
        removed = 0
        for member in due:
            group = school.groups[member.group]
            removed += await self._remove(group, member, notify=True)
        return removed

    async def sync_subscriptions(self) -> dict[Sync, int]:
        """Each Stars subscription whose end has come: renewed (Telegram moved the member's
        end), lapsed (they are not in the channel, or the grace passed) or not yet known. A
        failed call leaves it for the next sweep."""
        assert self.admin is not None
        school, counts = self.school(), dict.fromkeys(Sync, 0)
        async with self.uow_factory() as uow:
            due = await star_channels.due(uow, self.clock.now())
            accounts = {p.id: [i.external_id for i in await uow.users.identities(p.user_id)
                               if i.messenger == MESSENGER] for p in due}
        for purchase in due:
            offer = school.offer(purchase.offer_code)
            group = star_channels.channel_of(school, offer) if offer else None
            try:
                account, member, until = await self._subscriber(group, accounts[purchase.id])
            except MessengerError as exc:
                log.warning("could not look at subscription %s (will retry): %s",
                            purchase.id, exc)
                continue
            async with self.uow_factory() as uow:
                result = await star_channels.synced(uow, school, purchase.id, account, member,
                                                    until, self.clock.now())
                await uow.commit()
            counts[result] += 1
        return counts

    async def _subscriber(
        self, group: Group | None, accounts: list[str]
    ) -> tuple[str, bool, datetime | None]:
        """Which of ``accounts`` is in ``group``, and their paid-up end."""
        assert self.admin is not None
        if group is None:
            return "", False, None
        for account in accounts:
            status, until = await self.admin.member(group.chat_id, account)
            if status in groups.INSIDE:
                return account, True, until
        return "", False, None

    async def subscription_links(self) -> None:
        """At start: a Stars subscription link for every offer that sells a channel so, at
        its current price (a price change makes a new link; the old one is revoked, and its
        subscribers keep their price)."""
        if self.admin is None:
            return
        async with self.uow_factory() as uow:
            wanted = await star_channels.links_to_make(uow, self.school())
        for group, offer in wanted:
            try:
                url = await self.admin.subscription_link(group.chat_id, offer.code,
                                                         offer.price.amount)
            except MessengerError as exc:
                log.error("no subscription link for %s: %s", offer.code, exc)
                await self.alert("alert_subscription_link", group=group, error=str(exc))
                continue
            async with self.uow_factory() as uow:
                older = await star_channels.record_link(uow, group, offer, url,
                                                        self.clock.now())
                await uow.commit()
            if older is not None:
                try:
                    await self.admin.revoke_link(group.chat_id, older.url)
                except MessengerError as exc:
                    log.warning("could not revoke the old subscription link %s: %s",
                                older.url, exc)

    # --- links ---------------------------------------------------------------------------

    async def personal_link(self, purchase_id: int, code: str) -> tuple[str, datetime] | None:
        """A fresh personal link for a running purchase that gives group ``code``; older
        open links of the purchase are revoked. None if the purchase no longer gives it."""
        school, now = self.school(), self.clock.now()
        group = school.groups.get(code)
        if self.admin is None or group is None:
            return None
        async with self.uow_factory() as uow:
            purchase = await uow.purchases.get(purchase_id)
        if purchase is None or not groups.granting(school, [purchase], code, now):
            return None
        expires = groups.link_expiry(purchase, now)
        if expires <= now:  # access held only by a renewal in progress: no link yet
            return None
        name = f"purchase {purchase.id}"
        url = await self.admin.create_link(group.chat_id, name, expires,
                                           join_request=group.join is JoinMode.JOIN_REQUEST)
        async with self.uow_factory() as uow:
            older = await groups.record_link(uow, purchase, code, url, expires, now)
            await uow.commit()
        for link in older:
            try:
                await self.admin.revoke_link(group.chat_id, link.url)
            except MessengerError as exc:
                log.info("could not revoke the replaced link %s: %s", link.url, exc)
        return url, expires

    async def prepare_invite(self, invite: GroupInvite) -> None:
        """Before a group invite goes out: a personal link it can show, made once."""
        if self.admin is None:
            return
        purchase_id, code = invite.purchase, invite.group
        async with self.uow_factory() as uow:
            open_links = await uow.invite_links.open_for(purchase_id, code)
            purchase = await uow.purchases.get(purchase_id)
            inside = purchase is not None and await groups.inside(
                uow, purchase.user_id, code)
        now = self.clock.now()
        usable = any(link.expires_at is None or link.expires_at > now for link in open_links)
        if not inside and not usable:
            await self.personal_link(purchase_id, code)

    # --- the school's staff ----------------------------------------------------------------

    async def start(self) -> None:
        """Once the messengers run: check the bot's rights, make subscription links."""
        await self.check_rights()
        await self.subscription_links()

    async def check_rights(self) -> None:
        """At start: can the bot let students in and take them out of every paid group?"""
        if self.admin is None:
            return
        for group in self.school().groups.values():
            try:
                missing = await self.admin.missing_rights(group.chat_id)
            except MessengerError as exc:
                log.error("cannot check the bot's rights in %s: %s", group.code, exc)
                await self.alert("alert_rights", group=group, rights=f"({exc})")
                continue
            self._lacking[group.chat_id] = bool(missing)
            if missing:
                await self.alert("alert_rights", group=group, rights=", ".join(missing))
            else:  # members seen while they were missing, before a restart
                await self._rights_back(group, was_lacking=False)

    def _texts(self) -> Texts:
        school = self.school()
        return Texts(school, school.default_language)

    async def alert(self, key: str, group: Group, **params: object) -> None:
        """Tell every school admin; logged as well, in case none can be reached."""
        school = self.school()
        t = self._texts()
        await tell_admins(self.channels, school, t(key, group=title(t, school, group), **params))
