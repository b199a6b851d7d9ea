"""An alert for every school admin, in the messenger they are named on; logged as well, in
case none can be reached."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from core.school import School
from flows.channel import Channel, MessengerError
from flows.ui import Peer, Screen

log = logging.getLogger(__name__)


async def tell_admins(channels: Mapping[str, Channel], school: School, text: str) -> None:
    log.warning("admin alert: %s", text)
    for admin in school.admins:
        channel = channels.get(admin.messenger)
        if channel is None:
            continue
        try:
            await channel.send(Peer(admin.messenger, admin.external_id), Screen(text))
        except MessengerError as exc:
            log.error("alert to admin %s not delivered: %s", admin.external_id, exc)
