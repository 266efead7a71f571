"""False positives and CPU of the secrets scanner on benign text: prose prompts, source code, random base64.

    PYTHONPATH=proxy python bench/secrets_fp.py [--code-mb 4]

Prose: every text of ../shared/data/injection (prompts of every label; none holds a key). Chats: the same prompts
eight at a time as conversations (the cross-message joins). Code: Python files of the installed packages
(site-packages), up to --code-mb. Blobs: seeded random bytes as base64, as an image or a file upload would carry
them. Each text (or chat) is one `scan_sync` call; one with any finding is a false positive. CPU is process time
per KB of text scanned.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import sys
import sysconfig
import time
from collections import Counter
from pathlib import Path

from wardgate.models import Segment
from wardgate.scanners.secrets import SecretsScanner

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "injection"


def prose() -> list[str]:
    return [json.loads(line)["text"] for path in sorted(DATA.rglob("*.jsonl")) for line in path.open(encoding="utf-8")]


def code(limit_bytes: int) -> list[str]:
    texts, total = [], 0
    for path in sorted(Path(sysconfig.get_paths()["purelib"]).rglob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        texts.append(text)
        total += len(text)
        if total >= limit_bytes:
            break
    return texts


def blobs(count: int = 256, size: int = 3072) -> list[str]:
    rng = random.Random(7)
    return [base64.b64encode(rng.randbytes(size)).decode() for _ in range(count)]


def chats(texts: list[str], turns: int = 8) -> list[list[Segment]]:
    """Consecutive prompts as conversations, user and assistant taking turns: what the cross-message joins read."""
    return [
        [
            Segment(("user", "assistant")[i % 2], "prompt", text, ("messages", i))
            for i, text in enumerate(texts[at : at + turns])
        ]
        for at in range(0, len(texts), turns)
    ]


def measure(scanner: SecretsScanner, name: str, texts: list[str] | list[list[Segment]]) -> None:
    kinds: Counter[str] = Counter()
    flagged = 0
    requests = [[Segment("user", "prompt", text, ("x",))] if isinstance(text, str) else text for text in texts]
    chars = sum(len(segment.text) for segments in requests for segment in segments)
    start = time.process_time()
    for segments in requests:
        found = scanner.scan_sync(segments)
        flagged += bool(found)
        kinds.update(finding.kind for finding in found)
    cpu = time.process_time() - start
    print(f"{name:6} texts={len(texts):6} KB={chars / 1024:8.0f} flagged={flagged:4} "
          f"cpu_us_per_KB={cpu * 1e6 / (chars / 1024):7.1f} kinds={dict(kinds.most_common(8))}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code-mb", type=float, default=4)
    args = parser.parse_args()
    scanner = SecretsScanner.from_file()
    print(sys.version.split()[0])
    measure(scanner, "prose", prose())
    measure(scanner, "chats", chats(prose()))
    measure(scanner, "code", code(int(args.code_mb * 1024 * 1024)))
    measure(scanner, "blobs", blobs())


if __name__ == "__main__":
    main()
