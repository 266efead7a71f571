"""PII analyze + anonymize latency for 200 B, 2 KB and 20 KB texts: patterns only, spaCy, spaCy + ONNX tagger.

One run, same machine. Each configuration is Wardgate's real path with the cache off: Presidio's analyzer with
Wardgate's recognizers (`PiiScanner.analyze`), then the masker rewriting every finding to placeholders. Texts are
built from the PII eval set's sentences. Prints a table, writes JSON.
Usage: python bench/pii_latency.py [--iterations 30] [--out bench/results/pii_latency.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

from timing import timed
from wardgate.config import NerModelSettings, PiiSettings
from wardgate.models import Finding, Segment
from wardgate.pipeline import Masker, Vault
from wardgate.scanners.pii import PiiScanner, build_pii_scanner

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "pii" / "eval" / "presidio_synth_v2.jsonl"
SIZES = {"200 B": 200, "2 KB": 2_000, "20 KB": 20_000}
CONFIGS = {
    "patterns only": PiiSettings(spacy=False, ner=NerModelSettings(model=None), cache_size=0),
    "spaCy (sm)": PiiSettings(ner=NerModelSettings(model=None), cache_size=0),
    "spaCy + ONNX NER": PiiSettings(ner=NerModelSettings(model=ROOT / "models" / "pii-ner"), cache_size=0),
    "ONNX NER + patterns": PiiSettings(
        spacy=False, ner=NerModelSettings(model=ROOT / "models" / "pii-ner"), cache_size=0
    ),
}


def texts(source: Path) -> dict[str, str]:
    sentences = [json.loads(line)["text"] for line in source.read_text().splitlines()]
    pool = " ".join(sentence for sentence in sentences if len(sentence) > 40)
    return {label: pool[:size].rsplit(" ", 1)[0] for label, size in SIZES.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "pii_latency.json")
    args = parser.parse_args()
    samples = texts(args.data)
    masker = Masker()
    rows = []
    for name, settings in CONFIGS.items():
        scanner = build_pii_scanner(settings)
        row: dict[str, object] = {"config": name}
        for label, text in samples.items():
            segment = Segment("user", "prompt", text, ("t",))

            def analyse_and_mask(text: str = text, segment: Segment = segment, scanner: PiiScanner = scanner) -> None:
                found = [
                    Finding("pii", f"pii:{e}", score, 0, start, end) for e, start, end, score in scanner.analyze(text)
                ]
                masker.rewrite([segment], found, lambda kind: True, Vault())

            iterations = args.iterations if len(text) < 10_000 else max(5, args.iterations // 5)
            row[label] = timed(analyse_and_mask, iterations)
            row[f"{label} entities"] = len(scanner.analyze(text))
        scanner.close()
        rows.append(row)

    header = f"{'config':<22}" + "".join(f" {label + ' p50':>12} {label + ' p99':>12}" for label in SIZES)
    print(header)
    for row in rows:
        cells = "".join(f" {row[label]['p50_ms']:>12.1f} {row[label]['p99_ms']:>12.1f}" for label in SIZES)  # type: ignore[index]
        print(f"{row['config']:<22}{cells}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()}
    args.out.write_text(json.dumps({"machine": machine, "sizes": SIZES, "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
