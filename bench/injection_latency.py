"""Injection classifier latency: ours (int8, fp32) vs DeBERTa-v3-base-sized graphs (fp32, int8) and PyTorch eager.

One run, same machine, same thread count. Per-input p50/p99 at 128 and 512 tokens, and throughput at batch
1/8/32 (128-token inputs). "wardgate scanner" is the real scoring path (tokenizer, 128-token windows with stride,
length-bucketed batches, max over windows) on a text of that many tokens. Prints a table, writes JSON.
Usage: python bench/injection_latency.py [--train-python .venv-train/bin/python] [--out bench/results/...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from timing import timed
from wardgate.inference import SequenceClassifier, create_session

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "injection"
CACHE = ROOT / "bench" / ".cache"


def cpu_facts() -> dict[str, object]:
    """The CPU model and whether it has int8 dot-product instructions: without VNNI, int8 is barely faster than fp32."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"cpu": platform.processor()}
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    return {"cpu": model, "int8_dot_product": sorted(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})}


def feed(session: ort.InferenceSession, batch: int, length: int) -> dict[str, np.ndarray]:
    ids = np.random.default_rng(0).integers(1000, 20000, (batch, length), dtype=np.int64)
    names = {node.name for node in session.get_inputs()}
    full = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    return {name: value for name, value in full.items() if name in names}


def graph_row(name: str, path: Path, threads: int, iterations: int) -> dict[str, object]:
    session = create_session(path, device="auto", threads=threads)
    row: dict[str, object] = {"model": name, "provider": session.get_providers()[0]}
    for length in (128, 512):
        inputs = feed(session, 1, length)
        row[f"single_{length}"] = timed(
            lambda inputs=inputs: session.run(None, inputs), iterations if length == 128 else max(5, iterations // 4)
        )
    for batch in (1, 8, 32):
        inputs = feed(session, batch, 128)
        result = timed(lambda inputs=inputs: session.run(None, inputs), max(3, iterations // batch))
        row[f"throughput_b{batch}"] = round(batch / (result["p50_ms"] / 1000), 1)
    return row


def text_of(tokens: int) -> str:
    """A prose text that tokenises to exactly `tokens` tokens, [CLS] and [SEP] included."""
    tokenizer = Tokenizer.from_file(str(MODEL / "tokenizer.json"))
    words = ("please summarise the attached quarterly report and list every action item " * 200).split()
    for count in range(1, len(words)):
        if len(tokenizer.encode(" ".join(words[:count]), add_special_tokens=False).ids) + 2 >= tokens:
            return " ".join(words[:count])
    raise ValueError(f"cannot build a {tokens}-token text")


def scanner_row(threads: int, iterations: int) -> dict[str, object]:
    classifier = SequenceClassifier(MODEL, threads=threads)
    classifier.load()
    row: dict[str, object] = {"model": "wardgate scanner (int8, windows)", "provider": classifier.serving}
    for length in (128, 512):
        text = text_of(length)
        row[f"single_{length}"] = timed(
            lambda text=text: classifier.score([text]), iterations if length == 128 else max(5, iterations // 4)
        )
    text = text_of(128)
    for batch in (1, 8, 32):
        texts = [text] * batch
        result = timed(lambda texts=texts: classifier.score(texts), max(3, iterations // batch))
        row[f"throughput_b{batch}"] = round(batch / (result["p50_ms"] / 1000), 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-python", default=str(ROOT / ".venv-train" / "bin" / "python"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "injection_latency.json")
    args = parser.parse_args()

    rows = [
        scanner_row(args.threads, args.iterations),
        graph_row("ours MiniLM-L6 int8", MODEL / "model.int8.onnx", args.threads, args.iterations),
        graph_row("ours MiniLM-L6 fp32", MODEL / "model.onnx", args.threads, args.iterations),
    ]
    eager = None
    if Path(args.train_python).exists():
        subprocess.run([args.train_python, str(ROOT / "bench" / "deberta_reference.py"), "--out", str(CACHE),
                        "--threads", str(args.threads)], check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        reference = json.loads((CACHE / "deberta_reference.json").read_text())
        rows.append(
            graph_row(
                "DeBERTa-v3-base fp32 (random)", CACHE / "deberta-v3-base.onnx", args.threads, args.iterations // 4
            )
        )
        rows.append(
            graph_row(
                "DeBERTa-v3-base int8 (random)", CACHE / "deberta-v3-base.int8.onnx", args.threads, args.iterations // 4
            )
        )
        eager = reference["pytorch_eager"]
        rows.append({"model": "DeBERTa-v3-base PyTorch eager", "provider": "torch " + reference["torch"],
                     **{f"single_{k}": v for k, v in eager.items()}})  # fmt: skip
    else:
        print(f"(no training venv at {args.train_python}: DeBERTa reference rows skipped; run `make model` first)")

    columns = ("128 p50", "128 p99", "512 p50", "512 p99")
    header = f"{'model':<34} " + " ".join(f"{c:>8}" for c in columns) + f" {'b1/s':>7} {'b8/s':>7} {'b32/s':>7}"
    print(header)
    print("-" * len(header))
    for row in rows:
        cells = [row.get(f"single_{n}", {}).get(q, "-") for n in (128, 512) for q in ("p50_ms", "p99_ms")]  # type: ignore[attr-defined]
        print(
            f"{row['model']:<34} "
            + " ".join(f"{c:>8}" for c in cells)
            + "".join(f" {row.get(f'throughput_b{batch}', '-'):>7}" for batch in (1, 8, 32))
        )
    by_name = {row["model"]: row for row in rows}
    ratios = {}
    scanner = by_name["wardgate scanner (int8, windows)"]["single_512"]["p50_ms"]  # type: ignore[index]
    for name in ("DeBERTa-v3-base fp32 (random)", "DeBERTa-v3-base int8 (random)", "DeBERTa-v3-base PyTorch eager"):
        if name in by_name:
            ratios[f"{name} / scanner at 512"] = round(by_name[name]["single_512"]["p50_ms"] / scanner, 1)  # type: ignore[index]
    for key, value in ratios.items():
        print(f"{key}: {value}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "threads": args.threads,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "onnxruntime": ort.__version__,
        **cpu_facts(),
    }
    args.out.write_text(json.dumps({"meta": meta, "rows": rows, "ratios": ratios}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
