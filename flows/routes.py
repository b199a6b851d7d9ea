"""Which step answers which command, button or typed text. Button ids are ``prefix:arg``."""

from __future__ import annotations

from functools import partial

from flows import (
    admin,
    audit,
    catalog,
    checkout,
    export,
    inbox,
    linking,
    my_courses,
    payments,
    promo,
    receipts,
    refunds,
    renewals,
    start,
    stats,
    team,
)
from flows.engine import Router


def student_router() -> Router:
    return Router(
        commands={
            "/start": start.start,
            "/menu": start.menu,
            "/help": start.help_screen,
            "/courses": catalog.show_catalog,
            "/my": my_courses.my_courses,
            "/refund": refunds.refund,
            "/refunds": refunds.refunds,
            "/paid": admin.paid,
            "/members": admin.members,
            "/staff": team.staff_command,
            "/audit": audit.audit_command,
            "/promo": promo.promo_command,
            "/link": linking.enter_code,
            "/inbox": inbox.inbox_command,
            "/stats": stats.stats_command,
            "/export": export.export_command,
        },
        actions={
            "menu": start.menu,
            "help": start.help_screen,
            "cat": catalog.show_catalog,
            "o": catalog.show_offer,
            "pr": catalog.ask_promo,
            "b": checkout.buy,
            "bs": checkout.buy_with_stars,
            "x": checkout.cancel,
            "my": my_courses.my_courses,
            "p": my_courses.purchase_detail,
            "gl": my_courses.group_link,
            "rn": renewals.renew,
            "rs": renewals.renew_with_stars,
            "ar": my_courses.auto_renewal,
            "lk": linking.link_menu,
            "il": inbox.inbox_command,
            "io": inbox.open_conversation,
            "ia": inbox.ask_answer,
            "ic": inbox.close,
            "st": stats.stats_period,
            "ex": export.export_table,
            "pc": promo.confirm_off,
            "pcy": promo.off_button,
            "pcl": promo.list_button,
            audit.OLDER: audit.older,
        },
        steps={"promo": catalog.enter_promo, linking.STEP: linking.enter_code,
               receipts.STEP: partial(receipts.enter_contact, buy=checkout.buy),
               inbox.STEP: inbox.typed_answer},
        fallback=inbox.free_text,
        payment_check=payments.check,
        payment=payments.received,
        refunded=payments.refunded,
        blocked=start.blocked,
        subscribed=start.subscribed,
    )
