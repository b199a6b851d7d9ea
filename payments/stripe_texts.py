"""Wording of the pages Stripe sends the student back to, per language."""

TEXTS = {
    "en": {
        "title": "Payment",
        "paid": "Payment received. Go back to the chat: your confirmation is there.",
        "confirming": "Thank you! Your payment is being confirmed. Go back to the chat: the confirmation will arrive there.",
        "cancelled": "The payment was cancelled and nothing was charged. Go back to the chat to pay again.",
        "closed": "This order is closed. Go back to the chat and start again.",
        "unknown": "There is no such order.",
        "unavailable": "The payment service is not answering. Please try again in a minute from the chat.",
    },
    "ru": {
        "title": "Оплата",
        "paid": "Оплата получена. Вернитесь в чат: подтверждение уже там.",
        "confirming": "Спасибо! Оплата подтверждается. Вернитесь в чат: подтверждение придёт туда.",
        "cancelled": "Оплата отменена, деньги не списаны. Вернитесь в чат, чтобы оплатить снова.",
        "closed": "Этот заказ закрыт. Вернитесь в чат и начните заново.",
        "unknown": "Такого заказа нет.",
        "unavailable": "Платёжный сервис не отвечает. Попробуйте ещё раз через минуту из чата.",
    },
    "fr": {
        "title": "Paiement",
        "paid": "Paiement reçu. Retournez dans le chat : votre confirmation y est.",
        "confirming": "Merci ! Votre paiement est en cours de confirmation. Retournez dans le chat : la confirmation y arrivera.",
        "cancelled": "Le paiement a été annulé, rien n'a été prélevé. Retournez dans le chat pour payer à nouveau.",
        "closed": "Cette commande est close. Retournez dans le chat et recommencez.",
        "unknown": "Cette commande n'existe pas.",
        "unavailable": "Le service de paiement ne répond pas. Réessayez dans une minute depuis le chat.",
    },
}


def page_text(language: str, key: str) -> str:
    return TEXTS.get(language, TEXTS["en"])[key]
