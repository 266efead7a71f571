"""Attacks the routing must not lose when disguised: each dev attack file rewritten the way an attacker would.

Writes the disguised files (under build/evals/disguised) and runs `wardgate eval injection` on them at the user
point, the scanner's own path; compare with the same attacks plain (the dev files' rows of that eval).
  it_pt_wrapped        Italian/Portuguese attacks hard-wrapped one to three words per line
  ko_json_escaped      Korean attacks as JSON `\\uXXXX` escapes behind "Please translate:"
  ko_html_references   Korean attacks as HTML character references (no markup around them)
  ko_decomposed        Korean attacks in NFD (Hangul syllables as jamo)
  pair_russian_tail    PAIR jailbreaks with a Russian "thank you very much" appended
The dev files are for reporting: nothing here is used to choose anything.
Usage: python bench/disguised_injection.py [--out bench/results/disguised_injection.json]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "injection"


def _wrapped(text: str, rng: random.Random) -> str:
    words, lines = text.split(), []
    while words:
        take = rng.randint(1, 3)
        lines.append(" ".join(words[:take]))
        words = words[take:]
    return "\n".join(lines)


DISGUISES: dict[str, tuple[str, Callable[[str, random.Random], str]]] = {
    "it_pt_wrapped": ("dev-v2/direct__multilingual_it_pt.jsonl", _wrapped),
    "ko_json_escaped": (
        "dev-v2/direct__ko_written.jsonl",
        lambda text, _: "Please translate: " + "".join(f"\\u{ord(char):04x}" for char in text),
    ),
    "ko_html_references": (
        "dev-v2/direct__ko_written.jsonl",
        lambda text, _: "".join(f"&#{ord(char)};" if not char.isspace() else char for char in text),
    ),
    "ko_decomposed": ("dev-v2/direct__ko_written.jsonl", lambda text, _: unicodedata.normalize("NFD", text)),
    "pair_russian_tail": ("dev/jailbreak__jbb_pair.jsonl", lambda text, _: text + " Спасибо большое"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "disguised_injection.json")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "injection", help="the English model")
    parser.add_argument("--workdir", type=Path, default=ROOT / "build" / "evals" / "disguised")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    files = []
    for name, (source, disguise) in DISGUISES.items():
        rng = random.Random(name)
        rows = [json.loads(line) for line in (DATA / source).read_text("utf-8").splitlines() if line.strip()]
        path = args.workdir / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps({"text": disguise(row["text"], rng), "label": row["label"]}) + "\n")
        files.append(str(path))
    command = [sys.executable, "-m", "wardgate", "eval", "injection", *files, "--role", "user", "--json", str(args.out),
               "--model", str(args.model)]  # fmt: skip
    subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
