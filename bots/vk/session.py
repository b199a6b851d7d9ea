"""HTTP sessions for vk_api: timeouts everywhere, and the API host pointed elsewhere.

``vk_api.VkApi.method()`` always POSTs to the hard-coded ``https://api.vk.ru/method/...`` and
passes no timeout. The session given to it mounts an adapter that sends those requests to
``api_url`` instead (a test server, or a proxy in front of VK) and that puts a timeout on every
request that has none, so a dead connection never hangs a worker thread forever."""

from __future__ import annotations

import socket
import threading
import weakref
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

VK_API_BASE = "https://api.vk.ru/"
OLD_VK_API_BASE = "https://api.vk.com/"  # vk_api before 11.10
DEFAULT_TIMEOUT = (10.0, 30.0)  # seconds to connect, to read


class TimeoutAdapter(HTTPAdapter):
    """Gives every request without a timeout ``timeout``."""

    def __init__(self, timeout: Any = DEFAULT_TIMEOUT) -> None:
        super().__init__()
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, *args, **kwargs)


class RedirectAdapter(TimeoutAdapter):
    """Sends requests for ``https://api.vk.ru/...`` to ``base_url`` + the same path."""

    def __init__(self, base_url: str, timeout: Any = DEFAULT_TIMEOUT) -> None:
        super().__init__(timeout)
        self.base_url = base_url.rstrip("/") + "/"

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        for prefix in (VK_API_BASE, OLD_VK_API_BASE):
            if request.url and request.url.startswith(prefix):
                request.url = self.base_url + request.url[len(prefix):]
                break
        return super().send(request, *args, **kwargs)


def api_session(api_url: str | None = None) -> requests.Session:
    """The session for ``VkApi(session=...)``: VK's API at ``api_url`` when given. With
    ``api_url`` the environment's proxy settings are ignored (the address was chosen)."""
    session = requests.Session()
    plain = TimeoutAdapter()
    session.mount("https://", plain)
    session.mount("http://", plain)
    if api_url:
        session.trust_env = False
        redirect = RedirectAdapter(api_url)
        session.mount(VK_API_BASE, redirect)
        session.mount(OLD_VK_API_BASE, redirect)
    return session


class AbortableAdapter(TimeoutAdapter):
    """Remembers its open connections so that ``abort()``, from another thread, can end a
    request that waits (a long poll waits up to 90 s): its socket is shut down and the
    waiting request fails at once."""

    def __init__(self, timeout: Any = DEFAULT_TIMEOUT) -> None:
        self._open: weakref.WeakSet[HTTPConnection] = weakref.WeakSet()
        self._lock = threading.Lock()
        super().__init__(timeout)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        adapter = self

        class Connection(HTTPConnection):
            def connect(self) -> None:
                super().connect()
                adapter._opened(self)

        class SecureConnection(HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                adapter._opened(self)

        class Pool(HTTPConnectionPool):
            ConnectionCls = Connection

        class SecurePool(HTTPSConnectionPool):
            ConnectionCls = SecureConnection

        self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": SecurePool}

    def _opened(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._open.add(connection)

    def abort(self) -> None:
        with self._lock:
            connections = list(self._open)
        for connection in connections:
            sock = getattr(connection, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # closed already


def long_poll_session(api_url: str | None = None) -> tuple[requests.Session, AbortableAdapter]:
    """The session of the Bots Long Poll requests (their URL comes from
    ``groups.getLongPollServer``, so no redirect; ``check()`` passes its own timeout), and its
    adapter, whose ``abort()`` ends a poll in flight."""
    session = requests.Session()
    adapter = AbortableAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.trust_env = api_url is None
    return session, adapter
