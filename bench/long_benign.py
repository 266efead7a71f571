"""False positives on long ordinary text: what share of benign 1,000-character prompts the injection scanner flags.

Sources that no training or validation set of ours draws from, each ~1,000 characters a text:
  stdlib_docstrings   the docstrings of Python's standard library modules and classes (technical prose)
  package_metadata    paragraphs of the installed packages' long descriptions (READMEs: prose, licence text)
  bench_en, bench_ko  bench/proxy_overhead.py's unique English and Korean business prompts (names, dates, asks)
Scored on the scanner's own path (`InjectionScanner.best_scores`, routing included) at the user point. Prints a
table and writes JSON. Nothing here is used to choose anything.
Usage: python bench/long_benign.py [--per-source 150] [--out bench/results/long_benign.json]
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import random
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from proxy_overhead import KoreanPrompts, Prompts
from wardgate.config import InjectionSettings
from wardgate.inference import DynamicBatcher
from wardgate.models import Segment
from wardgate.scanners import InjectionScanner, routed_classifier

ROOT = Path(__file__).resolve().parents[1]
SIZE = 1_000
_MARKUP = re.compile(r"[`{}<>|=#*\[\]]|https?:|>>>")


def _packed(paragraphs: Iterator[str], rng: random.Random, count: int) -> list[str]:
    """Paragraphs shuffled and joined (blank lines between) into texts of about SIZE characters."""
    pool = list(paragraphs)
    rng.shuffle(pool)
    texts, current = [], ""
    for paragraph in pool:
        current = f"{current}\n\n{paragraph}" if current else paragraph
        if len(current) >= SIZE:
            texts.append(current[: int(SIZE * 1.2)].rsplit(" ", 1)[0])
            current = ""
        if len(texts) == count:
            break
    return texts


def _prose(text: str) -> Iterator[str]:
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(paragraph.split())
        if len(flat) >= 120 and flat.count(" ") >= 20 and not _MARKUP.search(flat):
            yield flat


def stdlib_docstrings() -> Iterator[str]:
    warnings.simplefilter("ignore")
    for module in sorted(sys.stdlib_module_names):
        if module.startswith("_") or module in ("antigravity", "this", "idlelib", "tkinter", "turtle"):
            continue
        try:
            imported = importlib.import_module(module)
        except Exception:  # a platform module that does not import here
            continue
        docs = [inspect.getdoc(imported) or ""]
        docs += [inspect.getdoc(obj) or "" for _, obj in inspect.getmembers(imported, inspect.isclass)]
        for doc in docs:
            yield from _prose(doc)


def package_metadata() -> Iterator[str]:
    for metadata in sorted((Path(sys.prefix) / "lib").glob("python3*/site-packages/*.dist-info/METADATA")):
        yield from _prose(metadata.read_text("utf-8", errors="ignore").split("\n\n", 1)[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-source", type=int, default=150)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "injection", help="the English model")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "long_benign.json")
    args = parser.parse_args()
    rng = random.Random(3)
    english, korean = Prompts(101, SIZE), KoreanPrompts(101, SIZE)
    sources = {
        "stdlib_docstrings": _packed(stdlib_docstrings(), rng, args.per_source),
        "package_metadata": _packed(package_metadata(), rng, args.per_source),
        "bench_en": [english.text() for _ in range(args.per_source)],
        "bench_ko": [korean.text() for _ in range(args.per_source)],
    }
    classifier = routed_classifier(
        InjectionSettings(
            model=args.model,
            multilingual=ROOT / "models" / "injection-ml",
            language_model=ROOT / "models" / "langid" / "lid.176.ftz",
        )
    )
    classifier.load()
    scanner = InjectionScanner(classifier, DynamicBatcher(classifier.score), roles=[], min_score=0.0)
    report: dict[str, object] = {"models": [str(c.directory) for c in classifier.classifiers], "sources": {}}
    print(f"{'source':<20} {'n':>5} {'flagged':>8} {'share':>7}  by model (english, multilingual)")
    for name, texts in sources.items():
        segments = [Segment("user", "prompt", text, ()) for text in texts]
        flagged = [0, 0]
        examples = []
        for segment, item in zip(segments, scanner.best_scores(segments), strict=True):
            if item is not None and item.score >= scanner.threshold_for(segment, item.model):
                flagged[item.model] += 1
                examples.append({"score": round(item.score, 4), "model": item.model, "text": segment.text[:300]})
        share = sum(flagged) / len(texts) if texts else 0.0
        report["sources"][name] = {  # type: ignore[index]
            "n": len(texts), "flagged": sum(flagged), "share": round(share, 4), "by_model": flagged,
            "examples": examples[:5],
        }  # fmt: skip
        print(f"{name:<20} {len(texts):>5} {sum(flagged):>8} {share:>7.3f}  {flagged}")
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
