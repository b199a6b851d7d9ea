"""Which step answers which command, button or typed text. Button ids are ``prefix:arg``."""

from __future__ import annotations

from functools import partial

from flows import (
    admin,
    audit,
    automations,
    catalog,
    checkout,
    linking,
    my_courses,
    payments,
    receipts,
    renewals,
    start,
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
            "/refund": admin.refund,
            "/refunds": admin.refunds,
            "/paid": admin.paid,
            "/members": admin.members,
            "/staff": team.staff_command,
            "/audit": audit.audit_command,
            "/link": linking.enter_code,
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
            "aa": automations.answer,
        },
        steps={"promo": catalog.enter_promo, linking.STEP: linking.enter_code,
               receipts.STEP: partial(receipts.enter_contact, buy=checkout.buy)},
        fallback=start.unknown_text,
        before_fallback=automations.typed,
        payment_check=payments.check,
        payment=payments.received,
        refunded=payments.refunded,
        blocked=start.blocked,
        subscribed=start.subscribed,
    )
