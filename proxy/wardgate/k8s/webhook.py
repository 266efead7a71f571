"""`wardgate webhook`: a Kubernetes mutating admission webhook (AdmissionReview v1) over TLS.

A pod annotated `wardgate.dev/inject: "true"` gets the sidecar, the iptables init container and their volumes.
On any error the pod is admitted unchanged (fail-open, the convention for sidecar injectors; the
MutatingWebhookConfiguration's failurePolicy decides what the API server does when the webhook is unreachable),
unless `fail_closed` is set, and the reason is logged.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
from pathlib import Path
from typing import Any

from aiohttp import web

from wardgate.k8s.injector import InjectorSettings, pod_patch

__all__ = ["WebhookServer", "review_response"]

logger = logging.getLogger(__name__)


def review_response(review: Any, settings: InjectorSettings, *, fail_closed: bool = False) -> dict[str, Any]:
    """The AdmissionReview answer for one request document (pure)."""
    uid = review.get("request", {}).get("uid", "") if isinstance(review, dict) else ""
    response: dict[str, Any] = {"uid": uid, "allowed": True}
    try:
        if not isinstance(review, dict) or review.get("kind") != "AdmissionReview":
            raise ValueError("not an AdmissionReview")
        request = review["request"]
        if request.get("kind", {}).get("kind") != "Pod":
            raise ValueError(f"only Pods are injected, got {request.get('kind')}")
        patch = pod_patch(request["object"], settings)
        if patch:
            response["patchType"] = "JSONPatch"
            response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
    except (KeyError, TypeError, ValueError) as exc:
        logger.warning("not injecting (uid %s): %s", uid, exc)
        if fail_closed:
            response = {"uid": uid, "allowed": False, "status": {"code": 400, "message": f"wardgate: {exc}"}}
        else:
            response["warnings"] = [f"wardgate sidecar not injected: {exc}"]
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


class WebhookServer:
    """Serves /mutate over TLS; a renewed certificate (cert-manager rewrites the mounted Secret) is picked up
    without a restart, for new connections."""

    def __init__(
        self,
        settings: InjectorSettings,
        *,
        cert: Path,
        key: Path,
        host: str,
        port: int,
        fail_closed: bool,
        reload_interval: float = 30.0,
    ) -> None:
        self._settings, self._fail_closed = settings, fail_closed
        self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert, self._key = cert, key
        self._loaded = b""
        self.reload_certificate()
        self._reload_interval = reload_interval
        self._reloader: asyncio.Task[None] | None = None
        self._host, self._port = host, port
        self.port = 0
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/mutate", self._mutate)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None)

    def reload_certificate(self) -> bool:
        """Load the certificate and key again if either file changed; True when it did. A broken pair is logged
        and the one in use keeps serving."""
        try:
            current = self._cert.read_bytes() + b"\0" + self._key.read_bytes()
        except OSError as exc:
            logger.warning("webhook certificate unreadable, keeping the loaded one: %s", exc)
            return False
        if current == self._loaded:
            return False
        try:
            # Tried on a scratch context first: a failed load can leave a live context half-changed.
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(self._cert), str(self._key))
            self._ssl.load_cert_chain(str(self._cert), str(self._key))
        except (ssl.SSLError, OSError) as exc:
            if not self._loaded:
                raise
            logger.warning("renewed webhook certificate rejected, keeping the loaded one: %s", exc)
            return False
        if self._loaded:
            logger.info("webhook certificate reloaded from %s", self._cert)
        self._loaded = current
        return True

    async def _watch_certificate(self) -> None:
        while True:
            await asyncio.sleep(self._reload_interval)
            self.reload_certificate()

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, ssl_context=self._ssl)
        await site.start()
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._reloader = asyncio.get_running_loop().create_task(self._watch_certificate())

    async def stop(self) -> None:
        if self._reloader is not None:
            self._reloader.cancel()
        await self._runner.cleanup()

    async def _mutate(self, request: web.Request) -> web.Response:
        try:
            review = json.loads(await request.read())
        except ValueError:
            review = None
        return web.json_response(review_response(review, self._settings, fail_closed=self._fail_closed))

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})
