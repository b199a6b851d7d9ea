"""How a broadcast looks: the message the students get, and the author's progress message
and summary. Buttons carry ids only: ``bb:<broadcast>:<index>`` for a broadcast's own
buttons, ``mk:off`` to stop promotions, ``bp``/``br``/``bx:<broadcast>`` for the author's
pause, resume and cancel."""

from __future__ import annotations

from datetime import timedelta

from core.broadcasts import Broadcast, BroadcastStatus, ButtonKind, Progress
from flows.channel import Capabilities
from flows.formatting import escape
from flows.texts import Texts
from flows.ui import Button, Screen

PAUSE, RESUME, CANCEL = "bp", "br", "bx"
PRESS = "bb"
STOP_PROMOTIONS = "mk:off"


def message_screen(broadcast: Broadcast, t: Texts, capabilities: Capabilities) -> Screen:
    """The broadcast as one student sees it, in their language (``t``). Its text is
    formatted (``flows.formatting``), as the author wrote it."""
    text = broadcast.text
    rows: list[tuple[Button, ...]] = []
    for index, button in enumerate(broadcast.button_list()):
        if button.kind is ButtonKind.URL:
            if capabilities.url_buttons:
                rows.append((Button(button.label, url=button.value),))
            else:
                text += escape(f"\n\n{button.label}: {button.value}")
            continue
        label = t("btn_my") if button.kind is ButtonKind.COURSES else button.label
        rows.append((Button(label, action=f"{PRESS}:{broadcast.id}:{index}"),))
    if broadcast.marketing:
        rows.append((Button(t("bc_stop_promotions"), action=STOP_PROMOTIONS),))
    return Screen(text, tuple(rows), picture=broadcast.picture_url, html=True)


def duration(t: Texts, seconds: float) -> str:
    if seconds >= 60:
        return t("bc_minutes", m=round(seconds / 60))
    return t("bc_seconds", s=max(round(seconds), 0))


def _counts(progress: Progress) -> dict[str, int]:
    return {"sent": progress.sent, "total": progress.total, "failed": progress.failed,
            "unreachable": progress.unreachable, "skipped": progress.skipped,
            "remaining": progress.remaining}


def controls(broadcast: Broadcast, t: Texts) -> tuple[tuple[Button, ...], ...]:
    """Pause or resume, and cancel, while the broadcast is not over."""
    if broadcast.status is BroadcastStatus.PAUSED:
        first = Button(t("bc_btn_resume"), action=f"{RESUME}:{broadcast.id}")
    elif broadcast.status in (BroadcastStatus.SENDING, BroadcastStatus.SCHEDULED):
        first = Button(t("bc_btn_pause"), action=f"{PAUSE}:{broadcast.id}")
    else:
        return ()
    return ((first, Button(t("bc_btn_cancel"), action=f"{CANCEL}:{broadcast.id}")),)


def progress_screen(broadcast: Broadcast, progress: Progress, t: Texts,
                    seconds_left: float | None) -> Screen:
    """Sent, failed, unreachable, remaining and the time left (None: not known yet)."""
    text = t("bc_progress", id=broadcast.id, state=t(f"bc_state_{broadcast.status}"),
             **_counts(progress))
    if progress.remaining and seconds_left is None:
        text += "\n" + t("bc_left_unknown", remaining=progress.remaining)
    elif progress.remaining:
        text += "\n" + t("bc_left", remaining=progress.remaining,
                         time=duration(t, seconds_left))
    return Screen(text, controls(broadcast, t))


def summary_screen(broadcast: Broadcast, progress: Progress, presses: list[int],
                   t: Texts, took: timedelta) -> Screen:
    """The end: the counts, how long it took, and the presses on each button."""
    lines = [t("bc_summary", id=broadcast.id, state=t(f"bc_state_{broadcast.status}"),
               duration=duration(t, took.total_seconds()), **_counts(progress))]
    buttons = broadcast.button_list()
    pressable = [(i, b) for i, b in enumerate(buttons) if b.kind is not ButtonKind.URL]
    if pressable:
        lines.append(t("bc_summary_presses"))
        lines += [t("bc_summary_press",
                    label=t("btn_my") if b.kind is ButtonKind.COURSES else b.label,
                    n=presses[i] if i < len(presses) else 0) for i, b in pressable]
    return Screen("\n".join(lines))
