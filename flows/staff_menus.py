"""Staff members' own command menus, on the messengers that show one per chat (Telegram).

Set for everyone on the staff once the messengers run, changed right after ``/staff add`` or
``remove``, and taken back from accounts no longer on the staff: the chats shown a menu are
stored, so an account taken out of the school file loses its menu at the next start. A staff
member the messenger cannot reach yet (on Telegram, one who never wrote to the bot) gets the
menu as soon as they write. Menus only show commands: every command checks the role itself."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from core.ports import Clock, UnitOfWorkFactory
from core.school import School
from core.services import staff
from core.staff import Role, StaffMenu
from flows.channel import Channel, MessengerError, StaffMenus
from flows.commands import staff_menu
from flows.ui import Incoming, IncomingKind, Peer

log = logging.getLogger(__name__)

Account = tuple[str, str]  # (messenger, external id)


class StaffMenuKeeper:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock,
                 school: Callable[[], School], channels: Mapping[str, Channel]) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.school = school
        self.channels = channels
        # Accounts whose menu the messenger refused: tried again when they next write.
        self.owed: set[Account] = set()

    def _menus(self, messenger: str) -> StaffMenus | None:
        channel = self.channels.get(messenger)
        return channel if isinstance(channel, StaffMenus) else None

    async def start(self) -> None:
        """Every staff member's menu, and none for accounts that left the staff. Never
        raises: a menu is a convenience, the platform runs without it."""
        if not any(isinstance(c, StaffMenus) for c in self.channels.values()):
            return
        try:
            async with self.uow_factory() as uow:
                team = await staff.team(uow, self.school())
                shown = await uow.staff_menus.all()
            wanted = {(m.messenger, m.external_id): m.role for m in team
                      if self._menus(m.messenger) is not None}
            for (messenger, external_id), role in wanted.items():
                await self.show(messenger, external_id, role)
            for menu in shown:
                if (menu.messenger, menu.external_id) not in wanted:
                    await self.show(menu.messenger, menu.external_id, None)
        except Exception:
            log.exception("staff menus not set at start")

    async def show(self, messenger: str, external_id: str, role: Role | None) -> bool:
        """Show the account the menu of ``role`` in its private chat (None: take its menu
        away). False when the messenger refused: it is tried again when they next write."""
        menus = self._menus(messenger)
        if menus is None:  # this messenger has one menu for everyone
            return True
        account = (messenger, external_id)
        commands = staff_menu(self.school(), role) if role is not None else None
        try:
            await menus.set_staff_menu(Peer(messenger, external_id), commands)
        except MessengerError as exc:
            log.warning("%s:%s: staff menu %s not set (%s); tried again when they write",
                        messenger, external_id, role.value if role else "removal", exc)
            self.owed.add(account)
            return False
        self.owed.discard(account)
        async with self.uow_factory() as uow:
            if role is None:
                await uow.staff_menus.remove(messenger, external_id)
            else:
                await uow.staff_menus.put(StaffMenu(messenger, external_id, role,
                                                    self.clock.now()))
            await uow.commit()
        log.info("%s:%s: staff menu %s", messenger, external_id,
                 f"for {role.value} shown" if role else "taken away")
        return True

    async def seen(self, incoming: Incoming) -> None:
        """Someone wrote in their own chat: a menu owed to them is tried again, for the role
        they have now (the messenger knows the chat from now on)."""
        account = (incoming.peer.messenger, incoming.sender.external_id)
        if account not in self.owed or incoming.sender.impersonal \
                or incoming.kind not in (IncomingKind.TEXT, IncomingKind.ACTION) \
                or incoming.peer.chat_id != incoming.sender.external_id:
            return
        self.owed.discard(account)
        async with self.uow_factory() as uow:
            role = await staff.role_of(uow, self.school(), *account)
        await self.show(*account, role)
