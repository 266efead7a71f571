"""Turn the shipped int8 multilingual graph (models/injection-ml/model.int8.onnx) back into a run folder for `--init`.

A continuation on 2 CPU cores starts from the previous round's weights, but a session keeps only what is committed:
the int8 graph. Its weights dequantised ((q - zero point) x per-channel scale, the GELU shift taken back out of the
FFN biases) are the weights the shipped model computes with, so training continues from what was validated. The
word embeddings are left out, as in every run (frozen; the trimmed base supplies them for the current vocabulary).
Usage: python run_from_onnx.py ../injection-ml/model.int8.onnx --out ../../build/runs/shipped
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
import torch
from e5_q4 import WORDS
from gpu_train import save_shards
from onnx import numpy_helper
from quantize import GELU_MIN

# The activation zero point of a GELU output quantised after its shift by -GELU_MIN (quantize.activations_per_row).
GELU_SHIFTED_ZERO_POINT = "row_quant_zero_point_0"

_EMBEDDINGS = ("bert.embeddings.position_embeddings.weight", "bert.embeddings.token_type_embeddings.weight")


def dequantised(weights: dict[str, np.ndarray], stem: str) -> np.ndarray:
    """`stem`_quantized with its per-channel (last axis) scale and zero point, as float32."""
    q = weights[f"{stem}_quantized"].astype(np.float32)
    return (q - weights[f"{stem}_zero_point"].astype(np.float32)) * weights[f"{stem}_scale"]


def state_from_int8(graph: onnx.GraphProto) -> dict[str, torch.Tensor]:
    weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    state = {name: value for name, value in weights.items() if name.endswith((".bias", ".weight"))}
    for name in _EMBEDDINGS:
        state[name] = dequantised(weights, name)
    for node in graph.node:
        if node.op_type == "MatMulIntegerToFloat":
            # "/bert/encoder/layer.0/output/dense/MatMul_quant" -> "bert.encoder.layer.0.output.dense.weight"
            module = node.name.strip("/").rsplit("/", 1)[0].replace("/", ".")
            weight = dequantised(weights, node.input[1].removesuffix("_quantized"))  # [in, out]
            state[f"{module}.weight"] = weight.T  # Linear's [out, in]
            if node.input[4] == GELU_SHIFTED_ZERO_POINT:  # quantize.py folded the GELU shift into the bias: undo it
                state[f"{module}.bias"] = state[f"{module}.bias"] - GELU_MIN * weight.sum(axis=0)
    state.pop(WORDS, None)
    return {name: torch.tensor(np.ascontiguousarray(value)) for name, value in state.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("graph", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    state = state_from_int8(onnx.load(str(args.graph)).graph)
    args.out.mkdir(parents=True, exist_ok=True)
    shards = save_shards(state, args.out)
    (args.out / "metrics.json").write_text(json.dumps({"shards": shards, "from": str(args.graph)}, indent=1) + "\n")
    print(json.dumps({"tensors": len(state), "shards": shards}))


if __name__ == "__main__":
    main()
