"""Model inference: ONNX Runtime sessions (CUDA → CPU), tokenizers, windows, and batching across requests."""

from wardgate.inference.batching import DynamicBatcher
from wardgate.inference.classifier import SequenceClassifier
from wardgate.inference.model_dir import ModelConfig, TaggerConfig, read_model_config
from wardgate.inference.session import create_session
from wardgate.inference.tagger import EntitySpan, TokenClassifier

__all__ = [
    "DynamicBatcher",
    "EntitySpan",
    "ModelConfig",
    "SequenceClassifier",
    "TaggerConfig",
    "TokenClassifier",
    "create_session",
    "read_model_config",
]
