"""Wording of the test gateway's checkout and result pages, per language."""

TEXTS = {
    "en": {
        "title": "Checkout", "order": "Order #{id}", "total": "Total",
        "pay": "Pay {price}", "decline": "Decline",
        "pay_save": "Pay {price} and renew automatically with this card",
        "pay_save_failing": "Pay {price} with a test card declined at renewal",
        "test_notice": "Test payment page: no money is taken. Pay or decline to see what the student gets.",
        "paid": "Payment received. Go back to the chat: your confirmation is there.",
        "declined": "The payment was declined. You can try again from the chat.",
        "partial": "Part of the amount was received. The school will contact you.",
        "closed": "This order is closed. Start again from the chat.",
        "unknown": "There is no such order.",
        "refused": "This payment request is not valid and was ignored.",
        "back": "Back to the order",
    },
    "ru": {
        "title": "Оплата", "order": "Заказ №{id}", "total": "Итого",
        "pay": "Оплатить {price}", "decline": "Отказаться",
        "pay_save": "Оплатить {price} и продлевать автоматически этой картой",
        "pay_save_failing": "Оплатить {price} тестовой картой, которую отклонят при продлении",
        "test_notice": "Тестовая страница оплаты: деньги не списываются. Оплатите или откажитесь, чтобы увидеть, что получит ученик.",
        "paid": "Оплата получена. Вернитесь в чат: подтверждение уже там.",
        "declined": "Оплата отклонена. Можно попробовать ещё раз из чата.",
        "partial": "Получена часть суммы. Школа свяжется с вами.",
        "closed": "Этот заказ закрыт. Начните заново в чате.",
        "unknown": "Такого заказа нет.",
        "refused": "Этот запрос на оплату недействителен и отклонён.",
        "back": "Вернуться к заказу",
    },
    "fr": {
        "title": "Paiement", "order": "Commande n° {id}", "total": "Total",
        "pay": "Payer {price}", "decline": "Refuser",
        "pay_save": "Payer {price} et renouveler automatiquement avec cette carte",
        "pay_save_failing": "Payer {price} avec une carte de test refusée au renouvellement",
        "test_notice": "Page de paiement de test : aucun argent n'est prélevé. Payez ou refusez pour voir ce que reçoit l'élève.",
        "paid": "Paiement reçu. Retournez dans le chat : votre confirmation y est.",
        "declined": "Le paiement a été refusé. Vous pouvez réessayer depuis le chat.",
        "partial": "Une partie du montant a été reçue. L'école vous contactera.",
        "closed": "Cette commande est close. Recommencez depuis le chat.",
        "unknown": "Cette commande n'existe pas.",
        "refused": "Cette demande de paiement n'est pas valide et a été ignorée.",
        "back": "Retour à la commande",
    },
}


def page_text(language: str, key: str, **params: object) -> str:
    table = TEXTS.get(language) or TEXTS["en"]
    return table[key].format(**params)
