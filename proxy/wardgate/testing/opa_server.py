"""A stand-in OPA server on 127.0.0.1: the part of OPA's REST Data API Wardgate uses, on OPA's own evaluator.

`POST /v1/data/{path}` with `{"input": ...}` answers `{"result": ..., "provenance": ...}`, or `{}` when the document
is undefined, and errors in OPA's shape (`{"code", "message"}`, 400 for a bad request, 500 for an evaluation
error). Faults for tests: `delay` seconds before answering, `force_status` to answer with that HTTP status.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

from aiohttp import web
from opa_bindings import OpaError, OpaUndefinedError

from wardgate.policy.bundle import load_bundle
from wardgate.policy.engine import compile_bundle
from wardgate.testing._server import BackgroundServer

__all__ = ["FakeOpaServer"]


class FakeOpaServer(BackgroundServer):
    name = "fake-opa"

    def __init__(self, bundle: Path) -> None:
        super().__init__()
        self._bundle = load_bundle(bundle)
        self._engine = compile_bundle(self._bundle)
        self.delay = 0.0
        self.force_status: int | None = None
        self.queries: list[str] = []
        self._lock = threading.Lock()

    @property
    def revision(self) -> str:
        return self._bundle.revision

    def stop(self) -> None:
        super().stop()
        self._engine.close()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/data/{path:.*}", self._data)

    async def _data(self, request: web.Request) -> web.Response:
        self.queries.append(request.query_string)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.force_status is not None:
            return _error(self.force_status, "internal_error", "injected fault")
        try:
            body = json.loads(await request.read() or b"{}")
            policy_input = body.get("input")
        except (ValueError, AttributeError):
            return _error(400, "invalid_parameter", "request body must be a JSON object")
        path = request.match_info["path"].strip("/").replace("/", ".")
        try:
            with self._lock:
                value = await asyncio.to_thread(self._engine.eval_document, path, policy_input)
        except OpaUndefinedError:
            return web.json_response({})
        except OpaError as exc:
            return _error(500, "internal_error", exc.message)
        provenance = {"version": "1.20.2", "bundles": {"wardgate": {"revision": self._bundle.revision}}}
        return web.json_response({"result": value, "provenance": provenance})


def _error(status: int, code: str, message: str) -> web.Response:
    payload: dict[str, Any] = {"code": code, "message": message}
    return web.json_response(payload, status=status)
