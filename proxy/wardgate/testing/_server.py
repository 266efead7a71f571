"""An aiohttp application in a thread and event loop of its own, started and stopped from sync code."""

from __future__ import annotations

import asyncio
import ssl
import threading
from typing import Self

from aiohttp import web

__all__ = ["BackgroundServer"]


class BackgroundServer:
    """Subclasses add their routes in `routes()`; `port` is free and known once started."""

    name = "server"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self._port = host, port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=self.name, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def ssl_context(self) -> ssl.SSLContext | None:
        return None

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context() else 'http'}://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _start(self) -> None:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port, ssl_context=self.ssl_context())
        await site.start()
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
