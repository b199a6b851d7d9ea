TEXTS = {
    "welcome": "Welcome to {school}! Choose a course, pay right here and get your lessons in this chat.",
    "btn_catalog": "📚 Courses",
    "btn_my": "🎓 My courses",
    "btn_help": "❓ Help",
    "btn_back": "⬅️ Back",
    "btn_menu": "🏠 Menu",
    "catalog_title": "Choose what you'd like to learn:",
    "catalog_empty": "Nothing is on sale right now. Please come back later.",
    "price": "Price: {price}",
    "price_discounted": "Price: {price} instead of {old} (code {code})",
    "access_lifetime": "Access: forever",
    "access_period": "Access: {period}",
    "access_subscription": "Subscription: renews every {period}",
    "access_extends": "Adds {period} to your current access",
    "seats_left": "Seats left: {n}",
    "btn_buy": "💳 Buy for {price}",
    "btn_promo": "🎟 I have a promo code",
    "btn_pay": "💳 Pay {price}",
    "btn_cancel_order": "✖️ Cancel order",
    "promo_prompt": "Send me your promo code as a message.",
    "promo_applied": "Code {code} applied.",
    "promo_invalid": "Code {code} doesn't work for this offer.",
    "promo_exhausted": "Code {code} has been used up.",
    "order_created": "Order #{id}: {title}\nTo pay: {price}\n\nTap the button to pay. The order is held for you until {until}.",
    "order_free": "✅ Order #{id} is complete, no payment needed.",
    "order_cancelled": "Order #{id} is cancelled.",
    "order_gone": "This order can no longer be changed.",
    "err_offer_unavailable": "This offer isn't available right now.",
    "err_sold_out": "Sorry, all seats are taken.",
    "err_not_eligible": "This renewal is for students who already have this access.",
    "err_already_owned": "You already have this — see “My courses”.",
    "err_not_found": "I couldn't find that. It may have been removed.",
    "err_stale_button": "This button is out of date. Here is the menu.",
    "err_unknown_text": "I didn't get that. Please use the buttons below.",
    "err_generic": "Something went wrong on our side. Please try again in a minute.",
    "paid": "✅ Payment received! Order #{id}: {title}.",
    "until": "Your access lasts until {date}.",
    "forever": "Your access never ends.",
    "lessons_open_now": "Open now:",
    "next_lesson": "Next lesson: “{title}” on {date}.",
    "lesson_opened": "📖 A new lesson of “{course}” is open: {title}",
    "btn_open": "▶️ {title}",
    "access_ended_expired": "Your access to “{title}” has ended. You can renew it any time from the menu.",
    "access_ended_revoked": "Your access to “{title}” was withdrawn.",
    "payment_failed": "The payment for order #{id} didn't go through. You can try again from the order.",
    "payment_partial": "We received {received} for order #{id}, less than {price}. Our team will contact you.",
    "payment_extra": "We received {amount} for order #{id}, but it gives you nothing new (it was already paid or closed, or you already have this). The money will be returned.",
    "my_empty": "You have no courses yet.",
    "my_title": "Your courses:",
    "my_item_until": "{title} — until {date}",
    "my_item_forever": "{title} — forever",
    "my_item_ended": "{title} — ended {date}",
    "no_lessons_yet": "No lessons are open yet.",
    "help": "Buy a course in “Courses”, pay on the page that opens, and your lessons arrive here. “My courses” shows what you have and until when.",
    "help_support": "Questions? Write to {support}.",
}

UNITS = {"Y": ("year", "years"), "M": ("month", "months"), "W": ("week", "weeks"),
         "D": ("day", "days"), "H": ("hour", "hours")}
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def plural(n: int, forms: tuple[str, ...]) -> str:
    return forms[0] if n == 1 else forms[1]


def date(d) -> str:
    return f"{MONTHS[d.month - 1]} {d.day}, {d.year}"
