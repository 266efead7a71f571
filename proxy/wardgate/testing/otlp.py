"""A real OTLP/HTTP trace receiver: decodes each `ExportTraceServiceRequest` (protobuf) into plain span records."""

from __future__ import annotations

import dataclasses
import gzip
import threading
import time
from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from wardgate.testing._server import BackgroundServer

__all__ = ["OtlpReceiver", "ReceivedSpan"]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@dataclasses.dataclass(frozen=True, slots=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any]
    service: str | None
    trace_state: str = ""
    status_message: str = ""


class OtlpReceiver(BackgroundServer):
    """`POST /v1/traces` as an OpenTelemetry Collector serves it (protobuf, optionally gzip)."""

    name = "otlp-receiver"

    def __init__(self) -> None:
        super().__init__()
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/traces", self._traces)

    async def _traces(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest.FromString(body)
        received = []
        for resource_spans in export.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            kind=span.kind,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            service=resource.get("service.name"),
                            trace_state=span.trace_state,
                            status_message=span.status.message,
                        )
                    )
        with self._lock:
            self.spans.extend(received)
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(), content_type="application/x-protobuf"
        )

    def wait_for(self, trace_id: str, name: str, timeout: float = 15.0) -> list[ReceivedSpan]:
        """The spans of `trace_id` once one named `name` has arrived (spans are exported in batches)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                spans = [span for span in self.spans if span.trace_id == trace_id]
            if any(span.name == name for span in spans) or time.monotonic() > deadline:
                return spans
            time.sleep(0.05)
