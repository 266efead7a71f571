"""ONNX Runtime sessions: CUDA when onnxruntime-gpu and a GPU are present, CPU otherwise (and say which)."""

from __future__ import annotations

import logging
from pathlib import Path

import onnxruntime as ort

from wardgate.errors import InferenceError

__all__ = ["create_session"]

logger = logging.getLogger(__name__)


def create_session(model_file: Path, *, device: str = "auto", threads: int = 0) -> ort.InferenceSession:
    """`device`: `auto` (CUDA if available), `cuda` (required) or `cpu`. `threads` 0 lets ORT choose."""
    available = ort.get_available_providers()
    if device == "cuda" and "CUDAExecutionProvider" not in available:
        raise InferenceError(f"device `cuda` requested but onnxruntime offers only {available}")
    use_cuda = device in ("auto", "cuda") and "CUDAExecutionProvider" in available
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if use_cuda else ["CPUExecutionProvider"]
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(str(model_file), options, providers=providers)
    except Exception as exc:  # ORT raises its own exception types for missing, corrupt or incompatible files
        raise InferenceError(f"cannot load ONNX model {model_file}: {exc}") from exc
    logger.info("loaded %s on %s", model_file.name, session.get_providers()[0])
    return session
