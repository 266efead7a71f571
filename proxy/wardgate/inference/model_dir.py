"""A model directory: Wardgate's own `config.json`, or any Hugging Face-style ONNX export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from wardgate.errors import ConfigError

__all__ = ["ModelConfig", "OperatingPoint", "TaggerConfig", "read_model_config"]

# Hugging Face NER exports tag PER/LOC/ORG (CoNLL) or PERSON/…; Presidio names the same entities like this.
_DEFAULT_ENTITIES = {
    "PER": "PERSON",
    "PERSON": "PERSON",
    "LOC": "LOCATION",
    "LOCATION": "LOCATION",
    "GPE": "LOCATION",
    "ORG": "ORGANIZATION",
    "ORGANIZATION": "ORGANIZATION",
}


class _EncoderConfig(BaseModel):
    """What every encoder model directory needs: files, labels, and how long texts are windowed."""

    model_file: str = "model.int8.onnx"
    cuda_model_file: str | None = Field(None, description="Graph served instead when the session runs on CUDA.")
    tokenizer_file: str = "tokenizer.json"
    labels: list[str] = Field(min_length=2)
    max_length: int = Field(512, ge=8, le=8192, description="Tokens per window, special tokens included.")
    stride: int = Field(64, ge=0, description="Tokens shared by neighbouring windows.")

    @model_validator(mode="after")
    def _stride_fits(self) -> _EncoderConfig:
        if self.stride >= self.max_length - 2:
            raise ValueError("stride must be smaller than max_length")
        return self


OperatingPoint = Literal["user", "document"]


class ModelConfig(_EncoderConfig):
    """A sequence classifier: which labels are the positive class and where its verdict line is."""

    # A list adds its labels' probabilities: Prompt Guard's [INJECTION, JAILBREAK] is "anything but BENIGN".
    positive_label: str | list[str] = Field(min_length=1)
    threshold: float = Field(0.5, ge=0, le=1)
    # Operating points chosen on validation per kind of text: what a user types vs a document or tool result (a
    # benign document uses imperative, instruction-like language far more often). Empty: `threshold` for all.
    role_thresholds: dict[OperatingPoint, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)
    # A text of several sentences that the windows flag (at the model's lowest line) is scored again one sentence at
    # a time and keeps the lower score (inference/classifier.py).
    confirm_by_sentence: bool = False

    @property
    def lowest_line(self) -> float:
        return min([self.threshold, *self.role_thresholds.values()])

    def threshold_at(self, point: OperatingPoint) -> float:
        """The verdict line for this kind of text: its own operating point, else the model's one threshold."""
        return self.role_thresholds.get(point, self.threshold)

    @model_validator(mode="after")
    def _positive_are_labels(self) -> ModelConfig:
        for label in self.positive_labels:
            if label not in self.labels:
                raise ValueError(f"positive label {label!r} not in {self.labels}")
        return self

    @property
    def positive_labels(self) -> list[str]:
        return [self.positive_label] if isinstance(self.positive_label, str) else self.positive_label

    @property
    def positive_indices(self) -> list[int]:
        return [self.labels.index(label) for label in self.positive_labels]


class TaggerConfig(_EncoderConfig):
    """A BIO token classifier: tag types (`PER` in `B-PER`) map to entity names; unmapped types are dropped."""

    entities: dict[str, str] = Field(default_factory=lambda: dict(_DEFAULT_ENTITIES))
    threshold: float = Field(0.5, ge=0, le=1, description="Entities whose mean token probability is lower are dropped.")


def read_model_config[C: _EncoderConfig](directory: Path, schema: type[C], **overrides: Any) -> C:
    """Read `directory/config.json` as `schema`; `overrides` (from Wardgate's config) win."""
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
    if "cuda_model_file" not in raw and (directory / "model.onnx").exists():
        raw["cuda_model_file"] = "model.onnx"  # the fp32 graph: see EncoderModel._open_session
    fields = {key: value for key, value in {**raw, **overrides}.items() if key in schema.model_fields}
    try:
        return schema.model_validate(fields)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(map(str, problem["loc"]))
        raise ConfigError(f"model directory {directory}: {where + ': ' if where else ''}{problem['msg']}") from exc
