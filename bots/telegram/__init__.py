"""The school on Telegram, through aiogram 3."""
