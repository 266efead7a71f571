"""Error bodies in each provider's own shape, so client SDKs raise their usual typed errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["error_body"]

_OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error", 408: "invalid_request_error",
                 413: "invalid_request_error", 429: "rate_limit_error", 431: "invalid_request_error"}  # fmt: skip
_GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 408: "DEADLINE_EXCEEDED",
                  413: "INVALID_ARGUMENT", 415: "INVALID_ARGUMENT", 421: "FAILED_PRECONDITION",
                  429: "RESOURCE_EXHAUSTED", 431: "INVALID_ARGUMENT", 502: "UNAVAILABLE",
                  503: "UNAVAILABLE"}  # fmt: skip
_BEDROCK_TYPES = {400: "ValidationException", 401: "UnrecognizedClientException", 403: "AccessDeniedException",
                  408: "ValidationException", 413: "ValidationException", 415: "ValidationException",
                  429: "ThrottlingException", 431: "ValidationException", 502: "ServiceUnavailableException",
                  503: "ServiceUnavailableException"}  # fmt: skip
_ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                    408: "timeout_error", 413: "request_too_large", 429: "rate_limit_error", 431: "request_too_large",
                    503: "overloaded_error"}  # fmt: skip


def error_body(provider: str, status: int, code: str, message: str, details: Mapping[str, Any]) -> dict[str, Any]:
    """`details` (decision id, reason codes) ride inside the error object, where SDKs expose it as `body`."""
    if provider == "anthropic":
        error_type = _ANTHROPIC_TYPES.get(status, "api_error")
        return {
            "type": "error",
            "error": {"type": error_type, "message": message, "wardgate": {"code": code, **details}},
        }
    if provider == "google":
        # google.rpc.Status, as Gemini answers errors; the SDKs read `error.message` and `error.status`.
        status_name = _GOOGLE_STATUS.get(status, "INTERNAL")
        return {"error": {"code": status, "message": message, "status": status_name, "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": code, "domain": "wardgate",
             "metadata": {key: str(value) for key, value in details.items()}}]}}  # fmt: skip
    if provider == "bedrock":
        # AWS JSON errors: boto3 reads the type from `__type` and raises it with `message`.
        error_type = _BEDROCK_TYPES.get(status, "InternalServerException")
        return {"__type": error_type, "message": message, "wardgate": {"code": code, **details}}
    if provider == "cohere":
        # Cohere's errors: the SDK raises by status and exposes the body.
        return {"message": message, "wardgate": {"code": code, **details}}
    if provider == "ollama":
        # Ollama's clients raise with the `error` string.
        return {"error": message, "wardgate": {"code": code, **details}}
    error_type = _OPENAI_TYPES.get(status, "permission_error" if status == 403 else "server_error")
    return {"error": {"message": message, "type": error_type, "param": None, "code": code, "wardgate": dict(details)}}
