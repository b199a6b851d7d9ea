"""The staff's wording around their command menus, their buttons, and the audit log's pages."""

TEXTS = {
    "en": {
        "staff_menu_later": "ℹ️ {account} has not written to the bot yet: their staff command menu appears once they do.",
        "staff_button_refused": "This button is not for you.",
        "audit_older": "Older ›",
    },
    "ru": {
        "staff_menu_later": "ℹ️ {account} ещё не писал боту: меню команд сотрудника появится, как только напишет.",
        "staff_button_refused": "Эта кнопка не для вас.",
        "audit_older": "Раньше ›",
    },
    "fr": {
        "staff_menu_later": "ℹ️ {account} n'a pas encore écrit au bot : son menu de commandes de l'équipe apparaîtra dès qu'il le fera.",
        "staff_button_refused": "Ce bouton n'est pas pour vous.",
        "audit_older": "Plus anciennes ›",
    },
}
