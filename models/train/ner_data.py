"""The PII tagger's real sentences (UNER English-EWT dev, WNUT-17 train + dev) as BIO PER/LOC/ORG, and its split.

Torch-free, so the held-out sentences can also be written out for `wardgate eval pii` (pii_validation.py) from the
proxy's own venv. train_ner.py trains on `split(...)[0]`; export_ner.py and pii_validation.py read `split(...)[1]`.
"""

from __future__ import annotations

import random
from pathlib import Path

# WNUT-17's six types onto three: a sports team or band is an organisation; products and creative works are not PII.
WNUT_TYPES = {"person": "PER", "location": "LOC", "corporation": "ORG", "group": "ORG"}
UNER_TYPES = {"PER": "PER", "LOC": "LOC", "ORG": "ORG"}

Sentence = tuple[list[str], list[str]]  # (words, BIO tags)


def read_uner(path: Path) -> list[Sentence]:
    sentences, words, tags = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if words:
                sentences.append((words, tags))
            words, tags = [], []
            continue
        columns = line.split("\t")
        tag = columns[2]
        prefix, _, kind = tag.partition("-")
        words.append(columns[1])
        tags.append(f"{prefix}-{UNER_TYPES[kind]}" if kind in UNER_TYPES else "O")
    if words:
        sentences.append((words, tags))
    return sentences


def read_wnut(path: Path) -> list[Sentence]:
    sentences, words, tags = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if words:
                sentences.append((words, tags))
            words, tags = [], []
            continue
        word, tag = line.rsplit("\t", 1) if "\t" in line else line.rsplit(" ", 1)
        prefix, _, kind = tag.strip().partition("-")
        words.append(word)
        tags.append(f"{prefix}-{WNUT_TYPES[kind]}" if kind in WNUT_TYPES else "O")
    if words:
        sentences.append((words, tags))
    return sentences


def split(data: Path, seed: int, validation_share: float) -> tuple[list[Sentence], list[Sentence]]:
    """(training, held-out validation) real sentences: the files in a fixed order, shuffled with `seed`."""
    real = read_uner(data / "uner_en_ewt-ud-dev.iob2")
    real += read_wnut(data / "wnut17train.conll") + read_wnut(data / "wnut17dev.conll")
    random.Random(seed).shuffle(real)
    cut = int(len(real) * validation_share)
    return real[cut:], real[:cut]
