"""Int8 for an exported encoder: ONNX Runtime's dynamic quantisation, then three repairs measured on run 8.

`quantize_dynamic` alone gives every activation tensor one scale for the whole batch and every embedding table one
scale. In MiniLM the [CLS] position carries outliers (dimension 99 after the LayerNorms reaches 6-30, post-GELU up
to 25, against 2-4 for the 99.9th percentile of ordinary tokens), and padding reaches 25: every other token is
rounded 3-10 times too coarsely, and a text's score depends on what else is in its batch. So:

1. weights: the same per-channel int8 scales, but the values rounded by GPTQ (each input dimension's rounding error
   is pushed onto the dimensions not yet rounded, weighted by calibration activations) instead of to nearest;
2. embedding tables: symmetric int8 with one scale per column instead of one per table;
3. activations: one scale per row (token) instead of per tensor, so no token sets another's step and a text
   scores the same alone or in any batch.

Measured (models/train/EXPERIMENTS.md, "Per-token int8"): the mean |int8 - fp32| score on the PAIR dev file fell
from 0.034 to 0.007 and verdict agreement rose to >= 0.99 on every dev file, for ~1.2 ms more at 128 tokens.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper, version_converter
from onnxruntime.quantization import QuantType, quantize_dynamic

Feed = dict[str, np.ndarray]
# Blocked QuantizeLinear (one scale per row of the last axis) needs opset 21; ONNX Runtime 1.31 reads IR 10.
OPSET, IR_VERSION = 21, 10
GELU_MIN = -0.17  # min of x * Phi(x) is -0.16997, at x = -0.7518


def quantize_int8(raw: Path, int8: Path, calibration: Iterable[Feed]) -> None:
    """Quantise the plain fp32 export `raw` into `int8`; `calibration` feeds drive the weight rounding."""
    quantize_dynamic(str(raw), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    fp32, model = onnx.load(str(raw)), onnx.load(str(int8))
    arrays = {tensor.name: numpy_helper.to_array(tensor) for tensor in fp32.graph.initializer}
    round_weights_gptq(model, matmul_weights(fp32.graph, arrays), input_gram_matrices(fp32, calibration))
    embeddings_per_column(model, arrays)
    model = activations_per_row(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(int8))


def matmul_weights(graph: onnx.GraphProto, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each constant MatMul/Gemm weight as [in, out] (the layout quantize_dynamic stores), by initializer name."""
    weights = {}
    for node in graph.node:
        if node.op_type in ("MatMul", "Gemm") and node.input[1] in arrays:
            transposed = any(a.name == "transB" and a.i for a in node.attribute)
            weights[node.input[1]] = arrays[node.input[1]].T if transposed else arrays[node.input[1]]
    return weights


def input_gram_matrices(fp32: onnx.ModelProto, calibration: Iterable[Feed]) -> dict[str, np.ndarray]:
    """X^T X of the input X of every MatMul with a constant weight, over the calibration tokens (padding left out)."""
    constant = {tensor.name for tensor in fp32.graph.initializer}
    names = sorted({n.input[0] for n in fp32.graph.node if n.op_type in ("MatMul", "Gemm") and n.input[1] in constant})
    probe = onnx.ModelProto()
    probe.CopyFrom(fp32)
    probe.graph.output.extend(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None) for name in names)
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    grams: dict[str, np.ndarray] = {}
    for feed in calibration:
        real = feed["attention_mask"].astype(bool)
        for name, x in zip(names, session.run(names, feed), strict=True):
            rows = (x[real] if x.ndim == 3 else x).astype(np.float64)
            grams[name] = grams.get(name, 0) + rows.T @ rows
    return grams


def round_weights_gptq(model: onnx.ModelProto, weights: dict[str, np.ndarray], grams: dict[str, np.ndarray]) -> None:
    """Replace each MatMulInteger's int8 weight by GPTQ's rounding on the same per-channel scales."""
    tensors, producers = _lookups(model.graph)
    for node in model.graph.node:
        if node.op_type != "MatMulInteger":
            continue
        quantized = node.input[1]
        source = quantized.removesuffix("_quantized")
        scale = numpy_helper.to_array(tensors[source + "_scale"]).astype(np.float64)
        x = producers[node.input[0]].input[0]  # the DynamicQuantizeLinear's float input
        rounded = gptq(weights[source].astype(np.float64), scale, grams[x])
        tensors[quantized].CopyFrom(numpy_helper.from_array(rounded, quantized))


def gptq(weight: np.ndarray, scale: np.ndarray, gram: np.ndarray, damping: float = 0.01) -> np.ndarray:
    """Symmetric int8 of `weight` [in, out] with per-output `scale`, rounded input row by input row (GPTQ).

    Frantar et al. 2022: after rounding row i, its error is spread over the rows not yet rounded through the
    Cholesky factor of the inverse (damped) Gram matrix, so the layer's output on the calibration inputs moves least.
    """
    weight = weight.copy()
    gram = gram + damping * np.mean(np.diag(gram)) * np.eye(len(gram))
    factor = np.linalg.cholesky(np.linalg.inv(gram)).T
    rounded = np.zeros(weight.shape, dtype=np.int8)
    for i in range(len(weight)):
        rounded[i] = np.clip(np.round(weight[i] / scale), -127, 127)
        error = (weight[i] - rounded[i] * scale) / factor[i, i]
        weight[i + 1 :] -= np.outer(factor[i, i + 1 :], error)
    return rounded


def embeddings_per_column(model: onnx.ModelProto, tables: dict[str, np.ndarray]) -> None:
    """Re-quantise each Gather + DequantizeLinear embedding table as symmetric int8 with one scale per column."""
    tensors, producers = _lookups(model.graph)
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear" or producers[node.input[0]].op_type != "Gather":
            continue
        quantized = producers[node.input[0]].input[0]
        table = tables[quantized.removesuffix("_quantized")]
        scale = np.maximum(np.abs(table).max(axis=0) / 127, np.finfo(np.float32).tiny).astype(np.float32)
        values = np.clip(np.round(table / scale), -127, 127).astype(np.int8)
        tensors[quantized].CopyFrom(numpy_helper.from_array(values, quantized))
        tensors[node.input[1]].CopyFrom(numpy_helper.from_array(scale, node.input[1]))
        tensors[node.input[2]].CopyFrom(numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), node.input[2]))
        node.attribute.append(helper.make_attribute("axis", -1))


def activations_per_row(model: onnx.ModelProto) -> onnx.ModelProto:
    """Replace each DynamicQuantizeLinear (one uint8 scale per tensor) by one symmetric scale per row.

    Row r is quantised as round(x_r / s_r) + 128 with s_r = max|x_r| / 127 (blocked QuantizeLinear), and each
    consumer becomes MatMulIntegerToFloat with a unit activation scale followed by a Mul by s_r. The Mul is written
    out because ONNX Runtime's MatMulIntegerToFloat fusion reads a per-row scale as a scalar (its first element).
    GELU outputs (FFN-down inputs, never below GELU_MIN, mostly near zero) are shifted by -GELU_MIN and quantised
    over [0, max] with zero point 0, twice as fine; the shift times the weight's column sums leaves the bias.
    """
    model = version_converter.convert_version(model, OPSET)
    model.ir_version = IR_VERSION
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    graph = model.graph
    for index, node in enumerate(graph.node):  # nodes are replaced by name below; quantize_dynamic leaves some blank
        node.name = node.name or f"unnamed_{index}"
    tensors, producers = _lookups(graph)
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(1 / 127, np.float32), "row_quant_inv127"),
            numpy_helper.from_array(np.array(np.finfo(np.float32).tiny, np.float32), "row_quant_tiny"),
            numpy_helper.from_array(np.array(1.0, np.float32), "row_quant_one"),
            numpy_helper.from_array(np.array(1 / 255, np.float32), "row_quant_inv255"),
            numpy_helper.from_array(np.array(-GELU_MIN, np.float32), "row_quant_gelu_shift"),
            numpy_helper.from_array(np.array(128, np.uint8), "row_quant_zero_point_128"),
            numpy_helper.from_array(np.array(0, np.uint8), "row_quant_zero_point_0"),
            numpy_helper.from_array(np.array([-1], np.int64), "row_quant_last_axis"),
        ]
    )
    replaced: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        if node.op_type != "DynamicQuantizeLinear":
            continue
        (x,), (quantized, scale, _), name = node.input, node.output, node.name
        width = tensors[consumers[quantized][0].input[1]].dims[0]
        gelu = _is_gelu_output(x, producers)
        if gelu:  # x >= GELU_MIN: shift to >= 0 and spend all 256 levels on [0, max]
            ranged = [
                helper.make_node("Add", [x, "row_quant_gelu_shift"], [f"{name}_shifted"], name=f"{name}_shifted"),
                helper.make_node(
                    "ReduceMax", [f"{name}_shifted", "row_quant_last_axis"], [f"{name}_max"], name=f"{name}_max"
                ),
            ]
            x, levels, zero_point = f"{name}_shifted", "row_quant_inv255", 0
        else:
            ranged = [
                helper.make_node("Abs", [x], [f"{name}_abs"], name=f"{name}_abs"),
                helper.make_node(
                    "ReduceMax", [f"{name}_abs", "row_quant_last_axis"], [f"{name}_max"], name=f"{name}_max"
                ),
            ]
            levels, zero_point = "row_quant_inv127", 128
        replaced[name] = [
            *ranged,
            helper.make_node("Max", [f"{name}_max", "row_quant_tiny"], [f"{name}_range"], name=f"{name}_range"),
            helper.make_node("Mul", [f"{name}_range", levels], [scale], name=f"{name}_scale"),
            helper.make_node("Shape", [scale], [f"{name}_scale_shape"], name=f"{name}_scale_shape"),
            helper.make_node(
                "ConstantOfShape",
                [f"{name}_scale_shape"],
                [f"{name}_zero_point"],
                value=numpy_helper.from_array(np.array([zero_point], np.uint8)),
                name=f"{name}_zero_point",
            ),
            helper.make_node(
                "QuantizeLinear", [x, scale, f"{name}_zero_point"], [quantized], axis=-1, block_size=width, name=name
            ),
        ]
        for matmul in consumers[quantized]:
            (cast,) = consumers[matmul.output[0]]
            (rescale,) = consumers[cast.output[0]]
            scales = producers[rescale.input[1]]  # Mul(activation scale, weight scale)
            if (cast.op_type, rescale.op_type, scales.op_type, scales.input[0]) != ("Cast", "Mul", "Mul", scale):
                raise ValueError(f"{matmul.name}: not quantize_dynamic's MatMulInteger -> Cast -> Mul pattern")
            replaced[matmul.name] = [
                helper.make_node(
                    "MatMulIntegerToFloat",
                    [
                        quantized,
                        matmul.input[1],
                        "row_quant_one",
                        scales.input[1],
                        f"row_quant_zero_point_{zero_point}",
                        matmul.input[3],
                    ],
                    [f"{matmul.name}_float"],
                    domain="com.microsoft",
                    name=matmul.name,
                ),
                helper.make_node("Mul", [f"{matmul.name}_float", scale], [rescale.output[0]], name=rescale.name),
            ]
            replaced[cast.name] = replaced[scales.name] = replaced[rescale.name] = []
            if gelu:
                (add,) = consumers[rescale.output[0]]
                _subtract_shift_from_bias(tensors, add, matmul, scales.input[1])
    nodes = [new for node in graph.node for new in replaced.get(node.name, [node])]
    del graph.node[:]
    graph.node.extend(nodes)
    # The quantized tensors' recorded types and shapes no longer hold. Keeping the others would let ONNX Runtime fuse
    # SkipLayerNormalization again, which measured ~1 ms slower at 128 tokens (EXPERIMENTS.md), so all go.
    del graph.value_info[:]
    return model


def _lookups(graph: onnx.GraphProto) -> tuple[dict[str, onnx.TensorProto], dict[str, onnx.NodeProto]]:
    """Initializers by name, and each tensor's producing node by output name."""
    return {t.name: t for t in graph.initializer}, {output: node for node in graph.node for output in node.output}


def _is_gelu_output(name: str, producers: dict[str, onnx.NodeProto]) -> bool:
    """Whether `name` is the exporter's erf GELU, x * 0.5 * (1 + erf(x / sqrt 2)): an Erf within four nodes up."""
    frontier = [name]
    for _ in range(4):
        nodes = [producers[n] for n in frontier if n in producers]
        if any(node.op_type == "Erf" for node in nodes):
            return True
        frontier = [i for node in nodes if node.op_type in ("Mul", "Add") for i in node.input]
    return False


def _subtract_shift_from_bias(
    tensors: dict[str, onnx.TensorProto], add: onnx.NodeProto, matmul: onnx.NodeProto, weight_scale: str
) -> None:
    """(x - GELU_MIN) W + b + GELU_MIN * colsum(W) = x W + b: fold the last term into the bias initializer."""
    (bias_name,) = [name for name in add.input if name in tensors]
    weight = numpy_helper.to_array(tensors[matmul.input[1]]).astype(np.float64)
    weight -= numpy_helper.to_array(tensors[matmul.input[3]]).astype(np.float64)
    column_sums = (weight * numpy_helper.to_array(tensors[weight_scale]).astype(np.float64)).sum(axis=0)
    bias = numpy_helper.to_array(tensors[bias_name]).astype(np.float64) + GELU_MIN * column_sums
    tensors[bias_name].CopyFrom(numpy_helper.from_array(bias.astype(np.float32), bias_name))
