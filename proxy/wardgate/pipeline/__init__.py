"""The orchestration of one phase of one request: scan → decide → enforce → audit."""

from wardgate.pipeline.context import RequestContext
from wardgate.pipeline.guard import Guard, Verdict
from wardgate.pipeline.masking import Masker, build_masker
from wardgate.pipeline.stream import StreamGuard
from wardgate.pipeline.stream_judge import StreamJudge, guarded_stream
from wardgate.pipeline.vault import Vault, VaultStore

__all__ = [
    "Guard",
    "Masker",
    "RequestContext",
    "StreamGuard",
    "StreamJudge",
    "Vault",
    "VaultStore",
    "Verdict",
    "build_masker",
    "guarded_stream",
]
