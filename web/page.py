"""The HTML shell of the platform's own pages."""

from __future__ import annotations

from html import escape

from aiohttp import web

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f4f5f7;margin:0;
color:#1d2330}main{max-width:420px;margin:8vh auto;background:#fff;border-radius:14px;
padding:28px;box-shadow:0 4px 24px #0001}h1{font-size:1.3em;margin:0 0 4px}
"""


def page(title: str, body: str, language: str = "en", status: int = 200) -> web.Response:
    html = (
        f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return web.Response(text=html, content_type="text/html", status=status)
