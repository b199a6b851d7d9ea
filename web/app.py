"""The aiohttp application: health, metrics, and the routes of the payment gateways (checkout
pages, webhooks). Messenger webhooks and the sandbox add their routes to the same app."""

from __future__ import annotations

import logging
from html import escape

from aiohttp import web

from observability.metrics import CONTENT_TYPE
from web.deps import DEPS, Deps
from web.downloads import add_download_routes
from web.gateway_routes import add_gateway_routes
from web.page import page

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    deps: Deps = request.app[DEPS]
    try:
        async with deps.uow_factory() as uow:
            await uow.users.get(0)
    except Exception:  # the check's whole point is to report any failure
        log.exception("health check: the database does not answer")
        return web.json_response({"status": "error", "database": "unavailable"}, status=503)
    return web.json_response(
        {"status": "ok", "school": deps.school().name, "time": deps.clock.now().isoformat()}
    )


async def metrics(request: web.Request) -> web.Response:
    """Prometheus' scrape: the counters as they are, and the outbox's backlog counted now."""
    deps: Deps = request.app[DEPS]
    async with deps.uow_factory() as uow:
        deps.metrics.outbox_backlog.set(await uow.outbox.backlog(deps.clock.now()))
    return web.Response(body=deps.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})


async def index(request: web.Request) -> web.Response:
    """What a newcomer sees at the server's address."""
    school = request.app[DEPS].school()
    body = (
        f"<h1>{escape(school.name)}</h1><p>The school platform is running.</p>"
        f"<p>Students reach it through the school's messenger bots. With no bot token, chat "
        f"with the school in a terminal: <code>python run.py chat</code>.</p>"
        f'<p><a href="/healthz">Health check</a></p>'
    )
    return page(school.name, body, school.default_language)


def add_home(app: web.Application, redirect: str | None = None) -> None:
    """The root page: a pointer for newcomers, or a redirect (to the sandbox when it is on)."""
    if redirect is None:
        app.router.add_get("/", index)
        return

    async def go(request: web.Request) -> web.Response:
        raise web.HTTPFound(redirect)

    app.router.add_get("/", go)
    app.router.add_get(redirect.rstrip("/"), go)


def make_app(deps: Deps) -> web.Application:
    app = web.Application(client_max_size=1024**2)
    app[DEPS] = deps
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    if deps.desk is not None:
        add_gateway_routes(app, deps.gateways, deps.desk)
    if deps.downloads is not None:
        add_download_routes(app, deps.downloads)
    return app
