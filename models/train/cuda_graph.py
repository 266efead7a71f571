"""The fp32 graph for CUDA hosts, in files of at most --max-file-mb each (the repository's bar is 60 MB a file).

The 12-layer multilingual graph is 194 MB in fp32, 116 MB of it the word-embedding table. Here the table is stored
in fp16 (58 MB; cast back to fp32 when the session loads, so every op and the numbers it works on stay fp32) and
the other weights go to external data files filled in order up to the size bar. ONNX Runtime loads the set from the
graph's folder; the CPU build runs it too, which is how it is checked against the fp32 graph (scores on validation
texts; the largest difference is printed).
Usage: python cuda_graph.py --fp32 DIR/model.onnx --out DIR [--name model.cuda.onnx] [--check-rows rows.jsonl]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data

WORDS = "bert.embeddings.word_embeddings.weight"


def build(fp32: Path, out: Path, name: str, max_file_bytes: int) -> list[Path]:
    model = onnx.load(str(fp32))
    graph = model.graph
    table = next(t for t in graph.initializer if t.name == WORDS)
    half = numpy_helper.from_array(numpy_helper.to_array(table).astype(np.float16), WORDS + ".fp16")
    graph.initializer.remove(table)
    graph.initializer.append(half)
    # The exported graph is ORT-optimised (the lookup is fused into EmbedLayerNormalization), so the table is cast
    # back as a whole; ORT folds that constant Cast once when the session loads.
    graph.node.insert(0, helper.make_node("Cast", [half.name], [WORDS], to=TensorProto.FLOAT))

    stem = name.removesuffix(".onnx")
    files: list[str] = []
    filled = max_file_bytes  # start a new file at the first tensor
    for tensor in sorted(graph.initializer, key=lambda t: t.name != half.name):  # the table alone in the first file
        size = len(tensor.raw_data)
        if size < 4096:
            continue  # small tensors stay inside the graph file
        if filled + size > max_file_bytes:
            files.append(f"{stem}.{len(files)}.data")
            filled = 0
        set_external_data(tensor, location=files[-1])
        filled += size
    out.mkdir(parents=True, exist_ok=True)
    for stale in [out / name, *(out / f for f in files)]:
        stale.unlink(missing_ok=True)  # external data is appended to: a previous run's files would be extended
    onnx.save_model(model, str(out / name))
    onnx.checker.check_model(str(out / name))
    return [out / name, *(out / f for f in files)]


def check(fp32: Path, cuda: Path, rows: Path, limit: int) -> float:
    """Largest |score difference| between the fp32 graph and this one on `limit` validation texts (CPU)."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(fp32.parent / "tokenizer.json"))
    tokenizer.enable_truncation(128)
    texts = [r["text"] for r in map(json.loads, rows.open()) if r["split"] == "valid"][::10][:limit]
    sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (fp32, cuda)]
    worst = 0.0
    for text in texts:
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        a, b = (s.run(None, feed)[0][0] for s in sessions)
        probabilities = [np.exp(x - x.max()) / np.exp(x - x.max()).sum() for x in (a, b)]
        worst = max(worst, float(abs(probabilities[0][1] - probabilities[1][1])))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fp32", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--name", default="model.cuda.onnx")
    parser.add_argument("--max-file-mb", type=float, default=60)
    parser.add_argument("--check-rows", type=Path, help="data_ml.py's rows: compare scores with the fp32 graph")
    parser.add_argument("--check-texts", type=int, default=300)
    args = parser.parse_args()
    written = build(args.fp32, args.out, args.name, int(args.max_file_mb * 1e6))
    for path in written:
        print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB")
    if args.check_rows:
        worst = check(args.fp32, written[0], args.check_rows, args.check_texts)
        print(json.dumps({"max_abs_score_difference_vs_fp32": round(worst, 6), "texts": args.check_texts}))


if __name__ == "__main__":
    main()
