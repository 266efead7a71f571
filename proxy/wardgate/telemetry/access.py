"""The end of one request: its span's GenAI attributes, then one JSON access-log line under its trace ids."""

from __future__ import annotations

import logging

from wardgate.pipeline.context import RequestContext
from wardgate.telemetry.tracing import RequestTrace

__all__ = ["finish_request"]

access_logger = logging.getLogger("wardgate.access")

# GenAI semantic conventions' operation names, by endpoint kind.
_OPERATIONS = {"chat": "chat", "messages": "chat", "responses": "chat", "completion": "text_completion",
               "embeddings": "embeddings", "generate_content": "generate_content", "converse": "chat"}  # fmt: skip


def finish_request(
    request_trace: RequestTrace, ctx: RequestContext, status: int | None, error: str | None, *, log: bool
) -> None:
    """End the request's span (once) and, with `log`, write its access-log line."""
    tenant = ctx.identity.get("tenant")
    model = ctx.found.identifier(ctx.model)  # as the audit records it
    attributes = {"gen_ai.provider.name": ctx.provider, "gen_ai.system": ctx.provider,
                  "gen_ai.operation.name": _OPERATIONS.get(ctx.endpoint), "gen_ai.request.model": model,
                  "wardgate.decision_id": ctx.decision_id, "wardgate.tenant": tenant,
                  "wardgate.decision": ctx.decision}  # fmt: skip
    request_trace.span.set_attributes({key: value for key, value in attributes.items() if value is not None})
    duration = request_trace.end(status, error)
    if not log:
        return
    upstream = request_trace.upstream_ms
    with request_trace.active():  # the line carries the request's trace_id and span_id
        access_logger.info(
            "access",
            extra={"method": ctx.method, "path": ctx.path, "status": status, "tenant": tenant,
                   "decision": ctx.decision, "decision_id": ctx.decision_id, "duration_ms": duration,
                   "upstream_ms": upstream,
                   "wardgate_ms": round(duration - upstream, 3) if upstream is not None else duration},
        )  # fmt: skip
