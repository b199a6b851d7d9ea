"""Files behind signed, expiring links (the staff's CSV exports), streamed as they are made.
A link that is malformed, tampered with, expired or whose maker lost the right gets 403 and
nothing else: the answer does not say which."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from core.ports import DownloadDesk

PATH = "/exports/{token}"
MAX_TOKEN = 512


def add_download_routes(app: web.Application, desk: DownloadDesk) -> None:
    async def download(request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        found = await desk.open(token, request.remote) if len(token) <= MAX_TOKEN else None
        if found is None:
            return web.Response(status=403, text="This link is not valid (or no longer).")
        response = web.StreamResponse(headers={
            "Content-Type": found.content_type,
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(found.filename)}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        })
        await response.prepare(request)
        async for chunk in found.chunks:
            await response.write(chunk)
        await response.write_eof()
        return response

    # No HEAD: opening a link is a download, audited; a HEAD request would be one too.
    app.router.add_get(PATH, download, allow_head=False)
