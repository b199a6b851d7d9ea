TEXTS = {
    "welcome": "Добро пожаловать в {school}! Выберите курс, оплатите прямо здесь и получайте уроки в этом чате.",
    "btn_catalog": "📚 Курсы",
    "btn_my": "🎓 Мои курсы",
    "btn_help": "❓ Помощь",
    "btn_back": "⬅️ Назад",
    "btn_menu": "🏠 Меню",
    "catalog_title": "Выберите, чему хотите научиться:",
    "catalog_empty": "Сейчас ничего не продаётся. Загляните позже.",
    "price": "Цена: {price}",
    "price_discounted": "Цена: {price} вместо {old} (код {code})",
    "access_lifetime": "Доступ: навсегда",
    "access_period": "Доступ: {period}",
    "access_subscription": "Подписка: продлевается каждые {period}",
    "access_extends": "Добавляет {period} к текущему доступу",
    "seats_left": "Осталось мест: {n}",
    "btn_buy": "💳 Купить за {price}",
    "btn_promo": "🎟 У меня есть промокод",
    "btn_pay": "💳 Оплатить {price}",
    "btn_cancel_order": "✖️ Отменить заказ",
    "promo_prompt": "Пришлите промокод сообщением.",
    "promo_applied": "Промокод {code} применён.",
    "promo_invalid": "Промокод {code} не подходит к этому предложению.",
    "promo_exhausted": "Промокод {code} уже израсходован.",
    "order_created": "Заказ №{id}: {title}\nК оплате: {price}\n\nНажмите кнопку, чтобы оплатить. Заказ ждёт вас до {until}.",
    "order_free": "✅ Заказ №{id} оформлен, оплата не нужна.",
    "order_cancelled": "Заказ №{id} отменён.",
    "order_gone": "Этот заказ уже нельзя изменить.",
    "err_offer_unavailable": "Это предложение сейчас недоступно.",
    "err_sold_out": "К сожалению, все места заняты.",
    "err_not_eligible": "Это продление — для тех, у кого уже есть этот доступ.",
    "err_already_owned": "У вас это уже есть — загляните в «Мои курсы».",
    "err_not_found": "Не нашёл такого. Возможно, его уже убрали.",
    "err_stale_button": "Эта кнопка устарела. Вот меню.",
    "err_unknown_text": "Не понял. Пожалуйста, воспользуйтесь кнопками ниже.",
    "err_generic": "У нас что-то пошло не так. Попробуйте ещё раз через минуту.",
    "paid": "✅ Оплата получена! Заказ №{id}: {title}.",
    "until": "Доступ действует до {date}.",
    "forever": "Доступ бессрочный.",
    "lessons_open_now": "Уже открыто:",
    "next_lesson": "Следующий урок: «{title}» — {date}.",
    "lesson_opened": "📖 Открыт новый урок курса «{course}»: {title}",
    "btn_open": "▶️ {title}",
    "access_ended_expired": "Доступ к «{title}» закончился. Продлить можно в любой момент из меню.",
    "access_ended_revoked": "Доступ к «{title}» отозван.",
    "payment_failed": "Оплата заказа №{id} не прошла. Можно попробовать ещё раз.",
    "payment_partial": "Мы получили {received} за заказ №{id} — меньше, чем {price}. Мы с вами свяжемся.",
    "my_empty": "У вас пока нет курсов.",
    "my_title": "Ваши курсы:",
    "my_item_until": "{title} — до {date}",
    "my_item_forever": "{title} — навсегда",
    "my_item_ended": "{title} — закончился {date}",
    "no_lessons_yet": "Пока не открыто ни одного урока.",
    "help": "Выберите курс в разделе «Курсы», оплатите на открывшейся странице — уроки придут сюда. В «Моих курсах» видно, что у вас есть и до какого числа.",
    "help_support": "Вопросы? Пишите {support}.",
}

UNITS = {"Y": ("год", "года", "лет"), "M": ("месяц", "месяца", "месяцев"),
         "W": ("неделя", "недели", "недель"), "D": ("день", "дня", "дней"),
         "H": ("час", "часа", "часов")}


def plural(n: int, forms: tuple[str, ...]) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return forms[0]
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return forms[1]
    return forms[2]


def date(d) -> str:
    return d.strftime("%d.%m.%Y")
