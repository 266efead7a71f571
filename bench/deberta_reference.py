"""Reference models for bench/injection_latency.py (runs in the training venv: needs torch + transformers).

Builds DeBERTa-v3-base-sized sequence classifiers from a config with random weights (no download; latency does
not depend on the weights), exports fp32 ONNX, folds the Transpose/Identity views the exporter puts over weights
(so dynamic int8 quantisation sees every MatMul weight as a constant), quantises to int8, and times PyTorch eager.
Usage: python bench/deberta_reference.py --out bench/.cache [--iterations 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import DebertaV2Config, DebertaV2ForSequenceClassification

# microsoft/deberta-v3-base's architecture (LLM Guard's default prompt-injection model is a fine-tune of it).
DEBERTA_V3_BASE = {
    "vocab_size": 128100,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "max_position_embeddings": 512,
    "type_vocab_size": 0,
    "layer_norm_eps": 1e-7,
    "relative_attention": True,
    "max_relative_positions": -1,
    "position_buckets": 256,
    "norm_rel_ebd": "layer_norm",
    "share_att_key": True,
    "pos_att_type": ["p2c", "c2p"],
    "position_biased_input": False,
    "pad_token_id": 0,
    "num_labels": 2,
}


def fold_weight_views(path: Path) -> int:
    """Replace Transpose(initializer) and Identity(initializer) with a constant of their own.

    The exporter routes some weights through such nodes (Identity for DeBERTa's shared relative-position key
    projection); dynamic quantisation only quantises MatMuls whose weight input is a constant, so without this
    those matrices would stay fp32. Returns how many were folded.
    """
    model = onnx.load(str(path))
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    folded = 0
    for node in list(graph.node):
        if node.op_type not in ("Transpose", "Identity") or node.input[0] not in initializers:
            continue
        array = numpy_helper.to_array(initializers[node.input[0]])
        if node.op_type == "Transpose":
            perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
            array = np.transpose(array, perm) if perm else array.T
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(array), node.output[0]))
        graph.node.remove(node)
        folded += 1
    used = {name for node in graph.node for name in node.input}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)
    onnx.save(model, str(path))
    return folded


def eager_latency(model: torch.nn.Module, length: int, iterations: int) -> dict[str, float]:
    ids = torch.randint(1000, 30000, (1, length))
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        model(input_ids=ids, attention_mask=mask)
        times = []
        for _ in range(iterations):
            started = time.perf_counter()
            model(input_ids=ids, attention_mask=mask)
            times.append(time.perf_counter() - started)
    return {"p50_ms": round(statistics.median(times) * 1000, 2), "p99_ms": round(max(times) * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    model = DebertaV2ForSequenceClassification(DebertaV2Config(**DEBERTA_V3_BASE)).eval()

    fp32 = args.out / "deberta-v3-base.onnx"
    int8 = args.out / "deberta-v3-base.int8.onnx"
    sample = torch.randint(1000, 2000, (2, 16))
    dynamic = {0: "batch", 1: "sequence"}
    torch.onnx.export(
        model, (sample, torch.ones_like(sample)), str(fp32), input_names=["input_ids", "attention_mask"],
        output_names=["logits"], dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "logits": {0: "batch"}},
        opset_version=17, dynamo=False,
    )  # fmt: skip
    folded = fold_weight_views(fp32)
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    report = {
        "onnx": {"fp32": str(fp32), "int8": str(int8), "folded_weight_views": folded},
        "pytorch_eager": {str(length): eager_latency(model, length, args.iterations) for length in (128, 512)},
        "threads": args.threads,
        "torch": torch.__version__,
    }
    (args.out / "deberta_reference.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
