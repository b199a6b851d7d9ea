"""The payment gateways' web routes (checkout pages, webhooks), served by aiohttp: each
request is read into the neutral ``WebRequest`` the gateway speaks, its ``WebResponse``
turned back into aiohttp's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from core.ports import MAX_BODY, PaymentDesk, PaymentGateway, WebRequest, WebResponse, WebRoute


def _handler(route: WebRoute) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY,
                                                actual_size=request.content_length)
        body = await request.read() if request.can_read_body else b""
        if len(body) > MAX_BODY:  # chunked, with no length said beforehand
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=len(body))
        answer = await route.handler(WebRequest(
            method=request.method, path=request.path, params=dict(request.match_info),
            query=dict(request.query), headers=request.headers, body=body,
            remote=request.remote,
        ))
        return _response(answer)

    return handle


def _response(answer: WebResponse) -> web.Response:
    if answer.location is not None:
        return web.Response(status=answer.status, text=answer.text or None,
                            headers={"Location": answer.location})
    return web.Response(status=answer.status, text=answer.text,
                        content_type=answer.content_type)


def add_gateway_routes(
    app: web.Application, gateways: Mapping[str, PaymentGateway], desk: PaymentDesk
) -> None:
    for gateway in gateways.values():
        for route in gateway.routes(desk):
            if route.method == "GET":  # HEAD too, as aiohttp's add_get does
                app.router.add_get(route.path, _handler(route))
            else:
                app.router.add_route(route.method, route.path, _handler(route))
