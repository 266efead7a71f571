"""The admin listener: `/healthz` (the process serves), `/readyz` (proxy listening, policy loaded), `/metrics`."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from wardgate.telemetry import DecisionMetrics

__all__ = ["AdminServer"]


class AdminServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        ready: Callable[[], tuple[bool, dict[str, object]]],
        metrics: DecisionMetrics | None = None,
    ) -> None:
        self._host, self._port = host, port
        self._ready, self._metrics = ready, metrics
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        if metrics is not None:
            app.router.add_get("/metrics", self._exposition)
        self._runner = web.AppRunner(app, access_log=None)
        self.port: int | None = None

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        ready, state = self._ready()
        return web.json_response(state, status=200 if ready else 503)

    async def _exposition(self, request: web.Request) -> web.Response:
        assert self._metrics is not None
        body, content_type = self._metrics.exposition()
        # As a header, not content_type=: that would drop the `version=` parameter Prometheus reads.
        return web.Response(body=body, headers={"Content-Type": content_type})
