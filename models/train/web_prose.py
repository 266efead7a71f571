"""Long natural English prose, and the same prose with one attack inside: web text as people write it.

Written after the English model flagged 27% of 1,000-character Python docstrings, 22% of package READMEs and 19%
of the proxy benchmark's business prompts (bench/long_benign.py; each sentence alone scored ~0.05): its benign
training text was short prompts, so length and many sentences had become a sign of an attack. The prose is the
English Web Treebank's dev documents (`shared/data/pii/train/uner_en_ewt-ud-dev.iob2`, UNER's CC BY-SA 4.0:
question answers, e-mails, product reviews, newsgroup posts, weblogs), whole documents joined in a random order
into texts of 300 to 1,500 characters; each text's twin has one attack sentence put in between two sentences
(label 1: the technique is there, however much prose surrounds it). Newsgroup posts and weblogs, with validation
rows' attacks, are the held-out group (`web_prose_heldout`); the rest trains. Seeded. None of bench/long_benign.py's
sources is used or imitated: they stay an outside measure.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

HELD_OUT_GENRES = frozenset({"newsgroup", "weblog"})
_MIN_CHARS, _MAX_CHARS = 300, 1500


def documents(path: Path) -> list[tuple[str, list[str]]]:
    """(genre, sentences) per document of a CoNLL-U-style file with `# newdoc id` and `# text` comments."""
    docs: list[tuple[str, list[str]]] = []
    for line in path.read_text("utf-8").splitlines():
        if line.startswith("# newdoc id = "):
            docs.append((line.removeprefix("# newdoc id = ").split("-", 1)[0], []))
        elif line.startswith("# text = ") and docs:
            docs[-1][1].append(line.removeprefix("# text = ").strip())
    return [(genre, sentences) for genre, sentences in docs if sentences]


def _texts(docs: list[list[str]], count: int, rng: random.Random) -> Iterable[list[list[str]]]:
    """`count` texts, each whole documents (in a random order) until its length reaches a target between the bounds."""
    for _ in range(count):
        target = rng.randint(_MIN_CHARS, _MAX_CHARS)
        chosen: list[list[str]] = []
        for doc in rng.sample(docs, len(docs)):
            if sum(len(s) + 1 for d in chosen for s in d) >= target:
                break
            chosen.append(list(doc))
        yield chosen


def _joined(docs: list[list[str]]) -> str:
    return "\n\n".join(" ".join(sentences) for sentences in docs)


def web_prose_rows(path: Path, rows: list[dict], held_out: Callable[[str], bool], train: int, held: int,
                   seed: int) -> list[dict]:  # fmt: skip
    """`train` pairs from the training genres with training attacks (`web_prose`), `held` from the held-out ones."""
    genres: dict[bool, list[list[str]]] = defaultdict(list)
    for genre, sentences in documents(path):
        genres[genre in HELD_OUT_GENRES].append(sentences)
    attacks: dict[bool, list[str]] = defaultdict(list)
    for row in rows:
        text = row["text"]
        if row["label"] == 1 and row["kind"] in ("direct", "jailbreak") and 12 <= len(text) <= 240 and "\n" not in text:
            attacks[held_out(row["source"])].append(" ".join(text.split()))
    out: list[dict] = []
    for held_group, count, source in ((False, train, "web_prose"), (True, held, "web_prose_heldout")):
        rng = random.Random(f"{seed}-{source}")
        for docs in _texts(genres[held_group], count, rng):
            attacked = [list(doc) for doc in docs]
            doc = rng.choice(attacked)
            doc.insert(rng.randrange(len(doc) + 1), rng.choice(attacks[held_group]))
            for text, label, kind in ((_joined(docs), 0, "benign"), (_joined(attacked), 1, "direct")):
                out.append({"text": text, "label": label, "kind": kind, "source": source})
    return out
