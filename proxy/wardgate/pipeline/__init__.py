"""The orchestration of one phase of one request: scan → decide → enforce → audit."""

from wardgate.pipeline.context import RequestContext
from wardgate.pipeline.guard import Guard, Verdict

__all__ = ["Guard", "RequestContext", "Verdict"]
