"""The int8 recipe (models/train/quantize.py) on a small encoder-shaped graph built here: embedding, FFN with the
exporter's erf GELU, projection. Needs onnx (test extra) and ONNX Runtime, not torch."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic

from wardgate.inference.session import create_session

QUANTIZE = Path(__file__).resolve().parents[2] / "models" / "train" / "quantize.py"
VOCAB, WIDTH, HIDDEN, OUT = 50, 32, 64, 8
OUTLIER_ID = 7  # a [CLS]-like token: two dimensions of its input reach 25 (others ~1), as MiniLM's dimension 99


@pytest.fixture(scope="module")
def quantize() -> ModuleType:
    spec = importlib.util.spec_from_file_location("quantize", QUANTIZE)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def encoder_graph(path: Path) -> None:
    """ids -> embedding + b0 (+ spike at OUTLIER_ID) -> x W1 + b1 -> erf GELU -> h W2 + b2, written as
    torch.onnx.export writes a BERT layer (opset 17)."""
    rng = np.random.default_rng(0)
    spike = np.zeros(WIDTH, np.float32)
    spike[[3, 17]] = 25
    weights = {
        "table": rng.normal(0, 0.5, (VOCAB, WIDTH)).astype(np.float32),
        "outlier_id": np.array(OUTLIER_ID, np.int64),
        "spike": spike,
        "last_axis": np.array([-1], np.int64),
        "b0": rng.normal(0, 0.1, WIDTH).astype(np.float32),
        "w1": rng.normal(0, 0.3, (WIDTH, HIDDEN)).astype(np.float32),
        "b1": rng.normal(0, 0.1, HIDDEN).astype(np.float32),
        "w2": rng.normal(0, 0.3, (HIDDEN, OUT)).astype(np.float32),
        "b2": rng.normal(0, 0.1, OUT).astype(np.float32),
        "sqrt2": np.array(np.sqrt(2), np.float32),
        "one": np.array(1, np.float32),
        "half": np.array(0.5, np.float32),
    }
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["embedded"]),
        helper.make_node("Add", ["embedded", "b0"], ["shifted"]),
        helper.make_node("Equal", ["input_ids", "outlier_id"], ["is_outlier"]),
        helper.make_node("Cast", ["is_outlier"], ["outlier"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["outlier", "last_axis"], ["outlier_column"]),
        helper.make_node("Mul", ["outlier_column", "spike"], ["spikes"]),
        helper.make_node("Add", ["shifted", "spikes"], ["x"]),
        helper.make_node("MatMul", ["x", "w1"], ["up"]),
        helper.make_node("Add", ["b1", "up"], ["pre"]),
        helper.make_node("Div", ["pre", "sqrt2"], ["scaled"]),
        helper.make_node("Erf", ["scaled"], ["erf"]),
        helper.make_node("Add", ["erf", "one"], ["erf1"]),
        helper.make_node("Mul", ["pre", "erf1"], ["gelu2"]),
        helper.make_node("Mul", ["gelu2", "half"], ["gelu"]),
        helper.make_node("MatMul", ["gelu", "w2"], ["down"]),
        helper.make_node("Add", ["b2", "down"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "sequence", OUT])],
        [numpy_helper.from_array(value, name) for name, value in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(path))


def feed(ids: np.ndarray) -> dict[str, np.ndarray]:
    return {"input_ids": ids, "attention_mask": np.ones_like(ids)}


def run(path: Path, ids: np.ndarray) -> np.ndarray:
    session = create_session(path, device="cpu")  # as served: exact int8 kernels where the fast ones saturate
    return session.run(None, {i.name: feed(ids)[i.name] for i in session.get_inputs()})[0]


@pytest.fixture(scope="module")
def models(quantize, tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("int8")
    paths = {name: directory / f"{name}.onnx" for name in ("fp32", "per_tensor", "per_row")}
    encoder_graph(paths["fp32"])
    quantize_dynamic(str(paths["fp32"]), str(paths["per_tensor"]), weight_type=QuantType.QInt8, per_channel=True)
    rng = np.random.default_rng(1)
    calibration = [feed(rng.integers(0, VOCAB, (8, 12))) for _ in range(4)]
    quantize.quantize_int8(paths["fp32"], paths["per_row"], calibration)
    return paths


ORDINARY = np.array([[3, 9, 14, 21, 30, 41, 2, 5]])
WITH_OUTLIER = np.array([[OUTLIER_ID, 9, 14, 21, 30, 41, 2, 5]])


def test_per_row_int8_tracks_fp32_where_per_tensor_loses_the_other_tokens(models):
    reference = run(models["fp32"], WITH_OUTLIER)[0, 1:]
    per_tensor = np.abs(run(models["per_tensor"], WITH_OUTLIER)[0, 1:] - reference).mean()
    per_row = np.abs(run(models["per_row"], WITH_OUTLIER)[0, 1:] - reference).mean()
    assert per_row < 0.02 * np.abs(reference).mean()
    assert per_row < per_tensor / 4, (per_row, per_tensor)


def test_a_row_scores_the_same_alone_and_beside_an_outlier(models):
    together = run(models["per_row"], np.concatenate([ORDINARY, WITH_OUTLIER]))
    assert np.array_equal(together[0], run(models["per_row"], ORDINARY)[0])
    # the per-tensor graph lets the outlier's batch-mate set everyone's step
    shared = run(models["per_tensor"], np.concatenate([ORDINARY, WITH_OUTLIER]))
    assert not np.allclose(shared[0], run(models["per_tensor"], ORDINARY)[0], atol=1e-3)


def test_gelu_input_is_shifted_and_the_shift_leaves_the_bias(models):
    graph = onnx.load(str(models["per_row"])).graph
    shifted = [node for node in graph.node if node.op_type == "Add" and "row_quant_gelu_shift" in node.input]
    assert len(shifted) == 1
    assert shifted[0].input[0] == "gelu"
    # without the fold every logit would be off by 0.17 * its weight column sum (up to 1.1 here); with it, under 0.05
    assert np.abs(run(models["per_row"], ORDINARY) - run(models["fp32"], ORDINARY)).max() < 0.1


def test_gptq_rounds_to_the_same_grid_with_less_output_error(quantize):
    rng = np.random.default_rng(2)
    mixing = rng.normal(size=(WIDTH, WIDTH))
    x = rng.normal(size=(500, WIDTH)) @ mixing  # correlated inputs, as real activations are
    weight = rng.normal(0, 0.3, (WIDTH, HIDDEN))
    scale = np.abs(weight).max(axis=0) / 127
    rounded = quantize.gptq(weight, scale, x.T @ x)
    nearest = np.clip(np.round(weight / scale), -127, 127)
    assert rounded.dtype == np.int8
    assert np.abs(rounded.astype(int)).max() <= 127

    def output_error(q: np.ndarray) -> float:
        return float(np.square(x @ (weight - q * scale)).mean())

    assert output_error(rounded) < 0.7 * output_error(nearest)


def test_embedding_table_gets_one_scale_per_column(models):
    shipped = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(models["per_row"])).graph.initializer}
    table = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(models["fp32"])).graph.initializer}["table"]
    assert "table" not in shipped  # only the int8 copy ships
    scale = shipped["table_scale"]
    assert scale == pytest.approx(np.abs(table).max(axis=0) / 127)
    assert np.all(np.abs(shipped["table_quantized"] * scale - table) <= scale / 2 + 1e-7)
