"""ONNX Runtime sessions: CUDA when onnxruntime-gpu and a GPU are present, CPU otherwise (and say which)."""

from __future__ import annotations

import functools
import logging
import platform
from pathlib import Path

import onnxruntime as ort

from wardgate.errors import InferenceError

__all__ = ["create_session", "cuda_offered", "fast_int8_is_exact", "on_cuda"]

logger = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
# ONNX Runtime's pool threads spin on the CPU between and after runs, waiting for the next piece of work, by default.
# In a proxy that runs one short forward pass per request, the spinning was billed as CPU (measured: an injection
# session with two threads took 91 ms of CPU per 1 KB request in the proxy vs 31 ms in-process with one thread) and
# took the core from the other scanners; blocking waits cost a few microseconds of wake-up per pass instead.
#
# On x86 CPUs without VNNI (AVX2 or AVX-512 alone) ONNX Runtime's fast int8 kernels add pairs of u8 x s8 products in
# 16 bits, which saturates: measured on an AVX2-only EPYC, the English PII tagger named ".連絡先はtanaka" a person at
# 0.53, and the int8 recipe's outlier test lost its per-row precision. `x64quantprecision` takes the exact kernels
# there: the injection model's decisions on 372 dev-v2 rows then all matched the fp32 graph's (one differed with the
# fast kernels), for ~15% more CPU per text on that machine. VNNI's dot products accumulate in 32 bits, so the fast
# kernels are exact there, and the option is not asked for: on a 2-core AVX512-VNNI AMD EPYC it made a 128-token
# window of the English model 1.77x as costly (12.7 → 22.5 ms of CPU, one thread) for the same outputs.
_SESSION_CONFIG = {
    "session.intra_op.allow_spinning": "0",
    "session.inter_op.allow_spinning": "0",
}
_EXACT_INT8 = {"session.x64quantprecision": "1"}
_INT8_DOT_PRODUCT = {"avx512_vnni", "avx_vnni", "amx_int8"}


def fast_int8_is_exact(machine: str, cpuinfo: str | None) -> bool:
    """Whether ONNX Runtime's fast int8 kernels are exact on a CPU of this `platform.machine()` and /proc/cpuinfo
    text: not x86, or x86 with VNNI. Flags that cannot be read count as no VNNI (the exact kernels cost more CPU,
    never a wrong answer)."""
    if machine.lower() not in ("x86_64", "amd64", "i386", "i686"):
        return True
    lines = (cpuinfo or "").splitlines()
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    return bool(_INT8_DOT_PRODUCT & set(flags))


@functools.cache
def _session_config() -> dict[str, str]:
    try:
        cpuinfo: str | None = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = None
    return _SESSION_CONFIG if fast_int8_is_exact(platform.machine(), cpuinfo) else _SESSION_CONFIG | _EXACT_INT8


def cuda_offered(device: str) -> bool:
    """Whether `device` asks for CUDA and this onnxruntime build has it (a build is not a GPU: see `on_cuda`)."""
    available = ort.get_available_providers()
    if device == "cuda" and CUDA not in available:
        raise InferenceError(f"device `cuda` requested but onnxruntime offers only {available}")
    return device in ("auto", "cuda") and CUDA in available


def on_cuda(session: ort.InferenceSession) -> bool:
    return bool(session.get_providers()[0] == CUDA)


def create_session(model_file: Path, *, device: str = "auto", threads: int = 0) -> ort.InferenceSession:
    """`device`: `auto` (CUDA if available), `cuda` (required) or `cpu`. `threads` 0 lets ORT choose."""
    providers = [CUDA, "CPUExecutionProvider"] if cuda_offered(device) else ["CPUExecutionProvider"]
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    for key, value in _session_config().items():
        options.add_session_config_entry(key, value)
    try:
        session = ort.InferenceSession(str(model_file), options, providers=providers)
    except Exception as exc:  # ORT raises its own exception types for missing, corrupt or incompatible files
        raise InferenceError(f"cannot load ONNX model {model_file}: {exc}") from exc
    # onnxruntime-gpu lists CUDA on a host without a usable GPU and then quietly starts on the CPU.
    if device == "cuda" and not on_cuda(session):
        raise InferenceError(f"device `cuda` requested but the CUDA provider did not start for {model_file.name}")
    logger.info("loaded %s on %s", model_file.name, session.get_providers()[0])
    return session
