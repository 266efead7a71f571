"""A sequence-classification model directory: Wardgate's own `config.json`, or any Hugging Face-style export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from wardgate.errors import ConfigError

__all__ = ["ModelConfig", "read_model_config"]


class ModelConfig(BaseModel):
    """What Wardgate needs to run a classifier. Hugging Face's `config.json` keys are mapped in."""

    model_file: str = "model.int8.onnx"
    tokenizer_file: str = "tokenizer.json"
    labels: list[str] = Field(min_length=2)
    positive_label: str
    max_length: int = Field(512, ge=8, le=8192, description="Tokens per window, special tokens included.")
    stride: int = Field(64, ge=0, description="Tokens shared by neighbouring windows.")
    threshold: float = Field(0.5, ge=0, le=1)

    @property
    def positive_index(self) -> int:
        return self.labels.index(self.positive_label)


def read_model_config(directory: Path, **overrides: Any) -> ModelConfig:
    """Read `directory/config.json`; `overrides` (from Wardgate's config) win, e.g. `positive_label="INJECTION"`."""
    path = directory / "config.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"model directory {directory}: cannot read config.json: {exc}") from exc
    if "labels" not in raw and isinstance(raw.get("id2label"), dict):
        raw["labels"] = [raw["id2label"][key] for key in sorted(raw["id2label"], key=int)]
    if "max_length" not in raw and isinstance(raw.get("max_position_embeddings"), int):
        raw["max_length"] = min(raw["max_position_embeddings"], 512)
    if "model_file" not in raw and not (directory / "model.int8.onnx").exists():
        raw["model_file"] = "model.onnx"
    fields = {key: value for key, value in {**raw, **overrides}.items() if key in ModelConfig.model_fields}
    try:
        config = ModelConfig.model_validate(fields)
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise ConfigError(
            f"model directory {directory}: {'.'.join(map(str, problem['loc']))}: {problem['msg']}"
        ) from exc
    if config.positive_label not in config.labels:
        raise ConfigError(
            f"model directory {directory}: positive label {config.positive_label!r} not in {config.labels}"
        )
    if config.stride >= config.max_length - 2:
        raise ConfigError(f"model directory {directory}: stride must be smaller than max_length")
    return config
