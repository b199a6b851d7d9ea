"""The wording around automations: typed answers refused, late answers, the staff's notices."""

TEXTS = {
    "en": {
        "auto_invalid_email": "That doesn't look like an email address. Please type it again, for example anna@example.com.",
        "auto_invalid_phone": "That doesn't look like a phone number. Please type it again with the country code, for example +49 151 2345678.",
        "auto_invalid_text": "Please type your answer as a message.",
        "auto_answered": "✓ {answer}",
        "auto_answer_late": "This question is closed already.",
        "auto_staff_title": "🤖 {automation} · {student} (#{id}):",
        "auto_staff_problem": "⚠️ The automation {automation} could not act for {student} (#{id}): {problem}. Please look at it by hand.",
        "btn_student_card": "👤 Student card",
    },
    "ru": {
        "auto_invalid_email": "Похоже, это не адрес почты. Напишите его ещё раз, например anna@example.com.",
        "auto_invalid_phone": "Похоже, это не номер телефона. Напишите его ещё раз с кодом страны, например +7 900 123-45-67.",
        "auto_invalid_text": "Пожалуйста, напишите ответ сообщением.",
        "auto_answered": "✓ {answer}",
        "auto_answer_late": "На этот вопрос уже нельзя ответить.",
        "auto_staff_title": "🤖 {automation} · {student} (№{id}):",
        "auto_staff_problem": "⚠️ Автоматизация {automation} не смогла выполнить шаг для {student} (№{id}): {problem}. Проверьте вручную.",
        "btn_student_card": "👤 Карточка ученика",
    },
    "fr": {
        "auto_invalid_email": "Cela ne ressemble pas à une adresse e-mail. Réessayez, par exemple anna@example.com.",
        "auto_invalid_phone": "Cela ne ressemble pas à un numéro de téléphone. Réessayez avec l'indicatif du pays, par exemple +33 6 12 34 56 78.",
        "auto_invalid_text": "Écrivez votre réponse dans un message, s'il vous plaît.",
        "auto_answered": "✓ {answer}",
        "auto_answer_late": "Cette question est déjà close.",
        "auto_staff_title": "🤖 {automation} · {student} (n° {id}) :",
        "auto_staff_problem": "⚠️ L'automatisation {automation} n'a pas pu agir pour {student} (n° {id}) : {problem}. Vérifiez à la main.",
        "btn_student_card": "👤 Fiche élève",
    },
}
