"""Operational logs: structlog JSON on stderr (stdout carries the ready line, or with audit.stdout the audit trail)."""

from __future__ import annotations

import logging
import sys

import structlog
from opentelemetry import trace
from structlog.typing import EventDict

from wardgate.audit.redaction import scrubbed, unquoted

__all__ = ["configure_logging"]


class _MitmproxyWords(logging.Filter):
    """mitmproxy's messages quote what clients and upstreams sent: bytes, a TLS SNI ("…does not trust the proxy's
    certificate for AKIA….example"), a host. Logged as they came, a key or an address reached the operator's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("mitmproxy"):
            record.msg, record.args = scrubbed(unquoted(record.getMessage())), None
        return True


def _trace_ids(logger: object, method_name: str, event_dict: EventDict) -> EventDict:
    """The current span's ids: every line logged while a request is handled names its trace (telemetry/tracing)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


def configure_logging(level: str = "INFO") -> None:
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        # ExtraAdder: the fields a record carries in `extra` (the access log's) become JSON keys.
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            _trace_ids,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(_MitmproxyWords())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # mitmproxy logs every connection at INFO; that is debugging detail for a sidecar.
    logging.getLogger("mitmproxy").setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING)
