"""Audit trail: one hash-chained JSON event per decision, never holding raw text or secrets."""

from wardgate.audit.chain import GENESIS, canonical_json, event_hash
from wardgate.audit.log import AuditLog
from wardgate.audit.sink import rotated_files
from wardgate.audit.verify import VerifyResult, verify_files

__all__ = ["GENESIS", "AuditLog", "VerifyResult", "canonical_json", "event_hash", "rotated_files", "verify_files"]
