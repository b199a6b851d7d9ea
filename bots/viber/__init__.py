"""Viber: the REST Bot API called with aiohttp, callbacks on a webhook."""
