"""Wardgate's error tree.

    WardgateError            exit_code 1, status 500
    ├── ConfigError          exit_code 2: bad configuration, found at start-up
    ├── PolicyError          status 503: the policy engine failed, timed out or gave no decision
    ├── ScannerError         status 503: a scanner could not scan
    ├── InferenceError       status 503: a model could not be loaded or run
    └── AuditError           status 503: the audit trail could not be written or is broken

Third-party errors are translated at the boundary with ``raise ... from exc``; a blocked request is a
`Decision`, never an exception, because it is audited like any other decision.
"""

from typing import ClassVar

__all__ = ["AuditError", "ConfigError", "InferenceError", "PolicyError", "ScannerError", "WardgateError"]


class WardgateError(Exception):
    exit_code: ClassVar[int] = 1
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"


class ConfigError(WardgateError):
    exit_code = 2
    code = "config_error"


class PolicyError(WardgateError):
    status = 503
    code = "policy_engine_error"


class ScannerError(WardgateError):
    status = 503
    code = "scanner_error"


class InferenceError(WardgateError):
    status = 503
    code = "inference_error"


class AuditError(WardgateError):
    status = 503
    code = "audit_error"
