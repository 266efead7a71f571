"""Model inference: ONNX Runtime sessions (CUDA → CPU), tokenizers, windows, and batching across requests."""

from wardgate.inference.batching import DynamicBatcher
from wardgate.inference.classifier import SequenceClassifier
from wardgate.inference.model_dir import ModelConfig, read_model_config
from wardgate.inference.session import create_session

__all__ = ["DynamicBatcher", "ModelConfig", "SequenceClassifier", "create_session", "read_model_config"]
